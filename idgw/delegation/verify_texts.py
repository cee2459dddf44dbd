"""The words of the delegation verification page and the printable document, in Thai and English
(``idgw.web.i18n``): the verdict and its reasons, the status, and every field shown. Keys begin
with ``dlv_`` so that they never collide with the other delegation pages' words."""

from __future__ import annotations

from idgw.web.i18n import add_messages

add_messages({
    # -- the verification page -----------------------------------------------------------------
    "dlv_title": {"th": "ตรวจสอบการมอบอำนาจอิเล็กทรอนิกส์", "en": "Check an electronic delegation of authority"},
    "dlv_intro": {"th": "ตรวจสอบว่าหนังสือมอบอำนาจออกโดยระบบนี้จริง เนื้อหาตรงกับที่บันทึกไว้ และยังมีผลอยู่หรือไม่ "
                        "โดยใส่เลขที่การมอบอำนาจ (พิมพ์อยู่ในหนังสือและในคิวอาร์โค้ด) หรือวางข้อความเอกสารที่ลงนามแล้ว",
                  "en": "Check that a delegation was issued by this gateway, that its content matches the record, and "
                        "whether it is in effect: enter the delegation's number (printed on the document and in its "
                        "QR code), or paste the signed document's text."},
    "dlv_by_id": {"th": "ตรวจด้วยเลขที่การมอบอำนาจ", "en": "Check by delegation number"},
    "dlv_id_label": {"th": "เลขที่การมอบอำนาจ", "en": "Delegation number"},
    "dlv_id_hint": {"th": "ตัวอย่าง 0f8fad5b-d9cb-469f-a165-70867728950e",
                    "en": "For example 0f8fad5b-d9cb-469f-a165-70867728950e"},
    "dlv_by_jws": {"th": "ตรวจด้วยเอกสารที่ลงนามแล้ว", "en": "Check a signed document"},
    "dlv_jws_label": {"th": "ข้อความเอกสารที่ลงนามแล้ว (JWS)", "en": "The signed document's text (JWS)"},
    "dlv_jws_hint": {"th": "วางข้อความทั้งหมดที่พิมพ์อยู่ใต้หัวข้อ “เอกสารที่ลงนามแล้ว” ในหนังสือมอบอำนาจ "
                           "การขึ้นบรรทัดใหม่ไม่มีผล",
                     "en": "Paste the whole text printed under “Signed document” on the delegation. Line breaks do "
                           "not matter."},
    "dlv_check": {"th": "ตรวจสอบ", "en": "Check"},
    "dlv_valid": {"th": "เอกสารถูกต้อง: ลงนามโดยระบบนี้และตรงกับที่บันทึกไว้",
                  "en": "Genuine: signed by this gateway and matching its record"},
    "dlv_invalid": {"th": "ไม่ผ่านการตรวจสอบ", "en": "Not valid"},
    "dlv_reason_not_found": {"th": "ไม่พบการมอบอำนาจนี้ในระบบ", "en": "No delegation with this number is recorded "
                                                                     "here."},
    "dlv_reason_signature_invalid": {
        "th": "ลายมือชื่ออิเล็กทรอนิกส์ของเอกสารไม่ถูกต้อง หรือเอกสารไม่ได้ลงนามโดยระบบนี้",
        "en": "The document's signature is not valid, or the document was not signed by this gateway."},
    "dlv_reason_document_mismatch": {
        "th": "เนื้อหาของเอกสารไม่ตรงกับที่บันทึกไว้ในระบบ อย่าใช้เอกสารนี้",
        "en": "The document's content does not match the record. Do not rely on this document."},
    "dlv_reason_not_signed": {"th": "การมอบอำนาจนี้ยังลงนามไม่ครบ จึงยังไม่มีผล",
                              "en": "This delegation has not been signed yet, so it has no effect."},
    "dlv_status": {"th": "สถานะปัจจุบัน", "en": "Current status"},
    "dlv_usable": {"th": "ผู้รับมอบอำนาจใช้การมอบอำนาจนี้ทำการแทนได้ในขณะนี้ ภายในขอบเขตด้านล่างเท่านั้น",
                   "en": "The delegate may act under it now, within the scope below only."},
    "dlv_not_usable": {"th": "ผู้รับมอบอำนาจใช้การมอบอำนาจนี้ทำการแทนไม่ได้ในขณะนี้",
                       "en": "The delegate may not act under it now."},
    "dlv_not_yet": {"th": "ยังไม่ถึงวันเริ่มมีผล", "en": "Its validity has not started yet."},
    "dlv_rate_limited": {"th": "มีการตรวจสอบจากเครือข่ายของท่านมากเกินไป กรุณารอ {seconds} วินาทีแล้วลองใหม่",
                         "en": "Too many checks from your network. Please try again in {seconds} s."},
    # -- statuses (idgw.delegation.model.STATES) ------------------------------------------------
    "dlv_status_draft": {"th": "ร่าง ยังไม่ได้ลงนาม", "en": "Draft, not signed"},
    "dlv_status_awaiting_signatures": {"th": "รอการลงนามให้ครบ", "en": "Awaiting signatures"},
    "dlv_status_awaiting_acceptance": {"th": "ลงนามแล้ว รอผู้รับมอบอำนาจตอบรับ",
                                       "en": "Signed, awaiting the delegate's acceptance"},
    "dlv_status_effective": {"th": "มีผล", "en": "In effect"},
    "dlv_status_revoked": {"th": "ถูกเพิกถอนแล้ว", "en": "Revoked"},
    "dlv_status_expired": {"th": "หมดอายุแล้ว", "en": "Expired"},
    "dlv_status_used": {"th": "ใช้แล้ว (มอบอำนาจให้ทำการครั้งเดียว)", "en": "Used (a single-use delegation)"},
    # -- fields ---------------------------------------------------------------------------------
    "dlv_number": {"th": "เลขที่", "en": "Number"},
    "dlv_principal": {"th": "ผู้มอบอำนาจ", "en": "Principal (who delegates)"},
    "dlv_kind_person": {"th": "บุคคลธรรมดา", "en": "Person"},
    "dlv_kind_company": {"th": "นิติบุคคล", "en": "Company (juristic person)"},
    "dlv_citizen_id": {"th": "เลขประจำตัวประชาชน", "en": "Citizen ID"},
    "dlv_juristic_id": {"th": "เลขทะเบียนนิติบุคคล", "en": "Juristic person registration number"},
    "dlv_signing_rule": {"th": "ผู้มีอำนาจลงนามผูกพันนิติบุคคล", "en": "Who binds the company"},
    "dlv_delegate": {"th": "ผู้รับมอบอำนาจ", "en": "Delegate"},
    "dlv_scope": {"th": "ขอบเขตที่มอบอำนาจ", "en": "Scope"},
    "dlv_any_act": {"th": "ทุกธุรกรรมของบริการนี้", "en": "Any act at this service"},
    "dlv_window": {"th": "ช่วงเวลาที่มีผล", "en": "Valid"},
    "dlv_window_range": {"th": "ตั้งแต่ {start} ถึง {end}", "en": "From {start} until {end}"},
    "dlv_single_use": {"th": "มอบอำนาจให้ทำการครั้งเดียว", "en": "Single use"},
    "dlv_subdelegation": {"th": "มอบอำนาจช่วงได้", "en": "Sub-delegation allowed"},
    "dlv_stamp_duty": {"th": "ชำระอากรแสตมป์อิเล็กทรอนิกส์ (e-Stamp Duty)", "en": "Stamp duty paid (e-Stamp Duty)"},
    "dlv_parent": {"th": "เป็นการมอบอำนาจช่วงจาก", "en": "Sub-delegation of"},
    "dlv_yes": {"th": "ใช่", "en": "Yes"},
    "dlv_no": {"th": "ไม่ใช่", "en": "No"},
    "dlv_sha256": {"th": "ค่าแฮช SHA-256 ของเนื้อหาเอกสาร", "en": "SHA-256 of the document's content"},
    # -- the printable document -------------------------------------------------------------------
    "dlv_print_title": {"th": "หนังสือมอบอำนาจอิเล็กทรอนิกส์ / Electronic delegation of authority",
                        "en": "หนังสือมอบอำนาจอิเล็กทรอนิกส์ / Electronic delegation of authority"},
    "dlv_model": {"th": "รูปแบบเอกสาร", "en": "Document model"},
    "dlv_provisional": {"th": "ฉบับชั่วคราว: ยังไม่ได้ตรวจทานกับข้อความของข้อเสนอแนะมาตรฐาน ขมธอ. 31-2565",
                        "en": "Provisional: not yet checked against the text of ETDA recommendation ขมธอ. 31-2565"},
    "dlv_created": {"th": "จัดทำเมื่อ", "en": "Drawn up"},
    "dlv_depth": {"th": "ลำดับการมอบอำนาจช่วง", "en": "Sub-delegation level"},
    "dlv_stamp_reference": {"th": "เลขอ้างอิงการชำระอากรแสตมป์ (อ.ส. 9)", "en": "Stamp duty reference (form อ.ส. 9)"},
    "dlv_stamp_receipt": {"th": "เลขที่ใบเสร็จ", "en": "Receipt"},
    "dlv_stamp_amount": {"th": "จำนวนอากร", "en": "Duty"},
    "dlv_stamp_none": {"th": "ไม่มีการอ้างอิงการชำระอากรแสตมป์", "en": "No stamp duty reference"},
    "dlv_baht": {"th": "{amount} บาท", "en": "THB {amount}"},
    "dlv_approvals": {"th": "การลงนาม", "en": "Approvals"},
    "dlv_approvals_none": {"th": "ยังไม่มีการลงนาม", "en": "No approval yet"},
    "dlv_role_delegator": {"th": "ผู้มอบอำนาจ", "en": "Delegator"},
    "dlv_role_director": {"th": "กรรมการ", "en": "Director"},
    "dlv_method_session": {"th": "ยืนยันตัวตนกับระบบนี้", "en": "Signed in to this gateway"},
    "dlv_method_ndid_dsign": {"th": "อนุมัติผ่าน NDID", "en": "Approved through NDID"},
    "dlv_approver": {"th": "ผู้ลงนาม", "en": "Signer"},
    "dlv_role": {"th": "ในฐานะ", "en": "As"},
    "dlv_method": {"th": "วิธี", "en": "Method"},
    "dlv_levels": {"th": "ระดับ", "en": "Levels"},
    "dlv_sealed": {"th": "ประทับตรานิติบุคคล", "en": "Company seal"},
    "dlv_when": {"th": "เมื่อ", "en": "When"},
    "dlv_accepted": {"th": "ผู้รับมอบอำนาจตอบรับเมื่อ", "en": "Accepted by the delegate"},
    "dlv_not_accepted": {"th": "ผู้รับมอบอำนาจยังไม่ได้ตอบรับ", "en": "Not accepted by the delegate yet"},
    "dlv_jws": {"th": "เอกสารที่ลงนามแล้ว (JWS ลงนามด้วยกุญแจของระบบ ตรวจได้ด้วยกุญแจสาธารณะที่ {jwks})",
                "en": "Signed document (a JWS signed with the gateway's key, checkable with the public keys at "
                      "{jwks})"},
    "dlv_jws_missing": {"th": "ยังไม่มีเอกสารที่ลงนาม: การลงนามยังไม่ครบ",
                        "en": "No signed document yet: the approvals are not complete."},
    "dlv_qr": {"th": "ตรวจสอบสถานะปัจจุบันได้ที่", "en": "Check the current status at"},
    "dlv_qr_title": {"th": "คิวอาร์โค้ดสำหรับตรวจสอบการมอบอำนาจนี้", "en": "QR code to check this delegation"},
    "dlv_print_hint": {"th": "ใช้คำสั่งพิมพ์ของเบราว์เซอร์เพื่อพิมพ์หรือบันทึกเป็น PDF",
                       "en": "Use the browser's Print command to print it or save it as a PDF."},
})

REASONS = ("not_found", "signature_invalid", "document_mismatch", "not_signed")
