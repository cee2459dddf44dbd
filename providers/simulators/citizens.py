"""Demo citizens shared by both simulators: fictitious people with checksum-valid citizen IDs
(domain brief §4), Thai and English names and birthdates. ``thaid_ial`` is the IAL the ThaiD-style
simulator reports for them (ThaiD's face-verified enrolment is reported as 2.3, domain brief §1;
one citizen enrolled at a counter with card data only, 1.3). For the DOPA-style simulator: ``laser`` is
the (fictitious) laser code on the back of the card, ``face`` the person in ``shared/data/faces`` whose
``<face>_1.*`` photo is the reference photo (the other numbered photos stay free for live-video
tests), ``card_revoked`` marks the one revoked card."""

from __future__ import annotations

DEMO_CITIZENS: tuple[dict, ...] = (
    {"pid": "1345951597671", "title": "นาย", "title_en": "Mr.", "given_name": "สมชาย", "family_name": "ใจดี",
     "given_name_en": "Somchai", "family_name_en": "Jaidee", "birthdate": "1985-03-14", "gender": "male",
     "thaid_ial": "2.3", "laser": "JT1234567890", "face": "kit_harington"},
    {"pid": "1101700123456", "title": "นางสาว", "title_en": "Ms.", "given_name": "สมหญิง", "family_name": "รักไทย",
     "given_name_en": "Somying", "family_name_en": "Rakthai", "birthdate": "1992-11-02", "gender": "female",
     "thaid_ial": "2.3", "laser": "ME0198765432", "face": "rose_leslie"},
    {"pid": "3100600456785", "title": "นาง", "title_en": "Mrs.", "given_name": "มาลี", "family_name": "ศรีสุข",
     "given_name_en": "Malee", "family_name_en": "Srisuk", "birthdate": "1968-06-21", "gender": "female",
     "thaid_ial": "2.3", "laser": "BK3456789012", "face": "alex_lacamoire"},
    {"pid": "5701200987653", "title": "นาย", "title_en": "Mr.", "given_name": "ประเสริฐ", "family_name": "มั่นคง",
     "given_name_en": "Prasert", "family_name_en": "Mankong", "birthdate": "1977-01-30", "gender": "male",
     "thaid_ial": "2.2", "laser": "CM5678901234", "face": "obama"},
    {"pid": "1209900345611", "title": "นาย", "title_en": "Mr.", "given_name": "อนันต์", "family_name": "ทองดี",
     "given_name_en": "Anan", "family_name_en": "Thongdee", "birthdate": "2001-08-09", "gender": "male",
     "thaid_ial": "1.3", "laser": "NR7890123456", "face": "biden"},
    # The DOPA-style simulator reports this card as revoked (card_revoked).
    {"pid": "3101700554321", "title": "นาย", "title_en": "Mr.", "given_name": "วิชัย", "family_name": "พ้นสมัย",
     "given_name_en": "Wichai", "family_name_en": "Phonsamai", "birthdate": "1979-05-05", "gender": "male",
     "thaid_ial": "2.3", "laser": "LP2468013579", "face": "lin_manuel_miranda", "card_revoked": True},
)


def citizen_by_pid(pid: str) -> dict | None:
    return next((c for c in DEMO_CITIZENS if c["pid"] == pid), None)
