"""What one sign-in leaves in PostgreSQL: bytes per table (heap, indexes and TOAST) after N
password sign-ins, each with its code exchange and one refresh, from a fresh database. The
capacity plan in docs/operations.md sizes the database from it.

    .venv/bin/python bench/storage_growth.py [--sign-ins 300]

Not part of `make bench` (it measures size, not speed). The numbers are before any purge: what
the purge later removes (expired codes, interactions, rotated tokens once their family ends) is
shown apart from what is kept for years (audit events, sessions for their retention).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.pg import PostgresServer, available  # noqa: E402

#: Tables whose rows stay for years (IDGW_AUDIT_RETENTION_DAYS, IDGW_SESSION_RETENTION_DAYS):
#: the rest is removed by the purge within a token's lifetime.
KEPT = {"audit_events", "sessions", "accounts"}

SIZES = """
SELECT c.relname, pg_total_relation_size(c.oid), c.reltuples::bigint
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind = 'r'
"""


def sizes(url: str) -> dict[str, int]:
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        return {name: size for name, size, _rows in conn.execute(SIZES)}


def rows(url: str) -> dict[str, int]:
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        names = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        return {name: conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in names}  # noqa: S608


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sign-ins", type=int, default=300)
    args = parser.parse_args()
    if not available():
        sys.exit("PostgreSQL (initdb, pg_ctl) is needed")
    from tests.conftest import start_gateway
    from tests.flow import Browser, exchange, login_flow, register

    with tempfile.TemporaryDirectory() as _:
        server = PostgresServer()
        server.start()
        try:
            url = server.create_database()
            gateway = start_gateway(url)
            try:
                reg = register(gateway)
                before, before_rows = sizes(url), rows(url)
                for _ in range(args.sign_ins):
                    params, _state, _nonce, verifier, rp, _browser = login_flow(gateway, reg, browser=Browser(gateway))
                    token = exchange(gateway, rp, params["code"], verifier)
                    rp.refresh_token(gateway.url + "/token", refresh_token=token["refresh_token"])
                after, after_rows = sizes(url), rows(url)
            finally:
                gateway.stop()
        finally:
            server.stop()
    n = args.sign_ins
    table = {name: {"bytes_per_sign_in": round((after[name] - before.get(name, 0)) / n),
                    "rows_per_sign_in": round((after_rows[name] - before_rows.get(name, 0)) / n, 2),
                    "kept": name in KEPT}
             for name in after if after[name] != before.get(name, 0) or after_rows[name] != before_rows.get(name, 0)}
    kept = sum(v["bytes_per_sign_in"] for v in table.values() if v["kept"])
    purged = sum(v["bytes_per_sign_in"] for v in table.values() if not v["kept"])
    print(json.dumps({"sign_ins": n, "tables": dict(sorted(table.items(), key=lambda kv: -kv[1]["bytes_per_sign_in"])),
                      "kept_bytes_per_sign_in": kept, "purged_bytes_per_sign_in": purged}, indent=2))


if __name__ == "__main__":
    main()
