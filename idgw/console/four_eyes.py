"""Four eyes: a risky change takes effect only when a second admin approves it in time.

The module that owns a change registers its kind (``register_kind``) with the function that
applies it; ``request_change`` stores what would be applied, ``approve`` applies it in the
approver's transaction. The requester can never approve their own request, a request past its
time limit cannot be approved (it becomes ``expired``), and two admins approving at once apply it
once (a conditional UPDATE decides). The request, the approval, a rejection, a cancellation and an
expiry are each audited with who did it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select, update

from idgw import audit
from idgw.storage.console import ChangeRequest


class FourEyesError(ValueError):
    """``code``: unknown_kind | duplicate | not_found | not_pending | expired | own_request | not_admin."""

    def __init__(self, code: str, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


@dataclass(frozen=True)
class Kind:
    """``apply(db, request, approver, now)`` makes the change; ``describe(payload, target, locale)``
    says in one line what it is (Thai or English)."""

    apply: Callable
    describe: Callable


KINDS: dict[str, Kind] = {}


def register_kind(name: str, *, apply: Callable, describe: Callable) -> None:
    KINDS[name] = Kind(apply=apply, describe=describe)


def describe(request: ChangeRequest, locale: str) -> str:
    kind = KINDS.get(request.kind)
    return kind.describe(request.payload, request.target, locale) if kind else request.kind


def _name(account) -> str:
    return account.username


def request_change(db, *, kind: str, target: str, payload: dict, requester, now: int, ttl: int,
                   reason: str | None = None) -> ChangeRequest:
    """A pending request for ``kind`` on ``target``; one pending request per kind and target."""
    if kind not in KINDS:
        raise FourEyesError("unknown_kind", f"unknown change {kind!r}")
    open_one = db.scalar(select(ChangeRequest).where(
        ChangeRequest.kind == kind, ChangeRequest.target == target, ChangeRequest.status == "pending",
        ChangeRequest.expires_at > now))
    if open_one is not None:
        raise FourEyesError("duplicate", f"a {kind} request for {target} is already waiting ({open_one.id})",
                            status=409)
    row = ChangeRequest(id=str(uuid.uuid4()), kind=kind, target=target, payload=payload, reason=reason,
                        status="pending", requested_by=requester.id, requested_by_name=_name(requester),
                        requested_at=now, expires_at=now + ttl)
    db.add(row)
    audit.record(db, "change.requested", at=now, actor=_name(requester), change_id=row.id, kind=kind,
                 target=target, payload=payload, reason=reason, expires_at=row.expires_at)
    return row


def _load(db, request_id: str) -> ChangeRequest:
    row = db.get(ChangeRequest, request_id)
    if row is None:
        raise FourEyesError("not_found", "no such change request", status=404)
    return row


def _decide(db, row: ChangeRequest, *, status: str, by, now: int, note: str | None) -> None:
    """Move a pending request to ``status`` unless someone else decided it first."""
    done = db.execute(update(ChangeRequest).where(ChangeRequest.id == row.id, ChangeRequest.status == "pending")
                      .values(status=status, decided_by=by.id if by else None,
                              decided_by_name=_name(by) if by else None, decided_at=now, decision_note=note)
                      .execution_options(synchronize_session=False))
    if done.rowcount != 1:
        raise FourEyesError("not_pending", "this request was already decided", status=409)
    db.refresh(row)


def _expire(db, row: ChangeRequest, now: int) -> None:
    _decide(db, row, status="expired", by=None, now=now, note=None)
    audit.record(db, "change.expired", at=now, actor="system", change_id=row.id, kind=row.kind, target=row.target,
                 requested_by=row.requested_by_name)


def approve(db, *, request_id: str, approver, now: int) -> ChangeRequest:
    """Apply a pending request as ``approver`` (an admin who is not the requester), before its limit."""
    row = _load(db, request_id)
    if row.status != "pending":
        raise FourEyesError("not_pending", f"this request is {row.status}", status=409)
    if "admin" not in (approver.roles or []):
        raise FourEyesError("not_admin", "only an admin may approve a change", status=403)
    if approver.id == row.requested_by:
        raise FourEyesError("own_request", "a second admin must approve; you made this request", status=403)
    if row.expires_at <= now:
        _expire(db, row, now)
        raise FourEyesError("expired", "this request passed its time limit; make it again", status=409)
    kind = KINDS.get(row.kind)
    if kind is None:
        raise FourEyesError("unknown_kind", f"unknown change {row.kind!r}")
    _decide(db, row, status="approved", by=approver, now=now, note=None)
    audit.record(db, "change.approved", at=now, actor=_name(approver), change_id=row.id, kind=row.kind,
                 target=row.target, requested_by=row.requested_by_name)
    kind.apply(db, row, approver, now)
    return row


def reject(db, *, request_id: str, approver, now: int, note: str | None = None) -> ChangeRequest:
    """Another admin turns the request down; the requester withdraws their own with ``cancel``."""
    row = _load(db, request_id)
    if "admin" not in (approver.roles or []):
        raise FourEyesError("not_admin", "only an admin may reject a change", status=403)
    if approver.id == row.requested_by:
        raise FourEyesError("own_request", "withdraw your own request instead", status=403)
    _decide(db, row, status="rejected", by=approver, now=now, note=note)
    audit.record(db, "change.rejected", at=now, actor=_name(approver), change_id=row.id, kind=row.kind,
                 target=row.target, requested_by=row.requested_by_name, note=note)
    return row


def cancel(db, *, request_id: str, requester, now: int) -> ChangeRequest:
    row = _load(db, request_id)
    if requester.id != row.requested_by:
        raise FourEyesError("not_admin", "only the admin who made the request may withdraw it", status=403)
    _decide(db, row, status="cancelled", by=requester, now=now, note=None)
    audit.record(db, "change.cancelled", at=now, actor=_name(requester), change_id=row.id, kind=row.kind,
                 target=row.target)
    return row


def pending(db, *, now: int) -> list[ChangeRequest]:
    """Requests still waiting (past-limit ones are expired first, so both admins see the same)."""
    expire_due(db, now=now)
    return list(db.scalars(select(ChangeRequest).where(ChangeRequest.status == "pending")
                           .order_by(ChangeRequest.requested_at)))


def pending_for(db, *, kind: str, target: str, now: int) -> ChangeRequest | None:
    return db.scalar(select(ChangeRequest).where(
        ChangeRequest.kind == kind, ChangeRequest.target == target, ChangeRequest.status == "pending",
        ChangeRequest.expires_at > now))


def recent(db, *, limit: int = 50) -> list[ChangeRequest]:
    return list(db.scalars(select(ChangeRequest).where(ChangeRequest.status != "pending")
                           .order_by(ChangeRequest.decided_at.desc()).limit(limit)))


def expire_due(db, *, now: int) -> int:
    rows = list(db.scalars(select(ChangeRequest).where(ChangeRequest.status == "pending",
                                                       ChangeRequest.expires_at <= now)))
    for row in rows:
        try:
            _expire(db, row, now)
        except FourEyesError:
            continue  # decided meanwhile
    return len(rows)
