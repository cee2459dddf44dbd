"""What the keys page says, in Thai and English, and the wording of each ``KeysError`` code."""

from __future__ import annotations

from idgw.console.keys import ROTATE_AFTER_DAYS
from idgw.web.i18n import add_messages, format_datetime, t

add_messages({
    "ckey_title": {"th": "กุญแจลงนาม", "en": "Signing keys"},
    "ckey_intro": {"th": "กุญแจที่ระบบใช้ลงนาม ID token และ access token กุญแจสาธารณะเผยแพร่ที่ /jwks.json "
                         "เมื่อหมุนเวียนกุญแจ กุญแจเดิมหยุดลงนาม แต่กุญแจสาธารณะยังเผยแพร่ต่อจนโทเค็นที่ลงนามไว้หมดอายุ",
                   "en": "The keys the gateway signs ID tokens and access tokens with; their public halves are "
                         "published at /jwks.json. Rotating makes new keys; the old ones stop signing but stay "
                         "published until every token they signed has expired."},
    "ckey_kid": {"th": "รหัสกุญแจ (kid)", "en": "Key ID (kid)"},
    "ckey_alg": {"th": "อัลกอริทึม", "en": "Algorithm"},
    "ckey_created": {"th": "สร้างเมื่อ", "en": "Created"},
    "ckey_age": {"th": "อายุ", "en": "Age"},
    "ckey_days": {"th": "{n} วัน", "en": "{n} days"},
    "ckey_day": {"th": "{n} วัน", "en": "{n} day"},
    "ckey_state": {"th": "สถานะ", "en": "State"},
    "ckey_active": {"th": "ใช้งาน (ลงนามอยู่)", "en": "Active (signing)"},
    "ckey_retired": {"th": "เลิกใช้แล้ว ยังเผยแพร่ถึง {when}", "en": "Retired; published until {when}"},
    "ckey_unpublished": {"th": "เลิกเผยแพร่แล้วเมื่อ {when}", "en": "Unpublished since {when}"},
    "ckey_rotate_soon": {"th": "ควรหมุนเวียนเร็ว ๆ นี้ (อายุเกิน {n} วัน)",
                         "en": "Rotate soon (older than {n} days)"},
    "ckey_rotate_title": {"th": "หมุนเวียนกุญแจ", "en": "Rotate the keys"},
    "ckey_rotate_help": {"th": "สร้างกุญแจ EC และ RSA ใหม่ทันที กุญแจปัจจุบันหยุดลงนาม แต่ยังเผยแพร่ต่อ {ttl} "
                               "เพื่อให้โทเค็นที่ออกไปแล้วยังตรวจสอบได้",
                         "en": "Makes new EC and RSA keys now. The current keys stop signing but stay published for "
                               "{ttl} more, so tokens already issued still verify."},
    "ckey_rotate": {"th": "หมุนเวียนกุญแจตอนนี้", "en": "Rotate now"},
    "ckey_schedule": {"th": "กำหนดการเลิกเผยแพร่กุญแจสาธารณะที่เลิกใช้", "en": "When retired public keys are removed"},
    "ckey_schedule_none": {"th": "ไม่มีกุญแจที่เลิกใช้และยังเผยแพร่อยู่",
                           "en": "No retired key is still published."},
    "ckey_schedule_item": {"th": "{kid}: นำออกจาก /jwks.json เมื่อ {when}",
                           "en": "{kid}: removed from /jwks.json on {when}"},
    "ckey_remove_early": {"th": "นำกุญแจสาธารณะนี้ออกก่อนกำหนด", "en": "Remove this public key now"},
    "ckey_remove_help": {"th": "โทเค็นที่กุญแจนี้ลงนามไว้และยังไม่หมดอายุจะตรวจสอบไม่ผ่านทันที ใช้เมื่อกุญแจรั่วไหลเท่านั้น "
                               "มีผลเมื่อผู้ดูแลระบบอีกคนอนุมัติที่หน้า “คำขอเปลี่ยนแปลง”",
                         "en": "Tokens this key signed that have not expired stop verifying at once: for a leaked "
                               "key only. Takes effect when a second admin approves it at “Change requests”."},
    "ckey_reason": {"th": "เหตุผล (สำหรับผู้อนุมัติ)", "en": "Reason (for the approver)"},
    "ckey_pending": {"th": "คำขอนำออกก่อนกำหนดรอผู้ดูแลระบบอีกคนอนุมัติ (ขอโดย {who} หมดเวลา {until})",
                     "en": "Removal requested; waiting for a second admin (asked by {who}; expires {until})."},
    "ckey_changes_link": {"th": "ไปที่คำขอเปลี่ยนแปลง", "en": "Go to change requests"},
    "ckey_done_rotated": {"th": "หมุนเวียนกุญแจแล้ว กุญแจใหม่: {kids}", "en": "Keys rotated. New keys: {kids}"},
    "ckey_done_requested": {"th": "ส่งคำขอแล้ว กุญแจจะถูกนำออกเมื่อผู้ดูแลระบบอีกคนอนุมัติที่หน้า "
                                  "“คำขอเปลี่ยนแปลง” (/admin/changes)",
                            "en": "Requested. The key is removed when a second admin approves it at “Change "
                                  "requests” (/admin/changes)."},
    "ckey_err_title": {"th": "ทำรายการไม่ได้", "en": "This was not done"},
    "ckey_err_not_found": {"th": "ไม่พบกุญแจนี้", "en": "There is no such key."},
    "ckey_err_active": {"th": "กุญแจนี้ยังใช้ลงนามอยู่ จึงนำออกไม่ได้ ให้หมุนเวียนกุญแจก่อน",
                        "en": "This key signs now, so it cannot be removed: rotate the keys first."},
    "ckey_err_unpublished": {"th": "กุญแจนี้เลิกเผยแพร่แล้ว", "en": "This key is no longer published."},
    "ckey_err_pending": {"th": "มีคำขอนำกุญแจนี้ออกรออนุมัติอยู่แล้ว",
                         "en": "A request to remove this key is already waiting."},
    "ckey_describe_remove": {"th": "นำกุญแจสาธารณะ {kid} ({kty}) ออกจาก /jwks.json ก่อนกำหนด ({when})",
                             "en": "Remove public key {kid} ({kty}) from /jwks.json before its time ({when})"},
})

