"""The audit log: a closed list of event names (noun.past_verb), written in the caller's
transaction so an event exists exactly when the change it records does, each a link of a hash
chain (``idgw.audit.chain``) so that an edit, deletion, insertion or reordering is detectable."""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.orm import Session

from idgw.audit import chain, sinks

_PENDING = "idgw_audit_pending"  # Session.info key: events waiting for the commit
_WRITTEN = "idgw_audit_written"  # ... and events written by the commit, for the sinks

EVENTS = frozenset(
    {
        "session.created",
        "session.ended",
        "login.failed",
        "account.locked",
        "account.unlocked",
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
        "logout.delivered",
        "logout.failed",
        "consent.withdrawn",
        "account.exported",
        "account.password_set",
        "proofing.consented",
        "proofing.card_failed",
        "proofing.requested",
        "proofing.claimed",
        "proofing.released",
        "proofing.cue",
        "proofing.decided",
        "proofing.escalated",
        "proofing.flagged",
        "proofing.cancelled",
        "proofing.expired",
        "proofing.purged",
        "proofing.consent_withdrawn",
        "delegation.created",
        "delegation.approved",
        "delegation.effective",
        "delegation.accepted",
        "delegation.used",
        "delegation.revoked",
        "delegation.expired",
        "delegation.rules_changed",
        "token.exchanged",
        "security_event.delivered",
        "security_event.failed",
        "data.purged",
        "client.updated",
        "client.disabled",
        "client.enabled",
        "client.secret_rotated",
        "role.granted",
        "role.removed",
        "account.disabled",
        "account.enabled",
        "keys.removed",
        "change.requested",
        "change.approved",
        "change.rejected",
        "change.cancelled",
        "change.expired",
        "audit.checkpointed",
        "audit.cut",
        "audit.exported",
    }
)


#: Events whose detail names an account that is neither their actor nor their ``on_behalf_of``:
#: a four-eyes change's ``target`` and ``requested_by``, and the administrator who requested a
#: change, named as ``requested_by`` by the event that applies it (the approver is its actor).
#: Every other event names the accounts it concerns in those two columns (an administrator's
#: action on an account, an officer's on a citizen's case, a delegate's for a principal), so the
#: audit viewer's account filter looks into the detail of these events only, through indexes
#: (``idgw.console.audit_view.account_condition``). tests/audit/test_account_references.py holds
#: every ``audit.record`` call to this.
ACCOUNT_IN_DETAIL = frozenset(
    {"change.requested", "change.approved", "change.rejected", "change.cancelled", "change.expired",
     "keys.removed", "client.removed", "policy.changed", "role.granted"})


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
    commits. Never put secrets in ``detail``.

    On a session the events wait in the session and are written at commit, appended to one chain
    in one Core INSERT (no ORM unit of work; a token request records two), and handed to the
    configured sinks once the commit succeeded; a rollback drops them with the rest of the
    transaction. On a connection the event is appended at once (and sent to the sinks then)."""
    if name not in EVENTS:
        raise UnknownAuditEventError(f"unknown audit event {name!r}")
    row = {"at": int(at), "name": name, "actor": actor, "on_behalf_of": on_behalf_of, "client_id": client_id,
           "session_id": session_id, "ip": ip, "detail": detail}
    if isinstance(db, Session):
        if db.in_nested_transaction():
            # The pending events belong to the outer transaction: a rolled-back savepoint would
            # not take them with it. Record after the savepoint, or roll back the whole transaction.
            raise RuntimeError("audit events cannot be recorded inside a savepoint (begin_nested)")
        if not db.in_transaction():
            db.begin()  # so that a rollback or close ends it, and the events with it (no I/O yet)
        db.info.setdefault(_PENDING, []).append(row)
    else:
        sinks.send(db.engine, chain.append(db, [row]))


@event.listens_for(Session, "before_commit")
def _write_pending(session: Session) -> None:
    if not session.info.get(_PENDING):
        return
    # The commit would flush after this hook, with the chain's head locked (on PostgreSQL every
    # writer of the chain waits for that lock): flush first, so the lock is held only for the
    # append and the COMMIT.
    if session.new or session.dirty or session.deleted:
        session.flush()
    rows = session.info.pop(_PENDING, None)
    if rows:
        conn = session.connection()
        session.info[_WRITTEN] = (conn.engine, chain.append(conn, rows))


@event.listens_for(Session, "after_commit")
def _send_written(session: Session) -> None:
    written = session.info.pop(_WRITTEN, None)
    if written:
        sinks.send(*written)


@event.listens_for(Session, "after_transaction_end")
def _drop_pending(session: Session, transaction) -> None:
    # Rolled back or closed without a commit: the events go with the transaction.
    if transaction.parent is None:
        session.info.pop(_PENDING, None)
        session.info.pop(_WRITTEN, None)

