"""Every ``MandateError`` code (idgw.delegation.catalogue, mandates, model, use) in Thai and
English words a citizen or an admin can act on, and ``mandate_error_text`` to fill them in.

A test keeps this list complete: it reads the codes out of those modules' source."""

from __future__ import annotations

from idgw.delegation import model as m
from idgw.delegation.model import MandateError
from idgw.web.i18n import MESSAGES, add_messages, t

_ERRORS = {
    "not_found": ("ไม่พบการมอบอำนาจนี้", "This delegation was not found."),
    # the form
    "delegate_invalid": ("เลขประจำตัวประชาชนของผู้รับมอบอำนาจไม่ถูกต้อง โปรดตรวจว่าครบ 13 หลักและถูกต้อง",
                         "The delegate's citizen ID is not valid: check its 13 digits."),
    "delegate_self": ("ท่านมอบอำนาจให้ตนเองไม่ได้", "You cannot delegate to yourself."),
    "scope_empty": ("โปรดเลือกบริการอย่างน้อยหนึ่งบริการและเรื่องที่มอบอำนาจ",
                    "Choose at least one e-service and an act there."),
    "scope_too_large": ("เลือกบริการหรือเรื่องมากเกินไป (ไม่เกิน {max_services} บริการ บริการละไม่เกิน {max_acts} เรื่อง)",
                        "Too many services or acts (at most {max_services} services, {max_acts} acts each)."),
    "scope_duplicate": ("เลือกบริการเดียวกันซ้ำ", "A service was chosen twice."),
    "service_not_delegable": ("{service} ไม่เปิดให้มอบอำนาจ", "{service} does not accept delegation."),
    "scope_no_act": ("โปรดเลือกเรื่องที่มอบอำนาจใน {service} อย่างน้อยหนึ่งเรื่อง",
                     "Choose at least one act at {service}."),
    "any_act_not_allowed": ("{service} ไม่อนุญาตให้มอบอำนาจทุกเรื่อง โปรดเลือกเป็นรายเรื่อง",
                            "{service} does not allow delegating any act: choose named acts."),
    "act_not_in_catalogue": ("“{act}” ไม่ใช่เรื่องที่ {service} เปิดให้มอบอำนาจ",
                             "“{act}” is not an act {service} lets you delegate."),
    "window_inverted": ("วันที่สิ้นสุดต้องอยู่หลังวันที่เริ่ม", "The end date must be after the start date."),
    "window_past": ("ระยะเวลาการมอบอำนาจต้องไม่อยู่ในอดีต", "The dates must not be in the past."),
    "window_too_long": ("การมอบอำนาจมีระยะเวลาได้ไม่เกิน 5 ปี", "A delegation may last at most 5 years."),
    "stamp_reference_invalid": ("เลขอ้างอิงอากรแสตมป์ต้องเป็นตัวอักษรภาษาอังกฤษ ตัวเลข หรือ / _ . - ยาว 4 ถึง 64 ตัว",
                                "The stamp duty reference is 4 to 64 letters, digits or / _ . -"),
    "stamp_required": ("บริการที่เลือกกำหนดให้ชำระอากรแสตมป์ {amount} บาทผ่านระบบ e-Stamp Duty ก่อน "
                       "โปรดกรอกเลขอ้างอิงการชำระ",
                       "A chosen service requires the THB {amount} stamp duty paid through e-Stamp Duty first: "
                       "enter the payment reference."),
    "principal_unverified": ("บัญชีของท่านยังไม่มีเลขประจำตัวประชาชนที่พิสูจน์แล้ว โปรดเข้าสู่ระบบด้วย ThaiD หรือ NDID ก่อน",
                             "Your account has no verified citizen ID yet: sign in with ThaiD or NDID first."),
    "principal_kind_invalid": ("โปรดเลือกว่ามอบอำนาจในนามของท่านเองหรือในนามบริษัท",
                               "Choose whether you delegate for yourself or for a company."),
    "juristic_invalid": ("เลขทะเบียนนิติบุคคลไม่ถูกต้อง กรุณาตรวจสอบเลข 13 หลัก",
                         "The company registration number is not valid: check its 13 digits."),
    "company_inactive": ("บริษัทนี้ไม่ได้ดำเนินกิจการอยู่ตามทะเบียน (เลิกกิจการหรือถูกขีดชื่อ) จึงมอบอำนาจไม่ได้",
                         "The registry says this company is not active (closed or struck off): it cannot delegate."),
    "not_a_director": ("ท่านไม่ได้เป็นกรรมการผู้มีอำนาจของบริษัทนี้ตามทะเบียนของกรมพัฒนาธุรกิจการค้า",
                       "You are not an authorised director of this company in the business registry."),
    "company_unavailable": ("ตรวจสอบข้อมูลบริษัทกับทะเบียนนิติบุคคลไม่ได้ในขณะนี้ กรุณาลองใหม่ภายหลัง",
                            "The company could not be checked with the business registry now. Please try again "
                            "later."),
    "subdelegation_too_deep": ("บริการที่เลือกไม่อนุญาตให้มอบอำนาจช่วงต่อลึกกว่านี้ โปรดไม่เลือก “มอบอำนาจช่วงต่อได้”",
                               "The chosen services allow no further sub-delegation: untick “may sub-delegate”."),
    # sub-delegation
    "not_holder": ("เฉพาะผู้ที่ได้รับมอบอำนาจนี้และยอมรับแล้วเท่านั้นที่มอบอำนาจช่วงได้",
                   "Only the person who holds and accepted this delegation may sub-delegate it."),
    "parent_not_effective": ("การมอบอำนาจที่ท่านได้รับไม่มีผลอยู่ในขณะนี้ จึงมอบอำนาจช่วงไม่ได้",
                             "The delegation you hold is not in effect now, so it cannot be sub-delegated."),
    "subdelegation_not_allowed": ("การมอบอำนาจที่ท่านได้รับไม่อนุญาตให้มอบอำนาจช่วง",
                                  "The delegation you hold does not allow sub-delegation."),
    "subdelegation_wider_scope": ("การมอบอำนาจช่วงต้องอยู่ในบริการและเรื่องของการมอบอำนาจที่ท่านได้รับเท่านั้น",
                                  "A sub-delegation can only include services and acts of the delegation you hold."),
    "subdelegation_longer": ("การมอบอำนาจช่วงต้องอยู่ภายในระยะเวลาของการมอบอำนาจที่ท่านได้รับ",
                             "A sub-delegation must fit within the dates of the delegation you hold."),
    # signing, accepting, ending
    "not_awaiting_signature": ("การมอบอำนาจนี้ไม่ได้รอการลงนามแล้ว (สถานะ: {status})",
                               "This delegation is no longer waiting for signatures (status: {status})."),
    "document_changed": ("เอกสารไม่ตรงกับที่ท่านเปิดดู โปรดตรวจทานอีกครั้งก่อนลงนาม",
                         "The document is not the one you opened: review it again before signing."),
    "level_too_low": ("การลงนามต้องยืนยันตัวตนระดับ IAL {ial} และเข้าสู่ระบบระดับ AAL {aal}",
                      "Signing needs identity level IAL {ial} and a sign-in at AAL {aal}."),
    "not_fresh": ("การลงนามต้องเข้าสู่ระบบภายใน 5 นาทีก่อนลงนาม โปรดเข้าสู่ระบบอีกครั้ง",
                  "Signing needs a sign-in within the last 5 minutes: sign in again."),
    "already_approved": ("ท่านลงนามการมอบอำนาจนี้แล้ว", "You have already signed this delegation."),
    "not_the_signer": ("เฉพาะผู้มอบอำนาจเท่านั้นที่ลงนามการมอบอำนาจนี้ได้",
                       "Only the person giving this delegation may sign it."),
    "not_the_delegate": ("เฉพาะผู้รับมอบอำนาจเท่านั้นที่ทำรายการนี้ได้", "Only the delegate may do this."),
    "not_awaiting_acceptance": ("การมอบอำนาจนี้ไม่ได้รอการยอมรับ (สถานะ: {status})",
                                "This delegation is not waiting for acceptance (status: {status})."),
    "not_allowed": ("ท่านไม่มีสิทธิ์เพิกถอนการมอบอำนาจนี้", "You may not end this delegation."),
    "already_final": ("การมอบอำนาจนี้สิ้นสุดแล้ว (สถานะ: {status})", "This delegation has already ended (status: {status})."),
    # a service's rule and catalogue (the admin's pages)
    "unknown_service": ("ไม่พบบริการนี้", "That e-service is not registered."),
    "invalid_level": ("ระดับที่ระบุไม่ถูกต้อง", "That level is not valid."),
    "sign_level_too_low": ("ระดับการลงนามต้องไม่ต่ำกว่า IAL {ial} / AAL {aal}",
                           "Signing levels may not be below IAL {ial} / AAL {aal}."),
    "max_depth_invalid": ("ความลึกของการมอบอำนาจช่วงต้องอยู่ระหว่าง 0 ถึง {limit}",
                          "The sub-delegation depth must be between 0 and {limit}."),
    "act_code_invalid": ("รหัสเรื่องต้องขึ้นต้นด้วยตัวอักษรภาษาอังกฤษตัวเล็ก ตามด้วยตัวอักษร ตัวเลข หรือ _ . - ไม่เกิน 64 ตัว",
                         "An act code starts with a lowercase letter, then letters, digits or _ . -, at most 64."),
    "act_name_required": ("โปรดตั้งชื่อเรื่องทั้งภาษาไทยและภาษาอังกฤษ (ไม่เกิน 200 ตัวอักษร)",
                          "Name the act in Thai and in English (at most 200 characters each)."),
    "act_exists": ("มีเรื่อง {code} ในรายการแล้ว", "The act {code} is already in the catalogue."),
    "act_unknown": ("ไม่มีเรื่อง {code} ในรายการ", "There is no act {code} in the catalogue."),
    # use at sign-in and token exchange
    "outside_scope": ("การมอบอำนาจนี้ไม่ครอบคลุมบริการหรือเรื่องนี้", "This delegation does not cover this service or act."),
    "no_mandate": ("ท่านไม่มีการมอบอำนาจที่ใช้กับบริการนี้ได้", "You hold no delegation usable at this service."),
    "mandate_ambiguous": ("ท่านมีการมอบอำนาจสำหรับบริการนี้มากกว่าหนึ่งรายการ โปรดระบุรายการ",
                          "You hold more than one delegation for this service: name one."),
    "mandate_not_yet_valid": ("การมอบอำนาจนี้ยังไม่ถึงวันที่เริ่มมีผล", "This delegation is not valid yet."),
    "mandate_not_signed": ("การมอบอำนาจนี้ยังลงนามไม่ครบ", "This delegation is not fully signed yet."),
    "mandate_not_accepted": ("การมอบอำนาจนี้ยังไม่ได้รับการยอมรับจากผู้รับมอบอำนาจ",
                             "This delegation has not been accepted by the delegate yet."),
    "mandate_revoked": ("การมอบอำนาจนี้ถูกเพิกถอนแล้ว", "This delegation has been revoked."),
    "mandate_expired": ("การมอบอำนาจนี้หมดอายุแล้ว", "This delegation has expired."),
    "mandate_used": ("การมอบอำนาจนี้ใช้ไปแล้ว (ใช้ได้ครั้งเดียว)", "This delegation has been used (single use)."),
}
CODES = frozenset(_ERRORS)
_UNKNOWN = ("ไม่สามารถดำเนินการกับการมอบอำนาจนี้ได้", "This could not be done with this delegation.")

