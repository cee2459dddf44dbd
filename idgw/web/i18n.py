"""Thai and English texts. Thai is the default; ``ui_locales`` (OIDC Core §3.1.2.1), the
language switch and Accept-Language choose otherwise."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

LOCALES = ("th", "en")

MESSAGES: dict[str, dict[str, str]] = {
    "app_name": {"th": "ระบบยืนยันตัวตนภาครัฐ (idgw)", "en": "Government identity gateway (idgw)"},
    "sign_in": {"th": "เข้าสู่ระบบ", "en": "Sign in"},
    "sign_in_to": {"th": "เข้าสู่ระบบเพื่อใช้บริการ", "en": "Sign in to continue to"},
    "username": {"th": "ชื่อผู้ใช้", "en": "Username"},
    "password": {"th": "รหัสผ่าน", "en": "Password"},
    "invalid_credentials": {"th": "ชื่อผู้ใช้หรือรหัสผ่านไม่ถูกต้อง", "en": "Incorrect username or password."},
    # Worded for any number (no plural to agree with); idgw.web.refusals words the wait in
    # seconds or minutes. "locked" never says an account exists (idgw.login.password docstring).
    "throttled": {"th": "พยายามเข้าสู่ระบบไม่สำเร็จหลายครั้งเกินไป กรุณารอ {seconds} วินาทีแล้วลองใหม่",
                  "en": "Too many failed attempts. Please try again in {seconds} s."},
    "locked": {"th": "การเข้าสู่ระบบด้วยชื่อผู้ใช้นี้ถูกระงับ เนื่องจากพยายามไม่สำเร็จหลายครั้งเกินไป "
                     "หากบัญชีของท่านถูกระงับหรือท่านเข้าสู่ระบบไม่ได้ กรุณาติดต่อศูนย์ช่วยเหลือที่แจ้งไว้ท้ายหน้านี้",
               "en": "Signing in with this username is blocked after too many failed attempts. If your account "
                     "is locked or you cannot sign in, contact the help desk shown at the foot of this page."},
    "consent_title": {"th": "ยินยอมให้ส่งข้อมูล", "en": "Allow access to your information"},
    "consent_intro": {"th": "บริการต่อไปนี้ขอรับข้อมูลของท่าน:", "en": "This service asks for the following:"},
    "allow": {"th": "อนุญาต", "en": "Allow"},
    "deny": {"th": "ไม่อนุญาต", "en": "Deny"},
    "signed_in_as": {"th": "ท่านเข้าสู่ระบบในชื่อ", "en": "You are signed in as"},
    "signed_in_at": {"th": "เข้าสู่ระบบเมื่อ", "en": "Signed in at"},
    "error_title": {"th": "ไม่สามารถดำเนินการได้", "en": "We could not continue"},
    "error_back": {"th": "กรุณากลับไปที่บริการแล้วเริ่มใหม่อีกครั้ง",
                   "en": "Please go back to the service and start again."},
    "logout_title": {"th": "ออกจากระบบ", "en": "Sign out"},
    "logout_question": {"th": "ต้องการออกจากระบบ idgw หรือไม่", "en": "Do you want to sign out of idgw?"},
    "logout_yes": {"th": "ออกจากระบบ", "en": "Sign out"},
    "logout_no": {"th": "ยกเลิก", "en": "Cancel"},
    "logged_out": {"th": "ท่านออกจากระบบแล้ว", "en": "You have signed out."},
    "home_intro": {"th": "ระบบนี้ยืนยันตัวตนให้บริการอิเล็กทรอนิกส์ของหน่วยงานรัฐ กรุณาเริ่มจากเว็บไซต์ของบริการที่ท่านต้องการใช้",
                   "en": "This gateway signs you in to government e-services. "
                         "Please start from the service you want to use."},
    "language": {"th": "English", "en": "ภาษาไทย"},
    "scope_openid": {"th": "รหัสประจำตัวสำหรับบริการนี้", "en": "An identifier for you at this service"},
    "scope_profile": {"th": "ชื่อ-นามสกุล", "en": "Your name"},
    "scope_email": {"th": "อีเมล", "en": "Your e-mail address"},
    "scope_offline_access": {"th": "การเข้าถึงต่อเนื่องเมื่อท่านไม่ได้ใช้งาน (refresh token)",
                             "en": "Access while you are away (refresh token)"},
    "scope_citizen_id": {"th": "เลขประจำตัวประชาชน 13 หลัก", "en": "Your 13-digit citizen ID number"},
    "consent_extra": {"th": "ข้อมูลที่บริการขอเพิ่มเติม:", "en": "The service also asks for:"},
    "consent_verified": {"th": "ข้อมูลที่ผ่านการพิสูจน์ตัวตนแล้ว (ระดับ IAL {ial}) ซึ่งบริการจะได้รับพร้อมรายละเอียดการตรวจสอบ:",
                         "en": "Verified identity details (proofed at IAL {ial}), sent with how they were checked:"},
    "claim_name": {"th": "ชื่อเต็ม", "en": "Full name"},
    "claim_given_name": {"th": "ชื่อ (ภาษาอังกฤษ)", "en": "Given name (English)"},
    "claim_family_name": {"th": "นามสกุล (ภาษาอังกฤษ)", "en": "Family name (English)"},
    "claim_th_given_name": {"th": "ชื่อ (ภาษาไทย)", "en": "Given name (Thai)"},
    "claim_th_family_name": {"th": "นามสกุล (ภาษาไทย)", "en": "Family name (Thai)"},
    "claim_locale": {"th": "ภาษาที่ใช้", "en": "Preferred language"},
    "claim_email": {"th": "อีเมล", "en": "E-mail address"},
    "claim_email_verified": {"th": "สถานะการยืนยันอีเมล", "en": "Whether your e-mail address is verified"},
    "claim_citizen_id": {"th": "เลขประจำตัวประชาชน 13 หลัก", "en": "13-digit citizen ID number"},
    "err_invalid_request": {"th": "คำขอไม่ถูกต้อง", "en": "The request is not valid."},
    "err_rate_limited": {"th": "มีคำขอจากเครือข่ายของท่านมากเกินไป กรุณารอสักครู่แล้วลองใหม่",
                         "en": "Too many requests from your network. Please wait a moment and try again."},
    "err_unexpected": {"th": "ระบบขัดข้องชั่วคราว กรุณาลองใหม่อีกครั้ง",
                       "en": "Something went wrong on our side. Please try again."},
    "err_unknown_client": {"th": "ไม่รู้จักบริการที่ส่งคำขอมา", "en": "The requesting service is not registered."},
    "err_service_disabled": {"th": "บริการที่ส่งคำขอมาถูกปิดใช้งานชั่วคราวโดยผู้ดูแลระบบ จึงเข้าสู่ระบบเพื่อใช้บริการนี้ไม่ได้ในขณะนี้",
                             "en": "The requesting service has been disabled by the gateway's administrators, so "
                                   "you cannot sign in to it at the moment."},
    "err_redirect_uri": {"th": "ที่อยู่สำหรับส่งกลับ (redirect_uri) ไม่ได้ลงทะเบียนไว้",
                         "en": "The return address (redirect_uri) is not registered for this service."},
    "err_interaction_expired": {"th": "คำขอเข้าสู่ระบบนี้หมดอายุแล้ว", "en": "This sign-in request has expired."},
    "err_csrf": {"th": "แบบฟอร์มหมดอายุหรือไม่ถูกต้อง กรุณาลองใหม่", "en": "The form expired or is invalid. Please try again."},
    "stepup_intro": {"th": "บริการนี้ต้องการการยืนยันตัวตนที่เข้มขึ้น:", "en": "This service needs a stronger sign-in:"},
    "continue": {"th": "ดำเนินการต่อ", "en": "Continue"},
    "other_factors": {"th": "หรือใช้วิธีอื่น:", "en": "Or use another method:"},
    "factor_invalid": {"th": "รหัสไม่ถูกต้อง กรุณาลองใหม่", "en": "That code is not correct. Please try again."},
    "err_not_found": {"th": "ไม่พบหน้าที่ต้องการ", "en": "Page not found."},
}

_TH_MONTHS = ["ม.ค.", "ก.พ.", "มี.ค.", "เม.ย.", "พ.ค.", "มิ.ย.", "ก.ค.", "ส.ค.", "ก.ย.", "ต.ค.", "พ.ย.", "ธ.ค."]
_EN_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
_BANGKOK = timedelta(hours=7)


def add_messages(messages: dict[str, dict[str, str]]) -> None:
    """A capability's own texts (each package keeps its pages' words beside them). A key may be
    defined once: a second definition is a mistake that would silently change another page."""
    for key, value in messages.items():
        if key in MESSAGES and MESSAGES[key] != value:
            raise ValueError(f"message {key!r} is already defined")
        if set(value) != set(LOCALES):
            raise ValueError(f"message {key!r} needs both th and en")
    MESSAGES.update(messages)


def t(key: str, locale: str, **kwargs) -> str:
    text = MESSAGES.get(key, {}).get(locale) or MESSAGES.get(key, {}).get("en") or key
    return text.format(**kwargs) if kwargs else text


def format_datetime(epoch: int, locale: str) -> str:
    """Bangkok time; Thai users get the Buddhist era (พ.ศ. = ค.ศ. + 543). Month names come from
    the tables here, never from the process's C locale (``%b`` is locale-dependent, and slow)."""
    dt = datetime.fromtimestamp(epoch, UTC) + _BANGKOK
    if locale == "th":
        return f"{dt.day} {_TH_MONTHS[dt.month - 1]} {dt.year + 543} {dt.hour:02d}:{dt.minute:02d} น."
    return f"{dt.day:02d} {_EN_MONTHS[dt.month - 1]} {dt.year} {dt.hour:02d}:{dt.minute:02d} (UTC+7)"


