"""The officer console's words, Thai and English (``idgw.web.i18n.add_messages``), and the small
functions that word what a case holds: refusals (``cases.CaseError`` codes), problems against an
approval, checklist items, reject reasons, cues and their results, card checks, record entries,
and dates (Thai: Buddhist era)."""

from __future__ import annotations

from idgw.web.i18n import MESSAGES, add_messages, t

TH_MONTHS = ("มกราคม", "กุมภาพันธ์", "มีนาคม", "เมษายน", "พฤษภาคม", "มิถุนายน", "กรกฎาคม", "สิงหาคม",
             "กันยายน", "ตุลาคม", "พฤศจิกายน", "ธันวาคม")
EN_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
             "October", "November", "December")

add_messages({
    # -- the queue ---------------------------------------------------------------------------
    "officer_queue_title": {"th": "คิวยืนยันตัวตนผ่านวิดีโอคอล", "en": "Video identity proofing queue"},
    "officer_waiting": {"th": "ผู้ที่รอเจ้าหน้าที่ (รอนานที่สุดอยู่บนสุด)",
                        "en": "Waiting for an officer (longest wait first)"},
    "officer_queue_empty": {"th": "ไม่มีผู้รอในขณะนี้", "en": "Nobody is waiting now."},
    "officer_service": {"th": "บริการ", "en": "E-service"},
    "officer_gateway_itself": {"th": "ระบบยืนยันตัวตน (จากหน้าบัญชีผู้ใช้)", "en": "The gateway (the account page)"},
    "officer_ial_needed": {"th": "ระดับ IAL ที่ต้องการ", "en": "IAL needed"},
    "officer_waited": {"th": "รอมาแล้ว", "en": "Waiting"},
    "officer_minutes": {"th": "{n} นาที", "en": "{n} min"},
    "officer_under_a_minute": {"th": "ไม่ถึง 1 นาที", "en": "under 1 min"},
    "officer_claim": {"th": "รับเรื่อง", "en": "Claim"},
    "officer_claim_label": {"th": "รับเรื่องของผู้ที่รอ {n} นาที ({service})",
                            "en": "Claim the case waiting {n} min ({service})"},
    "officer_mine": {"th": "เรื่องที่ท่านรับไว้", "en": "Your claimed case"},
    "officer_mine_open": {"th": "กลับไปที่วิดีโอคอลของเรื่องนี้", "en": "Back to this case's call"},
    "officer_second_title": {"th": "เรื่องที่รอเจ้าหน้าที่คนที่สองตรวจ", "en": "Cases waiting for a second officer"},
    "officer_second_empty": {"th": "ไม่มีเรื่องที่รอท่านตรวจ", "en": "No case is waiting for your review."},
    "officer_second_open": {"th": "ตรวจเรื่องนี้", "en": "Review"},
    "officer_second_problems": {"th": "ข้อที่ต้องตรวจ", "en": "Problems to review"},
    "officer_refreshes": {"th": "รายการนี้ปรับปรุงโดยอัตโนมัติทุกไม่กี่วินาที", "en": "This list refreshes every few seconds."},
    # -- messages after an action (the queue page's ?done=) ------------------------------------
    "officer_done_approved": {"th": "อนุมัติแล้ว ระดับการพิสูจน์ตัวตนของบัญชีนี้เพิ่มขึ้นแล้ว",
                              "en": "Approved: the account's identity assurance level was raised."},
    "officer_done_escalated": {"th": "ส่งให้เจ้าหน้าที่คนที่สองตรวจแล้ว ยังไม่มีการเปลี่ยนระดับของบัญชี",
                               "en": "Sent to a second officer. The account's level is unchanged until then."},
    "officer_done_rejected": {"th": "ปฏิเสธแล้ว", "en": "Rejected."},
    "officer_done_handover": {"th": "ส่งคืนเรื่องเข้าคิวแล้ว เจ้าหน้าที่คนอื่นรับต่อได้",
                              "en": "Handed over: the case is back in the queue for another officer."},
    # -- refusals, by cases.CaseError code ------------------------------------------------------
    "officer_err_not_found": {"th": "ไม่พบเรื่องนี้", "en": "There is no such case."},
    "officer_err_claimed": {"th": "เจ้าหน้าที่คนอื่นรับเรื่องนี้ไปแล้ว กรุณาเลือกเรื่องอื่นจากคิว",
                            "en": "Another officer has already claimed this case. Please pick another one from "
                                  "the queue."},
    "officer_err_not_queued": {"th": "เรื่องนี้ไม่ได้อยู่ในคิวแล้ว (ผู้ขออาจยกเลิกหรือออกไปแล้ว)",
                               "en": "This case is no longer in the queue (the applicant may have cancelled or "
                                     "left)."},
    "officer_err_not_yours": {"th": "เรื่องนี้อยู่กับเจ้าหน้าที่คนอื่น", "en": "Another officer holds this case."},
    "officer_err_not_claimed": {"th": "เรื่องนี้ไม่ได้อยู่ในการสนทนากับท่านแล้ว จึงไม่ได้เปลี่ยนแปลงอะไร",
                                "en": "This case is no longer in a call with you, so nothing was changed."},
    "officer_err_stale": {"th": "ข้อมูลของเรื่องนี้เปลี่ยนไปหลังจากที่หน้านี้แสดง จึงยังไม่ได้บันทึก "
                                "กรุณาตรวจดูข้อมูลล่าสุดแล้วตัดสินอีกครั้ง",
                          "en": "The case changed after this page showed it, so nothing was saved. Check the "
                                "latest details and decide again."},
    "officer_err_reason_required": {"th": "การปฏิเสธต้องเลือกเหตุผล", "en": "Choose a reason to reject."},
    "officer_err_bad_outcome": {"th": "กรุณาเลือกผลการตัดสิน", "en": "Choose a decision."},
    "officer_err_note_required": {"th": "ต้องเขียนบันทึกเหตุผลก่อนอนุมัติ เพราะยังมีข้อที่ต้องตรวจ",
                                  "en": "Write a note before approving: there are problems to account for."},
    "officer_err_finished": {"th": "เรื่องนี้ตัดสินหรือสิ้นสุดไปแล้ว จึงไม่ได้เปลี่ยนแปลงอะไร",
                             "en": "This case is already decided or ended, so nothing was changed."},
    "officer_err_wrong_state": {"th": "เรื่องนี้อยู่ในสถานะที่ทำรายการนี้ไม่ได้ จึงไม่ได้เปลี่ยนแปลงอะไร",
                                "en": "The case is not in a state that allows this, so nothing was changed."},
    "officer_err_not_awaiting": {"th": "เรื่องนี้ไม่ได้รอเจ้าหน้าที่คนที่สองตรวจ จึงไม่ได้เปลี่ยนแปลงอะไร",
                                 "en": "This case is not waiting for a second officer, so nothing was changed."},
    "officer_err_same_officer": {"th": "ท่านเป็นผู้ตัดสินครั้งแรกของเรื่องนี้ จึงตรวจเป็นคนที่สองไม่ได้ "
                                       "ต้องให้เจ้าหน้าที่คนอื่นตรวจ",
                                 "en": "You made the first decision on this case, so you cannot be its second "
                                       "officer. Another officer must review it."},
    "officer_err_own_case": {"th": "ท่านตรวจเรื่องการยืนยันตัวตนของตนเองไม่ได้ ต้องให้เจ้าหน้าที่คนอื่นตรวจ",
                             "en": "You cannot check your own identity. Another officer must take this case."},
    "officer_err_identity_in_use": {"th": "อนุมัติไม่ได้: เลขประจำตัวประชาชนบนบัตรนี้เป็นของบัญชีอื่นอยู่แล้ว "
                                          "ไม่ได้เปลี่ยนแปลงอะไร กรุณาปฏิเสธหรือส่งเรื่องให้ผู้ดูแลระบบตรวจสอบ",
                                    "en": "Cannot approve: this card's citizen ID already belongs to another "
                                          "account. Nothing was changed. Reject, or refer it to an administrator."},
    "officer_err_citizen_left": {"th": "ผู้ขอยืนยันตัวตนออกจากการสนทนาแล้ว (ยกเลิกหรือหมดเวลา)",
                                 "en": "The applicant has left (cancelled or timed out)."},
    "officer_err_unknown": {"th": "ทำรายการนี้ไม่ได้ ({code})", "en": "This could not be done ({code})."},
    "officer_err_forbidden": {"th": "บัญชีนี้ไม่มีสิทธิ์ทำรายการนี้", "en": "This account may not do this."},
    # the call endpoints' refusals ({"error": code}), worded by officer.js from the page's map
    "officer_err_no_video": {"th": "ยังไม่ได้รับภาพวิดีโอของผู้ขอ จึงยังเทียบใบหน้าไม่ได้",
                             "en": "No video from the applicant yet, so the face cannot be compared."},
    "officer_err_no_face": {"th": "ไม่พบใบหน้าที่ชัดพอในวิดีโอ ขอให้ผู้ขอหันหน้าเข้ากล้องในที่สว่าง แล้วลองใหม่",
                            "en": "No clear face in the video. Ask the applicant to face the camera in good light, "
                                  "then try again."},
    "officer_err_citizen_not_connected": {"th": "ผู้ขอยังไม่ได้เชื่อมต่อวิดีโอคอล",
                                          "en": "The applicant is not connected to the call."},
    "officer_err_cue_running": {"th": "ท่าทางก่อนหน้ายังรอผลอยู่ กรุณารอสักครู่",
                                "en": "The previous cue is still being judged. Please wait a moment."},
    "officer_err_csrf": {"th": "แบบฟอร์มหมดอายุหรือไม่ถูกต้อง กรุณาโหลดหน้านี้ใหม่",
                         "en": "The form expired or is invalid. Please reload this page."},
    # -- the case (call) page ------------------------------------------------------------------
    "officer_case_title": {"th": "วิดีโอคอลยืนยันตัวตน", "en": "Identity proofing call"},
    "officer_back_queue": {"th": "กลับไปที่คิว", "en": "Back to the queue"},
    "officer_citizen_left": {"th": "ผู้ขอยืนยันตัวตนออกไปแล้ว การสนทนาสิ้นสุด ไม่ต้องตัดสินเรื่องนี้",
                             "en": "The applicant has left and the call has ended. No decision is needed."},
    "officer_case_moved": {"th": "เรื่องนี้ไม่ได้อยู่กับท่านแล้ว กลับไปที่คิว",
                           "en": "This case is no longer with you. Go back to the queue."},
    "officer_video": {"th": "วิดีโอ", "en": "Video"},
    "officer_local_video": {"th": "ภาพจากกล้องของท่าน", "en": "Your camera"},
    "officer_remote_video": {"th": "ภาพของผู้ขอยืนยันตัวตน", "en": "The applicant"},
    "officer_reference": {"th": "ภาพถ่ายจากทะเบียนราษฎร", "en": "Reference photo (civil registration)"},
    "officer_reference_alt": {"th": "ภาพถ่ายหน้าบัตรจากทะเบียนราษฎรของผู้ขอ สำหรับเทียบกับใบหน้าในวิดีโอ",
                              "en": "The applicant's photo from the civil registration record, to compare with "
                                    "the face on the video"},
    "officer_card": {"th": "ข้อมูลบัตรประจำตัวประชาชน", "en": "ID card data"},
    "officer_name_th": {"th": "ชื่อ-นามสกุล (ภาษาไทย)", "en": "Name (Thai)"},
    "officer_name_en": {"th": "ชื่อ-นามสกุล (ภาษาอังกฤษ)", "en": "Name (English)"},
    "officer_birthdate": {"th": "วันเกิด", "en": "Date of birth"},
    "officer_citizen_id": {"th": "เลขประจำตัวประชาชน (แสดง 4 หลักท้าย)", "en": "Citizen ID (last 4 digits)"},
    "officer_card_check": {"th": "ผลตรวจกับทะเบียนราษฎร", "en": "Check against the civil registration record"},
    "officer_card_checked_at": {"th": "ตรวจเมื่อ {when} (เลขอ้างอิง {ref})", "en": "checked {when} (reference {ref})"},
    "officer_card_valid": {"th": "บัตรใช้ได้ และข้อมูลตรงกับทะเบียน", "en": "Valid card; the data matches the record"},
    "officer_card_card_revoked": {"th": "บัตรถูกยกเลิกแล้ว", "en": "The card has been revoked"},
    "officer_card_data_mismatch": {"th": "ข้อมูลไม่ตรงกับทะเบียน", "en": "The data does not match the record"},
    "officer_card_not_found": {"th": "ไม่พบบัตรนี้ในทะเบียน", "en": "No such card in the record"},
    "officer_face": {"th": "ผลเทียบใบหน้า", "en": "Face comparison"},
    "officer_face_assists": {"th": "ผลนี้เป็นเพียงตัวช่วย ผู้ตัดสินคือเจ้าหน้าที่ ตัวเทียบใบหน้ายังแม่นยำไม่พอที่จะใช้"
                                   "ตัดสินได้เพียงลำพัง กรุณาเทียบใบหน้าในวิดีโอกับภาพถ่ายด้วยตนเอง",
                             "en": "This result assists; the officer decides. The face matcher is not accurate "
                                   "enough to decide alone: compare the face on the video with the photo yourself."},
    "officer_face_none": {"th": "ยังไม่ได้เทียบ", "en": "Not compared yet."},
    "officer_face_distance": {"th": "ระยะห่างของใบหน้า", "en": "Face distance"},
    "officer_face_threshold": {"th": "เกณฑ์ (ไม่เกินนี้ถือว่าตรงกัน)", "en": "Threshold (at most this: a match)"},
    "officer_face_match": {"th": "ผลจากตัวเทียบใบหน้า", "en": "The matcher's result"},
    "officer_face_matched": {"th": "ใบหน้าตรงกัน", "en": "Faces match"},
    "officer_face_not_matched": {"th": "ใบหน้าไม่ตรงกัน", "en": "Faces do not match"},
    "officer_face_quality": {"th": "คุณภาพภาพ", "en": "Image quality"},
    "officer_face_models": {"th": "รุ่นของแบบจำลอง", "en": "Model versions"},
    "officer_face_at": {"th": "เทียบเมื่อ", "en": "Compared"},
    "officer_face_error": {"th": "เทียบไม่สำเร็จ", "en": "Comparison failed"},
    "officer_face_reference_quality": {"th": "ข้อสังเกตของภาพถ่ายจากทะเบียน", "en": "Reference photo remarks"},
    "officer_face_frame_alt": {"th": "ภาพจากวิดีโอที่ใช้เทียบใบหน้า", "en": "The video frame that was compared"},
    "officer_cue_frame": {"th": "ภาพที่เก็บไว้", "en": "kept frame"},
    "officer_signal_not_judged": {"th": "ตัดสินไม่ได้ (ระบบวิเคราะห์ขัดข้อง)",
                                  "en": "could not be judged (the analysis failed)"},
    "officer_compare": {"th": "เทียบใบหน้าตอนนี้", "en": "Compare now"},
    "officer_give_cue": {"th": "ให้ผู้ขอทำท่าทางแบบสุ่ม", "en": "Give a random cue"},
    "officer_needs_script": {"th": "ปุ่มเทียบใบหน้าและท่าทางต้องเปิดใช้ JavaScript",
                             "en": "Comparing faces and giving cues need JavaScript."},
    "officer_cues": {"th": "ท่าทางที่ขอให้ทำ", "en": "Live cues"},
    "officer_cues_none": {"th": "ยังไม่ได้ขอให้ทำท่าทาง", "en": "No cue given yet."},
    "officer_cue_row": {"th": "{cue} (ภายใน {window} วินาที เมื่อ {when}): {result}",
                        "en": "{cue} (within {window} s, at {when}): {result}"},
    "officer_cue_waiting": {"th": "รอผล", "en": "waiting for the result"},
    "officer_cue_performed": {"th": "ทำได้", "en": "performed"},
    "officer_cue_not_performed": {"th": "ไม่ได้ทำตาม", "en": "not performed"},
    "officer_cue_failed_list": {"th": "ไม่ผ่าน: {items}", "en": "failed: {items}"},
    "officer_cue_blink": {"th": "กะพริบตา", "en": "Blink"},
    "officer_cue_turn_left": {"th": "หันหน้าไปทางซ้าย", "en": "Turn the head left"},
    "officer_cue_turn_right": {"th": "หันหน้าไปทางขวา", "en": "Turn the head right"},
    "officer_cue_hand": {"th": "โบกมือผ่านหน้า", "en": "Pass a hand in front of the face"},
    "officer_checklist": {"th": "รายการตรวจของเจ้าหน้าที่", "en": "Officer's checklist"},
    "officer_check_in_view": {"th": "ผู้ขออยู่ในภาพตลอดการสนทนา", "en": "The applicant stayed in view throughout"},
    "officer_check_card_matches": {"th": "ใบหน้าและบัตรที่แสดงตรงกับข้อมูลและภาพถ่าย",
                                   "en": "The face and the card shown match the data and the photo"},
    "officer_check_cues_performed": {"th": "ผู้ขอทำท่าทางที่ขอได้ทันทีและเป็นธรรมชาติ",
                                     "en": "The applicant performed the cues promptly and naturally"},
    "officer_check_no_coercion": {"th": "ไม่มีสัญญาณว่าถูกบังคับหรือมีผู้อื่นชี้นำ",
                                  "en": "No sign of coercion or of someone else directing them"},
    "officer_check_no_manipulation": {"th": "ไม่มีสัญญาณของภาพตัดต่อ ดีปเฟก หรือกล้องเสมือน",
                                      "en": "No sign of edited video, deepfakes or a virtual camera"},
    "officer_yes": {"th": "ใช่", "en": "Yes"},
    "officer_no": {"th": "ไม่ใช่", "en": "No"},
    "officer_save_checklist": {"th": "บันทึกรายการตรวจ", "en": "Save the checklist"},
    "officer_checklist_saved": {"th": "บันทึกรายการตรวจแล้ว", "en": "Checklist saved."},
    "officer_flag": {"th": "แจ้งสงสัยการฉ้อโกง", "en": "Flag suspected fraud"},
    "officer_flag_note": {"th": "สิ่งที่สังเกตเห็น", "en": "What you noticed"},
    "officer_flag_send": {"th": "แจ้งสงสัยการฉ้อโกง", "en": "Flag suspected fraud"},
    "officer_flagged": {"th": "แจ้งสงสัยการฉ้อโกงแล้ว การอนุมัติเรื่องนี้ต้องมีเจ้าหน้าที่คนที่สองตรวจ",
                        "en": "Flagged as suspected fraud: approving this case now needs a second officer."},
    "officer_is_flagged": {"th": "เรื่องนี้ถูกแจ้งสงสัยการฉ้อโกง", "en": "This case is flagged as suspected fraud."},
    "officer_problems": {"th": "ข้อที่ยังไม่ผ่าน (หากอนุมัติ ต้องเขียนเหตุผลและให้เจ้าหน้าที่คนที่สองตรวจ)",
                         "en": "Problems (approving anyway needs a written note and a second officer)"},
    "officer_no_problems": {"th": "ไม่มีข้อที่ยังไม่ผ่าน", "en": "No problems found."},
    "officer_problem_card_problem": {"th": "บัตรไม่ผ่านการตรวจกับทะเบียนราษฎร",
                                     "en": "The card did not pass the civil registration check"},
    "officer_problem_face_not_matched": {"th": "ตัวเทียบใบหน้าบอกว่าไม่ตรงกัน",
                                         "en": "The face matcher found no match"},
    "officer_problem_face_not_compared": {"th": "ยังไม่ได้เทียบใบหน้า", "en": "The face has not been compared"},
    "officer_problem_no_cue_judged": {"th": "ยังไม่มีผลท่าทางใดเลย", "en": "No cue has a result yet"},
    "officer_problem_cue_failed": {"th": "มีท่าทางที่ไม่ผ่าน", "en": "A cue was not performed"},
    "officer_problem_checklist_incomplete": {"th": "รายการตรวจยังไม่ครบหรือมีข้อที่ตอบว่าไม่ใช่",
                                             "en": "The checklist is incomplete or has a No"},
    "officer_problem_flagged": {"th": "ถูกแจ้งสงสัยการฉ้อโกง", "en": "Flagged as suspected fraud"},
    "officer_decision": {"th": "การตัดสิน", "en": "Decision"},
    "officer_approve": {"th": "อนุมัติ (ยืนยันตัวตนได้)", "en": "Approve (identity proofed)"},
    "officer_reject": {"th": "ปฏิเสธ", "en": "Reject"},
    "officer_handover": {"th": "ส่งคืนเข้าคิว (ให้เจ้าหน้าที่คนอื่นรับต่อ)",
                         "en": "Hand over (back to the queue for another officer)"},
    "officer_reason": {"th": "เหตุผลที่ปฏิเสธ", "en": "Reason for rejecting"},
    "officer_reason_pick": {"th": "— เลือกเหตุผล —", "en": "— choose a reason —"},
    "officer_note": {"th": "บันทึกเหตุผล", "en": "Note"},
    "officer_note_help": {"th": "ต้องเขียนเมื่ออนุมัติทั้งที่ยังมีข้อที่ไม่ผ่าน",
                          "en": "Required when approving despite problems."},
    "officer_decide": {"th": "บันทึกการตัดสิน", "en": "Record the decision"},
    "officer_grant": {"th": "การอนุมัติจะให้ระดับ IAL {ial} แก่บัญชีนี้", "en": "Approving grants this account IAL {ial}."},
    "officer_reason_face_mismatch": {"th": "ใบหน้าไม่ตรงกับภาพถ่าย", "en": "The face does not match the photo"},
    "officer_reason_card_mismatch": {"th": "บัตรไม่ตรงกับข้อมูลหรือทะเบียน", "en": "The card does not match the data"},
    "officer_reason_cue_failed": {"th": "ไม่ทำท่าทางตามที่ขอ", "en": "The cues were not performed"},
    "officer_reason_suspected_fraud": {"th": "สงสัยการฉ้อโกง", "en": "Suspected fraud"},
    "officer_reason_poor_quality": {"th": "ภาพหรือเสียงไม่ชัดพอจะตรวจ", "en": "Video or sound too poor to check"},
    "officer_reason_citizen_left": {"th": "ผู้ขอออกจากการสนทนา", "en": "The applicant left the call"},
    "officer_reason_other": {"th": "อื่น ๆ (ระบุในบันทึก)", "en": "Other (say in the note)"},
    # -- second-officer review ---------------------------------------------------------------
    "officer_review_title": {"th": "ตรวจเป็นเจ้าหน้าที่คนที่สอง", "en": "Second-officer review"},
    "officer_review_first": {"th": "การตัดสินครั้งแรก", "en": "The first decision"},
    "officer_review_first_by": {"th": "อนุมัติโดย {who} เมื่อ {when} ทั้งที่มีข้อต่อไปนี้:",
                                "en": "Approved by {who} at {when} despite these problems:"},
    "officer_review_first_note": {"th": "บันทึกของเจ้าหน้าที่คนแรก", "en": "The first officer's note"},
    "officer_review_own": {"th": "ท่านเป็นผู้ตัดสินครั้งแรก เจ้าหน้าที่คนอื่นต้องเป็นผู้ตรวจเรื่องนี้",
                           "en": "You made the first decision: another officer must review this case."},
    "officer_review_approve": {"th": "ยืนยันการอนุมัติ", "en": "Confirm the approval"},
    "officer_review_note": {"th": "เหตุผลที่ยืนยัน (จำเป็นเมื่ออนุมัติ)",
                            "en": "Why you confirm it (required to approve)"},
    "officer_review_decide": {"th": "บันทึกผลการตรวจ", "en": "Record the review"},
    "officer_done_review_approved": {"th": "ยืนยันการอนุมัติแล้ว ระดับการพิสูจน์ตัวตนของบัญชีนี้เพิ่มขึ้นแล้ว",
                                     "en": "Approval confirmed: the account's identity assurance level was raised."},
    "officer_record": {"th": "บันทึกของเรื่อง", "en": "Case record"},
    "officer_record_intact": {"th": "บันทึกครบถ้วน ไม่มีการแก้ไข (ตรวจลูกโซ่แฮชแล้ว)",
                              "en": "The record is intact (hash chain checked)."},
    "officer_record_broken": {"th": "บันทึกถูกแก้ไขหรือขาดหาย: {problems}",
                              "en": "The record was altered or has gaps: {problems}"},
    "officer_record_when": {"th": "เวลา", "en": "Time"},
    "officer_record_what": {"th": "เหตุการณ์", "en": "Event"},
    "officer_record_who": {"th": "ผู้ทำ", "en": "By"},
    "officer_actor_citizen": {"th": "ผู้ขอยืนยันตัวตน", "en": "the applicant"},
    "officer_actor_gateway": {"th": "ระบบ", "en": "the gateway"},
    "officer_event_opened": {"th": "เปิดเรื่อง (บัตรผ่านการตรวจ)", "en": "Opened (card checked)"},
    "officer_event_queued": {"th": "เข้าคิว", "en": "Queued"},
    "officer_event_claimed": {"th": "เจ้าหน้าที่รับเรื่อง", "en": "Claimed by an officer"},
    "officer_event_face_compared": {"th": "เทียบใบหน้า", "en": "Face compared"},
    "officer_event_cue_shown": {"th": "ขอให้ทำท่าทาง", "en": "Cue given"},
    "officer_event_cue_judged": {"th": "ผลท่าทาง", "en": "Cue result"},
    "officer_event_checklist": {"th": "บันทึกรายการตรวจ", "en": "Checklist saved"},
    "officer_event_flagged": {"th": "แจ้งสงสัยการฉ้อโกง", "en": "Flagged as suspected fraud"},
    "officer_event_awaiting_second": {"th": "อนุมัติทั้งที่มีข้อที่ไม่ผ่าน รอเจ้าหน้าที่คนที่สองตรวจ",
                                      "en": "Approved despite problems: waiting for a second officer"},
    "officer_event_approved": {"th": "อนุมัติ", "en": "Approved"},
    "officer_event_rejected": {"th": "ปฏิเสธ", "en": "Rejected"},
    "officer_event_cancelled": {"th": "ผู้ขอยกเลิก", "en": "Cancelled by the applicant"},
    "officer_event_expired": {"th": "หมดเวลา", "en": "Expired"},
    "officer_event_reference_kept": {"th": "เก็บภาพถ่ายจากทะเบียน (ค่าแฮช)", "en": "Reference photo kept (its hash)"},
    "officer_event_media_purged": {"th": "ลบภาพตามระยะเวลาเก็บรักษา (เก็บค่าแฮชไว้)",
                                   "en": "Image deleted at the end of its retention (hash kept)"},
})


