"""``POST /interaction/{iid}/acting``: the person's answer on the sign-in's "for myself, or on
behalf of ..." page (``idgw.delegation.choice``). The choice is recorded in the interaction for
this very session (a sign-in as someone else starts over) and only for a mandate the person may
use at this service now; then the sign-in goes on (consent, or back to the service)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from idgw.delegation.use import usable_mandates
from idgw.depends import gateway_of
from idgw.login.sessions import load_session
from idgw.oidc.adapter import in_transaction
from idgw.oidc.context import current_db
from idgw.storage.models import Account
from idgw.web.steps import Outcome, advance, load_interaction, respond

router = APIRouter()


@router.post("/interaction/{iid}/acting", include_in_schema=False)
async def acting(iid: str, request: Request, gw=Depends(gateway_of)) -> Response:
    form = await gw.pages.read_form(request)
    csrf_ok = gw.pages.check_csrf(request, form, f"acting:{iid}")
    choice = str(form.get("acting") or "")
    cookie = request.cookies.get(gw.settings.cookie_name)

    def work():
        db = current_db.get()
        now = gw.clock.now()
        ia, problem = load_interaction(gw, db, iid, request, now, csrf_ok=csrf_ok)
        if problem:
            return problem
        session = load_session(db, cookie=cookie, now=now)
        if session is None or ia.client_id is None:
            return advance(gw, db, ia, request, now, cookie_value=cookie)
        account = db.get(Account, session.account_id)
        act = (ia.params.get("requested") or {}).get("delegation_act")
        if choice != "self":
            allowed = {row.id for row in usable_mandates(db, account=account, client_id=ia.client_id, act=act,
                                                          now=now)}
            if choice not in allowed:
                # Not one of this person's mandates for this service (or it stopped): the page again.
                ia.params = {**ia.params, "progress": {**ia.params["progress"], "acting": None}}
                return Outcome(redirect=f"/interaction/{ia.id}")
        chosen = {"session_id": session.id, "mandate": None if choice == "self" else choice}
        ia.params = {**ia.params, "progress": {**ia.params["progress"], "acting": chosen}}
        following = advance(gw, db, ia, request, now, cookie_value=cookie, session=session)
        return following if following.redirect else Outcome(redirect=f"/interaction/{ia.id}")

    return respond(gw, request, await in_transaction(gw.sessionmaker, gw.client_ip(request), work))
