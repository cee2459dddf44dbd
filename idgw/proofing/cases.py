"""The proofing case: its states, who may move it, and what an approval does. Plain functions over
the database (the caller commits); each change appends to the case's record (idgw.proofing.record)
and, for the named moments, to the audit log.

States::

    ready ──join──> queued ──claim──> claimed ──approve (no problem)──────────────> approved
      │               ^  │              │  │ └─approve against a problem─> awaiting_second ─> approved
      │               │  │              │  └─reject──> rejected                      └──────> rejected
      │               └──┼──────────────┘ (officer hands over or disconnects)
      └──cancel / expire─┴──> cancelled | expired  (the citizen cancels, leaves, or waits too long)

Claiming is one conditional UPDATE (state = queued), so two officers cannot both claim a case;
every other move is conditional on the version the actor saw, so a stale page changes nothing.

An officer's audit events name the officer as actor and the citizen's account as
``on_behalf_of`` (the account acted on), so the audit viewer's account filter finds the decision
on a citizen among the citizen's own events.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import and_, func, or_, select, update

from idgw.audit import record as audit
from idgw.proofing import record
from idgw.storage.models import Account, LoginSession
from idgw.storage.proofing import ProofingCase, ProofingConsent
from policies.levels import IAL

LIVE = ("ready", "queued", "claimed", "awaiting_second")
FINAL = ("approved", "rejected", "cancelled", "expired")
# The officer's checklist (NIST SP 800-63A-4 §3.14: the applicant stays in view; officers look for
# manipulation, coercion and deepfakes).
CHECKLIST = ("in_view", "card_matches", "cues_performed", "no_coercion", "no_manipulation")
REJECT_REASONS = ("face_mismatch", "card_mismatch", "cue_failed", "suspected_fraud", "poor_quality",
                  "citizen_left", "other")
# Officer video proofing's name among a service's accepted identity sources (policy.allowed_providers).
SOURCE_NAME = "officer_video"
NOTICE_VERSION = "2026-11"


class CaseError(Exception):
    """A move the case does not allow now. ``code`` is stable; pages word it in Thai and English."""

    def __init__(self, code: str, status: int = 409) -> None:
        super().__init__(code)
        self.code = code
        self.status = status


@dataclass(frozen=True)
class Officer:
    account_id: str
    session_id: str


def grant_level(settings) -> str:
    """What an approval grants: configured 2.1-2.3 (settings refuse anything else)."""
    return settings.proofing_grant_ial


def proofing_reach(settings, policy=None) -> IAL | None:
    """The IAL officer video proofing can raise a citizen to for this service: the configured
    grant, when a card-check source is configured and the service's policy accepts the route
    (``allowed_providers`` unset, or naming ``officer_video``); None otherwise."""
    if not settings.card_check_url:
        return None
    allowed = getattr(policy, "allowed_providers", None)
    if allowed is not None and SOURCE_NAME not in allowed:
        return None
    return IAL.parse(grant_level(settings))


# -- the citizen's side ------------------------------------------------------------------------

def current_consent(db, account_id: str) -> ProofingConsent | None:
    return db.scalars(select(ProofingConsent).where(ProofingConsent.account_id == account_id,
                                                    ProofingConsent.withdrawn_at.is_(None))
                      .order_by(ProofingConsent.granted_at.desc()).limit(1)).first()


def give_consent(db, *, account_id: str, retention_days: int, now: int, ip: str | None = None) -> ProofingConsent:
    row = ProofingConsent(id=str(uuid.uuid4()), account_id=account_id, notice_version=NOTICE_VERSION,
                          media_retention_days=retention_days, granted_at=now)
    db.add(row)
    audit(db, "proofing.consented", at=now, actor=account_id, ip=ip, notice=NOTICE_VERSION,
          media_retention_days=retention_days)
    return row


def live_case(db, *, account_id: str, session_id: str) -> ProofingCase | None:
    """The browser's unfinished case, if any (one at a time per session)."""
    return db.scalars(select(ProofingCase).where(ProofingCase.account_id == account_id,
                                                 ProofingCase.session_id == session_id,
                                                 ProofingCase.state.in_(LIVE))
                      .order_by(ProofingCase.created_at.desc()).limit(1)).first()


