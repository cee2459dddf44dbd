"""The upstreams page of the admin console (role ``admin``): ``/admin/upstreams`` shows each
configured identity source (kind, levels, settings with secrets masked, the services that accept
it) and what is wrong with the configuration (``idgw.console.upstreams``); its "Check now" button
(``?check=1``, a GET: a check changes nothing) adds a live health check of every source, and
``/admin/upstreams/health.json`` answers the same checks as JSON (``idgw.console.upstreams_health``).
The configuration stays in the file: nothing here changes it.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from idgw.console import upstreams as console_upstreams
from idgw.console.gate import gated_response, view_gate
from idgw.console.upstreams_health import HEALTH_TIMEOUT, check_all
from idgw.console.upstreams_texts import check_text, health_json, kind_name, problem_text
from idgw.depends import gateway_of
from idgw.oidc.adapter import in_transaction
from idgw.oidc.context import current_db

router = APIRouter()
PAGE = "/admin/upstreams"


async def _gate(gw, request: Request, work=None):
    """The view gate (and ``work(db)`` inside the same transaction): (outcome, work's answer)."""
    def run():
        db = current_db.get()
        outcome = view_gate(gw, db, request, gw.clock.now())
        if outcome[0] != "ok" or work is None:
            return outcome, None
        return outcome, work(db)

    return await in_transaction(gw.sessionmaker, gw.client_ip(request), run)


@router.get(PAGE, include_in_schema=False)
async def upstreams_page(request: Request, gw=Depends(gateway_of)) -> Response:
    locale = gw.pages.locale(request)
    upstreams = gw.upstreams
    outcome, listed = await _gate(gw, request, console_upstreams.services)
    blocked = gated_response(gw, request, outcome, here=PAGE)
    if blocked is not None:
        return blocked
    accepted = console_upstreams.accepting(upstreams, listed)
    problems = console_upstreams.problems(upstreams, listed, providers_file=gw.settings.providers_file)
    health = None
    if request.query_params.get("check") == "1":
        results = await check_all(upstreams, now=gw.clock.now())
        health = {h.name: {"health": h, "checks": [(c, check_text(c, locale)) for c in h.checks]} for h in results}
    rows = [{"name": name, "upstream": u, "display": u.display_name.get(locale) or name,
             "kind": kind_name(u.type, locale), "levels": console_upstreams.levels_of(u),
             "settings": console_upstreams.settings_of(u), "services": accepted[name],
             "problems": [problem_text(p, locale) for p in problems if p.upstream == name],
             "health": (health or {}).get(name)} for name, u in upstreams.items()]
    general = [problem_text(p, locale) for p in problems if p.upstream is None]
    return gw.pages.render(request, "console_upstreams.html", rows=rows, general=general,
                           any_problem=bool(problems), providers_file=gw.settings.providers_file,
                           checked=health is not None, timeout=f"{HEALTH_TIMEOUT:g}")


@router.get(PAGE + "/health.json", include_in_schema=False)
async def upstreams_health(request: Request, gw=Depends(gateway_of)) -> Response:
    outcome, _ = await _gate(gw, request)
    blocked = gated_response(gw, request, outcome, here=PAGE + "/health.json")
    if blocked is not None:
        return blocked
    results = await check_all(gw.upstreams, now=gw.clock.now())
    return JSONResponse(health_json(results, gw.pages.locale(request)), headers={"Cache-Control": "no-store"})
