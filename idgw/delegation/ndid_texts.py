"""What a person reads while approving a delegation through NDID (``idgw.delegation.ndid_approval``),
in Thai and English: the request message the IdP app shows, the waiting page (``wait_page``) and its
status JSON (``status_answer``), and why an approval was not recorded (``outcome_words``). Text keys
begin with ``dgn_`` so that they never collide with the other delegation pages'."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from idgw.delegation.document import mask_id
from idgw.httpio import json_error
from idgw.web.i18n import add_messages, t
from idgw.web.ndid_poll import NOSCRIPT_REFRESH, time_left
from idgw.web.pages import BROWSER_COOKIE
from providers import UpstreamError
from providers.ndid import short_reference
from providers.ndid_dsign import DocumentUnverified

NO_STORE = {"Cache-Control": "no-store"}

add_messages({
    # -- the request in the IdP app (request_message: Thai line, English line, then the document URL)
    "dgn_request": {"th": "อนุมัติหนังสือมอบอำนาจเลขที่ {id}: {principal} มอบอำนาจให้ {delegate} ตามเอกสารแนบ "
                          "(idgw รหัสอ้างอิง {reference})",
                    "en": "Approve delegation {id}: {principal} authorises {delegate} as set out in the attached "
                          "document (idgw, reference {reference})"},
    # -- the offer and the waiting page -------------------------------------------------------------
    "dgn_offer": {"th": "อนุมัติด้วยแอป NDID ของฉัน", "en": "Approve with my NDID app"},
    "dgn_wait_title": {"th": "อนุมัติการมอบอำนาจในแอปของท่าน", "en": "Approve the delegation in your app"},
    "dgn_wait_instructions": {
        "th": "เปิดแอปของธนาคารหรือผู้ให้บริการที่ท่านลงทะเบียน NDID ไว้ คำขอจะระบุการมอบอำนาจนี้และแนบเอกสาร "
              "กรุณาอ่านเอกสารแล้วกดอนุมัติ หน้านี้จะดำเนินการต่อเองเมื่อได้รับคำตอบ",
        "en": "Open the app of the bank or provider where you registered with NDID. The request names this "
              "delegation and attaches its document: read it, then approve. This page continues by itself when "
              "the answer arrives."},
    "dgn_wait_levels": {"th": "การอนุมัตินี้ต้องยืนยันตัวตนที่ระดับ IAL {ial} และ AAL {aal} ขึ้นไป",
                        "en": "This approval needs IAL {ial} and AAL {aal} or higher."},
    "dgn_back": {"th": "กลับไปที่การมอบอำนาจ", "en": "Back to the delegation"},
    "dgn_failed_title": {"th": "ยังไม่ได้บันทึกการอนุมัติ", "en": "The approval was not recorded"},
    "dgn_not_offered": {"th": "ระบบนี้ไม่ได้เชื่อมต่อ NDID จึงอนุมัติด้วยแอปไม่ได้ กรุณาลงนามในหน้านี้แทน",
                        "en": "This gateway is not connected to NDID, so approving in your app is not available. "
                              "Please sign on the delegation's page instead."},
    "dgn_not_found": {"th": "ไม่พบคำขออนุมัตินี้", "en": "This approval request was not found."},
    # -- why nothing was recorded -------------------------------------------------------------------
    "dgn_nothing": {"th": "ยังไม่มีการบันทึกการอนุมัติใด ๆ", "en": "Nothing was recorded."},
    "dgn_rejected": {"th": "คำขอถูกปฏิเสธในแอปหรือถูกยกเลิก", "en": "The request was declined in your app, or cancelled."},
    "dgn_timed_out": {"th": "ไม่ได้รับคำตอบจากแอปภายในเวลาที่กำหนด", "en": "No answer came from your app in time."},
    "dgn_level_too_low": {"th": "ผู้ให้บริการของท่านยืนยันตัวตนต่ำกว่าระดับที่การมอบอำนาจนี้ต้องการ (IAL {ial} และ AAL {aal})",
                          "en": "Your provider confirmed you below the levels this delegation needs "
                                "(IAL {ial} and AAL {aal})."},
    "dgn_document_changed": {"th": "เอกสารที่อนุมัติไม่ใช่ฉบับปัจจุบันของการมอบอำนาจนี้",
                             "en": "The document approved is not this delegation's current document."},
    "dgn_not_awaiting": {"th": "การมอบอำนาจนี้ไม่ได้รอการลงนามแล้ว", "en": "This delegation no longer awaits signatures."},
    "dgn_already": {"th": "ท่านอนุมัติการมอบอำนาจนี้ไปแล้ว", "en": "You have already approved this delegation."},
    "dgn_not_signer": {"th": "ท่านไม่ใช่ผู้ที่ต้องลงนามในการมอบอำนาจนี้", "en": "You are not a signer of this delegation."},
    "dgn_not_director": {"th": "ท่านไม่ได้เป็นกรรมการผู้มีอำนาจตามทะเบียนของบริษัท",
                         "en": "You are not one of the company's registered authorised directors."},
    "dgn_unverified": {"th": "บัญชีของท่านยังไม่มีเลขประจำตัวประชาชนที่ผ่านการพิสูจน์ตัวตน",
                       "en": "Your account has no verified citizen ID."},
    "dgn_company_unavailable": {"th": "ตรวจสอบข้อมูลบริษัทกับทะเบียนไม่ได้ในขณะนี้ กรุณาลองใหม่",
                                "en": "The company's record could not be checked with the registry. Please try again."},
    "dgn_company_inactive": {"th": "บริษัทไม่อยู่ในสถานะดำเนินกิจการตามทะเบียน",
                             "en": "The registry does not list the company as active."},
    "dgn_not_fresh": {"th": "การอนุมัติเกิดขึ้นนานเกินไปก่อนที่ระบบจะได้รับ กรุณาอนุมัติใหม่",
                      "en": "The approval is too old to be recorded. Please approve again."},
    "dgn_other_person": {"th": "การอนุมัติไม่ได้มาจากเลขประจำตัวประชาชนของท่าน",
                         "en": "The approval did not come from your citizen ID."},
})

#: ``MandateError`` codes (``mandates.approve``) and our own outcomes -> their words.
_WORDS = {"document_changed": "dgn_document_changed", "not_awaiting_signature": "dgn_not_awaiting",
          "already_approved": "dgn_already", "not_the_signer": "dgn_not_signer", "not_a_director": "dgn_not_director",
          "principal_unverified": "dgn_unverified", "company_unavailable": "dgn_company_unavailable",
          "company_inactive": "dgn_company_inactive", "not_fresh": "dgn_not_fresh", "other_person": "dgn_other_person",
          "rejected": "dgn_rejected", "timed_out": "dgn_timed_out", "not_found": "dgn_not_found"}


#: Outcomes after which starting again cannot help (the waiting page then offers no "try again").
FINAL = ("already_approved", "not_awaiting_signature", "not_the_signer", "not_a_director", "principal_unverified",
         "other_person", "document_changed", "not_found")


def one_line(text: str, *, limit: int = 120) -> str:
    """A name as one short line (a line of the request message that starts with http:// would be
    fetched by the IdP node as one more document)."""
    return " ".join(str(text or "").split())[:limit]


def request_texts(*, mandate_id: str, principal: dict, delegate: dict, reference: str) -> tuple[str, str]:
    """(Thai, English) sentences of the NDID request: which delegation, from whom to whom, and the
    short reference the waiting page also shows. ``principal``/``delegate``: ``{"th", "en"}``."""
    return tuple(t("dgn_request", lang, id=mandate_id, principal=one_line(principal.get(lang)),
                   delegate=one_line(delegate.get(lang)), reference=reference) for lang in ("th", "en"))


def person_words(account, *, citizen_id: str) -> dict:
    """``{"th", "en"}`` naming a person in the request message: their account's names, else the
    citizen ID masked (``mask_id``)."""
    masked = mask_id(citizen_id) or "-"
    if account is None:
        return {"th": masked, "en": masked}
    th = " ".join(p for p in (account.given_name_th, account.family_name_th) if p)
    en = " ".join(p for p in (account.given_name, account.family_name) if p)
    return {"th": th or en or masked, "en": en or th or masked}


def outcome_words(outcome: dict, locale: str) -> str:
    """Why an approval was not recorded, in words, ending with "nothing was recorded".
    ``outcome``: ``{"code", "ial"?, "aal"?, "text_th"?, "text_en"?}`` as the attempt stored it."""
    code = outcome.get("code") or "errored"
    if outcome.get(f"text_{locale}"):
        words = outcome[f"text_{locale}"]
    elif code in ("ial_too_low", "aal_too_low", "level_too_low"):
        words = t("dgn_level_too_low", locale, ial=outcome.get("ial", "?"), aal=outcome.get("aal", "?"))
    elif code in _WORDS:
        words = t(_WORDS[code], locale)
    elif code == "document_unverified":
        error = DocumentUnverified()
        words = error.message_th if locale == "th" else error.message_en
    else:
        try:
            error = UpstreamError(code)
        except ValueError:
            return t("err_unexpected", locale)
        words = error.message_th if locale == "th" else error.message_en
    return f"{words} {t('dgn_nothing', locale)}"


# -- the pages ----------------------------------------------------------------------------------------

def wait_path(key: str, attempt_id: str) -> str:
    return f"/delegations/{key}/ndid/{attempt_id}"


def next_path(key: str, attempt_id: str, outcome: dict) -> str:
    """Where the browser goes once an attempt ended: the delegation, or the page saying why not."""
    return {"approved": f"/delegations/{key}?done=signed", "cancelled": f"/delegations/{key}"}.get(
        outcome.get("code"), wait_path(key, attempt_id))


def error_page(gw, request: Request, message: str, *, status: int, key: str | None) -> Response:
    back = dict(back_url=f"/delegations/{key}", back_label=t("dgn_back", gw.pages.locale(request))) if key else {}
    return gw.pages.render(request, "error.html", status=status, message=message, **back)


def pending_words(gw, request: Request, state: dict, unreachable: bool) -> dict:
    """The waiting page's changing words (also its status JSON): the time left and the status line."""
    provider = gw.upstreams.get(state.get("provider"))
    left = max(0, int(state.get("expires_at", 0)) - gw.clock.now())
    key = "ndid_node_unreachable" if unreachable else "ndid_other_bank" \
        if provider is not None and provider.progress(state=state).others_can_answer else "ndid_waiting"
    locale = gw.pages.locale(request)
    return dict(seconds_left=left, time_left=time_left(left, locale), status_text=t(key, locale))


