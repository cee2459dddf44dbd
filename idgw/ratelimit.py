"""Per-client-IP request budgets for endpoints that anonymous clients can make write (security
review item 15: one client made 714 sign-in rows per second through GET /authorize).

A budget is ``limit`` requests per ``window`` seconds per IP and bucket, counted in the database
(``throttles``, one row per IP and bucket) so that it holds across workers and instances. The
count is one statement (INSERT ... ON CONFLICT DO UPDATE ... RETURNING), safe under concurrency on
SQLite and PostgreSQL."""

from __future__ import annotations

from idgw.storage import raw

# One statement, the same on SQLite (3.35+) and PostgreSQL, run on the driver's cursor (idgw.storage.raw:
# it is on every /authorize and every sign-in attempt).
_SPEND = raw.Statement(
    'INSERT INTO throttles ("key", failures, window_start) VALUES (:p_key, 1, :p_now) '
    'ON CONFLICT ("key") DO UPDATE SET '
    "failures = CASE WHEN excluded.window_start - throttles.window_start >= :p_window "
    "THEN 1 ELSE throttles.failures + 1 END, "
    "window_start = CASE WHEN excluded.window_start - throttles.window_start >= :p_window "
    "THEN excluded.window_start ELSE throttles.window_start END "
    "RETURNING failures, window_start", columns=("failures", "window_start"))


def spend(db, *, bucket: str, ip: str, limit: int, window: int, now: int) -> int:
    """Count one request; 0 when it is within the budget, otherwise the seconds until the window
    starts again (for ``Retry-After``)."""
    count, started = raw.first(db.connection(), _SPEND, {"p_key": f"rate:{bucket}:{ip}"[:120], "p_now": now,
                                                          "p_window": window})
    return 0 if count <= limit else max(1, started + window - now)
