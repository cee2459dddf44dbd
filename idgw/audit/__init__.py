"""The audit log: a closed list of event names (noun.past_verb), written in the caller's
transaction so an event exists exactly when the change it records does."""

from __future__ import annotations

from idgw.storage.models import AuditEvent

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
) -> AuditEvent:
    """Append one event to ``db`` (an ORM session); the caller commits. Never put secrets in ``detail``."""
    if name not in EVENTS:
        raise UnknownAuditEventError(f"unknown audit event {name!r}")
    event = AuditEvent(
        at=at, name=name, actor=actor, on_behalf_of=on_behalf_of, client_id=client_id,
        session_id=session_id, ip=ip, detail=detail,
    )
    db.add(event)
    return event