def choose_locale(*, ui_locales: str | None, cookie: str | None, accept_language: str | None, default: str) -> str:
    for candidate in (ui_locales or "").split():
        base = candidate.split("-")[0].lower()
        if base in LOCALES:
            return base
    if cookie in LOCALES:
        return cookie
    for part in (accept_language or "").split(","):
        base = part.split(";")[0].strip().split("-")[0].lower()
        if base in LOCALES:
            return base
    return default

MESSAGES.update({
    "admin_services": {"th": "บริการที่ลงทะเบียน", "en": "Registered e-services"},
    "admin_policy": {"th": "นโยบายระดับความน่าเชื่อถือ", "en": "Assurance policy"},
    "admin_questionnaire": {"th": "แบบประเมินความเสี่ยง (มรด. 1-1/1-2:2564)",
                            "en": "Risk assessment (มรด. 1-1/1-2:2564)"},
    "admin_q_intro": {"th": "ประเมินผลกระทบสูงสุดหากยืนยันตัวบุคคลผิดคน และหากยืนยันตัวตนผิดพลาด ในแต่ละด้าน",
                      "en": "Rate the worst impact, in each category, of proofing the wrong person and of "
                            "authenticating the wrong person."},
    "admin_proofing": {"th": "การพิสูจน์ตัวตนผิดพลาด", "en": "Identity proofing error"},
    "admin_authentication": {"th": "การยืนยันตัวตนผิดพลาด", "en": "Authentication error"},
    "impact_none": {"th": "ไม่มี", "en": "None"},
    "impact_low": {"th": "ต่ำ", "en": "Low"},
    "impact_moderate": {"th": "ปานกลาง", "en": "Moderate"},
    "impact_high": {"th": "สูง", "en": "High"},
    "admin_needs_identity": {"th": "บริการนี้ต้องทราบตัวตนที่พิสูจน์แล้วของผู้ใช้",
                             "en": "This service needs a verified identity"},
    "admin_min_ial": {"th": "IAL ขั้นต่ำ", "en": "Minimum IAL"},
    "admin_min_aal": {"th": "AAL ขั้นต่ำ", "en": "Minimum AAL"},
    "admin_justification": {"th": "เหตุผล (จำเป็นหากกำหนดต่ำกว่าผลประเมิน)",
                            "en": "Justification (required to go below the computed floors)"},
    "admin_compute": {"th": "คำนวณ", "en": "Compute"},
    "admin_save": {"th": "บันทึกนโยบาย", "en": "Save policy"},
    "admin_computed": {"th": "ระดับที่คำนวณได้", "en": "Computed floors"},
    "admin_current": {"th": "นโยบายปัจจุบัน", "en": "Current policy"},
    "admin_history": {"th": "ประวัติการเปลี่ยนแปลง", "en": "History"},
    "admin_no_policy": {"th": "ยังไม่มีนโยบาย: ระบบจะปฏิเสธการเข้าสู่ระบบของบริการนี้",
                        "en": "No policy yet: sign-ins for this service are refused."},
    "admin_saved": {"th": "บันทึกแล้ว", "en": "Saved."},
    "admin_version": {"th": "ฉบับ", "en": "Version"},
    "admin_set_by": {"th": "กำหนดโดย", "en": "Set by"},
    "admin_when": {"th": "เมื่อ", "en": "When"},
    "err_forbidden": {"th": "บัญชีนี้ไม่มีสิทธิ์เข้าถึงหน้านี้", "en": "This account may not open this page."},
})

