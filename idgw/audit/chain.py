"""The audit log as hash chains (tamper evidence).

Each event is a link: ``hash = SHA-256(canonical JSON of the event's content and prev_hash)``,
``prev_hash`` the hash of the event before it in the same chain (``GENESIS`` for the first), and
``seq`` numbers the chain's events 1, 2, 3 ... without gaps. Editing an event breaks its own hash;
deleting one leaves a gap and a broken link; inserting or reordering events breaks the links.
Someone who rewrites a whole chain's tail (recomputing every hash) is caught by the signed
checkpoints (``idgw.audit.checkpoints``) and the copies already sent to a sink.

Writers append under a lock on their chain's head row (``audit_heads``): one UPDATE takes the row
lock (PostgreSQL) or is made under the single write lock (SQLite: transactions BEGIN IMMEDIATE),
moves ``seq`` on and returns the previous head; the events are inserted after it and the head's
hash is set, all in the writer's transaction. So concurrent transactions and several gateway
instances on one database extend a chain one after another and never fork it. The lock is taken
at commit and held only for the commit, and there are several chains (a writer picks one at
random), so writers rarely wait for each other: ``IDGW_AUDIT_CHAINS`` of them (``configure``),
``CHAINS`` where an engine was not configured. A chain's head is held for the append's round trips
and the COMMIT's flush to disk, so one chain takes at most about a thousand appends a second
(bench/audit_chains.py measures it); the chains multiply that.

The canonical content (version 1) is the JSON object of ``CONTENT_FIELDS`` plus ``prev``, with
sorted keys, no whitespace, UTF-8 (not ASCII-escaped). ``seq`` is not hashed: the order is
carried by the links, and ``seq`` lets a verifier name the gap.
"""

from __future__ import annotations

import hashlib
import json
import random

from idgw.storage import raw
from idgw.storage.console import AuditHead
from idgw.storage.db import home_engine

GENESIS = "0" * 64
CHAINS = 16  # chains "0" .. "15" by default; a verifier walks whatever chains the table holds
MAX_CHAINS = 256
CONTENT_FIELDS = ("chain", "at", "name", "actor", "on_behalf_of", "client_id", "session_id", "ip", "detail")

_HEADS = AuditHead.__table__
# The statements of every append, on the driver's cursor (idgw.storage.raw: a third of the cost
# through SQLAlchemy's text() execution, a fifth of Core's).
_MOVE = raw.Statement("UPDATE audit_heads SET seq = seq + :n WHERE chain = :chain RETURNING seq, hash",
                      columns=("seq", "hash"))
_SET_HASH = raw.Statement("UPDATE audit_heads SET hash = :hash WHERE chain = :chain")
_EVENT_COLUMNS = ("at", "name", "actor", "on_behalf_of", "client_id", "session_id", "ip", "detail", "chain", "seq",
                  "prev_hash", "hash")
# Column names are the literals above; every value is a parameter.
_INSERT = raw.Statement(f"INSERT INTO audit_events ({', '.join(_EVENT_COLUMNS)}) "  # noqa: S608
                        f"VALUES ({', '.join(':' + c for c in _EVENT_COLUMNS)})")
#: On PostgreSQL the events' INSERT and the head's new hash go as one statement (one round trip
#: less per commit), for appends of up to this many events (a request records one to three).
_ONE_STATEMENT_MAX = 4
_COMBINED: dict[int, raw.Statement] = {}


def _combined(n: int) -> raw.Statement:
    """``WITH ... INSERT`` of ``n`` events, then the head's hash, in one statement (PostgreSQL
    runs a data-modifying WITH once, whatever the outer statement)."""
    stmt = _COMBINED.get(n)
    if stmt is None:
        values = ", ".join("(" + ", ".join(f":{c}_{i}" for c in _EVENT_COLUMNS) + ")" for i in range(n))
        stmt = _COMBINED[n] = raw.Statement(
            f"WITH added AS (INSERT INTO audit_events ({', '.join(_EVENT_COLUMNS)}) VALUES {values}) "  # noqa: S608
            "UPDATE audit_heads SET hash = :hash WHERE chain = :chain")
    return stmt


def canonical(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def event_hash(row: dict, prev: str) -> str:
    """The hash of one event given the hash before it (``row`` holds ``CONTENT_FIELDS``)."""
    content = {f: row.get(f) for f in CONTENT_FIELDS}
    if content["detail"] is None:
        content["detail"] = {}
    content["prev"] = prev
    return hashlib.sha256(canonical(content)).hexdigest()


def configure(engine, chains: int) -> None:
    """Spread ``engine``'s appends over ``chains`` chains ("0" .. chains-1). Raising the number
    later adds chains; lowering it leaves the others as they are (still verified, no longer
    extended)."""
    if not 1 <= chains <= MAX_CHAINS:
        raise ValueError(f"audit chains must be between 1 and {MAX_CHAINS}, got {chains}")
    engine._idgw_audit_chains = chains


def chains_of(engine) -> int:
    """How many chains ``engine``'s appends are spread over."""
    return getattr(home_engine(engine), "_idgw_audit_chains", None) or CHAINS


def pick_chain(chains: int | None = None) -> str:
    return str(random.randrange(chains or CHAINS))  # noqa: S311 - spreading writers, not a secret


def _move_head(conn, chain: str, n: int) -> tuple[int, str]:
    """Lock ``chain``'s head and reserve ``n`` sequence numbers: (last reserved seq, previous hash)."""
    got = raw.first(conn, _MOVE, {"n": n, "chain": chain})
    if got is None:  # a chain not used before: create its head (a racing writer may have just done so)
        conn.execute(_upsert_head(conn), {"chain": chain, "seq": 0, "hash": GENESIS})
        got = raw.first(conn, _MOVE, {"n": n, "chain": chain})
    return int(got.seq), got.hash


def _upsert_head(conn):
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    return dialect_insert(_HEADS).on_conflict_do_nothing(index_elements=["chain"])


def append(conn, rows: list[dict], *, chain: str | None = None) -> list[dict]:
    """Append ``rows`` (audit events without chain fields) to one chain in ``conn``'s transaction;
    returns them with ``chain``, ``seq``, ``prev_hash`` and ``hash`` filled in."""
    chain = chain or pick_chain(chains_of(conn.engine))
    last, prev = _move_head(conn, chain, len(rows))
    seq = last - len(rows)
    linked = []
    for row in rows:
        seq += 1
        row = {**row, "chain": chain, "seq": seq, "prev_hash": prev}
        if row.get("detail") is None:
            row["detail"] = {}
        row["hash"] = prev = event_hash(row, row["prev_hash"])
        linked.append(row)
    params = [{**{c: row.get(c) for c in _EVENT_COLUMNS}, "detail": raw.json_param(row["detail"])} for row in linked]
    if conn.dialect.name == "postgresql" and len(params) <= _ONE_STATEMENT_MAX:
        combined = {f"{c}_{i}": value for i, one in enumerate(params) for c, value in one.items()}
        raw.execute(conn, _combined(len(params)), {**combined, "hash": prev, "chain": chain})
    else:
        raw.execute(conn, _INSERT, params)
        raw.execute(conn, _SET_HASH, {"hash": prev, "chain": chain})
    return linked