add_messages({f"dgp_err_{code}": {"th": th, "en": en} for code, (th, en) in {**_ERRORS, "unknown": _UNKNOWN}.items()})


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return ""


def mandate_error_text(err: MandateError, locale: str, *, service_names: dict[str, str] | None = None,
                       act_names: dict[str, dict[str, dict]] | None = None) -> str:
    """``err`` in words: its parameters filled in (``client_id`` as the service's name from
    ``service_names``, ``act`` by its name in ``act_names[client_id]``, a status in words); a
    code without words of its own gets a general sentence rather than its code."""
    params = dict(err.params)
    client_id = params.get("client_id")
    if client_id is not None:
        params["service"] = (service_names or {}).get(client_id, client_id)
    if "act" in params:
        named = (act_names or {}).get(client_id or "", {}).get(params["act"])
        params["act"] = named[locale] if named else params["act"]
    if "status_" in params:
        params["status"] = t(f"dgp_status_{params['status_']}", locale)
    if "code_" in params:
        params["code"] = params["code_"]
    params.setdefault("max_services", m.MAX_SERVICES)
    params.setdefault("max_acts", m.MAX_ACTS)
    key = f"dgp_err_{err.code}" if f"dgp_err_{err.code}" in MESSAGES else "dgp_err_unknown"
    return t(key, locale).format_map(_Blank(params))