MESSAGES.update({
    "account_title": {"th": "บัญชีของฉัน", "en": "My account"},
    "account_factors": {"th": "วิธียืนยันตัวตน", "en": "Sign-in methods"},
    "account_password": {"th": "รหัสผ่าน", "en": "Password"},
    "account_add_totp": {"th": "เพิ่มแอปยืนยันตัวตน (TOTP)", "en": "Add an authenticator app (TOTP)"},
    "account_add_passkey": {"th": "เพิ่มพาสคีย์หรือกุญแจความปลอดภัย", "en": "Add a passkey or security key"},
    "account_remove": {"th": "ลบ", "en": "Remove"},
    "account_recovery": {"th": "รหัสกู้คืนที่ยังไม่ได้ใช้: {n}", "en": "Unused recovery codes: {n}"},
    "account_recovery_new": {"th": "สร้างรหัสกู้คืนชุดใหม่", "en": "Make new recovery codes"},
    "account_recovery_shown_once": {"th": "เก็บรหัสเหล่านี้ไว้ในที่ปลอดภัย ระบบจะแสดงเพียงครั้งเดียว แต่ละรหัสใช้ได้ครั้งเดียว",
                                    "en": "Keep these codes somewhere safe. They are shown only once; "
                                          "each works once."},
    "account_sessions": {"th": "อุปกรณ์ที่เข้าสู่ระบบอยู่", "en": "Where you are signed in"},
    "account_this_session": {"th": "(อุปกรณ์นี้)", "en": "(this device)"},
    "account_end_all": {"th": "ออกจากระบบทุกอุปกรณ์", "en": "Sign out everywhere"},
    "account_recent": {"th": "การเข้าสู่ระบบล่าสุด", "en": "Recent sign-ins"},
    "account_created": {"th": "เพิ่มเมื่อ", "en": "Added"},
    "account_last_used": {"th": "ใช้ล่าสุด", "en": "Last used"},
    "account_flagged": {"th": "ระงับ: ตรวจพบการคัดลอกกุญแจ", "en": "Blocked: the key may have been cloned"},
    "account_never": {"th": "ยังไม่เคยใช้", "en": "never"},
    "totp_enrol_title": {"th": "เพิ่มแอปยืนยันตัวตน", "en": "Add an authenticator app"},
    "totp_enrol_scan": {"th": "สแกนคิวอาร์โค้ดด้วยแอปยืนยันตัวตน หรือพิมพ์รหัสลับด้านล่าง แล้วใส่รหัส 6 หลักเพื่อยืนยัน",
                        "en": "Scan the QR code with your authenticator app, or type the secret below, then enter "
                              "the 6-digit code to confirm."},
    "totp_secret": {"th": "รหัสลับ", "en": "Secret"},
    "totp_name": {"th": "ชื่ออุปกรณ์", "en": "Device name"},
    "factor_added": {"th": "เพิ่มวิธียืนยันตัวตนแล้ว", "en": "Sign-in method added."},
    "factor_removed": {"th": "ลบวิธียืนยันตัวตนแล้ว", "en": "Sign-in method removed."},
    "factor_last_needed": {"th": "ลบไม่ได้: บริการที่ท่านใช้ต้องการระดับ AAL {aal} ซึ่งต้องใช้วิธีนี้",
                           "en": "Not removed: a service you use needs AAL {aal}, which needs this method."},
    "code_label": {"th": "รหัส 6 หลัก", "en": "6-digit code"},
    "kind_totp": {"th": "แอปยืนยันตัวตน", "en": "Authenticator app"},
    "kind_webauthn": {"th": "พาสคีย์ / กุญแจความปลอดภัย", "en": "Passkey / security key"},
    "event_session.created": {"th": "เข้าสู่ระบบ", "en": "Signed in"},
    "event_login.failed": {"th": "รหัสผ่านไม่ถูกต้อง", "en": "Wrong password"},
    "event_authenticator.failed": {"th": "รหัสยืนยันไม่ถูกต้อง", "en": "Wrong code"},
    "event_session.stepped_up": {"th": "ยืนยันตัวตนเพิ่ม", "en": "Stepped up"},
})

