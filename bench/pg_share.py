"""PostgreSQL's share of the work, per operation: one `idgw serve` on a throw-away PostgreSQL
with `pg_stat_statements`, driven by one bench/oidc_bench.py load; prints the gateway's and the
database server's CPU per operation, and the statements per operation with their execution time
(lock waits included: a statement waiting for a row lock is counted as executing).

Run: .venv/bin/python bench/pg_share.py token [--seconds 6]
Metrics: token refresh login_session login_password.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import bench.oidc_bench as ob  # noqa: E402
from bench.pg import PostgresServer, postmaster_pid  # noqa: E402


def _with_statement_stats(pg: PostgresServer) -> None:
    """Restart the cluster with pg_stat_statements loaded (it must be preloaded)."""
    import psycopg

    with psycopg.connect(f"host=127.0.0.1 port={pg.port} user=idgw dbname=postgres", autocommit=True) as conn:
        conn.execute("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
    pg.restart()


async def run(metric: str, seconds: float, top: int) -> None:
    import psycopg

    pg = PostgresServer()
    work = Path(tempfile.mkdtemp(prefix="idgw-pgshare-"))
    target = None
    try:
        pg.start()
        _with_statement_stats(pg)
        url = pg.create_database()
        target = await ob.start_idgw("idgw", url, workers=1, logdir=work)
        await ob.make_sessions(target, ob.N_USERS)
        stats = psycopg.connect(f"host=127.0.0.1 port={pg.port} user=idgw dbname={url.rsplit('/', 1)[1]}",
                                autocommit=True)
        stats.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        plan = ob.Plan(get_seconds=seconds, refresh_seconds=seconds, login_seconds=seconds, token_codes=1500)
        if metric == "refresh":
            await ob.measure_throughput("token", target, ob.Plan(token_codes=200))  # refresh tokens to use
        codes = await ob.make_codes(target, 1500, workers=plan.workers, seconds=120) if metric == "token" else None
        stats.execute("SELECT pg_stat_statements_reset()")
        gateway, database = target.process.proc.pid, postmaster_pid(pg)
        cpu0 = ob.cpu_seconds([gateway]), ob.cpu_seconds([database])
        if codes is not None:
            async def exchange(conn, i):
                await ob.exchange(target, conn, *codes[i])

            out = await ob.closed_loop(exchange, workers=plan.workers, max_count=len(codes), seconds=120,
                                       connect=ob.conn_factory(target))
        else:
            out = await ob.measure_throughput(metric, target, plan)
        n = max(out.count, 1)
        gw_ms = (ob.cpu_seconds([gateway]) - cpu0[0]) * 1000 / n
        db_ms = (ob.cpu_seconds([database]) - cpu0[1]) * 1000 / n
        print(f"{metric}: {out.count} in {out.seconds:.1f} s ({out.rate:.0f}/s, {out.errors} errors); CPU per "
              f"operation: gateway {gw_ms:.2f} ms, PostgreSQL {db_ms:.2f} ms ({100 * db_ms / (gw_ms + db_ms):.0f}%)")
        rows = stats.execute("SELECT calls, total_exec_time, regexp_replace(query, '\\s+', ' ', 'g') "
                             "FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat_statements%' "
                             "ORDER BY calls DESC, total_exec_time DESC").fetchall()
        print(f"statements per operation {sum(r[0] for r in rows) / n:.1f}, executing "
              f"{sum(r[1] for r in rows) / n:.3f} ms per operation")
        print("  per op   ms/op  statement")
        for calls, ms, query in rows[:top]:
            if calls / n >= 0.05:
                print(f"  {calls / n:6.2f} {ms / n:7.3f}  {query[:110]}")
        stats.close()
    finally:
        if target is not None:
            target.process.stop()
        pg.stop()
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("metric", choices=["token", "refresh", "login_session", "login_password"])
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    asyncio.run(run(args.metric, args.seconds, args.top))


if __name__ == "__main__":
    main()
