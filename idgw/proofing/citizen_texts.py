"""The citizen's words on the proofing pages, in Thai and English."""

from idgw.web.i18n import add_messages

MESSAGES = {
    "pf_notice_title": {"th": "ยืนยันตัวตนกับเจ้าหน้าที่ทางวิดีโอคอล", "en": "Confirm your identity on a video call"},
    "pf_notice_intro": {
        "th": "{service} ต้องการความมั่นใจว่าท่านเป็นเจ้าของบัตรประชาชนจริง เจ้าหน้าที่จะยืนยันตัวตนของท่านผ่านวิดีโอคอล",
        "en": "{service} needs to be sure you are the holder of your ID card. An officer will confirm it "
              "with you on a video call."},
    "pf_notice_purpose": {
        "th": "วัตถุประสงค์: ยืนยันตัวตนเพื่อเข้าใช้บริการภาครัฐ (ระดับ IAL {ial})",
        "en": "Purpose: to confirm your identity for government e-services (identity assurance level {ial})."},
    "pf_notice_card": {
        "th": "ระบบจะตรวจข้อมูลบัตรและรหัสหลังบัตร (Laser code) กับกรมการปกครอง โดยไม่เก็บรหัสหลังบัตรไว้",
        "en": "We check your card data and the laser code on its back with the Department of Provincial "
              "Administration. The laser code is not kept."},
    "pf_notice_biometric": {
        "th": "ข้อมูลชีวภาพ: ระบบจะเปรียบเทียบใบหน้าในวิดีโอกับรูปถ่ายในทะเบียนราษฎร และเก็บภาพนิ่งบางภาพจากวิดีโอไว้เป็นหลักฐาน "
              "(เป็นข้อมูลอ่อนไหวตามมาตรา 26 แห่ง พ.ร.บ.คุ้มครองข้อมูลส่วนบุคคล) โดยไม่บันทึกวิดีโอการสนทนาไว้",
        "en": "Biometric data: the gateway compares your face in the video with the photo in the civil "
              "registration record and keeps a few still frames from the video as evidence (sensitive data, "
              "PDPA s.26). The call itself is not recorded."},
    "pf_notice_who": {
        "th": "ผู้ที่เห็นข้อมูล: เจ้าหน้าที่ผู้ตรวจสอบ และเจ้าหน้าที่คนที่สองหากต้องตรวจซ้ำ หน่วยงานผู้ให้บริการได้รับเพียง"
              "ผลการยืนยันตัวตน ไม่ได้รับภาพหรือข้อมูลใบหน้า",
        "en": "Who sees it: the officer on the call, and a second officer if the case needs a second review. "
              "The e-service receives only the result, never images or face data."},
    "pf_notice_retention": {
        "th": "ระยะเวลาเก็บรักษา: ภาพนิ่งเก็บไว้ {days} วันแล้วลบทิ้ง ส่วนบันทึกการตรวจสอบ (ไม่มีภาพ) "
              "เก็บตามนโยบายการเก็บบันทึกของระบบ",
        "en": "Retention: still frames are kept for {days} days, then deleted. The case record (no images) "
              "is kept as the audit policy says."},
    "pf_notice_choice": {
        "th": "ท่านเลือกไม่ยินยอมได้ โดยระบบจะไม่เก็บข้อมูลใด ๆ และท่านยังเลือกวิธีอื่นได้",
        "en": "You may decline: nothing is kept, and you can choose another way."},
    "pf_consent_box": {
        "th": "ข้าพเจ้ายินยอมโดยชัดแจ้งให้ประมวลผลข้อมูลชีวภาพ (ใบหน้า) ตามที่แจ้งไว้ข้างต้น",
        "en": "I explicitly consent to the processing of my biometric (face) data as described above."},
    "pf_consent_accept": {"th": "ยินยอมและดำเนินการต่อ", "en": "Consent and continue"},
    "pf_consent_decline": {"th": "ไม่ยินยอม เลือกวิธีอื่น", "en": "Decline and choose another way"},
    "pf_consent_missing": {"th": "โปรดทำเครื่องหมายในช่องให้ความยินยอมก่อน หรือเลือก “ไม่ยินยอม เลือกวิธีอื่น”",
                           "en": "Tick the consent box first, or choose “Decline and choose another way”."},
    "pf_card_title": {"th": "ข้อมูลบัตรประชาชน", "en": "Your ID card"},
    "pf_card_intro": {"th": "กรอกข้อมูลให้ตรงตามบัตรประชาชนของท่าน ระบบจะตรวจสอบกับกรมการปกครองก่อนให้เข้าคิว",
                      "en": "Enter the data exactly as on your Thai ID card. We check it with the Department of "
                            "Provincial Administration before you queue."},
    "pf_citizen_id": {"th": "เลขประจำตัวประชาชน 13 หลัก", "en": "Citizen ID (13 digits)"},
    "pf_given_th": {"th": "ชื่อ (ภาษาไทย)", "en": "Given name (Thai)"},
    "pf_family_th": {"th": "นามสกุล (ภาษาไทย)", "en": "Family name (Thai)"},
    "pf_given_en": {"th": "ชื่อ (ภาษาอังกฤษ)", "en": "Given name (English)"},
    "pf_family_en": {"th": "นามสกุล (ภาษาอังกฤษ)", "en": "Family name (English)"},
    "pf_birthdate": {"th": "วันเกิด", "en": "Date of birth"},
    "pf_day": {"th": "วันที่", "en": "Day"},
    "pf_month": {"th": "เดือน", "en": "Month"},
    "pf_year": {"th": "ปี พ.ศ.", "en": "Year (AD or BE)"},
    "pf_laser": {"th": "รหัสหลังบัตร (Laser code)", "en": "Laser code (back of the card)"},
    "pf_laser_hint": {"th": "ตัวอักษรภาษาอังกฤษ 2 ตัวและตัวเลข 10 หลัก เช่น JT1-2345678-90",
                      "en": "2 letters and 10 digits, e.g. JT1-2345678-90"},
    "pf_month_pick": {"th": "เลือกเดือน", "en": "Choose a month"},
    "pf_errors_heading": {"th": "โปรดแก้ไขข้อมูลต่อไปนี้", "en": "Please correct the following"},
    "pf_card_submit": {"th": "ตรวจข้อมูลบัตร", "en": "Check my card"},
    "pf_bad_citizen_id": {"th": "เลขประจำตัวประชาชนไม่ถูกต้อง โปรดตรวจว่าครบ 13 หลักและตรงกับบัตร",
                          "en": "That citizen ID is not valid: check it has 13 digits and matches your card."},
    "pf_bad_laser": {"th": "รหัสหลังบัตรต้องเป็นตัวอักษรภาษาอังกฤษ 2 ตัวและตัวเลข 10 หลัก",
                     "en": "The laser code is 2 letters and 10 digits."},
    "pf_bad_date": {"th": "วันเกิดไม่ถูกต้อง", "en": "That date of birth is not a valid date."},
    "pf_bad_name": {"th": "โปรดกรอกชื่อและนามสกุลทั้งภาษาไทยและภาษาอังกฤษ",
                    "en": "Enter your given and family names in Thai and in English."},
    "pf_card_failed": {"th": "ตรวจบัตรไม่ผ่าน: {reason} หากกรอกข้อมูลผิด โปรดแก้ไขแล้วลองอีกครั้ง",
                       "en": "The card check did not pass: {reason} If you mistyped something, correct it "
                             "and try again."},
    "pf_card_unavailable": {"th": "ระบบตรวจสอบบัตรไม่ตอบสนองในขณะนี้ ข้อมูลที่กรอกไว้ยังอยู่ (ยกเว้นรหัสหลังบัตร) "
                                  "โปรดลองอีกครั้งในอีกสักครู่",
                            "en": "The card check service is not answering now. What you typed is kept (except "
                                  "the laser code); try again in a moment."},
    "pf_card_too_many": {"th": "ตรวจบัตรหลายครั้งเกินไป โปรดลองอีกครั้งใน {wait}",
                         "en": "Too many card checks. Try again in {wait}."},
    "pf_card_in_use": {"th": "บัตรนี้ผูกกับบัญชีอื่นแล้ว โปรดเข้าสู่ระบบด้วยบัญชีนั้น หรือติดต่อ {help}",
                       "en": "This ID card is already linked to another account. Sign in with that account, "
                             "or contact {help}."},
    "pf_card_not_yours": {"th": "บัญชีนี้ผูกกับเลขประจำตัวประชาชนอื่นอยู่แล้ว จึงยืนยันตัวตนด้วยบัตรใบนี้ไม่ได้ "
                                "หากข้อมูลในบัญชีผิด โปรดติดต่อ {help}",
                          "en": "This account already belongs to another citizen ID, so this card cannot confirm "
                                "it. If the account's details are wrong, contact {help}."},
    "pf_camera_title": {"th": "ตรวจกล้องก่อนเข้าคิว", "en": "Check your camera"},
    "pf_camera_intro": {"th": "อนุญาตให้เว็บไซต์ใช้กล้อง แล้วจัดใบหน้าให้อยู่ในกรอบภาพ เห็นชัดทั้งใบหน้า",
                        "en": "Allow the camera, then place your whole face inside the frame."},
    "pf_camera_hints": {"th": "อยู่ในที่ที่มีแสงสว่างพอและหันหน้าเข้าหาแสง ถอดแว่นกันแดดหรือหน้ากากอนามัย "
                                "และเตรียมบัตรประชาชนไว้ใกล้ตัว",
                        "en": "Find good light and face it; take off sunglasses or a mask; keep your ID card "
                              "at hand."},
    "pf_camera_waiting": {"th": "กำลังเปิดกล้อง…", "en": "Starting the camera…"},
    "pf_camera_dark": {"th": "ภาพมืดเกินไป โปรดหาที่สว่างขึ้น", "en": "Too dark: find more light."},
    "pf_camera_bright": {"th": "ภาพสว่างเกินไป โปรดหลบแสงจ้า", "en": "Too bright: move away from strong light."},
    "pf_camera_ok": {"th": "แสงเหมาะสม", "en": "The light looks good."},
    "pf_camera_denied": {"th": "ไม่สามารถใช้กล้องได้ โปรดอนุญาตให้เว็บไซต์นี้ใช้กล้องในการตั้งค่าเบราว์เซอร์",
                         "en": "The camera could not be used. Allow this site to use the camera in your "
                               "browser's settings."},
    "pf_join": {"th": "เข้าคิวรอเจ้าหน้าที่", "en": "Join the queue"},
    "pf_queue_title": {"th": "รอเจ้าหน้าที่", "en": "Waiting for an officer"},
    "pf_queue_position": {"th": "ลำดับคิวของท่าน: {position}", "en": "Your place in the queue: {position}"},
    "pf_queue_wait": {"th": "เวลารอโดยประมาณ: {wait}", "en": "Expected wait: {wait}"},
    "pf_queue_keep": {"th": "โปรดเปิดหน้านี้ค้างไว้ เมื่อเจ้าหน้าที่พร้อม วิดีโอคอลจะเริ่มโดยอัตโนมัติ",
                      "en": "Keep this page open: the call starts by itself when an officer is ready."},
    "pf_cancel": {"th": "ยกเลิกการยืนยันตัวตน", "en": "Cancel the video check"},
    "pf_call_title": {"th": "วิดีโอคอลกับเจ้าหน้าที่", "en": "Video call with an officer"},
    "pf_call_intro": {"th": "มองกล้องและทำตามคำแนะนำที่ปรากฏบนหน้าจอ โดยอยู่ในกรอบภาพตลอดการสนทนา",
                      "en": "Look at the camera and follow the instructions on the screen. Stay in view "
                            "throughout the call."},
    "pf_you": {"th": "ภาพของท่าน", "en": "You"},
    "pf_officer": {"th": "เจ้าหน้าที่", "en": "Officer"},
    "pf_cue_heading": {"th": "คำแนะนำ", "en": "Instruction"},
    "pf_second_review": {"th": "เจ้าหน้าที่อีกท่านหนึ่งกำลังตรวจทานเรื่องของท่าน โปรดรอสักครู่",
                         "en": "A second officer is reviewing your case. Please wait."},
    "pf_approved_title": {"th": "ยืนยันตัวตนสำเร็จ", "en": "Your identity is confirmed"},
    "pf_approved_continue": {"th": "ดำเนินการต่อไปยัง {service}", "en": "Continue to {service}"},
    "pf_approved_again": {"th": "การเข้าสู่ระบบครั้งก่อนหมดเวลาแล้ว โปรดเข้าสู่ระบบใหม่ ท่านไม่ต้องยืนยันตัวตนซ้ำอีก",
                          "en": "Your earlier sign-in has timed out. Sign in again: you will not need to "
                                "confirm your identity again."},
    "pf_rejected_title": {"th": "ยืนยันตัวตนไม่สำเร็จ", "en": "Your identity could not be confirmed"},
    "pf_rejected_body": {"th": "เจ้าหน้าที่ไม่สามารถยืนยันตัวตนของท่านได้ ({reason}) ท่านเลือกวิธีอื่นได้ หรือติดต่อ {help}",
                         "en": "The officer could not confirm your identity ({reason}). You can choose another "
                               "way, or contact {help}."},
    "pf_ended_title": {"th": "การยืนยันตัวตนสิ้นสุดแล้ว", "en": "The video check has ended"},
    "pf_cancelled_body": {"th": "ท่านยกเลิกการยืนยันตัวตนแล้ว", "en": "You cancelled the video check."},
    "pf_expired_body": {"th": "การยืนยันตัวตนหมดเวลาแล้ว เนื่องจากหน้านี้ถูกปิดหรือไม่มีการใช้งานนานเกินไป",
                        "en": "The video check timed out because this page was closed or left too long."},
    "pf_choose_another": {"th": "เลือกวิธีอื่น", "en": "Choose another way"},
    "pf_state_reason_face_mismatch": {"th": "ใบหน้าไม่ตรงกับรูปในทะเบียน", "en": "the face did not match the record"},
    "pf_state_reason_card_mismatch": {"th": "บัตรไม่ตรงกับข้อมูล", "en": "the card did not match the data"},
    "pf_state_reason_cue_failed": {"th": "ไม่ได้ทำตามคำแนะนำ", "en": "the instructions were not followed"},
    "pf_state_reason_suspected_fraud": {"th": "พบข้อน่าสงสัย", "en": "the check raised concerns"},
    "pf_state_reason_poor_quality": {"th": "ภาพหรือเสียงไม่ชัด", "en": "the picture or sound was not clear"},
    "pf_state_reason_citizen_left": {"th": "การสนทนาขาดหายไป", "en": "the call was cut off"},
    "pf_state_reason_other": {"th": "เหตุผลอื่น", "en": "another reason"},
    "pf_cue_turn_left": {"th": "หันศีรษะไปทางซ้ายช้า ๆ แล้วกลับมามองกล้อง",
                         "en": "Slowly turn your head to your left, then look back at the camera"},
    "pf_cue_turn_right": {"th": "หันศีรษะไปทางขวาช้า ๆ แล้วกลับมามองกล้อง",
                          "en": "Slowly turn your head to your right, then look back at the camera"},
    "pf_cue_blink": {"th": "กะพริบตาสองครั้ง", "en": "Blink twice"},
    "pf_cue_hand": {"th": "โบกมือผ่านหน้าช้า ๆ หนึ่งครั้ง", "en": "Pass your hand slowly in front of your face once"},
    "pf_cue_now": {"th": "ทำตอนนี้เลย ภายใน {seconds} วินาที", "en": "Do it now, within {seconds} seconds"},
    "pf_not_yours": {"th": "ไม่พบการยืนยันตัวตนนี้ในเบราว์เซอร์นี้", "en": "This video check is not open in this browser."},
    "pf_unavailable": {"th": "การยืนยันตัวตนทางวิดีโอไม่เปิดให้บริการสำหรับการเข้าสู่ระบบนี้",
                       "en": "Video identity checks are not offered for this sign-in."},
}

add_messages(MESSAGES)