def open_case(db, *, account_id: str, session_id: str, interaction_id: str | None, client_id: str | None,
              need_ial: str, grant_ial: str, consent_id: str, card: dict, card_check: dict, now: int) -> ProofingCase:
    """A case whose card data passed the authoritative check (``card`` never holds the laser code)."""
    assert "laser_code" not in card
    case = ProofingCase(id=str(uuid.uuid4()), account_id=account_id, session_id=session_id,
                        interaction_id=interaction_id, client_id=client_id, need_ial=need_ial, grant_ial=grant_ial,
                        state="ready", consent_id=consent_id, card=card, card_check=card_check, created_at=now,
                        citizen_seen_at=now, cues=[], checklist={}, flagged=False, version=0)
    db.add(case)
    db.flush()
    record.append(db, case.id, "opened", at=now, actor=_citizen(account_id), need_ial=need_ial, grant_ial=grant_ial,
                  consent=consent_id, card_check=card_check)
    return case


def join_queue(db, case: ProofingCase, *, now: int) -> None:
    _move(db, case, ("ready",), "queued", now=now, actor=_citizen(case.account_id), queued_at=now, citizen_seen_at=now)
    audit(db, "proofing.requested", at=now, actor=case.account_id, client_id=case.client_id,
          session_id=case.session_id, case=case.id, need_ial=case.need_ial)


def seen(db, case: ProofingCase, *, now: int) -> None:
    """The citizen's page is still there (a poll or the call's socket)."""
    if case.state in LIVE:
        db.execute(update(ProofingCase).where(ProofingCase.id == case.id).values(citizen_seen_at=now))
        case.citizen_seen_at = now


def cancel(db, case: ProofingCase, *, now: int) -> None:
    _move(db, case, LIVE, "cancelled", now=now, actor=_citizen(case.account_id), decided_at=now)
    audit(db, "proofing.cancelled", at=now, actor=case.account_id, case=case.id)


def queue_position(db, case: ProofingCase) -> int:
    """1 for the oldest waiting case."""
    if case.state != "queued" or case.queued_at is None:
        return 0
    # Ties (queued in the same second) go by id, the same order the officers' queue uses.
    ahead = db.scalar(select(func.count()).select_from(ProofingCase).where(
        ProofingCase.state == "queued",
        or_(ProofingCase.queued_at < case.queued_at,
            and_(ProofingCase.queued_at == case.queued_at, ProofingCase.id < case.id))))
    return int(ahead or 0) + 1