def text_or_code(key: str, locale: str, code: str) -> str:
    """``key``'s text, or the bare code for a value this console has no words for yet."""
    return t(key, locale) if key in MESSAGES else code


def call_error_texts(locale: str) -> dict[str, str]:
    """Every refusal this console or the call endpoints answer, by code (officer.js words the
    call endpoints' ``{"error": code}`` from it)."""
    prefix = "officer_err_"
    return {key[len(prefix):]: t(key, locale) for key in MESSAGES if key.startswith(prefix)
            and key != "officer_err_unknown"}


def refusal(code: str, locale: str) -> str:
    """A ``cases.CaseError`` code (or ``identity_in_use``, ``citizen_left``) in words."""
    key = f"officer_err_{code}"
    return t(key, locale) if key in MESSAGES else t("officer_err_unknown", locale, code=code)


def problem_words(code: str, locale: str) -> str:
    return text_or_code(f"officer_problem_{code}", locale, code)


def reason_words(code: str, locale: str) -> str:
    return text_or_code(f"officer_reason_{code}", locale, code)


def check_words(item: str, locale: str) -> str:
    return text_or_code(f"officer_check_{item}", locale, item)


def cue_words(cue: str, locale: str) -> str:
    return text_or_code(f"officer_cue_{cue}", locale, cue)


