"""What the officer console shows, as plain data in the page's language: the queue (also its JSON
poll), a case (the call page, the review page and the call page's state poll share it) and a
case's record. Pure functions over rows already read; the templates and officer.js only lay it out.
"""

from __future__ import annotations

from sqlalchemy import select

from idgw.proofing import cases, record
from idgw.proofing.officer_texts import (
    card_date,
    card_status_words,
    check_words,
    cue_words,
    event_words,
    masked_citizen_id,
    minutes_words,
    problem_words,
    reason_words,
    signal_words,
)
from idgw.storage.models import Account, Client
from idgw.storage.proofing import ProofingCase
from idgw.web.i18n import format_datetime, t

LEFT = ("cancelled", "expired")


def service_names(db, case_rows, locale: str) -> dict:
    """client_id -> the e-service's name (None -> the gateway itself, for a raise from the account page)."""
    ids = {c.client_id for c in case_rows if c.client_id}
    names = dict(db.execute(select(Client.client_id, Client.name).where(Client.client_id.in_(ids))).all()) \
        if ids else {}
    names[None] = t("officer_gateway_itself", locale)
    return names


def queue_view(db, officer: cases.Officer, *, now: int, locale: str, csrf) -> dict:
    """The queue page's lists: waiting cases (oldest first) with a CSRF token each for the Claim
    form (``csrf(case_id)``), cases awaiting a second officer other than the officer's own first
    decisions, and the officer's own claimed case."""
    waiting = cases.queue(db)
    second = [c for c in cases.awaiting_second(db) if (c.first_decision or {}).get("by") != officer.account_id]
    mine = db.scalars(select(ProofingCase).where(ProofingCase.state == "claimed",
                                                 ProofingCase.claimed_by == officer.account_id)
                      .order_by(ProofingCase.claimed_at.desc()).limit(1)).first()
    names = service_names(db, [*waiting, *second, *([mine] if mine else [])], locale)

    def service(c):
        return names.get(c.client_id) or c.client_id

    queue_rows = []
    for c in waiting:
        minutes = minutes_words(now - (c.queued_at or now), locale)
        queue_rows.append({"id": c.id, "service": service(c), "need_ial": c.need_ial, "waiting": minutes,
                           "label": t("officer_claim_label", locale, n=max(0, now - (c.queued_at or now)) // 60,
                                      service=service(c)),
                           "action": f"/officer/case/{c.id}/claim", "csrf_token": csrf(c.id)})
    second_rows = [{"id": c.id, "service": service(c), "need_ial": c.need_ial,
                    "problems": [problem_words(p, locale) for p in (c.first_decision or {}).get("problems", [])],
                    "href": f"/officer/review/{c.id}"} for c in second]
    mine_row = {"id": mine.id, "service": service(mine), "href": f"/officer/case/{mine.id}"} if mine else None
    return {"queue": queue_rows, "second": second_rows, "mine": mine_row}


def face_rows(face: dict | None, locale: str) -> list[dict]:
    """The face comparison as label/value rows (the page words it as assisting, not deciding)."""
    if not face:
        return []
    rows = []
    if face.get("error"):
        rows.append({"label": t("officer_face_error", locale), "value": str(face["error"])})
    if "match" in face:
        rows.append({"label": t("officer_face_match", locale),
                     "value": t("officer_face_matched" if face.get("match") else "officer_face_not_matched", locale)})
    for key, label in (("distance", "officer_face_distance"), ("threshold", "officer_face_threshold")):
        if face.get(key) is not None:
            rows.append({"label": t(label, locale), "value": _number(face[key])})
    quality = face.get("quality")
    if quality is not None:
        rows.append({"label": t("officer_face_quality", locale), "value": _flat(quality)})
    if face.get("reference_quality"):
        rows.append({"label": t("officer_face_reference_quality", locale), "value": _flat(face["reference_quality"])})
    models = face.get("models", face.get("model"))
    if models:
        rows.append({"label": t("officer_face_models", locale), "value": _flat(models)})
    compared_at = face.get("compared_at", face.get("at"))
    if isinstance(compared_at, int | float):
        rows.append({"label": t("officer_face_at", locale), "value": format_datetime(int(compared_at), locale)})
    return rows


def cue_rows(cue_list: list, locale: str, *, case_id: str) -> list[dict]:
    """Each cue as a line of words, with the address of the frame kept from its window, if any."""
    rows = []
    for cue in cue_list or []:
        result = cue.get("result")
        if not result:
            outcome = t("officer_cue_waiting", locale)
        else:
            outcome = t("officer_cue_performed" if result.get("performed") else "officer_cue_not_performed", locale)
            failed = [signal_words(str(f), locale) for f in result.get("failed") or []]
            if failed:
                outcome += "; " + t("officer_cue_failed_list", locale, items=" ".join(failed))
        shown = cue.get("shown_at")
        frame = (result or {}).get("frame")
        rows.append({"id": cue.get("id"), "cue": cue.get("cue"), "judged": bool(result),
                     "frame": f"/officer/case/{case_id}/frame/{frame}" if frame else None,
                     "performed": bool(result and result.get("performed")),
                     "text": t("officer_cue_row", locale, cue=cue_words(str(cue.get("cue")), locale),
                               window=cue.get("window", "—"),
                               when=format_datetime(int(shown), locale) if isinstance(shown, int | float) else "—",
                               result=outcome)})
    return rows


