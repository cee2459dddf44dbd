"""The words of the console's e-service pages (Thai and English), and refusals worded from their
codes (``idgw.admin.AdminError.code``, ``idgw.console.four_eyes.FourEyesError.code``): the
English message stays for the CLI and logs."""

from __future__ import annotations

from idgw.console.four_eyes import FourEyesError
from idgw.oidc.models import SCOPES_SUPPORTED
from idgw.web.i18n import MESSAGES, add_messages, t

add_messages({
    # the service list (idgw/web/templates/admin_services.html)
    "svc_register_link": {"th": "ลงทะเบียนบริการใหม่", "en": "Register a service"},
    "svc_settings_link": {"th": "ตั้งค่า", "en": "Settings"},
    "svc_policy_link": {"th": "นโยบาย", "en": "Policy"},
    "svc_settings_of": {"th": "ตั้งค่า {name}", "en": "Settings of {name}"},
    "svc_state_col": {"th": "สถานะ", "en": "Status"},
    "svc_disabled_badge": {"th": "ปิดใช้งาน", "en": "Disabled"},
    "svc_active_badge": {"th": "ใช้งานได้", "en": "Active"},
    # the form
    "svc_new_title": {"th": "ลงทะเบียนบริการใหม่", "en": "Register an e-service"},
    "svc_new_intro": {"th": "ตรวจสอบตามกฎเดียวกับคำสั่ง idgw client add ที่อยู่ทุกแห่งต้องตรงทุกตัวอักษร",
                      "en": "Checked by the same rules as idgw client add: every address must match exactly."},
    "svc_settings_title": {"th": "การตั้งค่าบริการ", "en": "Service settings"},
    "svc_optional": {"th": "(ไม่บังคับ)", "en": "(optional)"},
    "svc_f_name": {"th": "ชื่อบริการที่ประชาชนเห็น", "en": "Name shown to citizens"},
    "svc_f_client_id": {"th": "รหัสบริการ (client_id)", "en": "Client ID (client_id)"},
    "svc_h_client_id": {"th": "สุ่มให้แล้ว เปลี่ยนได้: 4-64 ตัวอักษร A-Z a-z 0-9 . _ ~ - ขึ้นต้นด้วยตัวอักษรหรือตัวเลข "
                              "เปลี่ยนภายหลังไม่ได้",
                        "en": "Chosen at random; you may change it: 4-64 characters of A-Z a-z 0-9 . _ ~ -, beginning "
                              "with a letter or digit. It cannot be changed later."},
    "svc_f_redirect_uris": {"th": "ที่อยู่สำหรับส่งกลับ (redirect URI)", "en": "Redirect URIs"},
    "svc_h_uris": {"th": "บรรทัดละหนึ่งที่อยู่ ต้องตรงทุกตัวอักษร ใช้ https (http ได้เฉพาะที่อยู่ภายในเครื่อง เช่น "
                         "localhost) ห้ามมี * และ #",
                   "en": "One per line, matched exactly: https (http only for a loopback address such as localhost), "
                         "no * and no #."},
    "svc_f_post_logout_redirect_uris": {"th": "ที่อยู่หลังออกจากระบบ (post-logout redirect URI)",
                                        "en": "Post-logout redirect URIs"},
    "svc_f_backchannel_logout_uri": {"th": "ที่อยู่รับแจ้งการออกจากระบบ (back-channel logout URI)",
                                     "en": "Back-channel logout URI"},
    "svc_h_backchannel": {"th": "ระบบส่งโทเค็นแจ้งการออกจากระบบไปที่นี่เมื่อเซสชันสิ้นสุด (Back-Channel Logout 1.0)",
                          "en": "Where the gateway posts logout tokens when a session ends (Back-Channel Logout 1.0)."},
    "svc_f_backchannel_logout_session_required": {"th": "บริการต้องการ sid ในโทเค็นแจ้งการออกจากระบบ",
                                                  "en": "The service needs sid in logout tokens"},
    "svc_f_auth_method": {"th": "วิธีที่บริการยืนยันตัวตนกับ token endpoint",
                          "en": "How the service authenticates at the token endpoint"},
    "svc_m_client_secret_basic": {"th": "รหัสลับในส่วนหัว Authorization (client_secret_basic)",
                                  "en": "Secret in the Authorization header (client_secret_basic)"},
    "svc_m_client_secret_post": {"th": "รหัสลับในแบบฟอร์ม (client_secret_post)",
                                 "en": "Secret in the form (client_secret_post)"},
    "svc_m_private_key_jwt": {"th": "ลายมือชื่อด้วยกุญแจของบริการ (private_key_jwt)",
                              "en": "Signed with the service's key (private_key_jwt)"},
    "svc_m_none": {"th": "ไม่มี: แอปสาธารณะที่ใช้ PKCE (none)", "en": "None: a public app using PKCE (none)"},
    "svc_f_keys": {"th": "กุญแจสาธารณะของบริการ (สำหรับ private_key_jwt)",
                   "en": "The service's public keys (for private_key_jwt)"},
    "svc_h_keys": {"th": "วาง JWKS ที่มีเฉพาะกุญแจสาธารณะ หรือกรอก JWKS URI อย่างใดอย่างหนึ่ง ห้ามใส่กุญแจส่วนตัว",
                   "en": "Paste a JWKS of public keys only, or give a JWKS URI: one or the other. Never a "
                         "private key."},
    "svc_f_jwks": {"th": "JWKS", "en": "JWKS"},
    "svc_f_jwks_uri": {"th": "JWKS URI", "en": "JWKS URI"},
    "svc_f_id_token_alg": {"th": "อัลกอริทึมลงนาม ID token", "en": "ID token signing algorithm"},
    "svc_f_subject_type": {"th": "รหัสผู้ใช้ (sub) ที่บริการได้รับ", "en": "The subject identifier (sub) it receives"},
    "svc_st_pairwise": {"th": "แยกตามหน่วยงาน (pairwise, แนะนำ): บริการต่างโฮสต์ได้รหัสต่างกัน",
                        "en": "Per agency (pairwise, recommended): services on other hosts get other values"},
    "svc_st_public": {"th": "เหมือนกันทุกบริการ (public)", "en": "The same at every service (public)"},
    "svc_f_sector_identifier_uri": {"th": "sector_identifier_uri", "en": "sector_identifier_uri"},
    "svc_h_sector": {"th": "จำเป็นเมื่อ redirect URI อยู่หลายโฮสต์: https URL ที่ตอบเป็น JSON array ของ redirect URI "
                           "ทั้งหมด โฮสต์ของ URL นี้เป็นกลุ่มของรหัสแบบ pairwise",
                     "en": "Needed when the redirect URIs are on several hosts: an https URL answering a JSON array "
                           "of all of them; its host is the pairwise sector."},
    "svc_f_scope": {"th": "ขอบเขตที่อนุญาต (scope)", "en": "Allowed scope"},
    "svc_h_scope": {"th": "คั่นด้วยช่องว่าง ต้องมี openid ใช้ได้: {allowed}",
                    "en": "Separated by spaces, openid included; available: {allowed}"},
    "svc_f_security_event_uri": {"th": "ที่อยู่รับ Security Event Token (RFC 8935)",
                                 "en": "Security Event Token push URI (RFC 8935)"},
    "svc_f_token_exchange": {"th": "ให้ระบบหลังบ้านของบริการแลกโทเค็นเพื่อทำการแทนผู้อื่นได้ (RFC 8693 "
                                   "เฉพาะบริการที่ยืนยันตัวตนได้)",
                             "en": "The service's back end may exchange tokens to act for someone (RFC 8693; "
                                   "confidential services only)"},
    "svc_f_confirm_subjects": {"th": "ข้าพเจ้าเข้าใจว่าทุกคนจะได้รหัสผู้ใช้ (sub) ใหม่ที่บริการนี้",
                               "en": "I understand that everyone gets a new subject identifier (sub) at this service"},
    "svc_register": {"th": "ลงทะเบียน", "en": "Register"},
    "svc_save": {"th": "บันทึก", "en": "Save"},
    "svc_errors": {"th": "ยังไม่ได้บันทึก กรุณาแก้ไข", "en": "Nothing was saved: please correct this"},
    # once registered, or a new secret
    "svc_registered": {"th": "ลงทะเบียนบริการแล้ว", "en": "Service registered"},
    "svc_rotated": {"th": "ออกรหัสลับใหม่แล้ว", "en": "New secret issued"},
    "svc_secret": {"th": "รหัสลับ (client_secret)", "en": "Client secret (client_secret)"},
    "svc_secret_once": {"th": "คัดลอกรหัสลับนี้ไปเก็บในที่ปลอดภัยเดี๋ยวนี้ ระบบแสดงเพียงครั้งเดียวและเก็บไว้เฉพาะค่าแฮช "
                              "หากทำหายต้องออกรหัสลับใหม่",
                        "en": "Copy this secret to a safe place now: it is shown only once, and the gateway keeps only "
                              "its hash. If it is lost, issue a new one."},
    "svc_no_secret": {"th": "บริการนี้ยืนยันตัวตนด้วย {method} จึงไม่มีรหัสลับ",
                      "en": "This service authenticates with {method}, so it has no secret."},
    "svc_next_policy": {"th": "ขั้นต่อไป: กำหนดนโยบายระดับความน่าเชื่อถือของบริการ จนกว่าจะมีนโยบาย "
                              "การเข้าสู่ระบบเพื่อใช้บริการนี้จะถูกปฏิเสธ",
                        "en": "Next: give the service an assurance policy. Until it has one, its sign-ins are "
                              "refused."},
    "svc_to_policy": {"th": "ไปที่หน้านโยบายของบริการนี้", "en": "Go to this service's policy page"},
    "svc_to_settings": {"th": "ไปที่หน้าตั้งค่าของบริการนี้", "en": "Go to this service's settings"},
    # the settings page
    "svc_status": {"th": "สถานะ", "en": "Status"},
    "svc_active": {"th": "เปิดใช้งาน: ประชาชนเข้าสู่ระบบเพื่อใช้บริการนี้ได้",
                   "en": "Enabled: people can sign in to this service."},
    "svc_disabled_since": {"th": "ปิดใช้งานตั้งแต่ {when}: เข้าสู่ระบบ ขอโทเค็น และต่ออายุโทเค็นไม่ได้ "
                                 "โทเค็นที่ออกไปแล้วใช้ไม่ได้",
                           "en": "Disabled since {when}: no sign-in, no token and no refresh; its tokens do not "
                                 "work."},
    "svc_disable_help": {"th": "การปิดใช้งานหยุดบริการทันทีโดยไม่เพิกถอนสิ่งใด เปิดใช้งานอีกครั้งได้ทุกเมื่อ",
                         "en": "Disabling stops the service at once and revokes nothing: enabling it again restores "
                               "it."},
    "svc_disable": {"th": "ปิดใช้งานบริการนี้", "en": "Disable this service"},
    "svc_enable": {"th": "เปิดใช้งานบริการนี้อีกครั้ง", "en": "Enable this service again"},
    "svc_secret_h": {"th": "รหัสลับ", "en": "Client secret"},
    "svc_rotate_help": {"th": "ออกรหัสลับใหม่เมื่อรหัสเดิมอาจรั่วไหล รหัสเดิมจะใช้ไม่ได้ทันที",
                        "en": "Issue a new secret when the old one may have leaked. The old one stops working at "
                              "once."},
    "svc_rotate": {"th": "ออกรหัสลับใหม่", "en": "Issue a new secret"},
    "svc_rotate_title": {"th": "ยืนยันการออกรหัสลับใหม่", "en": "Issue a new secret?"},
    "svc_rotate_warning": {"th": "รหัสลับปัจจุบันของ “{name}” จะใช้ไม่ได้ทันทีที่กดปุ่ม บริการจะขอโทเค็นไม่ได้ "
                                 "จนกว่าจะนำรหัสลับใหม่ไปตั้งในระบบของบริการ",
                           "en": "The current secret of “{name}” stops working as soon as you press the button: the "
                                 "service cannot get tokens until its system has the new one."},
    "svc_rotate_now": {"th": "ออกรหัสลับใหม่เดี๋ยวนี้", "en": "Issue the new secret now"},
    "svc_cancel": {"th": "ยกเลิก", "en": "Cancel"},
    "svc_delete_h": {"th": "ลบบริการ", "en": "Delete the service"},
    "svc_delete_help": {"th": "การลบนำบริการออกไปพร้อมนโยบาย ความยินยอม และโทเค็นทั้งหมด และย้อนคืนไม่ได้ "
                              "ต้องมีผู้ดูแลระบบอีกคนอนุมัติภายใน {hours} ชั่วโมง",
                        "en": "Deleting removes the service with its policies, consents and tokens, and cannot be "
                              "undone. A second admin must approve it within {hours} hours."},
    "svc_delete_confirm": {"th": "พิมพ์ client_id ของบริการ ({client_id}) เพื่อยืนยัน",
                           "en": "Type the service's client_id ({client_id}) to confirm"},
    "svc_delete_reason": {"th": "เหตุผล", "en": "Reason"},
    "svc_delete_request": {"th": "ขอลบบริการนี้", "en": "Request deletion"},
    "svc_delete_pending": {"th": "มีคำขอลบบริการนี้รอผู้ดูแลระบบอีกคนอนุมัติ: ขอโดย {who} เมื่อ {when} "
                                 "หมดเวลา {until}",
                           "en": "A request to delete this service is waiting for a second admin: made by {who} at "
                                 "{when}, open until {until}."},
    "svc_to_changes": {"th": "ไปที่รายการคำขอที่รออนุมัติ", "en": "Go to the changes waiting for approval"},
    "svc_done_saved": {"th": "บันทึกการตั้งค่าแล้ว", "en": "Settings saved."},
    "svc_done_disabled": {"th": "ปิดใช้งานบริการแล้ว", "en": "The service is disabled."},
    "svc_done_enabled": {"th": "เปิดใช้งานบริการอีกครั้งแล้ว", "en": "The service is enabled again."},
    "svc_done_delete": {"th": "ส่งคำขอลบแล้ว บริการจะถูกลบเมื่อผู้ดูแลระบบอีกคนอนุมัติ",
                        "en": "Deletion requested: the service is deleted when a second admin approves it."},
    # four eyes (idgw.console.services.describe_delete)
    "svc_fe_delete": {"th": "ลบบริการ “{name}” ({client_id})", "en": "Delete the e-service “{name}” ({client_id})"},
    # refusals, by AdminError.code
    "svc_err_name": {"th": "กรุณากรอกชื่อบริการ 1-200 ตัวอักษร", "en": "Give the service a name of 1-200 characters."},
    "svc_err_no_redirect_uri": {"th": "ต้องมีที่อยู่สำหรับส่งกลับ (redirect URI) อย่างน้อยหนึ่งที่อยู่",
                                "en": "Give at least one redirect URI."},
    "svc_err_uri_exact": {"th": "{uri}: ต้องเป็น URL เต็มแบบ https ที่ไม่มีส่วน # และไม่มีเครื่องหมาย *",
                          "en": "{uri}: must be an absolute https URL with no fragment (#) and no wildcard (*)."},
    "svc_err_uri_https": {"th": "{uri}: ต้องใช้ https (http ได้เฉพาะที่อยู่ภายในเครื่อง เช่น localhost)",
                          "en": "{uri}: must use https (http only for a loopback address such as localhost)."},
    "svc_err_jwks_and_uri": {"th": "กรอก JWKS หรือ JWKS URI อย่างใดอย่างหนึ่ง ไม่ใช่ทั้งสองอย่าง",
                             "en": "Give either a JWKS or a JWKS URI, not both."},
    "svc_err_jwks_private": {"th": "JWKS นี้มีกุญแจส่วนตัว ({keys}) ลงทะเบียนได้เฉพาะกุญแจสาธารณะ และเนื่องจากกุญแจ"
                                   "ส่วนตัวนี้ถูกเปิดเผยแล้ว บริการควรสร้างคู่กุญแจใหม่",
                             "en": "This JWKS contains private key material ({keys}). Register public keys only; as "
                                   "this private key has been exposed, the service should make a new key pair."},
    "svc_err_jwks_invalid": {"th": "ใช้ JWKS นี้ไม่ได้: {detail}", "en": "This JWKS cannot be used: {detail}"},
    "svc_err_jwks_json": {"th": "JWKS ไม่ใช่ JSON ที่ถูกต้อง ({detail})", "en": "The JWKS is not valid JSON ({detail})."},
    "svc_err_keys_needed": {"th": "วิธี private_key_jwt ต้องมี JWKS หรือ JWKS URI",
                            "en": "private_key_jwt needs a JWKS or a JWKS URI."},
    "svc_err_sector_unreadable": {"th": "อ่าน sector_identifier_uri ไม่ได้ ({detail})",
                                  "en": "The sector_identifier_uri could not be read ({detail})."},
    "svc_err_sector_not_list": {"th": "sector_identifier_uri ต้องตอบเป็น JSON array ของ redirect URI",
                                "en": "The sector_identifier_uri must answer a JSON array of redirect URIs."},
    "svc_err_sector_missing": {"th": "sector_identifier_uri ไม่ได้ระบุ redirect URI: {uris}",
                               "en": "The sector_identifier_uri does not list the redirect URI(s) {uris}."},
    "svc_err_sector_hosts": {"th": "redirect URI อยู่หลายโฮสต์ ({hosts}) ต้องมี sector_identifier_uri ที่ระบุทุกที่อยู่ "
                                   "เพื่อให้รหัสผู้ใช้แบบ pairwise คงที่",
                             "en": "Redirect URIs on several hosts ({hosts}) need a sector_identifier_uri listing them "
                                   "all, so that pairwise subjects stay stable."},
    "svc_err_auth_method": {"th": "เลือกวิธียืนยันตัวตนจากรายการ", "en": "Choose an authentication method from the list."},
    "svc_err_alg": {"th": "เลือกอัลกอริทึมจากรายการ", "en": "Choose an algorithm from the list."},
    "svc_err_subject_type": {"th": "เลือกชนิดรหัสผู้ใช้ pairwise หรือ public", "en": "Choose pairwise or public."},
    "svc_err_scope": {"th": "scope ต้องมี openid และใช้ได้เฉพาะ {allowed}",
                      "en": "The scope must include openid and only {allowed}."},
    "svc_err_exchange_public": {"th": "การแลกโทเค็นใช้ได้เฉพาะบริการที่ยืนยันตัวตนได้ (ไม่ใช่วิธี none)",
                                "en": "Token exchange is for confidential services only (not method none)."},
    "svc_err_client_id": {"th": "client_id ต้องยาว 4-64 ตัวอักษร A-Z a-z 0-9 . _ ~ - และขึ้นต้นด้วยตัวอักษรหรือตัวเลข",
                          "en": "The client_id must be 4-64 characters of A-Z a-z 0-9 . _ ~ -, beginning with a letter "
                                "or digit."},
    "svc_err_client_exists": {"th": "มีบริการที่ใช้ client_id {client_id} อยู่แล้ว",
                              "en": "A service with client_id {client_id} already exists."},
    "svc_err_subjects_change": {"th": "การเปลี่ยนนี้ทำให้ทุกคนได้รหัสผู้ใช้ (sub) ใหม่ที่บริการนี้ ({before} → {after}) "
                                      "บริการจะจำผู้ใช้เดิมไม่ได้ หากตั้งใจเปลี่ยน ให้ติ๊กยืนยันแล้วบันทึกอีกครั้ง",
                                "en": "This change gives everyone a new subject identifier (sub) at this service "
                                      "({before} → {after}), so the service no longer recognises its users. If you "
                                      "mean it, tick the confirmation and save again."},
    "svc_err_no_secret": {"th": "บริการนี้ยืนยันตัวตนด้วย {method} จึงไม่มีรหัสลับให้เปลี่ยน",
                          "en": "This service authenticates with {method}: it has no secret to replace."},
    "svc_err_confirm_mismatch": {"th": "client_id ที่พิมพ์ไม่ตรงกับ {client_id} จึงยังไม่ได้ส่งคำขอลบ",
                                 "en": "The client_id typed does not match {client_id}: no deletion was requested."},
    "svc_err_fe_duplicate": {"th": "มีคำขอลบบริการนี้รออนุมัติอยู่แล้ว",
                             "en": "A request to delete this service is already waiting for approval."},
})

#: The form's fields in the order they appear (a refusal links to its field).
FIELDS = ("name", "client_id", "redirect_uris", "post_logout_redirect_uris", "backchannel_logout_uri",
          "auth_method", "jwks", "jwks_uri", "id_token_alg", "subject_type", "sector_identifier_uri", "scope",
          "security_event_uri", "token_exchange", "confirm_subjects")


def refusal(exc, locale: str) -> str:
    """A refused change in ``locale``, from its code (the English message for a code not worded here)."""
    prefix = "svc_err_fe_" if isinstance(exc, FourEyesError) else "svc_err_"
    key = prefix + getattr(exc, "code", "")
    if key not in MESSAGES:
        return str(exc)
    return t(key, locale, **{"allowed": " ".join(SCOPES_SUPPORTED), **getattr(exc, "params", {})})


def field_of(exc) -> str | None:
    """The form field a refusal is about (None: the form as a whole)."""
    field = getattr(exc, "params", {}).get("field")
    return field if field in FIELDS else None
