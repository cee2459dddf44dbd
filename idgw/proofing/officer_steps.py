"""The officer console's steps (``idgw.proofing.officer_pages`` runs each in one transaction):
who the officer is (``idgw.proofing.officers``), the case they act on, and the case's move
(``idgw.proofing.cases``). A refused move raises ``CaseError`` (``IdentityInUse`` on approval
becomes one) out of the transaction, so nothing of it is kept; a visitor the gate stops gets its
answer (a Response) back instead. Plain functions of ``gw``, the request's inputs and the
transaction's session (``current_db``), so tests can call them directly."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Request
from fastapi.responses import JSONResponse, RedirectResponse

from idgw.oidc.context import current_db
from idgw.proofing import cases, signals
from idgw.proofing.cases import CaseError, Officer
from idgw.proofing.evidence import IdentityInUse, raise_identity
from idgw.proofing.officer_texts import refusal
from idgw.proofing.officer_views import (
    LEFT,
    case_view,
    first_decision_view,
    queue_view,
    record_view,
    service_names,
    state_json,
)
from idgw.proofing.officers import current_officer, officer_json_gate
from idgw.storage.proofing import ProofingCase


def purpose(case_id: str) -> str:
    return f"officer:{case_id}"


def held_case(db, case_id: str, officer: Officer, *, lock: bool = False) -> ProofingCase:
    """The case this officer is in a call with, or the ``CaseError`` that says why not (the citizen
    left, the case is finished, someone else holds it, ...)."""
    case = db.get(ProofingCase, case_id, with_for_update=lock)
    if case is not None and case.claimed_by == officer.account_id and case.state in LEFT:
        raise CaseError("citizen_left")
    if case is not None and case.state in cases.FINAL:
        raise CaseError("finished")
    return cases.held_by(case, officer)


def reviewable_case(db, case_id: str, *, lock: bool = False) -> ProofingCase:
    case = db.get(ProofingCase, case_id, with_for_update=lock)
    if case is None:
        raise CaseError("not_found", 404)
    if case.state in cases.FINAL:
        raise CaseError("finished")
    if case.state != "awaiting_second":
        raise CaseError("not_awaiting")
    return case


def form_version(form: dict) -> int:
    try:
        return int(form.get("version", ""))
    except ValueError:
        raise CaseError("stale") from None


def approve(gw, db, case: ProofingCase, *, now: int) -> None:
    """The approval's effect on the account and the citizen's session, in the decision's transaction."""
    try:
        raise_identity(db, case, issuer=gw.settings.issuer, now=now)
    except IdentityInUse:
        raise CaseError("identity_in_use") from None


# -- the queue ---------------------------------------------------------------------------------

def queue_step(gw, request: Request, locale: str, csrf, *, as_json: bool = False):
    """The queue's lists (``queue_view``) for an officer, else the gate's answer: the sign-in for
    the page, a JSON refusal for officer.js (``as_json``)."""
    db = current_db.get()
    now = gw.clock.now()
    who = officer_json_gate(gw, db, request, now) if as_json else \
        current_officer(gw, db, request, now, here="/officer")
    if not isinstance(who, Officer):
        return who
    return queue_view(db, who, now=now, locale=locale, csrf=csrf)


def claim_step(gw, request: Request, case_id: str, csrf_ok: bool):
    """The case claimed by this officer (of two, one wins; ``CaseError`` for the other): its call page."""
    db = current_db.get()
    now = gw.clock.now()
    who = current_officer(gw, db, request, now, here="/officer")
    if not isinstance(who, Officer):
        return who
    if not csrf_ok:
        raise CaseError("csrf", 403)
    cases.claim(db, case_id, who, now=now)
    return RedirectResponse(f"/officer/case/{quote(case_id)}", status_code=303)


# -- the call page -----------------------------------------------------------------------------

def case_step(gw, request: Request, case_id: str, locale: str):
    """The call page's view of the case this officer holds (``CaseError`` when not held)."""
    db = current_db.get()
    who = current_officer(gw, db, request, gw.clock.now(), here=f"/officer/case/{case_id}")
    if not isinstance(who, Officer):
        return who
    case = held_case(db, case_id, who)
    return case_view(case, locale, service=service_names(db, [case], locale)[case.client_id] or "")


