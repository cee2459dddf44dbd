"""The audit viewer, for auditors and admins (``AUDIT_ROLES`` at AAL 2.2, ``view_gate``):
``/admin/audit`` shows the events that match its filters (GET parameters, so a view can be
bookmarked: ``idgw.console.audit_view``), newest first, 50 a page by keyset; ``/admin/audit/export``
streams every matching event as JSON lines or CSV, and is itself audited (``audit.exported``,
recorded in the request's transaction before the first byte is sent). A filter that cannot be
understood is answered 400 with the form as typed and what is wrong with it."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse

from idgw import audit
from idgw.console import audit_view
from idgw.console.audit_texts import error_texts, event_groups, period_text, row_view
from idgw.console.gate import AUDIT_ROLES, gated_response, view_gate
from idgw.depends import gateway_of
from idgw.oidc.adapter import in_transaction
from idgw.oidc.context import current_db

router = APIRouter()
PATH = "/admin/audit"
MEDIA = {"jsonl": "application/x-ndjson; charset=utf-8", "csv": "text/csv; charset=utf-8"}


def here(request: Request) -> str:
    """This page with its filters: where signing in comes back to."""
    query = request.url.query
    return request.url.path + ("?" + query if query else "")


def page_context(asked: audit_view.Asked, locale: str, *, found: audit_view.Found | None = None,
                 unknown_account: bool = False) -> dict:
    query = asked.query()
    return dict(form=asked.form, errors=error_texts(asked, locale), invalid={f for f, _ in asked.errors},
                groups=event_groups(locale), lasts=list(audit_view.LAST), period=period_text(asked, locale),
                rows=[row_view(e, locale) for e in found.events] if found else [], searched=found is not None,
                unknown_account=unknown_account, query=urlencode(query),
                older=f"{PATH}?{urlencode({**query, 'before': found.next_before})}"
                if found and found.next_before else None,
                newest=f"{PATH}?{urlencode(query)}" if asked.before else None,
                exports={fmt: f"{PATH}/export?{urlencode({**query, 'format': fmt})}" for fmt in audit_view.FORMATS}
                if not asked.errors else {})


@router.get(PATH, include_in_schema=False)
async def audit_page(request: Request, gw=Depends(gateway_of)) -> Response:
    params = request.query_params

    def run():
        db, now = current_db.get(), gw.clock.now()
        outcome = view_gate(gw, db, request, now, roles=AUDIT_ROLES)
        if outcome[0] != "ok":
            return outcome, None, None, None
        asked = audit_view.read_filters(params, now=now)
        if asked.errors:
            return outcome, asked, None, None
        where = audit_view.criteria(db, asked.filters)
        return outcome, asked, audit_view.page(db, where.where, before=asked.before), where.unknown_account

    outcome, asked, found, unknown = await in_transaction(gw.sessionmaker, gw.client_ip(request), run)
    blocked = gated_response(gw, request, outcome, here=here(request))
    if blocked is not None:
        return blocked
    context = page_context(asked, gw.pages.locale(request), found=found, unknown_account=unknown)
    return gw.pages.render(request, "console_audit.html", status=400 if asked.errors else 200, **context)


@router.get(PATH + "/export", include_in_schema=False)
async def export(request: Request, gw=Depends(gateway_of)) -> Response:
    params = request.query_params
    fmt = params.get("format", "")
    ip = gw.client_ip(request)

    def run():
        db, now = current_db.get(), gw.clock.now()
        outcome = view_gate(gw, db, request, now, roles=AUDIT_ROLES)
        if outcome[0] != "ok":
            return outcome, None, None
        asked = audit_view.read_filters(params, now=now)
        if fmt not in audit_view.FORMATS:
            asked.errors.append(("format", "bad_format"))
        if asked.errors:
            return outcome, asked, None
        where = audit_view.criteria(db, asked.filters).where
        upto = audit_view.newest_id(db)  # before this request's own event is written (at commit)
        audit.record(db, "audit.exported", at=now, actor=outcome[2].username, session_id=outcome[1].id, ip=ip,
                     format=fmt, filters=asked.query(), through_id=upto)
        return outcome, asked, (where, upto, now)

    outcome, asked, plan = await in_transaction(gw.sessionmaker, ip, run)
    blocked = gated_response(gw, request, outcome, here=here(request))
    if blocked is not None:
        return blocked
    if plan is None:
        context = page_context(asked, gw.pages.locale(request))
        return gw.pages.render(request, "console_audit.html", status=400, **context)
    where, upto, now = plan
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y%m%dT%H%M%SZ")
    headers = {"Content-Disposition": f'attachment; filename="idgw-audit-{stamp}.{fmt}"',
               "Cache-Control": "no-store"}
    return StreamingResponse(_stream(gw.sessionmaker, where, upto, fmt), media_type=MEDIA[fmt], headers=headers)


def _stream(sessionmaker, where: list, upto: int, fmt: str):
    """The export's bytes, a batch of events at a time (``audit_view.batches``)."""
    if fmt == "csv":
        yield audit_view.csv_header().encode()
    for rows in audit_view.batches(sessionmaker, where, upto=upto):
        yield (audit_view.csv_rows(rows) if fmt == "csv" else audit_view.jsonl(rows)).encode()
