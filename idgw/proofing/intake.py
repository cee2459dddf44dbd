"""Decisions behind the citizen's proofing pages, as plain functions: reading the card form, the
authoritative check, opening the case, keeping the paused sign-in alive, and what the case page
shows in each state."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select, update

from idgw.audit import record as audit
from idgw.proofing import cases, media_store, record
from idgw.ratelimit import spend
from idgw.storage.models import Account, Client, Interaction
from idgw.storage.proofing import ProofingCase
from idgw.web.errors import back_link
from idgw.web.i18n import t
from idgw.web.refusals import wait_words
from providers.base import valid_citizen_id
from providers.dopa import CardCheckResult, CardCheckUnavailable, CardData, ReferencePhoto, normalise_laser

# Card checks per account per hour: the check answers "this laser code is right" and so must not
# become a guessing oracle.
CARD_CHECKS_PER_HOUR = 5
MAX_NAME = 100
BE_OFFSET = 543
_MONTHS_TH = ("มกราคม", "กุมภาพันธ์", "มีนาคม", "เมษายน", "พฤษภาคม", "มิถุนายน", "กรกฎาคม", "สิงหาคม", "กันยายน",
              "ตุลาคม", "พฤศจิกายน", "ธันวาคม")
FIELDS = ("citizen_id", "given_name_th", "family_name_th", "given_name_en", "family_name_en", "birth_day",
          "birth_month", "birth_year")


def month_names(locale: str) -> list[tuple[int, str]]:
    names = _MONTHS_TH if locale == "th" else calendar.month_name[1:]
    return list(enumerate(names, start=1))


def echo(form: dict) -> dict:
    """What the form shows again after a refusal: everything typed except the laser code (it is
    personal data used for the check only, never kept, not even in a page)."""
    return {k: str(form.get(k) or "")[:MAX_NAME] for k in FIELDS}


def prefill(account: Account) -> dict:
    return {"citizen_id": account.citizen_id or "", "given_name_th": account.given_name_th or "",
            "family_name_th": account.family_name_th or "", "given_name_en": account.given_name or "",
            "family_name_en": account.family_name or ""}


def parse_birthdate(day: str, month: str, year: str) -> str | None:
    """ISO date from day, month and a year in the Buddhist era (Thai cards; 2400 and up) or AD."""
    try:
        d, m, y = int(day), int(month), int(year)
        if y >= 2400:
            y -= BE_OFFSET
        born = date(y, m, d)
    except (TypeError, ValueError, OverflowError):  # a year past C int: OverflowError, not ValueError
        return None
    if born.year < 1900 or born > date.today():
        return None
    return born.isoformat()


def parse_card(form: dict) -> tuple[CardData | None, dict[str, str]]:
    """The card data, or the message key for each field that is wrong."""
    errors: dict[str, str] = {}
    cid = re.sub(r"[\s-]", "", str(form.get("citizen_id") or ""))[:20]
    if not valid_citizen_id(cid):
        errors["citizen_id"] = "pf_bad_citizen_id"
    names = {k: " ".join(str(form.get(k) or "").split())[:MAX_NAME]
             for k in ("given_name_th", "family_name_th", "given_name_en", "family_name_en")}
    if not all(names.values()):
        errors["names"] = "pf_bad_name"
    born = parse_birthdate(form.get("birth_day"), form.get("birth_month"), form.get("birth_year"))
    if born is None:
        errors["birthdate"] = "pf_bad_date"
    try:
        laser = normalise_laser(str(form.get("laser_code") or ""))
    except ValueError:
        errors["laser_code"] = "pf_bad_laser"
    if errors:
        return None, errors
    return CardData(citizen_id=cid, birthdate=born, laser_code=laser, **names), {}


def card_conflict(db, citizen_id: str, account: Account) -> str | None:
    """Why this card cannot be proofed for this account, as a message key: another account holds
    its citizen ID, or this account already holds another one (an identity is never swapped for
    another by proofing); None when it can."""
    if account.citizen_id is not None and account.citizen_id != citizen_id:
        return "pf_card_not_yours"
    other = db.scalar(select(Account.id).where(Account.citizen_id == citizen_id))
    return "pf_card_in_use" if other is not None and other != account.id else None


def spend_check(db, *, account_id: str, now: int) -> int:
    """0, or the seconds until this account may check a card again."""
    return spend(db, bucket="cardcheck", ip=account_id, limit=CARD_CHECKS_PER_HOUR, window=3600, now=now)


@dataclass(frozen=True)
class CheckOutcome:
    result: CardCheckResult | None = None
    photo: ReferencePhoto | None = None
    unavailable: CardCheckUnavailable | None = None


async def check_with_source(source, card: CardData) -> CheckOutcome:
    """The card's status and, for a valid card, its reference photo (a photo lookup that fails
    leaves the case without one: the officer is told, and approving needs a second officer)."""
    if source is None:
        return CheckOutcome(unavailable=CardCheckUnavailable("unavailable", "no card source configured"))
    try:
        result = await source.check(card)
    except CardCheckUnavailable as exc:
        return CheckOutcome(unavailable=exc)
    if not result.ok:
        return CheckOutcome(result=result)
    try:
        photo = await source.reference_photo(card.citizen_id)
    except CardCheckUnavailable:
        photo = None
    return CheckOutcome(result=result, photo=photo)


def note_failed(db, *, account_id: str, result: CardCheckResult, now: int, ip: str | None) -> None:
    audit(db, "proofing.card_failed", at=now, actor=account_id, ip=ip, status=str(result.status),
          mismatched=list(result.mismatched), reference=result.reference)


def open_checked_case(db, runtime, *, found: dict, outcome: CheckOutcome, grant: str, now: int) -> ProofingCase:
    card: CardData = found["card"]
    kept = {"citizen_id": card.citizen_id, "given_name_th": card.given_name_th, "family_name_th": card.family_name_th,
            "given_name_en": card.given_name_en, "family_name_en": card.family_name_en, "birthdate": card.birthdate}
    check = outcome.result.as_dict()
    check["photo"] = outcome.photo is not None
    case = cases.open_case(db, account_id=found["account_id"], session_id=found["session_id"],
                           interaction_id=found["ia_id"], client_id=found["client_id"], need_ial=found["need_ial"],
                           grant_ial=grant, consent_id=found["consent_id"], card=kept, card_check=check, now=now)
    if outcome.photo is not None:
        row = media_store.keep(db, runtime.sealer, case_id=case.id, kind="reference", content=outcome.photo.content,
                               media_type=outcome.photo.media_type, now=now,
                               retention_days=runtime.settings.proofing_media_retention_days)
        record.append(db, case.id, "reference_kept", at=now, actor="gateway", media=row.id, sha256=row.sha256,
                      source_reference=outcome.photo.reference)
    return case


def keep_sign_in_alive(db, case: ProofingCase, *, settings, now: int) -> None:
    """While the case is live, its paused sign-in lives on: one interaction lifetime from now, up
    to ``proofing_max_wait`` after the sign-in began."""
    if case.state not in cases.LIVE or not case.interaction_id:
        return
    ia = db.get(Interaction, case.interaction_id)
    if ia is None or ia.completed_at is not None or ia.expires_at <= now:
        return
    until = min(now + settings.interaction_ttl, ia.created_at + settings.proofing_max_wait)
    if until > ia.expires_at:
        db.execute(update(Interaction).where(Interaction.id == ia.id).values(expires_at=until))
        ia.expires_at = until


def sign_in_open(db, case: ProofingCase, now: int) -> Interaction | None:
    ia = db.get(Interaction, case.interaction_id) if case.interaction_id else None
    return ia if ia is not None and ia.completed_at is None and ia.expires_at > now else None


def status(db, case: ProofingCase, *, now: int) -> dict:
    out = {"state": case.state}
    if case.state == "queued":
        position = cases.queue_position(db, case)
        wait = cases.expected_wait(db, position, now=now)
        out.update(position=position, wait_seconds=wait,
                   wait_text={loc: wait_words(wait, loc) for loc in ("th", "en")})
    if case.state == "approved" and sign_in_open(db, case, now) is not None:
        out["next"] = f"/interaction/{case.interaction_id}"
    return out


def case_view(gw, db, case: ProofingCase, ia: Interaction | None, *, locale: str, browser: str, now: int) -> dict:
    """The case page's context: which part it shows (``view``) and what that part needs."""
    client = db.get(Client, case.client_id) if case.client_id else None
    service = client.name if client else t("app_name", locale)
    open_ia = sign_in_open(db, case, now)
    view = {"ready": "camera", "queued": "queue", "claimed": "call", "awaiting_second": "review"}.get(case.state,
                                                                                                       case.state)
    context = dict(view=view, case_id=case.id, service=service, state=case.state, lang=locale,
                   status_url=f"/proofing/case/{case.id}/status.json",
                   csrf_token=gw.pages.csrf_token(browser, f"case:{case.id}"),
                   choose_url=f"/interaction/{open_ia.id}" if open_ia else None)
    if view == "queue":
        context.update(status(db, case, now=now))
    if case.state == "approved":
        context["continue_url"] = f"/interaction/{open_ia.id}" if open_ia else None
    if case.state == "rejected":
        reason = (case.decision or {}).get("reason") or "other"
        context["reason"] = t(f"pf_state_reason_{reason}", locale)
    if case.state in cases.FINAL and not open_ia and ia is not None:
        context.update(back_link(gw, db, ia, locale))
    return context

