"""What the upstreams page says, in Thai and English: the kinds, the health-check steps and their
failures, and the configuration problems (``idgw.console.upstreams``)."""

from __future__ import annotations

from idgw.web.i18n import add_messages, format_datetime, t

add_messages({
    "cup_title": {"th": "แหล่งยืนยันตัวตน", "en": "Identity sources"},
    "cup_intro": {"th": "แหล่งยืนยันตัวตนภายนอก (upstream) ที่ตั้งค่าไว้ในไฟล์ {path} การตั้งค่าอยู่ในไฟล์นั้น "
                        "หน้านี้แสดงเท่านั้น การแก้ไขมีผลเมื่อเริ่มระบบใหม่",
                  "en": "The upstream identity sources configured in {path}. The configuration stays in that "
                        "file: this page only shows it, and changes take effect when the gateway restarts."},
    "cup_no_file": {"th": "ยังไม่ได้ตั้งค่าไฟล์แหล่งยืนยันตัวตน (IDGW_PROVIDERS_FILE) จึงไม่มีแหล่งยืนยันตัวตนภายนอก",
                    "en": "No providers file is set (IDGW_PROVIDERS_FILE), so there is no upstream identity source."},
    "cup_kind_oidc": {"th": "OpenID Connect แบบ ThaiD", "en": "ThaiD-style OpenID Connect"},
    "cup_kind_ndid": {"th": "NDID", "en": "NDID"},
    "cup_kind": {"th": "ประเภท", "en": "Kind"},
    "cup_levels": {"th": "ระดับที่ยืนยันได้", "en": "Levels asserted"},
    "cup_max": {"th": "สูงสุด IAL {ial}, AAL {aal}", "en": "At most IAL {ial}, AAL {aal}"},
    "cup_ial_claim": {"th": "ค่า ial จากแหล่ง → IAL", "en": "Upstream ial value → IAL"},
    "cup_trusted_aal": {"th": "AAL ตามที่ตั้งค่าไว้ {aal} (ThaiD ไม่แจ้ง AAL)",
                        "en": "AAL {aal} as configured (ThaiD publishes none)"},
    "cup_ndid_levels": {"th": "IAL และ AAL ตามคำตอบของแต่ละ IdP ไม่เกินระดับที่ IdP ขึ้นทะเบียนไว้บนแพลตฟอร์ม",
                        "en": "IAL and AAL as each IdP answers, never above the levels the IdP is registered for on "
                              "the platform"},
    "cup_settings": {"th": "การตั้งค่า", "en": "Settings"},
    "cup_field": {"th": "ช่อง", "en": "Field"},
    "cup_value": {"th": "ค่า", "en": "Value"},
    "cup_services": {"th": "บริการที่ยอมรับ", "en": "Services that accept it"},
    "cup_services_none": {"th": "ไม่มีบริการใดยอมรับ", "en": "No service accepts it."},
    "cup_any": {"th": "(ยอมรับทุกแหล่ง)", "en": "(accepts any source)"},
    "cup_service_disabled": {"th": "(ปิดใช้งาน)", "en": "(disabled)"},
    "cup_problems": {"th": "สิ่งที่ต้องแก้ไขในการตั้งค่า", "en": "What is wrong with the configuration"},
    "cup_problems_none": {"th": "ไม่พบปัญหาในการตั้งค่า", "en": "No configuration problem found."},
    "cup_health": {"th": "ตรวจสอบการเชื่อมต่อ", "en": "Health check"},
    "cup_health_help": {"th": "ติดต่อแต่ละแหล่งตอนนี้ (พร้อมกัน ไม่เกิน {seconds} วินาทีต่อคำขอ) โดยไม่เปลี่ยนแปลงอะไร "
                              "ผลแบบ JSON: /admin/upstreams/health.json",
                        "en": "Contacts every source now (all at once, at most {seconds} s per request), changing "
                              "nothing. As JSON: /admin/upstreams/health.json"},
    "cup_check": {"th": "ตรวจสอบตอนนี้", "en": "Check now"},
    "cup_checked": {"th": "ตรวจสอบเมื่อ {when} ({seconds} วินาที)", "en": "Checked {when} ({seconds} s)"},
    "cup_healthy": {"th": "ใช้งานได้", "en": "Working"},
    "cup_unhealthy": {"th": "มีปัญหา", "en": "Not working"},
    # steps
    "cup_step_discovery": {"th": "เอกสาร discovery", "en": "Discovery document"},
    "cup_step_issuer": {"th": "issuer ตรงกับที่ตั้งค่า", "en": "Issuer matches"},
    "cup_step_jwks": {"th": "JWKS (กุญแจสาธารณะ)", "en": "JWKS (public keys)"},
    "cup_step_keys": {"th": "กุญแจใช้งานได้", "en": "Keys usable"},
    "cup_step_node": {"th": "โหนด NDID (API)", "en": "NDID node (API)"},
    "cup_step_idps": {"th": "IdP ที่ตั้งค่าขึ้นทะเบียนบนแพลตฟอร์ม", "en": "Configured IdPs registered"},
    "cup_skipped": {"th": "ไม่ได้ตรวจ (ขั้นก่อนหน้าไม่ผ่าน)", "en": "Not checked (an earlier step failed)"},
    # what an ok step found
    "cup_ok_discovery": {"th": "ติดต่อได้: {url}", "en": "Reachable: {url}"},
    "cup_ok_issuer": {"th": "ตรงกัน: {issuer}", "en": "Matches: {issuer}"},
    "cup_ok_jwks": {"th": "ติดต่อได้: {url}", "en": "Reachable: {url}"},
    "cup_ok_keys": {"th": "กุญแจลงนาม {n} รายการ ดึงใหม่เมื่อ {when}", "en": "{n} signing key(s), fetched {when}"},
    "cup_ok_node": {"th": "ติดต่อได้ มี IdP ขึ้นทะเบียน {n} ราย", "en": "Reachable; {n} IdP(s) registered"},
    "cup_ok_idps": {"th": "ขึ้นทะเบียนแล้ว: {ids}", "en": "Registered: {ids}"},
    "cup_ok_idps_any": {"th": "ใช้ IdP ใดก็ได้จาก {n} รายที่ขึ้นทะเบียน", "en": "Any of the {n} registered IdPs"},
    # why a step failed
    "cup_fail_unreachable": {"th": "ติดต่อไม่ได้ ({error})", "en": "Could not connect ({error})"},
    "cup_fail_timeout": {"th": "ไม่ตอบภายใน {seconds} วินาที", "en": "No answer within {seconds} s"},
    "cup_fail_http": {"th": "ตอบกลับด้วย HTTP {status}", "en": "Answered HTTP {status}"},
    "cup_fail_not_json": {"th": "คำตอบไม่ใช่ JSON ที่ถูกต้อง", "en": "The answer is not the expected JSON"},
    "cup_fail_too_large": {"th": "คำตอบใหญ่เกินไป", "en": "The answer is too large"},
    "cup_fail_issuer": {"th": "เอกสารระบุ issuer “{got}” แต่ตั้งค่าไว้ “{want}”",
                        "en": "The document names issuer “{got}”; the configuration says “{want}”"},
    "cup_fail_no_jwks_uri": {"th": "เอกสาร discovery ไม่มี jwks_uri", "en": "The discovery document has no jwks_uri"},
    "cup_fail_no_keys": {"th": "ไม่มีกุญแจลงนามที่ใช้ได้", "en": "It holds no usable signing key"},
    "cup_fail_no_idps": {"th": "แพลตฟอร์มไม่มี IdP ขึ้นทะเบียน", "en": "The platform lists no IdP"},
    "cup_fail_idps_missing": {"th": "IdP เหล่านี้ไม่ได้ขึ้นทะเบียนบนแพลตฟอร์ม: {ids}",
                              "en": "These IdPs are not registered on the platform: {ids}"},
    "cup_fail_unknown_kind": {"th": "ไม่รู้จักประเภทนี้", "en": "Unknown kind"},
    # configuration problems
    "cup_problem_file_invalid": {"th": "ไฟล์ {path} ในขณะนี้โหลดไม่ได้ ระบบจะเริ่มใหม่ไม่ได้จนกว่าจะแก้ไข: {error}",
                                 "en": "The file {path} as it is now does not load, so the gateway would not start "
                                       "again until it is fixed: {error}"},
    "cup_problem_file_changed": {"th": "ไฟล์ {path} เปลี่ยนไปจากที่ใช้อยู่ (ในไฟล์: {names}) จะมีผลเมื่อเริ่มระบบใหม่",
                                 "en": "The file {path} differs from what runs now (in the file: {names}); it takes "
                                       "effect at the next restart."},
    "cup_problem_unknown_upstream": {"th": "นโยบายของบริการ “{service}” ยอมรับแหล่ง “{name}” ซึ่งไม่ได้ตั้งค่าไว้",
                                     "en": "The policy of “{service}” accepts “{name}”, which is not configured."},
    "cup_problem_unused": {"th": "ไม่มีบริการใดยอมรับ “{name}” จึงไม่มีใครใช้แหล่งนี้ได้",
                           "en": "No service accepts “{name}”, so nobody can use it."},
    "cup_problem_plain_http": {"th": "“{name}” ใช้ HTTP ที่ไม่เข้ารหัส ({url}) นอกเครื่องตนเอง",
                               "en": "“{name}” uses unencrypted HTTP ({url}) off this machine."},
    "cup_problem_max_ial_unmapped": {
        "th": "“{name}” ตั้ง max_ial {max_ial} แต่ ial_mapping ให้ได้สูงสุด {highest} "
              "จึงอาจถูกเสนอให้บริการที่ต้องการระดับที่แหล่งนี้ไม่เคยยืนยัน",
        "en": "“{name}” has max_ial {max_ial} but its ial_mapping gives at most {highest}: it may be offered for "
              "levels it never asserts."},
})


