"""Per-client-IP request budgets for endpoints that anonymous clients can make write (security
review item 15: one client made 714 sign-in rows per second through GET /authorize).

A budget is ``limit`` requests per ``window`` seconds per IP and bucket, counted in the database
(``throttles``, one row per IP and bucket) so that it holds across workers and instances. The
count is one statement (INSERT ... ON CONFLICT DO UPDATE ... RETURNING), safe under concurrency on
SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import case

from idgw.storage.db import upsert_insert
from idgw.storage.models import Throttle

_T = Throttle.__table__


def spend(db, *, bucket: str, ip: str, limit: int, window: int, now: int) -> int:
    """Count one request; 0 when it is within the budget, otherwise the seconds until the window
    starts again (for ``Retry-After``)."""
    stmt = upsert_insert(db)(_T).values(key=f"rate:{bucket}:{ip}"[:120], failures=1, window_start=now)
    expired = stmt.excluded.window_start - _T.c.window_start >= window
    stmt = stmt.on_conflict_do_update(index_elements=[_T.c.key], set_={
        "failures": case((expired, 1), else_=_T.c.failures + 1),
        "window_start": case((expired, stmt.excluded.window_start), else_=_T.c.window_start),
    }).returning(_T.c.failures, _T.c.window_start)
    count, started = db.execute(stmt).one()
    return 0 if count <= limit else max(1, started + window - now)