DONE = ("rotated", "requested")


def days(n: int, locale: str) -> str:
    return t("ckey_day" if n == 1 else "ckey_days", locale, n=n)


def state_text(key, locale: str) -> str:
    if key.state == "active":
        return t("ckey_active", locale)
    if key.state == "retired":
        return t("ckey_retired", locale, when=format_datetime(key.unpublish_at, locale))
    return t("ckey_unpublished", locale, when=format_datetime(key.unpublish_at, locale))


def rotate_soon_text(locale: str) -> str:
    return t("ckey_rotate_soon", locale, n=ROTATE_AFTER_DAYS)


def ttl_words(seconds: int, locale: str) -> str:
    """A token lifetime in words (whole days, else hours, else minutes)."""
    if seconds >= 86400 and seconds % 86400 == 0:
        return days(seconds // 86400, locale)
    if seconds >= 3600:
        hours = -(-seconds // 3600)
        return f"{hours} ชั่วโมง" if locale == "th" else f"{hours} hour{'s' if hours != 1 else ''}"
    minutes = -(-seconds // 60)
    return f"{minutes} นาที" if locale == "th" else f"{minutes} minute{'s' if minutes != 1 else ''}"


def refusal(exc, locale: str) -> str:
    return t(f"ckey_err_{exc.code}", locale)


def describe_remove_early(payload: dict, target: str, locale: str) -> str:
    payload = payload or {}
    at = payload.get("unpublish_at")
    return t("ckey_describe_remove", locale, kid=target, kty=payload.get("kty", ""),
             when=format_datetime(at, locale) if at else "—")
