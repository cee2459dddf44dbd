"""Texts of the shared page layout (base.html: skip link, header, navigation, footer) and of the
passkey no-script hint (_passkey.html). Imported by idgw.web.pages, so every page has them."""

from __future__ import annotations

from idgw.web.i18n import add_messages

add_messages({
    "layout_skip": {"th": "ข้ามไปยังเนื้อหาหลัก", "en": "Skip to main content"},
    "layout_nav": {"th": "เมนูของระบบยืนยันตัวตน", "en": "Gateway menu"},
    "layout_my_account": {"th": "บัญชีของฉัน", "en": "My account"},
    "layout_help": {"th": "ต้องการความช่วยเหลือ:", "en": "Need help?"},
    "layout_privacy": {"th": "ประกาศความเป็นส่วนตัว", "en": "Privacy notice"},
    "layout_passkey_noscript": {
        "th": "การใช้พาสคีย์ต้องเปิด JavaScript ในเบราว์เซอร์ กรุณาเปิด JavaScript หรือเลือกวิธีเข้าสู่ระบบอื่น",
        "en": "Passkeys need JavaScript, which is off in this browser. Turn it on, or use another way to sign in."},
})