def case_view(case: ProofingCase, locale: str, *, service: str) -> dict:
    """Everything the call and review pages show of a case, worded."""
    card = case.card or {}
    check = case.card_check or {}
    checked_at = check.get("checked_at")
    problems = cases.problems(case)
    return {
        "id": case.id, "state": case.state, "version": case.version, "service": service,
        "need_ial": case.need_ial, "grant_ial": case.grant_ial, "flagged": bool(case.flagged),
        "left": case.state in LEFT,
        "card": {
            "name_th": " ".join(x for x in (card.get("given_name_th"), card.get("family_name_th")) if x) or "—",
            "name_en": " ".join(x for x in (card.get("given_name_en"), card.get("family_name_en")) if x) or "—",
            "birthdate": card_date(card.get("birthdate"), locale),
            "citizen_id": masked_citizen_id(card.get("citizen_id")),
        },
        "card_check": {
            "ok": check.get("status") == "valid", "status": card_status_words(check.get("status"), locale),
            "when": t("officer_card_checked_at", locale,
                      when=format_datetime(checked_at, locale) if isinstance(checked_at, int) else "—",
                      ref=check.get("reference") or "—"),
        },
        "face": face_rows(case.face, locale),
        "cues": cue_rows(case.cues, locale, case_id=case.id),
        "face_frame": f"/officer/case/{case.id}/frame/{case.face['frame']}" if (case.face or {}).get("frame")
        else None,
        "checklist": dict(case.checklist or {}),
        "checklist_items": [{"id": item, "text": check_words(item, locale)} for item in cases.CHECKLIST],
        "problems": [{"code": p, "text": problem_words(p, locale)} for p in problems],
        "reasons": [{"code": r, "text": reason_words(r, locale)} for r in cases.REJECT_REASONS],
    }


def state_json(case: ProofingCase, locale: str, *, service: str) -> dict:
    """The call page's poll: the parts officer.js refreshes (and the raw values behind them)."""
    view = case_view(case, locale, service=service)
    return {"state": case.state, "version": case.version, "left": view["left"],
            "message": t("officer_citizen_left", locale) if view["left"] else
            (t("officer_case_moved", locale) if case.state != "claimed" else None),
            "face": case.face, "face_rows": view["face"], "face_frame": view["face_frame"],
            "cues": list(case.cues or []), "cue_rows": view["cues"],
            "checklist": view["checklist"], "problems": [p["code"] for p in view["problems"]],
            "problem_texts": [p["text"] for p in view["problems"]], "flagged": view["flagged"]}


def record_view(db, case_id: str, locale: str) -> dict:
    """The case record's entries (time, event, who) and whether its hash chain is intact."""
    rows = record.entries(db, case_id)
    officer_ids = {r.actor.split(":", 1)[1] for r in rows if (r.actor or "").startswith("officer:")}
    usernames = dict(db.execute(select(Account.id, Account.username).where(Account.id.in_(officer_ids))).all()) \
        if officer_ids else {}
    out = []
    for r in rows:
        actor = r.actor or ""
        if actor.startswith("officer:"):
            who = usernames.get(actor.split(":", 1)[1], actor)
        elif actor.startswith("citizen:"):
            who = t("officer_actor_citizen", locale)
        else:
            who = t("officer_actor_gateway", locale)
        detail = ""
        if r.kind == "rejected" and isinstance(r.data, dict) and r.data.get("reason"):
            detail = reason_words(r.data["reason"], locale)
        elif r.kind == "cue_shown" and isinstance(r.data, dict):
            detail = cue_words(str(r.data.get("cue")), locale)
        out.append({"seq": r.seq, "when": format_datetime(r.at, locale), "what": event_words(r.kind, locale),
                    "detail": detail, "who": who})
    problems = record.verify(db, case_id)
    return {"entries": out, "intact": not problems,
            "status": t("officer_record_intact", locale) if not problems
            else t("officer_record_broken", locale, problems="; ".join(problems))}


def first_decision_view(db, case: ProofingCase, locale: str) -> dict | None:
    first = case.first_decision
    if not first:
        return None
    account = db.get(Account, first.get("by")) if first.get("by") else None
    return {"by": first.get("by"), "who": account.username if account else (first.get("by") or "—"),
            "when": format_datetime(first["at"], locale) if isinstance(first.get("at"), int) else "—",
            "problems": [problem_words(p, locale) for p in first.get("problems", [])],
            "note": first.get("note") or ""}


def _number(value) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _flat(value) -> str:
    """A dict or list as "key: value, ..." (model versions, quality measures)."""
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_flat(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(_flat(v) for v in value)
    return _number(value)
