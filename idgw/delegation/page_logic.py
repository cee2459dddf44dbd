"""The delegation pages' plain logic: reading the create form, its dates in Thailand time, and
the signing gate (who may approve now, and what to do otherwise). No I/O, no framework.

Field names of the create form (``idgw/delegation/templates/delegation_form.html``): a form
field keeps only one value per name (``idgw.httpio.parse_form``), so each box has its own name:
``service.<client_id>`` for a service, ``act.<client_id>.<code>`` for an act (``*``: any act)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from urllib.parse import urlencode

from idgw.delegation import model as m
from policies import AAL, IAL

BANGKOK = timezone(timedelta(hours=7), "Asia/Bangkok")  # Thailand keeps no summer time
SERVICE_PREFIX = "service."
ACT_PREFIX = "act."
TEXT_FIELDS = ("principal", "juristic_id", "delegate_citizen_id", "valid_from", "valid_until", "stamp_reference",
               "stamp_receipt", "parent")
#: At most every service with every act and "any act", plus the other fields.
MAX_FIELDS = 20 + m.MAX_SERVICES * (m.MAX_ACTS + 2)


# -- dates -----------------------------------------------------------------------------------------

def day_of(epoch: int) -> date:
    """The calendar day in Thailand of an instant."""
    return datetime.fromtimestamp(epoch, UTC).astimezone(BANGKOK).date()


def day_start(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=BANGKOK).timestamp())


def day_end(day: date) -> int:
    """The last second of ``day`` in Thailand (a delegation "until 30 June" runs through that day)."""
    return day_start(day + timedelta(days=1)) - 1


def parse_day(text: str | None) -> date | None:
    """A date input's value (``YYYY-MM-DD``, the Gregorian calendar whatever the browser shows);
    ``ValueError`` for anything else."""
    value = (text or "").strip()
    if len(value) != 10:
        raise ValueError("not YYYY-MM-DD")
    return date.fromisoformat(value)


# -- the create form ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Draft:
    """What the create form asked for. ``errors`` maps a field to a text key for mistakes found
    before the mandate's own checks (``idgw.delegation.mandates.create``) run."""

    principal: str
    juristic_id: str
    delegate_citizen_id: str
    scope: list[tuple[str, list[str]]]
    valid_from: int | None
    valid_until: int | None
    single_use: bool
    subdelegation_allowed: bool
    stamp_reference: str
    stamp_receipt: str
    parent_id: str | None
    errors: dict[str, str]


def chosen_scope(form: dict) -> list[tuple[str, list[str]]]:
    """The services ticked (or with an act ticked) and their acts, in the form's order."""
    services: dict[str, list[str]] = {}
    for name, value in form.items():
        if not value:
            continue
        if name.startswith(SERVICE_PREFIX):
            services.setdefault(name[len(SERVICE_PREFIX):], [])
        elif name.startswith(ACT_PREFIX):
            client_id, _, code = name[len(ACT_PREFIX):].rpartition(".")
            if client_id and code:
                services.setdefault(client_id, []).append(code)
    return list(services.items())


def digits(text: str) -> str:
    """An ID as typed, without the spaces and dashes people write in it (anything else stays, to
    be refused)."""
    return "".join(ch for ch in text.strip() if ch not in " -")[:20]


def parse_draft(form: dict) -> Draft:
    """The create form read (IDs with their spaces and dashes dropped, dates as Thailand days:
    from the start of the first to the end of the last)."""
    errors: dict[str, str] = {}
    window: dict[str, int | None] = {}
    for field, edge in (("valid_from", day_start), ("valid_until", day_end)):
        text = (form.get(field) or "").strip()
        window[field] = None
        if not text:
            errors[field] = "dgp_form_date_missing"
            continue
        try:
            window[field] = edge(parse_day(text))
        except (ValueError, OverflowError):
            errors[field] = "dgp_form_date_invalid"
    return Draft(principal=form.get("principal") or "person", juristic_id=digits(form.get("juristic_id") or ""),
                 delegate_citizen_id=digits(form.get("delegate_citizen_id") or ""), scope=chosen_scope(form),
                 valid_from=window["valid_from"], valid_until=window["valid_until"],
                 single_use=form.get("single_use") == "yes", subdelegation_allowed=form.get("subdelegation") == "yes",
                 stamp_reference=(form.get("stamp_reference") or "").strip()[:200],
                 stamp_receipt=(form.get("stamp_receipt") or "").strip()[:200],
                 parent_id=(form.get("parent") or "").strip() or None, errors=errors)


