"""Signing-key decisions of the admin console: what each key is (kid, algorithm, age, state),
rotation, and ending a retired key's publication early through four eyes.

A key is **active** (it signs), **retired** (a newer key replaced it; its public half stays in
/jwks.json until ``unpublish_at``, so every token it signed still verifies) or **unpublished**
(past ``unpublish_at``: gone from /jwks.json). ``KeyStore.rotate`` keeps that safeguard; removing a
retired key's public half before its ``unpublish_at`` disables it (tokens it signed stop
verifying at once), so it is a four-eyes change, ``keys.remove_early``, whose ``apply`` sets
``unpublish_at`` to now (audited ``keys.removed``) and makes this process's key stores re-read the
table (``idgw.oidc.keys.recheck_all``; other instances within their recheck interval).

Active keys older than ``ROTATE_AFTER_DAYS`` are flagged "rotate soon".
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import event, select

from idgw import audit
from idgw.console import four_eyes
from idgw.oidc.keys import ALG_KTY, recheck_all
from idgw.storage.models import SigningKey

ROTATE_AFTER_DAYS = 90
REMOVE_EARLY = "keys.remove_early"
DAY = 86400


class KeysError(ValueError):
    """``code``: not_found (404) | active (an active key signs: rotate first) | unpublished
    (already gone) | pending (a removal already waits)."""

    def __init__(self, code: str, *, status: int = 409) -> None:
        super().__init__(code)
        self.code = code
        self.status = status


@dataclass(frozen=True)
class KeyView:
    kid: str
    kty: str
    algs: tuple[str, ...]
    created_at: int
    age_days: int
    state: str  # active | retired | unpublished
    retired_at: int | None
    unpublish_at: int | None
    rotate_soon: bool
    pending: object | None  # the waiting keys.remove_early request


def state_of(row: SigningKey, now: int) -> str:
    if row.retired_at is None:
        return "active"
    if row.unpublish_at is not None and row.unpublish_at <= now:
        return "unpublished"
    return "retired"


def views(db, *, now: int) -> list[KeyView]:
    """Every signing key, newest first."""
    waiting = {r.target: r for r in four_eyes.pending(db, now=now) if r.kind == REMOVE_EARLY}
    out = []
    for row in db.scalars(select(SigningKey).order_by(SigningKey.created_at.desc(), SigningKey.kid)):
        state = state_of(row, now)
        age = max(now - row.created_at, 0) // DAY
        out.append(KeyView(kid=row.kid, kty=row.kty, algs=tuple(a for a, k in ALG_KTY.items() if k == row.kty),
                           created_at=row.created_at, age_days=age, state=state, retired_at=row.retired_at,
                           unpublish_at=row.unpublish_at, rotate_soon=state == "active" and age >= ROTATE_AFTER_DAYS,
                           pending=waiting.get(row.kid)))
    return out


def rotate(db, *, keys, actor: str) -> list[str]:
    """New active keys (``KeyStore.rotate``: the old ones retire and stay published until every
    token they signed has expired; audited ``keys.rotated``). The caller commits, then refreshes
    the store (``keys.refresh(force=True)``)."""
    return keys.rotate(db, actor=actor)


def request_remove_early(db, *, kid: str, requester, now: int, ttl: int, reason: str | None = None):
    """Ask a second admin to end the publication of retired key ``kid`` now."""
    row = db.get(SigningKey, kid)
    if row is None:
        raise KeysError("not_found", status=404)
    state = state_of(row, now)
    if state != "retired":
        raise KeysError(state)
    try:
        return four_eyes.request_change(db, kind=REMOVE_EARLY, target=kid,
                                        payload={"kid": kid, "kty": row.kty, "unpublish_at": row.unpublish_at},
                                        requester=requester, now=now, ttl=ttl, reason=reason)
    except four_eyes.FourEyesError as exc:
        if exc.code == "duplicate":
            raise KeysError("pending") from None
        raise


def _apply_remove_early(db, request, approver, now: int) -> None:
    row = db.get(SigningKey, request.target, with_for_update=True)
    if row is None:
        raise four_eyes.FourEyesError("not_found", "the key no longer exists", status=404)
    if row.retired_at is None:  # cannot happen (active keys are never asked for); never unpublish a signer
        raise four_eyes.FourEyesError("not_pending", "this key signs now; rotate first", status=409)
    before = row.unpublish_at
    if before is not None and before <= now:
        return  # its time came meanwhile: nothing to remove early
    row.unpublish_at = now
    audit.record(db, "keys.removed", at=now, actor=approver.username, kid=row.kid, kty=row.kty, early=True,
                 before={"unpublish_at": before}, after={"unpublish_at": now}, requested_by=request.requested_by_name,
                 change_id=request.id)
    # once committed, this process's key stores re-read the table at their next use
    event.listen(db, "after_commit", lambda _session: recheck_all(), once=True)


def _describe_remove_early(payload: dict, target: str, locale: str) -> str:
    from idgw.console.keys_texts import describe_remove_early

    return describe_remove_early(payload, target, locale)


four_eyes.register_kind(REMOVE_EARLY, apply=_apply_remove_early, describe=_describe_remove_early)
