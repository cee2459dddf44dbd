"""The account pages' own Thai and English words (registered with ``idgw.web.i18n.add_messages``).

Levels are said in words first, the level code only in brackets: a citizen does not know what
"AAL 2.1" means, a help-desk officer reading over the phone does."""

from __future__ import annotations

from idgw.web.i18n import add_messages

MESSAGES = {
    # -- levels in words ------------------------------------------------------------------------
    "account_aal_1": {"th": "เข้าสู่ระบบขั้นพื้นฐาน (ขั้นตอนเดียว เช่น รหัสผ่าน)",
                      "en": "basic sign-in (one step, such as a password)"},
    "account_aal_2.1": {"th": "เข้าสู่ระบบสองขั้นตอน (เช่น รหัสผ่านกับรหัสจากแอป)",
                        "en": "two-step sign-in (such as a password and a code from an app)"},
    "account_aal_2.2": {"th": "เข้าสู่ระบบแบบเข้มงวดด้วยพาสคีย์ (ป้องกันเว็บหลอกลวงได้)",
                        "en": "strong sign-in with a passkey (resists fake websites)"},
    "account_aal_3": {"th": "เข้าสู่ระบบแบบเข้มงวดที่สุดด้วยกุญแจความปลอดภัยที่ผ่านการรับรอง",
                      "en": "strongest sign-in with a certified security key"},
    "account_ial_1.1": {"th": "ยังไม่ได้พิสูจน์ตัวตน (ข้อมูลที่ท่านกรอกเอง)",
                        "en": "identity not checked (details you gave yourself)"},
    "account_ial_1.2": {"th": "พิสูจน์ตัวตนขั้นพื้นฐานแล้ว", "en": "identity checked at a basic level"},
    "account_ial_1.3": {"th": "พิสูจน์ตัวตนขั้นพื้นฐานแล้ว", "en": "identity checked at a basic level"},
    "account_ial_2.1": {"th": "พิสูจน์ตัวตนกับบัตรประชาชนหรือแหล่งที่เชื่อถือได้แล้ว",
                        "en": "identity checked against your ID card or a trusted source"},
    "account_ial_2.2": {"th": "พิสูจน์ตัวตนกับบัตรประชาชนหรือแหล่งที่เชื่อถือได้แล้ว",
                        "en": "identity checked against your ID card or a trusted source"},
    "account_ial_2.3": {"th": "พิสูจน์ตัวตนกับบัตรประชาชนหรือแหล่งที่เชื่อถือได้แล้ว",
                        "en": "identity checked against your ID card or a trusted source"},
    "account_ial_3": {"th": "พิสูจน์ตัวตนต่อหน้าเจ้าหน้าที่แล้ว", "en": "identity checked in person"},
    # -- the account page -------------------------------------------------------------------------
    "account_this_sign_in": {"th": "การเข้าสู่ระบบครั้งนี้", "en": "This sign-in"},
    "account_identity": {"th": "ตัวตน", "en": "Identity"},
    "account_username": {"th": "ชื่อผู้ใช้สำหรับเข้าสู่ระบบด้วยรหัสผ่าน: {username}",
                         "en": "Username for signing in with a password: {username}"},
    "account_how_you_sign_in": {"th": "วิธีที่ท่านใช้เข้าสู่ระบบ", "en": "How you sign in"},
    "account_reach": {"th": "วิธีเหล่านี้รวมกันเข้าสู่ระบบได้สูงสุดระดับ: {level}",
                      "en": "Together these give you at most: {level}"},
    "account_has_password": {"th": "รหัสผ่าน", "en": "Password"},
    "account_no_password": {"th": "ท่านยังไม่มีรหัสผ่าน", "en": "You have no password."},
    "account_set_password": {"th": "ตั้งรหัสผ่าน", "en": "Set a password"},
    "account_added_on": {"th": "เพิ่มเมื่อ {when}", "en": "added {when}"},
    "account_used_on": {"th": "ใช้ล่าสุด {when}", "en": "last used {when}"},
    "account_not_used": {"th": "ยังไม่เคยใช้", "en": "not used yet"},
    "account_remove_named": {"th": "ลบ {name}", "en": "Remove {name}"},
    "account_no_factors": {"th": "ยังไม่มีแอปยืนยันตัวตนหรือพาสคีย์", "en": "No authenticator app or passkey yet."},
    "account_add_more": {"th": "เพิ่มวิธีเข้าสู่ระบบ", "en": "Add a way to sign in"},
    "account_recovery_title": {"th": "รหัสกู้คืน", "en": "Recovery codes"},
    "account_recovery_why": {"th": "ใช้แทนแอปยืนยันตัวตนหรือพาสคีย์เมื่อท่านทำอุปกรณ์หาย",
                             "en": "Use one instead of your app or passkey if you lose your device."},
    "account_no_links": {"th": "ยังไม่ได้เชื่อมโยงกับ ThaiD หรือ NDID", "en": "Not linked to ThaiD or NDID."},
    "account_link_line": {"th": "เชื่อมโยงเมื่อ {when} · {ial}", "en": "linked {when} · {ial}"},
    "account_unlink_named": {"th": "ยกเลิกการเชื่อมโยง {name}", "en": "Unlink {name}"},
    "account_session_line": {"th": "{device} · IP {ip} · เข้าสู่ระบบเมื่อ {when} · เพื่อใช้ {service}",
                             "en": "{device} · IP {ip} · signed in {when} · for {service}"},
    "account_this_gateway": {"th": "หน้าของระบบนี้", "en": "this gateway's own pages"},
    "account_sign_out_one": {"th": "ออกจากระบบ", "en": "Sign out"},
    "account_on_device": {"th": "บน {device}", "en": "on {device}"},
    "account_signed_out_one": {"th": "ออกจากระบบบน {device} แล้ว บริการที่เกี่ยวข้องได้รับแจ้งแล้ว",
                               "en": "Signed out on {device}. The services concerned have been told."},
    "account_ip_unknown": {"th": "ไม่ทราบ", "en": "unknown"},
    "account_services_title": {"th": "บริการที่เชื่อมต่อ", "en": "Connected services"},
    "account_services_link": {"th": "ดูบริการที่ท่านยินยอมให้รับข้อมูล และถอนความยินยอม",
                              "en": "See the services you allowed to receive your data, and withdraw"},
    "account_your_data": {"th": "ข้อมูลของท่าน", "en": "Your data"},
    "account_export": {"th": "ดาวน์โหลดข้อมูลของฉัน (JSON)", "en": "Download my data (JSON)"},
    "account_privacy": {"th": "ประกาศความเป็นส่วนตัว", "en": "Privacy notice"},
    "account_unknown_device": {"th": "เบราว์เซอร์ที่ไม่รู้จัก", "en": "Unknown browser"},
    "account_device_on": {"th": "{browser} บน {system}", "en": "{browser} on {system}"},
    "account_fresh_hint": {"th": "การเปลี่ยนแปลงต้องเข้าสู่ระบบภายใน 5 นาทีที่ผ่านมา ระบบอาจขอให้ท่านเข้าสู่ระบบอีกครั้ง",
                           "en": "Changes need a sign-in within the last 5 minutes; you may be asked to sign in "
                                 "again."},
    # -- confirmations and refusals -------------------------------------------------------------
    "account_cancel": {"th": "ยกเลิก กลับไปหน้าบัญชี", "en": "Cancel and go back"},
    "account_back": {"th": "กลับไปหน้าบัญชีของฉัน", "en": "Back to my account"},
    "account_confirm_remove_title": {"th": "ลบวิธีเข้าสู่ระบบ", "en": "Remove a sign-in method"},
    "account_confirm_remove": {"th": "ต้องการลบ {name} หรือไม่ หลังจากลบแล้วจะใช้เข้าสู่ระบบไม่ได้อีก",
                               "en": "Remove {name}? You will no longer be able to sign in with it."},
    "account_confirm_unlink_title": {"th": "ยกเลิกการเชื่อมโยง", "en": "Unlink an identity source"},
    "account_confirm_unlink": {"th": "ต้องการยกเลิกการเชื่อมโยงกับ {name} หรือไม่ หลังจากนี้จะเข้าสู่ระบบด้วย {name} ไม่ได้",
                               "en": "Unlink {name}? You will no longer be able to sign in with {name}."},
    "account_confirm_end_all_title": {"th": "ออกจากระบบทุกอุปกรณ์", "en": "Sign out everywhere"},
    "account_confirm_end_all": {"th": "ระบบจะออกจากระบบทุกอุปกรณ์ รวมถึงอุปกรณ์นี้ และแจ้งบริการที่ท่านใช้อยู่ "
                                      "บริการเหล่านั้นจะเข้าถึงข้อมูลของท่านต่อไม่ได้จนกว่าท่านจะเข้าสู่ระบบใหม่",
                                "en": "You will be signed out on every device, this one included, and the services "
                                      "you use will be told. They lose access to your data until you sign in "
                                      "again."},
    "account_warn_services": {"th": "คำเตือน: หลังจากนี้บริการต่อไปนี้จะขอให้ท่านเข้าสู่ระบบด้วยวิธีที่ท่านจะไม่มีแล้ว:",
                              "en": "Warning: after this, these services will ask for a sign-in you will no "
                                    "longer have:"},
    "account_warn_service": {"th": "{service} ต้องการ {level}", "en": "{service} asks for {level}"},
    "account_warn_fix": {"th": "ท่านสามารถเพิ่มแอปยืนยันตัวตนหรือพาสคีย์ใหม่ได้ทุกเมื่อที่หน้าบัญชี",
                         "en": "You can add a new authenticator app or passkey at any time on your account page."},
    "account_refused_only_way": {"th": "ทำไม่ได้: นี่เป็นวิธีเดียวที่ท่านใช้เข้าสู่ระบบได้ "
                                       "กรุณาเพิ่มวิธีอื่นก่อน (เช่น พาสคีย์ หรือเชื่อมโยงกับ ThaiD)",
                                 "en": "Not possible: this is your only way to sign in. Add another way first "
                                       "(for example a passkey, or link ThaiD)."},
    "account_refused_staff": {"th": "ทำไม่ได้: หน้าที่ของเจ้าหน้าที่ต้องใช้ {level} ซึ่งต้องใช้วิธีนี้ "
                                    "กรุณาเพิ่มพาสคีย์อื่นก่อน",
                              "en": "Not possible: your staff pages need {level}, which needs this method. "
                                    "Add another passkey first."},
    "account_unlinked": {"th": "ยกเลิกการเชื่อมโยงแล้ว", "en": "Unlinked."},
    "account_gone": {"th": "ไม่พบรายการนี้ อาจถูกลบไปแล้ว", "en": "We could not find that; it may have gone already."},
    # -- setting a password ---------------------------------------------------------------------
    "account_password_title": {"th": "ตั้งรหัสผ่าน", "en": "Set a password"},
    "account_password_rules": {"th": "รหัสผ่านต้องยาว {min} ถึง 1024 ตัวอักษร ใช้เป็นวลียาว ๆ ที่จำง่ายได้ "
                                     "และต้องไม่ใช่ชื่อผู้ใช้",
                               "en": "Use {min} to 1024 characters; a long phrase you can remember works well. "
                                     "It must not be your username."},
    "account_password_new": {"th": "รหัสผ่านใหม่", "en": "New password"},
    "account_password_again": {"th": "พิมพ์รหัสผ่านใหม่อีกครั้ง", "en": "Type the new password again"},
    "account_password_short": {"th": "รหัสผ่านสั้นเกินไป ต้องยาวอย่างน้อย {min} ตัวอักษร",
                               "en": "That password is too short: use at least {min} characters."},
    "account_password_long": {"th": "รหัสผ่านยาวเกิน 1024 ตัวอักษร", "en": "That password is longer than 1024 "
                                                                             "characters."},
    "account_password_mismatch": {"th": "รหัสผ่านทั้งสองช่องไม่ตรงกัน", "en": "The two passwords do not match."},
    "account_password_username": {"th": "รหัสผ่านต้องไม่ใช่ชื่อผู้ใช้", "en": "The password must not be your username."},
    "account_password_set": {"th": "ตั้งรหัสผ่านแล้ว", "en": "Password set."},
    # -- connected services ---------------------------------------------------------------------
    "services_intro": {"th": "บริการต่อไปนี้ได้รับความยินยอมจากท่านให้รับข้อมูล ท่านถอนความยินยอมได้ทุกเมื่อ "
                             "บริการจะถูกตัดการเข้าถึงทันทีและต้องขอความยินยอมใหม่ในครั้งถัดไป",
                       "en": "You allowed these services to receive your data. You can withdraw at any time: "
                             "the service loses access at once and must ask you again next time."},
    "services_none": {"th": "ท่านยังไม่ได้ยินยอมให้บริการใดรับข้อมูล", "en": "You have not allowed any service to "
                                                                             "receive your data."},
    "services_since": {"th": "ยินยอมล่าสุดเมื่อ {when}", "en": "Last allowed {when}"},
    "services_data": {"th": "ข้อมูลที่ส่งให้:", "en": "Data it receives:"},
    "services_verified": {"th": "{claim} (ผ่านการพิสูจน์ตัวตนแล้ว)", "en": "{claim} (verified)"},
    "services_legal_basis": {"th": "ฐานทางกฎหมายสำหรับเลขประจำตัวประชาชน: {basis}",
                             "en": "Legal basis for your citizen ID: {basis}"},
    "services_lasts_offline": {"th": "ระยะเวลาเข้าถึง: บริการต่ออายุการเข้าถึงได้เองแม้ท่านไม่ได้ใช้งาน "
                                     "แต่ละครั้งนานสูงสุด {duration} จนกว่าท่านจะถอนความยินยอม",
                               "en": "How long access lasts: the service can renew its access while you are "
                                     "away, up to {duration} at a time, until you withdraw."},
    "services_lasts_online": {"th": "ระยะเวลาเข้าถึง: ขณะที่ท่านใช้งาน และนานสูงสุด {duration} หลังเข้าสู่ระบบแต่ละครั้ง",
                              "en": "How long access lasts: while you use the service, and up to {duration} after "
                                    "each sign-in."},
    "services_receipts": {"th": "ใบรับรองการให้ความยินยอม", "en": "Consent receipts"},
    "services_receipt_line": {"th": "ใบรับรองวันที่ {when}", "en": "Receipt of {when}"},
    "services_withdraw": {"th": "ถอนความยินยอม", "en": "Withdraw consent"},
    "services_withdraw_named": {"th": "ถอนความยินยอมให้ {service}", "en": "Withdraw consent for {service}"},
    "services_for": {"th": "ให้ {service}", "en": "for {service}"},
    "services_confirm_withdraw": {"th": "ต้องการถอนความยินยอมให้ {service} หรือไม่ ระบบจะยกเลิกสิทธิ์เข้าถึงทั้งหมดของบริการนี้ "
                                        "แจ้งให้บริการทราบ และบริการจะต้องขอความยินยอมจากท่านใหม่ในครั้งถัดไป "
                                        "ข้อมูลที่บริการได้รับไปแล้วอยู่ในความรับผิดชอบของหน่วยงานเจ้าของบริการ",
                                  "en": "Withdraw your consent for {service}? All its access will be cancelled, "
                                        "the service will be told, and it must ask you again next time. Data it "
                                        "already received is the responsibility of the agency that runs it."},
    "services_withdrawn": {"th": "ถอนความยินยอมให้ {service} แล้ว", "en": "Consent for {service} withdrawn."},
    "services_active": {"th": "มีผล", "en": "active"},
    "services_withdrawn_status": {"th": "ถอนแล้วเมื่อ {when}", "en": "withdrawn {when}"},
    # -- receipts -------------------------------------------------------------------------------
    "receipt_title": {"th": "ใบรับรองการให้ความยินยอม", "en": "Consent receipt"},
    "receipt_who": {"th": "ผู้ให้ความยินยอม", "en": "Who agreed"},
    "receipt_service": {"th": "บริการ", "en": "Service"},
    "receipt_data": {"th": "ข้อมูล", "en": "Data"},
    "receipt_purpose": {"th": "วัตถุประสงค์", "en": "Purpose"},
    "receipt_purpose_text": {"th": "เพื่อเข้าสู่ระบบและใช้บริการ {service} โดยส่งข้อมูลข้างต้นให้บริการ",
                             "en": "To sign in to and use {service}, which receives the data above"},
    "receipt_basis": {"th": "ฐานทางกฎหมาย", "en": "Legal basis"},
    "receipt_basis_consent": {"th": "ความยินยอมของท่าน (พ.ร.บ. คุ้มครองข้อมูลส่วนบุคคล พ.ศ. 2562 มาตรา 19)",
                              "en": "Your consent (Personal Data Protection Act B.E. 2562, section 19)"},
    "receipt_when": {"th": "เมื่อ", "en": "When"},
    "receipt_status": {"th": "สถานะ", "en": "Status"},
    "receipt_how_withdraw": {"th": "วิธีถอนความยินยอม", "en": "How to withdraw"},
    "receipt_json": {"th": "ใบรับรองในรูปแบบ JSON", "en": "This receipt as JSON"},
    "receipt_id": {"th": "เลขที่ใบรับรอง", "en": "Receipt number"},
    # -- the privacy notice (/privacy) -----------------------------------------------------------
    "privacy_title": {"th": "ประกาศความเป็นส่วนตัว", "en": "Privacy notice"},
    "privacy_intro": {"th": "ระบบนี้ (idgw) ยืนยันตัวตนให้ท่านเข้าใช้บริการอิเล็กทรอนิกส์ของหน่วยงานรัฐ "
                            "หน่วยงานที่ให้บริการระบบนี้เป็นผู้ควบคุมข้อมูลส่วนบุคคลตามที่อธิบายด้านล่าง "
                            "ตามพระราชบัญญัติคุ้มครองข้อมูลส่วนบุคคล พ.ศ. 2562",
                      "en": "This gateway (idgw) signs you in to government e-services. The agency that runs it "
                            "is the data controller for the data described below, under the Personal Data "
                            "Protection Act B.E. 2562 (2019)."},
    "privacy_what": {"th": "ข้อมูลที่เราใช้", "en": "What we process"},
    "privacy_what_account": {"th": "ข้อมูลบัญชี: ชื่อ-นามสกุล เลขประจำตัวประชาชน อีเมล ชื่อผู้ใช้ และระดับการพิสูจน์ตัวตน",
                             "en": "Your account: name, citizen ID, e-mail address, username and how well your "
                                   "identity was checked."},
    "privacy_what_factors": {"th": "วิธีเข้าสู่ระบบ: รหัสผ่านเก็บแบบแฮชซึ่งย้อนกลับไม่ได้ รหัสลับของแอปยืนยันตัวตนเข้ารหัสไว้ "
                                   "และกุญแจสาธารณะของพาสคีย์",
                             "en": "Your sign-in methods: the password only as a one-way hash, authenticator app "
                                   "secrets encrypted, and your passkeys' public keys."},
    "privacy_what_sessions": {"th": "การเข้าสู่ระบบ: เวลา หมายเลข IP เบราว์เซอร์ และบริการที่ท่านเข้าใช้",
                              "en": "Your sign-ins: when, from which IP address and browser, and for which "
                                    "service."},
    "privacy_what_links": {"th": "การเชื่อมโยงกับ ThaiD หรือ NDID และระดับที่แหล่งเหล่านั้นยืนยัน",
                           "en": "Your links to ThaiD or NDID and the levels they confirmed."},
    "privacy_what_consents": {"th": "ความยินยอมที่ท่านให้แต่ละบริการ และใบรับรองการให้ความยินยอม",
                              "en": "The consents you gave each service, and their receipts."},
    "privacy_why": {"th": "เหตุผลที่ใช้", "en": "Why"},
    "privacy_why_text": {"th": "เพื่อยืนยันตัวตนของท่านและส่งข้อมูลที่ท่านยินยอมให้บริการที่ท่านเลือก "
                                "เพื่อปกป้องบัญชีของท่าน (เช่น ระงับการเข้าสู่ระบบเมื่อมีการเดารหัสผ่าน) "
                                "และเพื่อเก็บบันทึกตามที่กฎหมายกำหนด",
                         "en": "To sign you in and send the services you choose the data you agree to; to "
                               "protect your account (for example, blocking sign-ins when someone guesses "
                               "passwords); and to keep the records the law requires."},
    "privacy_basis": {"th": "ฐานทางกฎหมาย", "en": "Legal basis"},
    "privacy_basis_consent": {"th": "การส่งข้อมูลให้แต่ละบริการ: ความยินยอมของท่าน (มาตรา 19) ซึ่งท่านถอนได้ทุกเมื่อ "
                                    "การถอนไม่กระทบสิ่งที่ทำไปแล้วโดยชอบก่อนหน้านั้น",
                              "en": "Sending data to each service: your consent (section 19), which you can "
                                    "withdraw at any time; withdrawing does not affect what was lawfully done "
                                    "before."},
    "privacy_basis_citizen_id": {"th": "เลขประจำตัวประชาชน: ส่งเฉพาะให้บริการที่มีฐานทางกฎหมายรองรับ "
                                       "ซึ่งแสดงไว้ในหน้าบริการที่เชื่อมต่อของท่าน",
                                 "en": "Your citizen ID: sent only to services with a legal basis for it, which "
                                       "your connected services page shows."},
    "privacy_basis_task": {"th": "การให้บริการยืนยันตัวตนและการเก็บบันทึก: การปฏิบัติภารกิจของรัฐและหน้าที่ตามกฎหมาย "
                                 "(มาตรา 24 (4) และ (6))",
                           "en": "Running the sign-in service and keeping records: a public task and a legal "
                                 "duty (section 24 (4) and (6))."},
    "privacy_retention": {"th": "ระยะเวลาเก็บ", "en": "How long we keep it"},
    "privacy_retention_text": {"th": "ข้อมูลบัญชีเก็บไว้ตราบที่ท่านยังมีบัญชี การเข้าสู่ระบบแต่ละครั้งมีผลนานสูงสุด 30 วัน "
                                     "สิทธิ์เข้าถึงของบริการมีผลตามที่แสดงในหน้าบริการที่เชื่อมต่อ "
                                     "บันทึกการเข้าสู่ระบบเก็บไว้อย่างน้อย 90 วันตาม พ.ร.บ. ว่าด้วยการกระทำความผิดเกี่ยวกับคอมพิวเตอร์ "
                                     "และไม่นานเกินกว่าที่นโยบายการเก็บบันทึกของหน่วยงานกำหนด",
                               "en": "Your account, while you have it. Each sign-in lasts at most 30 days. A "
                                     "service's access lasts as your connected services page says. Records of "
                                     "sign-ins are kept at least 90 days, as the Computer-Related Crime Act "
                                     "requires, and no longer than the agency's records policy allows."},
    "privacy_rights": {"th": "สิทธิของท่าน", "en": "Your rights"},
    "privacy_rights_text": {"th": "ท่านมีสิทธิขอเข้าถึงและรับสำเนาข้อมูล (ปุ่ม \"ดาวน์โหลดข้อมูลของฉัน\" ในหน้าบัญชี) "
                                  "ขอแก้ไข ขอลบหรือทำให้ไม่ระบุตัวตน คัดค้าน ขอระงับการใช้ ขอโอนย้ายข้อมูล "
                                  "ถอนความยินยอม และร้องเรียนต่อสำนักงานคณะกรรมการคุ้มครองข้อมูลส่วนบุคคล (มาตรา 30-36 และ 73)",
                            "en": "You may see and get a copy of your data (\"Download my data\" on your account "
                                  "page), have it corrected, deleted or anonymised, object, restrict its use, "
                                  "move it, withdraw your consent, and complain to the Personal Data Protection "
                                  "Committee (sections 30-36 and 73)."},
    "privacy_withdraw": {"th": "วิธีถอนความยินยอม", "en": "How to withdraw consent"},
    "privacy_withdraw_text": {"th": "ไปที่ บัญชีของฉัน แล้วเลือก บริการที่เชื่อมต่อ จากนั้นกด ถอนความยินยอม "
                                    "บริการจะถูกตัดการเข้าถึงทันทีและได้รับแจ้ง",
                              "en": "Go to My account, then Connected services, and choose Withdraw consent. The "
                                    "service loses access at once and is told."},
    "privacy_contact": {"th": "ติดต่อเรา", "en": "Contact"},
    "privacy_contact_text": {"th": "หากมีคำถามหรือต้องการใช้สิทธิ กรุณาติดต่อ: {help_desk}",
                             "en": "For questions or to use your rights, contact: {help_desk}"},
    # -- durations ------------------------------------------------------------------------------
    "duration_days": {"th": "{n} วัน", "en": "{n} days"},
    "duration_day": {"th": "1 วัน", "en": "1 day"},
    "duration_hours": {"th": "{n} ชั่วโมง", "en": "{n} hours"},
    "duration_hour": {"th": "1 ชั่วโมง", "en": "1 hour"},
    "duration_minutes": {"th": "{n} นาที", "en": "{n} minutes"},
    "duration_minute": {"th": "1 นาที", "en": "1 minute"},
    "duration_seconds": {"th": "{n} วินาที", "en": "{n} seconds"},
    "duration_second": {"th": "1 วินาที", "en": "1 second"},
}

add_messages(MESSAGES)