def signal_words(code: str, locale: str) -> str:
    """A failed check of a cue's result (``face_check.FAILED_TEXT``'s line for its code), or the code."""
    line = _failed_text().get(code)
    if line:
        return line.get(locale) or line.get("en") or code
    return text_or_code(f"officer_signal_{code}", locale, code)


def _failed_text() -> dict:
    try:  # the face checks may be absent from a gateway that only shows their stored results
        from face_check import FAILED_TEXT
    except Exception:  # noqa: BLE001 (ImportError, or a native library that does not load)
        return {}
    return FAILED_TEXT


def event_words(kind: str, locale: str) -> str:
    return text_or_code(f"officer_event_{kind}", locale, kind)


def card_status_words(status: str | None, locale: str) -> str:
    return text_or_code(f"officer_card_{status}", locale, status or "—")


def card_date(value: str | None, locale: str) -> str:
    """A card's YYYY-MM-DD date: "12 มีนาคม พ.ศ. 2528" in Thai (Buddhist era), "12 March 1985" in English."""
    try:
        year, month, day = (int(x) for x in (value or "").split("-"))
        if not 1 <= month <= 12:
            raise ValueError
    except ValueError:
        return value or "—"
    if locale == "th":
        return f"{day} {TH_MONTHS[month - 1]} พ.ศ. {year + 543}"
    return f"{day} {EN_MONTHS[month - 1]} {year}"


def masked_citizen_id(value: str | None) -> str:
    """All but the last four digits hidden: enough to confirm with the person, not to copy."""
    return ("•" * 9 + value[-4:]) if value else "—"


def minutes_words(seconds: int, locale: str) -> str:
    minutes = max(0, int(seconds)) // 60
    return t("officer_minutes", locale, n=minutes) if minutes else t("officer_under_a_minute", locale)
