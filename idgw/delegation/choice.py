"""The sign-in's "for myself, or on behalf of ..." page (delegation at sign-in): its words and
what it shows. The page is posted to ``/interaction/{iid}/acting`` (``idgw.delegation.login_pages``);
the decision of whether to show it is ``idgw.delegation.use.login_choice``."""

from __future__ import annotations

from idgw.delegation import catalogue
from idgw.delegation import model as m
from idgw.storage.delegation import Mandate
from idgw.web.i18n import add_messages, format_datetime, t

add_messages({
    "acting_title": {"th": "ท่านดำเนินการในนามของใคร", "en": "Who are you acting for?"},
    "acting_intro": {"th": "ท่านได้รับมอบอำนาจให้ดำเนินการที่ {client} ในนามของผู้อื่น เลือกว่าจะดำเนินการครั้งนี้ในนามของใคร",
                     "en": "You hold delegations of authority for {client}. Choose whom you act for this time."},
    "acting_self": {"th": "ในนามของตนเอง ({name})", "en": "For myself ({name})"},
    "acting_for": {"th": "ในนามของ {principal}", "en": "On behalf of {principal}"},
    "acting_company": {"th": "นิติบุคคล เลขทะเบียน {id}", "en": "company, registration no. {id}"},
    "acting_acts": {"th": "เรื่องที่มอบอำนาจ: {acts}", "en": "Acts delegated: {acts}"},
    "acting_until": {"th": "ใช้ได้ถึง {until}", "en": "Valid until {until}"},
    "acting_single_use": {"th": "ใช้ได้ครั้งเดียว: จะหมดสิทธิ์เมื่อบริการได้รับโทเค็น",
                          "en": "Single use: used up when the service receives its token"},
    "acting_any_act": {"th": "ทุกเรื่องของบริการนี้", "en": "any act at this service"},
    "acting_continue": {"th": "ดำเนินการต่อ", "en": "Continue"},
    "acting_gone": {"th": "การมอบอำนาจที่ท่านเลือกไม่มีผลแล้ว (ถูกเพิกถอน หมดอายุ หรือใช้ไปแล้ว) กรุณาเลือกใหม่",
                    "en": "The delegation you chose is no longer in effect (revoked, expired or used). Choose again."},
    "acting_consent_for": {"th": "ท่านดำเนินการในนามของ {principal}", "en": "You are acting on behalf of {principal}"},
    "acting_legend": {"th": "ดำเนินการในนามของ", "en": "Acting for"},
})


def principal_words(row: Mandate, locale: str) -> str:
    name = (row.principal_name or {}).get(locale) or (row.principal_name or {}).get("en") or ""
    if row.principal_kind == "company":
        return f"{name} ({t('acting_company', locale, id=row.principal_juristic_id)})"
    return name


def options(db, rows: list[Mandate], *, client_id: str, locale: str) -> list[dict]:
    """One choice per mandate: its id and the words that describe it."""
    names = catalogue.act_names(db, client_id)
    out = []
    for row in rows:
        acts = m.acts_at(m.scope_of(row.scope), client_id)
        words = [t("acting_any_act", locale) if a == m.ANY_ACT else names.get(a, {}).get(locale, a) for a in acts]
        out.append({"id": row.id, "label": t("acting_for", locale, principal=principal_words(row, locale)),
                    "acts": t("acting_acts", locale, acts=", ".join(words)),
                    "until": t("acting_until", locale, until=format_datetime(row.valid_until, locale)),
                    "single_use": row.single_use})
    return out
