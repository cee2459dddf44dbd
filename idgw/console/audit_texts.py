"""The audit viewer's words (Thai and English) and how it shows an event: times (Thai: Buddhist-era
dates; English: ISO 8601, both in Bangkok time), the event names grouped by prefix, the detail as
keys and values (long values shortened, citizen IDs masked), refusals worded from their codes."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime

from idgw.audit import EVENTS
from idgw.console.audit_view import BANGKOK, BE_OFFSET, LAST, MAX_TEXT, Asked, content_intact
from idgw.web.admin_accounts import mask_citizen_id
from idgw.web.i18n import _TH_MONTHS, add_messages, t

MAX_VALUE = 160  # characters of a detail value shown; the export has them in full

add_messages({
    "aud_title": {"th": "บันทึกการตรวจสอบ", "en": "Audit log"},
    "aud_intro": {"th": "เหตุการณ์ทั้งหมดที่ระบบบันทึกไว้ เรียงจากล่าสุด แต่ละรายการเป็นข้อต่อของสายโซ่แฮช "
                        "(hash chain) การตรวจสอบว่าไม่มีรายการใดถูกแก้ไข ลบ หรือแทรก ทำได้ด้วยคำสั่ง idgw audit verify",
                  "en": "Every event the gateway recorded, newest first. Each is a link of a hash chain: "
                        "idgw audit verify checks that none was edited, deleted or inserted."},
    "aud_filters": {"th": "ตัวกรอง", "en": "Filters"},
    "aud_from": {"th": "ตั้งแต่วันที่", "en": "From (day)"},
    "aud_to": {"th": "ถึงวันที่", "en": "To (day)"},
    "aud_days_hint": {"th": "นับตามเวลาประเทศไทย รวมทั้งสองวัน ปฏิทินของเบราว์เซอร์อาจแสดงปี ค.ศ. "
                            "ช่วงที่เลือกจะแสดงเป็นปี พ.ศ. เหนือรายการ",
                      "en": "Days in Thailand time, both included."},
    "aud_last": {"th": "หรือช่วงเวลาล่าสุด", "en": "Or a recent period"},
    "aud_last_any": {"th": "ไม่กำหนด", "en": "Not set"},
    "aud_last_24h": {"th": "24 ชั่วโมงที่ผ่านมา", "en": "Last 24 hours"},
    "aud_last_7d": {"th": "7 วันที่ผ่านมา", "en": "Last 7 days"},
    "aud_last_30d": {"th": "30 วันที่ผ่านมา", "en": "Last 30 days"},
    "aud_event": {"th": "เหตุการณ์", "en": "Event"},
    "aud_event_any": {"th": "ทุกเหตุการณ์", "en": "All events"},
    "aud_actor": {"th": "ผู้กระทำ", "en": "Actor"},
    "aud_actor_hint": {"th": "ตรงตามที่บันทึก: ชื่อผู้ใช้ของเจ้าหน้าที่ รหัสบัญชี หรือ system",
                       "en": "Exactly as recorded: a staff username, an account id, or system."},
    "aud_service": {"th": "บริการ (client_id)", "en": "Service (client_id)"},
    "aud_account": {"th": "บัญชี (รหัสบัญชีหรือชื่อผู้ใช้)", "en": "Account (account id or username)"},
    "aud_account_hint": {"th": "เหตุการณ์ที่บัญชีนี้เป็นผู้กระทำ (ด้วยรหัสบัญชีหรือชื่อผู้ใช้) เป็นบัญชีที่ถูกกระทำหรือถูกกระทำแทน "
                               "(on behalf of) หรือเป็นผู้ขอหรือเป้าหมายของคำขอเปลี่ยนแปลงแบบสี่ตา",
                         "en": "Events where this account is the actor (by id or username), is acted on or on "
                               "behalf of, or requested or is the target of a four-eyes change."},
    "aud_apply": {"th": "แสดงเหตุการณ์", "en": "Show events"},
    "aud_clear": {"th": "ล้างตัวกรอง", "en": "Clear filters"},
    "aud_export": {"th": "ส่งออกทุกเหตุการณ์ที่ตรงกับตัวกรอง", "en": "Export every matching event"},
    "aud_export_jsonl": {"th": "ไฟล์ JSON lines (.jsonl)", "en": "JSON lines file (.jsonl)"},
    "aud_export_csv": {"th": "ไฟล์ CSV (.csv)", "en": "CSV file (.csv)"},
    "aud_export_hint": {"th": "ไฟล์มีทุกคอลัมน์รวมถึงตำแหน่งในสายโซ่และค่าแฮช การส่งออกจะถูกบันทึกในบันทึกการตรวจสอบ"
                              "พร้อมชื่อของท่านและตัวกรองที่ใช้",
                        "en": "The file holds every column, the chain position and hashes included. Exporting is "
                              "itself recorded in the audit log, with your name and these filters."},
    "aud_errors": {"th": "กรุณาแก้ไขตัวกรอง", "en": "Please correct the filters"},
    "aud_err_bad_date": {"th": "{field}: วันที่ไม่ถูกต้อง (รูปแบบ ปปปป-ดด-วว)",
                         "en": "{field}: not a valid day (YYYY-MM-DD)."},
    "aud_err_from_after_to": {"th": "วันที่เริ่มอยู่หลังวันที่สิ้นสุด", "en": "The “from” day is after the “to” day."},
    "aud_err_bad_last": {"th": "กรุณาเลือกช่วงเวลาล่าสุดจากรายการ", "en": "Choose a recent period from the list."},
    "aud_err_last_and_days": {"th": "เลือกช่วงเวลาล่าสุดหรือกำหนดวันที่ อย่างใดอย่างหนึ่ง",
                              "en": "Choose either a recent period or days, not both."},
    "aud_err_unknown_event": {"th": "ไม่มีเหตุการณ์ชื่อ “{value}” ในบันทึก", "en": "There is no event named “{value}”."},
    "aud_err_too_long": {"th": "{field}: ยาวเกิน {n} ตัวอักษร", "en": "{field}: longer than {n} characters."},
    "aud_err_bad_cursor": {"th": "ลิงก์ไปยังหน้าถัดไปไม่ถูกต้อง กรุณาเริ่มจากหน้าแรก",
                           "en": "The link to the next page is not valid: start from the first page."},
    "aud_err_bad_format": {"th": "รูปแบบไฟล์ส่งออกต้องเป็น jsonl หรือ csv", "en": "The export format must be jsonl or csv."},
    "aud_page_link": {"th": "ตำแหน่งหน้า", "en": "Page position"},
    "aud_format": {"th": "รูปแบบไฟล์", "en": "File format"},
    "aud_period": {"th": "ช่วงเวลา: {period}", "en": "Period: {period}"},
    "aud_period_all": {"th": "ทุกช่วงเวลา", "en": "any time"},
    "aud_period_since": {"th": "ตั้งแต่ {day}", "en": "from {day}"},
    "aud_period_until": {"th": "ถึง {day}", "en": "until {day}"},
    "aud_period_between": {"th": "{start} ถึง {end}", "en": "{start} to {end}"},
    "aud_account_unknown": {"th": "ไม่พบบัญชีที่มีรหัสหรือชื่อผู้ใช้ “{value}” จึงแสดงเหตุการณ์ที่ผู้กระทำหรือผู้ถูกกระทำแทน"
                                  "ตรงกับค่านี้",
                            "en": "No account has the id or username “{value}”: showing events whose actor or "
                                  "on-behalf-of is exactly that."},
    "aud_none": {"th": "ไม่พบเหตุการณ์ที่ตรงกับตัวกรอง", "en": "No event matches these filters."},
    "aud_count": {"th": "{n} เหตุการณ์ในหน้านี้ เรียงจากล่าสุด", "en": "Events on this page: {n}, newest first."},
    "aud_table": {"th": "เหตุการณ์ในบันทึกการตรวจสอบ", "en": "Audit events"},
    "aud_pages": {"th": "หน้าของรายการ", "en": "Pages of events"},
    "aud_older": {"th": "หน้าถัดไป (เก่ากว่า)", "en": "Next page (older)"},
    "aud_newest": {"th": "หน้าแรก (ล่าสุด)", "en": "First page (newest)"},
    "aud_col_time": {"th": "เวลา", "en": "Time"},
    "aud_col_event": {"th": "เหตุการณ์", "en": "Event"},
    "aud_col_actor": {"th": "ผู้กระทำ", "en": "Actor"},
    "aud_col_behalf": {"th": "กระทำแทน", "en": "On behalf of"},
    "aud_col_service": {"th": "บริการ", "en": "Service"},
    "aud_col_ip": {"th": "IP", "en": "IP"},
    "aud_col_detail": {"th": "รายละเอียด", "en": "Detail"},
    "aud_col_chain": {"th": "สายโซ่/ลำดับ แฮช", "en": "Chain/seq, hash"},
    "aud_hash_bad": {"th": "เนื้อหาไม่ตรงกับค่าแฮช (อาจถูกแก้ไข)", "en": "Content does not match its hash (edited?)"},
    "aud_shortened": {"th": "ตัดให้สั้น ฉบับเต็มอยู่ในไฟล์ส่งออก", "en": "shortened: the export has it in full"},
    "aud_console": {"th": "กลับไปที่คอนโซลผู้ดูแลระบบ", "en": "Back to the admin console"},
})

GROUPS = {
    "account": ("บัญชีผู้ใช้", "Accounts"),
    "audit": ("บันทึกการตรวจสอบ", "Audit log"),
    "authenticator": ("วิธียืนยันตัวตน", "Authenticators"),
    "authorization": ("การอนุญาตให้บริการ", "Authorization"),
    "change": ("คำขอที่ต้องอนุมัติสองคน", "Four-eyes changes"),
    "client": ("บริการอิเล็กทรอนิกส์", "E-services"),
    "code": ("รหัสอนุญาต (authorization code)", "Authorization codes"),
    "consent": ("ความยินยอม", "Consent"),
    "data": ("การลบข้อมูล", "Data removal"),
    "delegation": ("การมอบอำนาจ", "Delegation"),
    "keys": ("กุญแจลงนาม", "Signing keys"),
    "login": ("การเข้าสู่ระบบ", "Sign-in"),
    "logout": ("การแจ้งออกจากระบบถึงบริการ", "Logout notices"),
    "policy": ("นโยบายระดับความน่าเชื่อถือ", "Assurance policy"),
    "proofing": ("การพิสูจน์ตัวตน", "Identity proofing"),
    "recovery_code": ("รหัสกู้คืน", "Recovery codes"),
    "role": ("บทบาทเจ้าหน้าที่", "Staff roles"),
    "security_event": ("การแจ้งเหตุด้านความปลอดภัย", "Security events"),
    "session": ("เซสชันการเข้าสู่ระบบ", "Sign-in sessions"),
    "token": ("โทเค็น", "Tokens"),
    "upstream": ("แหล่งยืนยันตัวตนภายนอก", "Identity sources"),
}
FIELD_LABELS = {"from": "aud_from", "to": "aud_to", "last": "aud_last", "event": "aud_event", "actor": "aud_actor",
                "service": "aud_service", "account": "aud_account", "before": "aud_page_link", "format": "aud_format"}
# A Thai citizen ID: 13 digits, or as printed on the card (1-2345-67890-12-3); a juristic person's
# registration number (``juristic:<13 digits>``) is public and stays.
CITIZEN_ID = re.compile(r"(?<![\d:-])(?<!juristic:)(\d-?\d{4}-?\d{5}-?\d{2}-?\d)(?![\d-])")


def group_of(name: str) -> str:
    prefix = name.split(".", 1)[0]
    return prefix[:-1] if prefix.endswith("s") and prefix[:-1] in GROUPS else prefix


def event_groups(locale: str) -> list[tuple[str, list[str]]]:
    """[(group label, [event names])] for the event select, groups in label order."""
    groups: dict[str, list[str]] = {}
    for name in sorted(EVENTS):
        groups.setdefault(group_of(name), []).append(name)
    labelled = [(GROUPS.get(g, (g, g))[0 if locale == "th" else 1], names) for g, names in groups.items()]
    return sorted(labelled, key=lambda pair: pair[0])


def moment(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC) + BANGKOK


def event_time(epoch: int, locale: str) -> str:
    """Thai: ``1 ม.ค. 2568 09:05:07``; English: ``2025-01-01T09:05:07+07:00`` (Bangkok time)."""
    dt = moment(epoch)
    if locale == "th":
        return f"{dt.day} {_TH_MONTHS[dt.month - 1]} {dt.year + BE_OFFSET} {dt:%H:%M:%S}"
    return f"{dt:%Y-%m-%dT%H:%M:%S}+07:00"


def day_text(day: date, locale: str) -> str:
    if locale == "th":
        return f"{day.day} {_TH_MONTHS[day.month - 1]} {day.year + BE_OFFSET}"
    return day.isoformat()


def period_text(asked: Asked, locale: str) -> str:
    start, end = asked.days
    if asked.form["last"] in LAST:
        period = t(f"aud_last_{asked.form['last']}", locale)
    elif start and end:
        period = t("aud_period_between", locale, start=day_text(start, locale), end=day_text(end, locale))
    elif start:
        period = t("aud_period_since", locale, day=day_text(start, locale))
    elif end:
        period = t("aud_period_until", locale, day=day_text(end, locale))
    else:
        period = t("aud_period_all", locale)
    return t("aud_period", locale, period=period)


def mask_text(text: str) -> str:
    """``text`` with every citizen ID in it masked (the last four digits kept)."""
    return CITIZEN_ID.sub(lambda m: mask_citizen_id(m.group(1).replace("-", "")), text)


def value_text(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)


def detail_items(detail: dict | None) -> list[dict]:
    """The detail as [{key, text, shortened}], keys in order, values masked and shortened."""
    items = []
    for key in sorted(detail or {}):
        text = mask_text(value_text(detail[key]))
        shortened = len(text) > MAX_VALUE
        items.append({"key": mask_text(str(key)), "text": text[:MAX_VALUE] + "…" if shortened else text,
                      "shortened": shortened})
    return items


def row_view(event, locale: str) -> dict:
    """One table row."""
    return {"id": event.id, "time": event_time(event.at, locale), "iso": event_time(event.at, "en"),
            "name": event.name, "actor": event.actor, "on_behalf_of": event.on_behalf_of,
            "client_id": event.client_id, "ip": event.ip, "detail": detail_items(event.detail),
            "position": f"{event.chain}/{event.seq}", "hash": (event.hash or "")[:12],
            "intact": content_intact(event)}


def error_texts(asked: Asked, locale: str) -> list[dict]:
    """[{field, text}] for the error summary (``field``: the input to go to)."""
    out = []
    for field, code in asked.errors:
        label = t(FIELD_LABELS.get(field, field), locale)
        text = t(f"aud_err_{code}", locale, field=label, n=MAX_TEXT, value=asked.form.get(field, ""))
        out.append({"field": field if field in asked.form else None, "text": text})
    return out