def case_state_step(gw, request: Request, case_id: str, locale: str):
    """What officer.js refreshes: the case's state, for the officer who claimed it only."""
    db = current_db.get()
    who = officer_json_gate(gw, db, request, gw.clock.now())
    if not isinstance(who, Officer):
        return who
    case = db.get(ProofingCase, case_id)
    if case is None:
        return JSONResponse({"error": "not_found", "message": refusal("not_found", locale)}, status_code=404)
    if case.claimed_by != who.account_id:
        return JSONResponse({"error": "not_yours", "message": refusal("not_yours", locale)}, status_code=403)
    return state_json(case, locale, service=service_names(db, [case], locale)[case.client_id] or "")


def save_checklist(gw, db, case, officer, form, now) -> tuple[str, str]:
    cases.set_checklist(db, case, form, officer, now=now)
    return f"/officer/case/{case.id}?done=checklist", "officer_checklist_saved"


def flag_case(gw, db, case, officer, form, now) -> tuple[str, str]:
    cases.flag(db, case, officer, note=str(form.get("note") or ""), now=now)
    return f"/officer/case/{case.id}?done=flagged", "officer_flagged"


def decide_case(gw, db, case, officer, form, now) -> tuple[str, str]:
    new = cases.decide(db, case, officer, outcome=str(form.get("outcome") or ""), reason=str(form.get("reason") or ""),
                       note=str(form.get("note") or ""), version=form_version(form), now=now)
    if new == "approved":
        approve(gw, db, case, now=now)
    # The citizen's call page (its socket perhaps held by another instance) looks at once.
    signals.publish(db, case.id, "decided", data={"state": new})
    done = {"approved": "approved", "awaiting_second": "escalated", "rejected": "rejected", "queued": "handover"}[new]
    return f"/officer?done={done}", f"officer_done_{done}"


def case_action_step(gw, request: Request, case_id: str, act, form: dict, csrf_ok: bool, as_json: bool):
    """``act`` (``save_checklist``, ``flag_case``, ``decide_case``) moves the case this officer
    holds, locked: (where next, the message's key, the case's version)."""
    db = current_db.get()
    now = gw.clock.now()
    who = officer_json_gate(gw, db, request, now) if as_json else \
        current_officer(gw, db, request, now, here=f"/officer/case/{case_id}")
    if not isinstance(who, Officer):
        return who
    if not csrf_ok:
        raise CaseError("csrf", 403)
    case = held_case(db, case_id, who, lock=True)
    next_url, message = act(gw, db, case, who, form, now)
    return next_url, message, case.version


# -- the second officer ------------------------------------------------------------------------

def review_step(gw, request: Request, case_id: str, locale: str):
    """The review page's context: the case awaiting a second officer, the first decision (``own``
    when it was this officer's) and the case's record."""
    db = current_db.get()
    who = current_officer(gw, db, request, gw.clock.now(), here=f"/officer/review/{case_id}")
    if not isinstance(who, Officer):
        return who
    case = reviewable_case(db, case_id)
    first = first_decision_view(db, case, locale)
    return {"case": case_view(case, locale, service=service_names(db, [case], locale)[case.client_id] or ""),
            "first": first, "own": bool(first and first["by"] == who.account_id),
            "record": record_view(db, case.id, locale)}


def review_decision_step(gw, request: Request, case_id: str, form: dict, csrf_ok: bool):
    """The second decision (an approval raises the account's IAL here), then the queue."""
    db = current_db.get()
    now = gw.clock.now()
    who = current_officer(gw, db, request, now, here=f"/officer/review/{case_id}")
    if not isinstance(who, Officer):
        return who
    if not csrf_ok:
        raise CaseError("csrf", 403)
    case = reviewable_case(db, case_id, lock=True)
    new = cases.second_decision(db, case, who, outcome=str(form.get("outcome") or ""),
                                reason=str(form.get("reason") or ""), note=str(form.get("note") or ""),
                                version=form_version(form), now=now)
    if new == "approved":
        approve(gw, db, case, now=now)
    signals.publish(db, case.id, "decided", data={"state": new})
    return RedirectResponse(f"/officer?done={'review_approved' if new == 'approved' else 'rejected'}",
                            status_code=303)
