"""The audit log: a closed list of event names (noun.past_verb), written in the caller's
transaction so an event exists exactly when the change it records does."""

from __future__ import annotations

from sqlalchemy import insert
from sqlalchemy.orm import Session

from idgw.storage.models import AuditEvent

_INSERT = insert(AuditEvent.__table__)

EVENTS = frozenset(
    {
        "session.created",
        "session.ended",
        "login.failed",
        "account.locked",
        "account.created",
        "authorization.granted",
        "authorization.denied",
        "consent.granted",
        "code.redeemed",
        "code.replayed",
        "token.issued",
        "token.refreshed",
        "token.reused",
        "token.revoked",
        "client.created",
        "client.removed",
        "keys.generated",
        "keys.rotated",
        "policy.changed",
        "session.stepped_up",
        "authorization.unmet",
        "authenticator.added",
        "authenticator.removed",
        "authenticator.failed",
        "authenticator.flagged",
        "recovery_code.used",
        "recovery_codes.generated",
        "sessions.ended_everywhere",
        "account.linked",
        "account.unlinked",
        "upstream.failed",
    }
)


class UnknownAuditEventError(ValueError):
    pass


def record(
    db,
    name: str,
    *,
    at: int,
    actor: str | None = None,
    on_behalf_of: str | None = None,
    client_id: str | None = None,
    session_id: str | None = None,
    ip: str | None = None,
    **detail,
) -> None:
    """Append one event in ``db``'s transaction (an ORM session or a connection); the caller
    commits. Written at once with one Core INSERT (no ORM unit of work). Never put secrets in
    ``detail``."""
    if name not in EVENTS:
        raise UnknownAuditEventError(f"unknown audit event {name!r}")
    conn = db.connection() if isinstance(db, Session) else db
    conn.execute(_INSERT, {"at": at, "name": name, "actor": actor, "on_behalf_of": on_behalf_of,
                           "client_id": client_id, "session_id": session_id, "ip": ip, "detail": detail})