MESSAGES.update({
    "passkey_sign_in": {"th": "เข้าสู่ระบบด้วยพาสคีย์", "en": "Sign in with a passkey"},
    "passkey_use": {"th": "ใช้พาสคีย์", "en": "Use a passkey"},
    "passkey_failed": {"th": "ใช้พาสคีย์ไม่สำเร็จ", "en": "The passkey did not work"},
    "passkey_name": {"th": "ชื่อพาสคีย์", "en": "Passkey name"},
    "passkey_added": {"th": "เพิ่มพาสคีย์แล้ว", "en": "Passkey added."},
    "passkey_rejected": {"th": "ใช้พาสคีย์นี้ไม่ได้: {reason}", "en": "This passkey cannot be used: {reason}"},
})

MESSAGES.update({
    "or_sign_in_with": {"th": "หรือเข้าสู่ระบบด้วย", "en": "Or sign in with"},
    "sign_in_with": {"th": "เข้าสู่ระบบด้วย {name}", "en": "Sign in with {name}"},
    "try_again": {"th": "ลองใหม่อีกครั้ง", "en": "Try again"},
    "ndid_intro": {"th": "กรอกเลขประจำตัวประชาชน แล้วยืนยันตัวตนในแอปธนาคารหรือแอปผู้ให้บริการที่ท่านลงทะเบียน NDID ไว้",
                   "en": "Enter your citizen ID, then confirm in the bank or provider app where you registered "
                         "with NDID."},
    "citizen_id_label": {"th": "เลขประจำตัวประชาชน 13 หลัก", "en": "13-digit citizen ID"},
    "citizen_id_invalid": {"th": "เลขประจำตัวประชาชนไม่ถูกต้อง กรุณาตรวจสอบอีกครั้ง",
                           "en": "That citizen ID is not valid. Please check it."},
    "ndid_wait_title": {"th": "รอการยืนยันในแอป", "en": "Waiting for your confirmation"},
    "ndid_wait_instructions": {"th": "เปิดแอปธนาคารของท่าน ตรวจสอบคำขอ แล้วกดยืนยัน หน้านี้จะดำเนินการต่อเองเมื่อได้รับคำตอบ",
                               "en": "Open your bank app, check the request and approve it. This page continues by "
                                     "itself when the answer arrives."},
    "ndid_reference": {"th": "เลขอ้างอิง", "en": "Reference"},
    "ndid_seconds_left": {"th": "เหลือเวลาอีก {seconds} วินาที", "en": "{seconds} seconds left"},
    "ndid_check_now": {"th": "ตรวจสอบตอนนี้", "en": "Check now"},
    "ndid_request_message": {"th": "ยืนยันตัวตนเพื่อเข้าใช้บริการ {service} ผ่านระบบ idgw",
                             "en": "Confirm your identity to use {service} through idgw"},
    "upstream_needs_local": {"th": "มีบัญชีของเลขประจำตัวประชาชนนี้อยู่แล้ว กรุณาเข้าสู่ระบบบัญชีเดิมก่อนเพื่อเชื่อมโยง",
                             "en": "An account for this citizen ID already exists. Sign in to it first to link "
                                   "this source."},
    "account_links": {"th": "แหล่งยืนยันตัวตนที่เชื่อมโยง", "en": "Linked identity sources"},
    "account_unlink": {"th": "ยกเลิกการเชื่อมโยง", "en": "Unlink"},
})
