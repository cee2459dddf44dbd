"""What the staff pages say, in Thai and English (``idgw.web.i18n``), and the wording of each
``StaffError`` code."""

from __future__ import annotations

from idgw.web.i18n import add_messages, t

add_messages({
    "cst_title": {"th": "เจ้าหน้าที่และบทบาท", "en": "Staff and roles"},
    "cst_intro": {"th": "ผู้ที่มีบทบาทเจ้าหน้าที่ในระบบนี้ ผู้ดูแลระบบ (admin) จัดการระบบได้ทั้งหมด เจ้าหน้าที่พิสูจน์ตัวตน "
                        "(officer) ตรวจสอบตัวตนผ่านวิดีโอ ผู้ตรวจสอบ (auditor) อ่านบันทึกการตรวจสอบได้",
                  "en": "People holding a staff role here. Admins run the whole gateway; officers proof identities "
                        "over video; auditors read the audit log."},
    "cst_role_admin": {"th": "ผู้ดูแลระบบ (admin)", "en": "Admin"},
    "cst_role_officer": {"th": "เจ้าหน้าที่พิสูจน์ตัวตน (officer)", "en": "Officer"},
    "cst_role_auditor": {"th": "ผู้ตรวจสอบ (auditor)", "en": "Auditor"},
    "cst_none": {"th": "ยังไม่มีผู้ใดมีบทบาทเจ้าหน้าที่", "en": "Nobody holds a staff role yet."},
    "cst_person": {"th": "บุคคล", "en": "Person"},
    "cst_last_sign_in": {"th": "เข้าสู่ระบบล่าสุด", "en": "Last sign-in"},
    "cst_never": {"th": "ยังไม่เคย", "en": "Never"},
    "cst_state": {"th": "สถานะ", "en": "State"},
    "cst_disabled": {"th": "ปิดใช้งานตั้งแต่ {when}", "en": "Disabled since {when}"},
    "cst_find": {"th": "ค้นหาบัญชีเพื่อมอบบทบาท", "en": "Find an account to grant a role"},
    "cst_find_label": {"th": "ชื่อผู้ใช้ อีเมล หรือเลขประจำตัวประชาชน 13 หลัก",
                       "en": "Username, e-mail address or 13-digit citizen ID"},
    "cst_found": {"th": "ผลการค้นหา “{q}”", "en": "Accounts matching “{q}”"},
    "cst_found_none": {"th": "ไม่พบบัญชีที่ตรงกับ “{q}”", "en": "No account matches “{q}”."},
    "cst_back": {"th": "กลับไปที่รายชื่อเจ้าหน้าที่", "en": "Back to the staff list"},
    "cst_roles_now": {"th": "บทบาทปัจจุบัน", "en": "Roles now"},
    "cst_no_roles": {"th": "ไม่มีบทบาทเจ้าหน้าที่", "en": "No staff role"},
    "cst_remove": {"th": "ถอนบทบาท", "en": "Remove"},
    "cst_grant": {"th": "มอบบทบาท", "en": "Grant a role"},
    "cst_grant_role": {"th": "บทบาท", "en": "Role"},
    "cst_grant_button": {"th": "มอบบทบาท", "en": "Grant"},
    "cst_grant_help": {"th": "บทบาท officer และ auditor มีผลทันที บทบาท admin มีผลเมื่อผู้ดูแลระบบอีกคนอนุมัติ "
                             "ที่หน้า “คำขอเปลี่ยนแปลง” ภายในเวลาที่กำหนด",
                       "en": "The officer and auditor roles take effect at once. The admin role takes effect only "
                             "when a second admin approves it at “Change requests” within the time limit."},
    "cst_reason": {"th": "เหตุผล (สำหรับผู้อนุมัติ ไม่บังคับ)", "en": "Reason (for the approver, optional)"},
    "cst_self": {"th": "นี่คือบัญชีของท่านเอง: ท่านมอบบทบาทให้ตนเองไม่ได้",
                 "en": "This is your own account: you cannot grant yourself a role."},
    "cst_pending_admin": {"th": "คำขอมอบบทบาท admin รอผู้ดูแลระบบอีกคนอนุมัติ ขอโดย {who} หมดเวลา {until}",
                          "en": "A request to grant the admin role waits for a second admin (asked by {who}; "
                                "it expires {until})."},
    "cst_changes_link": {"th": "ไปที่คำขอเปลี่ยนแปลง", "en": "Go to change requests"},
    "cst_access": {"th": "การเข้าสู่ระบบ", "en": "Signing in"},
    "cst_disable": {"th": "ปิดใช้งานบัญชีนี้", "en": "Disable this account"},
    "cst_disable_help": {"th": "บัญชีที่ปิดใช้งานเข้าสู่ระบบไม่ได้ทุกวิธี (รหัสผ่าน พาสคีย์ ThaiD NDID) "
                               "และทุกเซสชันและโทเค็นของบัญชีจะสิ้นสุดทันที",
                         "en": "A disabled account cannot sign in by any method (password, passkey, ThaiD, NDID), "
                               "and all its sessions and tokens end at once."},
    "cst_enable": {"th": "เปิดใช้งานบัญชีนี้อีกครั้ง", "en": "Enable this account again"},
    "cst_enabled_state": {"th": "เปิดใช้งาน", "en": "Enabled"},
    # outcomes
    "cst_done_granted": {"th": "มอบบทบาทแล้ว", "en": "Role granted."},
    "cst_done_removed": {"th": "ถอนบทบาทแล้ว", "en": "Role removed."},
    "cst_done_requested": {"th": "ส่งคำขอมอบบทบาท admin แล้ว บทบาทจะมีผลเมื่อผู้ดูแลระบบอีกคนอนุมัติที่หน้า "
                                 "“คำขอเปลี่ยนแปลง” (/admin/changes)",
                           "en": "The admin role was requested. It takes effect when a second admin approves it at "
                                 "“Change requests” (/admin/changes)."},
    "cst_done_disabled": {"th": "ปิดใช้งานบัญชีแล้ว เซสชันทั้งหมดของบัญชีสิ้นสุดแล้ว",
                          "en": "The account is disabled; all its sessions have ended."},
    "cst_done_enabled": {"th": "เปิดใช้งานบัญชีแล้ว", "en": "The account is enabled again."},
    "cst_done_unlocked": {"th": "ปลดล็อกแล้ว บัญชีนี้เข้าสู่ระบบได้", "en": "Unlocked: this account can sign in."},
    "cst_done_nothing": {"th": "บัญชีนี้ไม่ได้ถูกระงับ จึงไม่มีอะไรต้องปลดล็อก",
                         "en": "This account was not locked: nothing to unlock."},
    # refusals (StaffError codes)
    "cst_err_title": {"th": "ทำรายการไม่ได้", "en": "This was not done"},
    "cst_err_unknown_role": {"th": "ไม่มีบทบาท “{role}” ให้เลือก officer, auditor หรือ admin",
                             "en": "There is no role “{role}”: choose officer, auditor or admin."},
    "cst_err_self_grant": {"th": "ท่านมอบบทบาทให้ตนเองไม่ได้ ผู้ดูแลระบบคนอื่นต้องเป็นผู้มอบ",
                           "en": "You cannot grant yourself a role: another admin must do it."},
    "cst_err_has_role": {"th": "บัญชีนี้มีบทบาท {role} อยู่แล้ว", "en": "This account already has the {role} role."},
    "cst_err_lacks_role": {"th": "บัญชีนี้ไม่มีบทบาท {role}", "en": "This account does not have the {role} role."},
    "cst_err_last_admin": {"th": "ท่านเป็นผู้ดูแลระบบคนสุดท้ายที่ใช้งานได้ หากถอนบทบาทนี้ ระบบจะไม่มีผู้ดูแลระบบ "
                                 "กรุณามอบบทบาท admin ให้ผู้อื่นก่อน",
                           "en": "You are the last admin who can sign in: without this role the console would have "
                                 "no admin. Have the admin role granted to someone else first."},
    "cst_err_self_disable": {"th": "ท่านปิดใช้งานบัญชีของตนเองไม่ได้ ผู้ดูแลระบบคนอื่นต้องเป็นผู้ปิด",
                             "en": "You cannot disable your own account: another admin must do it."},
    "cst_err_disabled_already": {"th": "บัญชีนี้ถูกปิดใช้งานอยู่แล้ว", "en": "This account is already disabled."},
    "cst_err_enabled_already": {"th": "บัญชีนี้เปิดใช้งานอยู่แล้ว", "en": "This account is already enabled."},
    "cst_err_pending": {"th": "มีคำขอมอบบทบาท admin ให้บัญชีนี้รออนุมัติอยู่แล้ว",
                        "en": "A request to grant this account the admin role is already waiting."},
    "cst_describe_grant_admin": {"th": "มอบบทบาทผู้ดูแลระบบ (admin) ให้ {username}",
                                 "en": "Grant the admin role to {username}"},
})

DONE = ("granted", "removed", "requested", "disabled", "enabled", "unlocked", "nothing")


def role_name(role: str, locale: str) -> str:
    return t(f"cst_role_{role}", locale)


def refusal(exc, locale: str) -> str:
    """A ``StaffError`` in words."""
    params = dict(exc.params)
    if "role" in params:
        params["role"] = params["role"][:40]
    return t(f"cst_err_{exc.code}", locale, **params)


def describe_grant_admin(payload: dict, target: str, locale: str) -> str:
    return t("cst_describe_grant_admin", locale, username=(payload or {}).get("username") or target)