def echo(form: dict) -> dict:
    """The form's values to show again (never more than a form field's length)."""
    values = {k: (form.get(k) or "")[:200] for k in TEXT_FIELDS}
    values["single_use"] = form.get("single_use") == "yes"
    values["subdelegation"] = form.get("subdelegation") == "yes"
    values["ticked"] = {k for k, v in form.items() if v and k.startswith((SERVICE_PREFIX, ACT_PREFIX))}
    return values


def fit_to_parent(*, valid_from: int, valid_until: int, parent_from: int, parent_until: int) -> tuple[int, int]:
    """A sub-delegation's window chosen in whole days, fitted to its parent's on the days they
    share: a start on the parent's first day starts with it, an end on its last day ends with it.
    Other days are left alone (wider is refused by ``mandates.create``, never narrowed silently)."""
    if day_of(valid_from) == day_of(parent_from):
        valid_from = max(valid_from, parent_from)
    if day_of(valid_until) == day_of(parent_until):
        valid_until = min(valid_until, parent_until)
    return valid_from, valid_until


def field_of(code: str) -> str:
    """The form field a ``MandateError`` code is about (the error list links to it)."""
    if code.startswith("delegate_"):
        return "delegate_citizen_id"
    if code in ("juristic_invalid", "company_inactive", "not_a_director", "company_unavailable",
                "principal_kind_invalid"):
        return "juristic_id"
    if code.startswith("window_") or code == "subdelegation_longer":
        return "valid_until" if code != "window_past" else "valid_from"
    if code.startswith("stamp_"):
        return "stamp_reference"
    if code == "subdelegation_too_deep":
        return "subdelegation"
    return "services"


# -- the signing gate ---------------------------------------------------------------------------------

IDENTITY = "identity"  # the session's IAL is below what signing needs: sign in with a source that gives it
SIGN_IN = "sign_in"  # the AAL is too low or the sign-in is older than FRESH_SECONDS: authenticate again


@dataclass(frozen=True)
class Gate:
    """Why a session may not approve now (``kind``), the levels needed, and where to go."""

    kind: str
    need_ial: IAL
    need_aal: AAL
    redirect: str | None = None


def signing_gate(*, need: tuple[IAL, AAL], session_ial: IAL, session_aal: AAL, auth_time: int, now: int,
                 come_back: str) -> Gate | None:
    """None when a session at ``session_ial``/``session_aal`` authenticated at ``auth_time`` may
    approve a mandate needing ``need`` now (``mandates.approve`` checks the same again). Otherwise:
    an IAL too low cannot be mended by signing in again here (only a source that proofs to it
    can); an AAL too low or a sign-in older than ``model.FRESH_SECONDS`` (ขมธอ. 36-2566: the
    authorisation bound to a fresh authentication) sends the person to the gateway's sign-in,
    which raises the AAL or asks for a new sign-in, and back to ``come_back``."""
    need_ial, need_aal = need
    if session_ial < need_ial:
        return Gate(IDENTITY, need_ial, need_aal)
    if session_aal < need_aal or now - auth_time > m.FRESH_SECONDS:
        query = urlencode({"next": come_back, "aal": need_aal.value}, safe="/")
        return Gate(SIGN_IN, need_ial, need_aal, redirect=f"/signin?{query}")
    return None


def identity_routes(*, upstreams: dict, need: tuple[IAL, AAL], come_back: str, reaches) -> list[tuple[str, str]]:
    """(name, href) of each configured upstream that gives ``need`` (``reaches(upstream, ial=...,
    aal=...)``: ``idgw.login.raising.upstream_reaches``), as the gateway's own sign-in through it
    (``/signin/upstream/{name}``) coming back to ``come_back``."""
    need_ial, need_aal = need
    query = urlencode({"next": come_back, "aal": need_aal.value}, safe="/")
    return [(name, f"/signin/upstream/{name}?{query}") for name, upstream in upstreams.items()
            if reaches(upstream, ial=need_ial, aal=need_aal)]
