"""The words of the console's home and of the change requests (``idgw.console.changes_pages``), and
of a pending request on the policy page, in Thai and English; refusals worded from
``FourEyesError.code`` (``refusal``). Keys begin with ``chg_``."""

from __future__ import annotations

from idgw.console.four_eyes import FourEyesError
from idgw.web.i18n import add_messages, t

add_messages({
    # the console's home
    "chg_home_title": {"th": "คอนโซลผู้ดูแลระบบ", "en": "Admin console"},
    "chg_home_intro": {"th": "เลือกส่วนที่ต้องการดูหรือจัดการ", "en": "Choose what to look at or manage."},
    "chg_home_sections": {"th": "ส่วนต่าง ๆ ของคอนโซล", "en": "Console sections"},
    "chg_home_services": {"th": "บริการอิเล็กทรอนิกส์ (e-Services)", "en": "e-Services"},
    "chg_home_services_hint": {"th": "ลงทะเบียนและแก้ไขบริการ และนโยบายระดับความน่าเชื่อถือของแต่ละบริการ",
                               "en": "Register and edit services, and each service's assurance policy"},
    "chg_home_upstreams": {"th": "แหล่งยืนยันตัวตน (Upstreams)", "en": "Upstreams"},
    "chg_home_upstreams_hint": {"th": "แหล่งยืนยันตัวตนที่ตั้งค่าไว้ ระดับที่ให้ได้ และสถานะการเชื่อมต่อ",
                                "en": "The configured identity sources, the levels they offer and their health"},
    "chg_home_keys": {"th": "กุญแจลงนาม", "en": "Keys"},
    "chg_home_keys_hint": {"th": "กุญแจที่ใช้ลงนามโทเค็น อายุ สถานะ และการหมุนเวียนกุญแจ",
                           "en": "Token signing keys, their age and state, and key rotation"},
    "chg_home_staff": {"th": "เจ้าหน้าที่", "en": "Staff"},
    "chg_home_staff_hint": {"th": "บทบาทของเจ้าหน้าที่ การระงับและการปลดล็อกบัญชี",
                            "en": "Staff roles, disabling and unlocking accounts"},
    "chg_home_audit": {"th": "บันทึกการตรวจสอบ", "en": "Audit log"},
    "chg_home_audit_hint": {"th": "ค้นหาและส่งออกเหตุการณ์ที่บันทึกไว้", "en": "Search and export recorded events"},
    "chg_home_changes": {"th": "คำขอเปลี่ยนแปลง", "en": "Change requests"},
    "chg_home_changes_hint": {"th": "การเปลี่ยนแปลงที่มีความเสี่ยงซึ่งต้องให้ผู้ดูแลระบบคนที่สองอนุมัติ",
                              "en": "Risky changes that wait for a second admin's approval"},
    "chg_home_pending": {"th": "รออนุมัติ {n} รายการ", "en": "waiting: {n}"},
    "chg_home_auditor": {"th": "ท่านมีบทบาทผู้ตรวจสอบ (auditor): อ่านและส่งออกบันทึกการตรวจสอบได้",
                         "en": "You have the auditor role: you can read and export the audit log."},
    # the change requests page
    "chg_title": {"th": "คำขอเปลี่ยนแปลง (ต้องมีผู้อนุมัติคนที่สอง)", "en": "Change requests (four eyes)"},
    "chg_intro": {"th": "การเปลี่ยนแปลงที่มีความเสี่ยงจะมีผลเมื่อผู้ดูแลระบบอีกคนหนึ่งอนุมัติภายในเวลาที่กำหนดเท่านั้น "
                        "ผู้ขออนุมัติคำขอของตนเองไม่ได้ ทุกคำขอและทุกการตัดสินถูกบันทึกในบันทึกการตรวจสอบ",
                  "en": "A risky change takes effect only when another admin approves it within the time limit; "
                        "the admin who asked cannot approve it. Every request and every decision is in the audit "
                        "log."},
    "chg_pending": {"th": "รออนุมัติ", "en": "Waiting for approval"},
    "chg_pending_none": {"th": "ไม่มีคำขอที่รออนุมัติ", "en": "No change is waiting."},
    "chg_what": {"th": "การเปลี่ยนแปลง", "en": "Change"},
    "chg_by": {"th": "ผู้ขอ", "en": "Requested by"},
    "chg_when": {"th": "ขอเมื่อ", "en": "Requested"},
    "chg_left": {"th": "เวลาที่เหลือ", "en": "Time left"},
    "chg_left_value": {"th": "{h} ชั่วโมง {m} นาที (ถึง {until})", "en": "{h} h {m} min (until {until})"},
    "chg_reason": {"th": "เหตุผล", "en": "Reason"},
    "chg_actions": {"th": "การดำเนินการ", "en": "Actions"},
    "chg_approve": {"th": "อนุมัติ", "en": "Approve"},
    "chg_reject": {"th": "ไม่อนุมัติ", "en": "Reject"},
    "chg_reject_note": {"th": "หมายเหตุถึงผู้ขอ (ไม่บังคับ)", "en": "Note to the requester (optional)"},
    "chg_withdraw": {"th": "ถอนคำขอ", "en": "Withdraw"},
    "chg_own": {"th": "คำขอของท่าน: ต้องให้ผู้ดูแลระบบคนอื่นอนุมัติ", "en": "Your request: another admin must approve it."},
    "chg_recent": {"th": "ตัดสินแล้วล่าสุด", "en": "Recently decided"},
    "chg_recent_none": {"th": "ยังไม่มีคำขอที่ตัดสินแล้ว", "en": "No request has been decided yet."},
    "chg_outcome": {"th": "ผล", "en": "Outcome"},
    "chg_decided": {"th": "ตัดสินโดย", "en": "Decided by"},
    "chg_note": {"th": "หมายเหตุ", "en": "Note"},
    "chg_system": {"th": "ระบบ (หมดเวลา)", "en": "the system (time limit)"},
    "chg_status_approved": {"th": "อนุมัติแล้ว", "en": "Approved"},
    "chg_status_rejected": {"th": "ไม่อนุมัติ", "en": "Rejected"},
    "chg_status_cancelled": {"th": "ผู้ขอถอนคำขอ", "en": "Withdrawn"},
    "chg_status_expired": {"th": "หมดเวลา", "en": "Expired"},
    "chg_done_approved": {"th": "อนุมัติแล้ว การเปลี่ยนแปลงมีผลแล้ว", "en": "Approved: the change has taken effect."},
    "chg_done_rejected": {"th": "ไม่อนุมัติแล้ว การเปลี่ยนแปลงนี้จะไม่มีผล", "en": "Rejected: the change will not "
                                                                                  "take effect."},
    "chg_done_cancelled": {"th": "ถอนคำขอแล้ว", "en": "The request was withdrawn."},
    "chg_errors": {"th": "ทำรายการไม่ได้", "en": "This could not be done"},
    # refusals, by FourEyesError.code (and an approval whose change could not be applied)
    "chg_err_own_request": {"th": "ท่านเป็นผู้ขอเปลี่ยนแปลงนี้ จึงอนุมัติหรือไม่อนุมัติเองไม่ได้ ต้องให้ผู้ดูแลระบบคนอื่นตัดสิน "
                                  "(ท่านถอนคำขอได้)",
                            "en": "You made this request, so you cannot approve or reject it: another admin must "
                                  "decide (you may withdraw it)."},
    "chg_err_expired": {"th": "คำขอนี้เกินเวลาที่กำหนดแล้ว จึงไม่มีผล หากยังต้องการเปลี่ยนแปลง ให้ยื่นคำขอใหม่",
                        "en": "This request passed its time limit and will not take effect. Make it again if the "
                              "change is still needed."},
    "chg_err_not_pending": {"th": "คำขอนี้ถูกตัดสินไปแล้ว (อาจมีผู้ดูแลระบบคนอื่นเพิ่งตัดสิน) ไม่มีอะไรเปลี่ยนแปลงเพิ่ม",
                            "en": "This request was already decided (perhaps by another admin just now); nothing "
                                  "more changed."},
    "chg_err_not_admin": {"th": "ท่านไม่มีสิทธิ์ตัดสินคำขอนี้: ต้องเป็นผู้ดูแลระบบคนอื่น หรือผู้ขอเท่านั้นที่ถอนคำขอได้",
                          "en": "You may not decide this request: only another admin may approve or reject it, "
                                "and only the requester may withdraw it."},
    "chg_err_not_found": {"th": "ไม่พบคำขอนี้", "en": "There is no such change request."},
    "chg_err_duplicate": {"th": "มีคำขอเปลี่ยนแปลงแบบเดียวกันรออนุมัติอยู่แล้ว ให้ตัดสินหรือถอนคำขอนั้นก่อน",
                          "en": "The same kind of change is already waiting for approval here: have it decided or "
                                "withdraw it first."},
    "chg_err_unknown_kind": {"th": "ระบบนี้ไม่รู้จักการเปลี่ยนแปลงแบบนี้", "en": "This gateway does not know this "
                                                                             "kind of change."},
    "chg_err_changed_since": {"th": "สิ่งที่จะเปลี่ยนถูกแก้ไขไปแล้วหลังจากยื่นคำขอ จึงไม่อนุมัติให้ ไม่มีอะไรเปลี่ยนแปลง "
                                    "หากยังต้องการ ให้ยื่นคำขอใหม่",
                              "en": "What this request would change was changed since it was made, so it was not "
                                    "applied and nothing changed. Make the request again if it is still needed."},
    "chg_err_apply": {"th": "ทำการเปลี่ยนแปลงนี้ไม่ได้ จึงไม่มีอะไรเปลี่ยนแปลง ({detail})",
                      "en": "The change could not be applied, so nothing changed ({detail})."},
    # a pending request on the policy page
    "chg_policy_requested": {"th": "ยังไม่มีผล: การกำหนดต่ำกว่าผลประเมินต้องรอผู้ดูแลระบบคนที่สองอนุมัติ",
                             "en": "Not applied yet: a floor below the assessment is waiting for a second admin "
                                   "to approve it."},
    "chg_policy_waiting": {"th": "รอผู้ดูแลระบบคนที่สองอนุมัติ", "en": "Waiting for a second admin"},
    "chg_policy_waiting_by": {"th": "{by} ขอเมื่อ {at} จะมีผลเมื่อผู้ดูแลระบบคนอื่นอนุมัติภายใน {until}",
                              "en": "Requested by {by} at {at}; it takes effect when another admin approves it "
                                    "by {until}."},
    "chg_open": {"th": "ไปที่หน้าคำขอเปลี่ยนแปลง", "en": "Go to the change requests"},
})

STATUSES = ("approved", "rejected", "cancelled", "expired")
REFUSALS = ("own_request", "expired", "not_pending", "not_admin", "not_found", "duplicate", "unknown_kind")


def refusal(exc: Exception, locale: str) -> str:
    """A refused decision (``FourEyesError``), or a change that could not be applied (the error of
    the kind's apply: ``changed_since`` when what it changes moved on meanwhile), in ``locale``."""
    code = getattr(exc, "code", None)
    if (isinstance(exc, FourEyesError) and code in REFUSALS) or code == "changed_since":
        return t(f"chg_err_{code}", locale)
    return t("chg_err_apply", locale, detail=str(exc))


def time_left(seconds: int, until: str, locale: str) -> str:
    seconds = max(0, seconds)
    return t("chg_left_value", locale, h=seconds // 3600, m=(seconds % 3600) // 60, until=until)
