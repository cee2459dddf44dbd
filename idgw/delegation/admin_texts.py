"""The words of a service's delegation settings page (``idgw.delegation.admin_pages``), in Thai and
English, and the refusals of ``idgw.delegation.catalogue`` worded for an admin (``refusal``).
Keys begin with ``dla_``."""

from __future__ import annotations

from idgw.delegation.model import MAX_DEPTH_LIMIT, MandateError
from idgw.delegation.page_errors import mandate_error_text
from idgw.web.i18n import add_messages

add_messages({
    "dla_link": {"th": "การมอบอำนาจในบริการนี้: ระดับการลงนามและรายการเรื่องที่มอบอำนาจได้",
                 "en": "Delegation at this service: signing levels and the acts that may be delegated"},
    "dla_title": {"th": "การมอบอำนาจทางอิเล็กทรอนิกส์", "en": "Electronic delegation of authority"},
    "dla_back": {"th": "นโยบายระดับความน่าเชื่อถือของบริการนี้", "en": "This service's assurance policy"},
    "dla_policy": {"th": "นโยบายของบริการ", "en": "The service's policy"},
    "dla_allowed": {"th": "นโยบายปัจจุบันเปิดให้ประชาชนมอบอำนาจให้ผู้อื่นทำการแทนในบริการนี้",
                    "en": "The current policy lets citizens delegate acts at this service to someone else."},
    "dla_not_allowed": {"th": "นโยบายปัจจุบันไม่เปิดให้มอบอำนาจในบริการนี้ ค่าด้านล่างจะมีผลเมื่อนโยบายเปิดให้มอบอำนาจ",
                        "en": "The current policy does not allow delegation at this service. The settings below "
                              "apply once it does."},
    "dla_no_policy": {"th": "บริการนี้ยังไม่มีนโยบาย จึงยังมอบอำนาจไม่ได้",
                      "en": "This service has no policy yet, so nothing can be delegated there."},
    "dla_allow": {"th": "เปิดให้มอบอำนาจสำหรับบริการนี้", "en": "Allow delegation to this service"},
    "dla_stop": {"th": "ปิดการมอบอำนาจสำหรับบริการนี้ (หนังสือมอบอำนาจที่มีอยู่จะใช้ที่บริการนี้ไม่ได้ทันที)",
                 "en": "Stop delegation to this service (existing delegations stop working here at once)"},
    "dla_allowed_where": {"th": "การเปิดหรือปิดเป็นฉบับใหม่ของนโยบายของบริการ (บันทึกในประวัติและบันทึกการตรวจสอบ)",
                          "en": "Allowing or stopping it makes a new version of the service's policy (kept in its "
                                "history and the audit log)."},
    "dla_done_allowed": {"th": "เปิดให้มอบอำนาจแล้ว", "en": "Delegation is now allowed."},
    "dla_done_stopped": {"th": "ปิดการมอบอำนาจแล้ว", "en": "Delegation is now stopped."},
    "dla_rules": {"th": "เงื่อนไขการมอบอำนาจ", "en": "Delegation rule"},
    "dla_rules_intro": {"th": "ผู้มอบอำนาจ (หรือกรรมการของนิติบุคคล) ต้องลงนามที่ระดับเหล่านี้เป็นอย่างน้อย "
                              "และไม่ต่ำกว่าระดับขั้นต่ำของบริการ",
                        "en": "A principal (or a company's director) signs at these levels at least, and never below "
                              "the service's own floors."},
    "dla_sign_ial": {"th": "IAL ขั้นต่ำของผู้ลงนาม", "en": "Signer's minimum IAL"},
    "dla_sign_aal": {"th": "AAL ขั้นต่ำของผู้ลงนาม", "en": "Signer's minimum AAL"},
    "dla_any_act": {"th": "อนุญาตให้มอบอำนาจ “ทุกเรื่อง” ของบริการนี้",
                    "en": "Allow delegating “any act” at this service"},
    "dla_stamp": {"th": "ต้องชำระอากรแสตมป์ผ่านระบบ e-Stamp Duty ก่อนลงนาม",
                  "en": "The stamp duty must be paid through e-Stamp Duty before signing"},
    "dla_max_depth": {"th": "มอบอำนาจช่วงต่อได้กี่ทอด (0 คือห้ามมอบอำนาจช่วง)",
                      "en": "How many times it may be sub-delegated (0: never)"},
    "dla_save_rules": {"th": "บันทึกเงื่อนไข", "en": "Save the rule"},
    "dla_acts": {"th": "เรื่องที่มอบอำนาจได้", "en": "Acts that may be delegated"},
    "dla_acts_none": {"th": "ยังไม่มีรายการ ประชาชนจะเลือกมอบอำนาจเป็นรายเรื่องได้เมื่อเพิ่มรายการแล้ว",
                      "en": "None yet. Citizens can delegate named acts once some are added."},
    "dla_code": {"th": "รหัส", "en": "Code"},
    "dla_name_th": {"th": "ชื่อภาษาไทย", "en": "Thai name"},
    "dla_name_en": {"th": "ชื่อภาษาอังกฤษ", "en": "English name"},
    "dla_added_by": {"th": "เพิ่มโดย", "en": "Added by"},
    "dla_retire": {"th": "เลิกใช้", "en": "Retire"},
    "dla_retire_help": {"th": "เรื่องที่เลิกใช้จะมอบอำนาจใหม่ไม่ได้ แต่การมอบอำนาจที่ลงนามไปแล้วยังคงเดิม",
                        "en": "A retired act cannot be named in new delegations; those already signed keep it."},
    "dla_add": {"th": "เพิ่มเรื่อง", "en": "Add an act"},
    "dla_code_hint": {"th": "ตัวอักษรภาษาอังกฤษตัวเล็ก ตัวเลข และ _ . - ขึ้นต้นด้วยตัวอักษร ไม่เกิน 64 ตัว เช่น vat_filing",
                      "en": "Lower-case letters, digits and _ . -, starting with a letter, at most 64; "
                            "e.g. vat_filing"},
    "dla_done_rules": {"th": "บันทึกเงื่อนไขแล้ว", "en": "Rule saved."},
    "dla_done_added": {"th": "เพิ่มเรื่องแล้ว", "en": "Act added."},
    "dla_done_retired": {"th": "เลิกใช้เรื่องนี้แล้ว", "en": "Act retired."},
    "dla_errors": {"th": "ยังไม่ได้บันทึก", "en": "Nothing was saved"},
})

#: The levels the rule form offers (never below SIGN_FLOOR_*: catalogue.set_rules refuses them).
SIGN_IALS = ("2.1", "2.2", "2.3", "3")
SIGN_AALS = ("2.1", "2.2", "3")
DEPTHS = tuple(range(MAX_DEPTH_LIMIT + 1))


def refusal(exc: MandateError, locale: str) -> str:
    """A catalogue refusal in ``locale``: the words the citizen's pages use for that code."""
    return mandate_error_text(exc, locale)