def wait_page(gw, request: Request, *, key: str, attempt_id: str, result) -> Response:
    """The page for ``ndid_approval.settle``'s ``result``: what to do in the app while pending, the
    delegation after an approval or a cancel, else why not (and "try again" when it may help)."""
    locale, browser, here = gw.pages.locale(request), request.cookies.get(BROWSER_COOKIE) or "", \
        wait_path(key, attempt_id)
    if result is None:
        return error_page(gw, request, t("dgn_not_found", locale), status=404, key=key)
    if result[0] == "pending":
        state = result[1]
        return gw.pages.render(
            request, "delegation_ndid_wait.html", pending=True, here=here, status_url=f"{here}/status",
            reference=short_reference(str(state.get("reference_id", ""))), need_ial=state.get("min_ial"),
            need_aal=state.get("min_aal"), cancel_action=f"{here}/cancel", refresh_seconds=NOSCRIPT_REFRESH,
            csrf_token=gw.pages.csrf_token(browser, f"ndid-wait:{attempt_id}"), back_url=f"/delegations/{key}",
            **pending_words(gw, request, state, result[2]))
    outcome = result[1]
    if outcome.get("code") in ("approved", "cancelled"):
        return RedirectResponse(next_path(key, attempt_id, outcome),
                                status_code=303 if request.method == "POST" else 302)
    return gw.pages.render(request, "delegation_ndid_wait.html", status=400, pending=False,
                           error=outcome_words(outcome, locale), back_url=f"/delegations/{key}",
                           retry_action=None if outcome.get("code") in FINAL else f"/delegations/{key}/ndid",
                           retry_csrf=gw.pages.csrf_token(browser, f"ndid:{key}"))


def status_answer(gw, request: Request, *, key: str, attempt_id: str, result) -> Response:
    """The status JSON (``static/ndid_wait.js``): ``{"state": "pending", "seconds_left", "time_left",
    "message"}`` while pending, ``{"state": "done", "next"}`` once ended (``next_path``), 404
    ``not_found`` for an attempt that is not this browser's."""
    if result is None:
        return json_error(404, "not_found")
    if result[0] == "done":
        return JSONResponse({"state": "done", "next": next_path(key, attempt_id, result[1])}, headers=NO_STORE)
    words = pending_words(gw, request, result[1], result[2])
    return JSONResponse({"state": "pending", "next": None, "seconds_left": words["seconds_left"],
                         "time_left": words["time_left"], "message": words["status_text"]}, headers=NO_STORE)