def expected_wait(db, position: int, *, now: int, default_per_case: int = 300) -> int:
    """Seconds: position x the median handling time of the last 20 decided cases (default 5 min)."""
    rows = db.execute(select(ProofingCase.claimed_at, ProofingCase.decided_at).where(
        ProofingCase.state.in_(("approved", "rejected")), ProofingCase.claimed_at.is_not(None))
        .order_by(ProofingCase.decided_at.desc()).limit(20)).all()
    spans = sorted(d - c for c, d in rows if d and c and d >= c)
    per_case = spans[len(spans) // 2] if spans else default_per_case
    return max(1, position) * max(60, per_case)


# -- the officer's side ------------------------------------------------------------------------

def queue(db, *, limit: int = 100) -> list[ProofingCase]:
    """Waiting cases, oldest first."""
    return list(db.scalars(select(ProofingCase).where(ProofingCase.state == "queued")
                           .order_by(ProofingCase.queued_at, ProofingCase.id).limit(limit)))


def awaiting_second(db, *, limit: int = 100) -> list[ProofingCase]:
    return list(db.scalars(select(ProofingCase).where(ProofingCase.state == "awaiting_second")
                           .order_by(ProofingCase.decided_at.is_(None), ProofingCase.claimed_at).limit(limit)))


def claim(db, case_id: str, officer: Officer, *, now: int) -> ProofingCase:
    """Atomic: of two officers claiming one case, exactly one gets it; the other gets ``claimed``.
    Nobody proofs themselves (``own_case``)."""
    if own_case(db, db.get(ProofingCase, case_id), officer):
        raise CaseError("own_case", 403)
    result = db.execute(update(ProofingCase).where(ProofingCase.id == case_id, ProofingCase.state == "queued")
                        .values(state="claimed", claimed_by=officer.account_id, claimed_at=now,
                                version=ProofingCase.version + 1))
    if result.rowcount != 1:
        case = db.get(ProofingCase, case_id)
        raise CaseError("not_found", 404) if case is None else CaseError("claimed" if case.state == "claimed"
                                                                          else "not_queued")
    case = db.get(ProofingCase, case_id)
    db.refresh(case)
    record.append(db, case.id, "claimed", at=now, actor=_officer(officer))
    audit(db, "proofing.claimed", at=now, actor=officer.account_id, on_behalf_of=case.account_id,
          session_id=officer.session_id, case=case.id)
    return case


def own_case(db, case: ProofingCase | None, officer: Officer) -> bool:
    """Whether the officer would be proofing themselves: the case is their account's, or the card
    in it carries the citizen ID of their account."""
    if case is None:
        return False
    if case.account_id == officer.account_id:
        return True
    own_id = db.scalar(select(Account.citizen_id).where(Account.id == officer.account_id))
    return own_id is not None and own_id == (case.card or {}).get("citizen_id")


def held_by(case: ProofingCase | None, officer: Officer) -> ProofingCase:
    if case is None:
        raise CaseError("not_found", 404)
    if case.state != "claimed" or case.claimed_by != officer.account_id:
        raise CaseError("not_yours", 403) if case.state == "claimed" else CaseError("not_claimed")
    return case


def release(db, case: ProofingCase, *, now: int, reason: str, officer: Officer | None = None) -> None:
    """Back to the queue, first in line again (its queued_at is kept): the officer handed over or
    their call dropped."""
    actor = _officer(officer) if officer else "gateway"
    _move(db, case, ("claimed",), "queued", now=now, actor=actor, detail={"reason": reason},
          claimed_by=None, claimed_at=None)
    audit(db, "proofing.released", at=now, actor=officer.account_id if officer else None, on_behalf_of=case.account_id,
          case=case.id, reason=reason)


def note_face(db, case: ProofingCase, face: dict, *, now: int) -> None:
    """The gateway's face comparison (scores and model versions, the frame's SHA-256; no image)."""
    case.face = face
    case.version += 1
    record.append(db, case.id, "face_compared", at=now, actor="gateway", data=face)


def note_cue_shown(db, case: ProofingCase, cue: dict, officer: Officer, *, now: int) -> None:
    case.cues = [*case.cues, cue]
    case.version += 1
    record.append(db, case.id, "cue_shown", at=now, actor=_officer(officer), cue=cue["cue"], cue_id=cue["id"],
                  window=cue["window"])
    audit(db, "proofing.cue", at=now, actor=officer.account_id, on_behalf_of=case.account_id, case=case.id,
          cue=cue["cue"])


def note_cue_result(db, case: ProofingCase, cue_id: str, result: dict, *, now: int) -> None:
    case.cues = [dict(c, result=result) if c["id"] == cue_id else c for c in case.cues]
    case.version += 1
    record.append(db, case.id, "cue_judged", at=now, actor="gateway", data=result, cue_id=cue_id)


def set_checklist(db, case: ProofingCase, answers: dict, officer: Officer, *, now: int) -> None:
    clean = {k: answers[k] for k in CHECKLIST if answers.get(k) in ("yes", "no")}
    case.checklist = clean
    case.version += 1
    record.append(db, case.id, "checklist", at=now, actor=_officer(officer), answers=clean)


def flag(db, case: ProofingCase, officer: Officer, *, note: str, now: int) -> None:
    if case.state not in LIVE:
        raise CaseError("finished")
    case.flagged = True
    case.version += 1
    record.append(db, case.id, "flagged", at=now, actor=_officer(officer), note=note[:500])
    audit(db, "proofing.flagged", at=now, actor=officer.account_id, on_behalf_of=case.account_id, case=case.id)


def problems(case: ProofingCase) -> list[str]:
    """What stands against approving: each needs a second officer's approval with a written reason."""
    out = []
    if not (case.card_check or {}).get("status") == "valid":
        out.append("card_problem")
    face = case.face or {}
    if not face.get("match"):
        out.append("face_not_matched" if face else "face_not_compared")
    judged = [c for c in case.cues if c.get("result")]
    if not judged:
        out.append("no_cue_judged")
    elif not all(c["result"].get("performed") for c in judged):
        out.append("cue_failed")
    if any(case.checklist.get(k) != "yes" for k in CHECKLIST):
        out.append("checklist_incomplete")
    if case.flagged:
        out.append("flagged")
    return out


def decide(db, case: ProofingCase, officer: Officer, *, outcome: str, reason: str, note: str, version: int,
           now: int) -> str:
    """The first officer's decision: ``approve``, ``reject`` (with a reason code) or ``handover``.
    Returns the new state. Approving against any of ``problems`` needs a written note and then a
    second officer (``awaiting_second``)."""
    held_by(case, officer)
    if version != case.version:
        raise CaseError("stale")
    note = note.strip()[:1000]
    if outcome == "handover":
        release(db, case, now=now, reason="handover", officer=officer)
        return "queued"
    if outcome == "reject":
        if reason not in REJECT_REASONS:
            raise CaseError("reason_required", 400)
        _finish(db, case, "rejected", officer, now=now, decision={"outcome": "rejected", "reason": reason,
                                                                   "note": note, "by": [officer.account_id]})
        return "rejected"
    if outcome != "approve":
        raise CaseError("bad_outcome", 400)
    found = problems(case)
    if found:
        if not note:
            raise CaseError("note_required", 400)
        first = {"by": officer.account_id, "at": now, "problems": found, "note": note}
        _move(db, case, ("claimed",), "awaiting_second", now=now, actor=_officer(officer), detail=first,
              first_decision=first)
        audit(db, "proofing.escalated", at=now, actor=officer.account_id, on_behalf_of=case.account_id, case=case.id,
              problems=found)
        return "awaiting_second"
    _finish(db, case, "approved", officer, now=now, decision={"outcome": "approved", "problems": [], "note": note,
                                                               "by": [officer.account_id]})
    return "approved"


def second_decision(db, case: ProofingCase, officer: Officer, *, outcome: str, reason: str, note: str,
                    version: int, now: int) -> str:
    """Four eyes: a different officer confirms (approve, with a written reason) or rejects."""
    if case is None:
        raise CaseError("not_found", 404)
    if case.state != "awaiting_second":
        raise CaseError("not_awaiting")
    if version != case.version:
        raise CaseError("stale")
    first = case.first_decision or {}
    if first.get("by") == officer.account_id:
        raise CaseError("same_officer", 403)
    if own_case(db, case, officer):
        raise CaseError("own_case", 403)
    note = note.strip()[:1000]
    if outcome == "approve":
        if not note:
            raise CaseError("note_required", 400)
        _finish(db, case, "approved", officer, now=now, decision={
            "outcome": "approved", "problems": first.get("problems", []), "note": first.get("note"),
            "second_note": note, "by": [first.get("by"), officer.account_id]})
        return "approved"
    if outcome == "reject":
        if reason not in REJECT_REASONS:
            raise CaseError("reason_required", 400)
        _finish(db, case, "rejected", officer, now=now, decision={
            "outcome": "rejected", "reason": reason, "note": note, "by": [first.get("by"), officer.account_id]})
        return "rejected"
    raise CaseError("bad_outcome", 400)


def expire(db, case: ProofingCase, *, now: int, reason: str) -> None:
    _move(db, case, LIVE, "expired", now=now, actor="gateway", detail={"reason": reason}, decided_at=now)
    audit(db, "proofing.expired", at=now, actor=case.account_id, case=case.id, reason=reason)


def stale_cases(db, *, now: int, unseen_for: int) -> list[tuple[ProofingCase, str]]:
    """Live cases to end, each with why: the citizen's page has not been seen for ``unseen_for``
    seconds (``citizen_left``), or the browser session that opened it has ended (``signed_out``:
    a case never outlives its sign-in)."""
    waiting = ProofingCase.state.in_(("ready", "queued", "claimed", "awaiting_second"))
    unseen = and_(ProofingCase.state != "awaiting_second", ProofingCase.citizen_seen_at < now - unseen_for)
    ended = select(LoginSession.id).where(LoginSession.id == ProofingCase.session_id,
                                          LoginSession.ended_at.is_not(None)).exists()
    rows = db.execute(select(ProofingCase, ended.label("signed_out")).where(waiting, or_(unseen, ended))).all()
    return [(case, "signed_out" if signed_out else "citizen_left") for case, signed_out in rows]


# -- internals ---------------------------------------------------------------------------------

def _citizen(account_id: str) -> str:
    return f"citizen:{account_id}"


def _officer(officer: Officer) -> str:
    return f"officer:{officer.account_id}"


def _move(db, case: ProofingCase, from_states: tuple[str, ...], to: str, *, now: int, actor: str,
          detail: dict | None = None, **values) -> None:
    """One conditional UPDATE: only from ``from_states`` and only if nobody moved the case since it was read."""
    if case.state not in from_states:
        raise CaseError("finished" if case.state in FINAL else "wrong_state")
    result = db.execute(update(ProofingCase).where(ProofingCase.id == case.id, ProofingCase.version == case.version,
                                                   ProofingCase.state == case.state)
                        .values(state=to, version=case.version + 1, **values))
    if result.rowcount != 1:
        raise CaseError("stale")
    db.refresh(case)
    record.append(db, case.id, to, at=now, actor=actor, data=detail)


def _finish(db, case: ProofingCase, state: str, officer: Officer, *, now: int, decision: dict) -> None:
    from_states = (case.state,) if case.state in ("claimed", "awaiting_second") else ("claimed",)
    _move(db, case, from_states, state, now=now, actor=_officer(officer), detail=decision, decided_at=now,
          decision=decision)
    audit(db, "proofing.decided", at=now, actor=officer.account_id, on_behalf_of=case.account_id,
          session_id=officer.session_id, case=case.id,
          outcome=decision["outcome"], reason=decision.get("reason"))