def kind_name(kind: str, locale: str) -> str:
    return t(f"cup_kind_{kind}", locale) if kind in ("oidc", "ndid") else kind


def problem_text(problem, locale: str) -> str:
    return t(f"cup_problem_{problem.code}", locale, **problem.params)


def check_text(check, locale: str) -> str:
    """What one health-check step found, or why it failed, in words."""
    if check.status == "skipped":
        return t("cup_skipped", locale)
    if check.status == "failed":
        return t(f"cup_fail_{check.problem}", locale, **check.params)
    params = dict(check.params)
    if check.step == "keys":
        params["when"] = format_datetime(params["at"], locale)
    if check.step == "idps" and not params.get("ids"):
        return t("cup_ok_idps_any", locale, **params)
    return t(f"cup_ok_{check.step}", locale, **params)


def health_json(results, locale: str) -> dict:
    """The health checks for /admin/upstreams/health.json (words in ``locale``)."""
    return {"ok": all(h.ok for h in results), "upstreams": [
        {"name": h.name, "kind": h.kind, "ok": h.ok, "checked_at": h.checked_at, "seconds": h.seconds,
         "checks": [{"check": c.step, "status": c.status, "problem": c.problem,
                     "step": t(f"cup_step_{c.step}", locale), "message": check_text(c, locale)} for c in h.checks]}
        for h in results]}
