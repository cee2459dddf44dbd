"""The delegation model (ETDA ขมธอ. 31-2565, electronic delegation of authority): PROVISIONAL.

The standard is issued but its text was not available to us (domain brief §6). Everything that
depends on its wording is in this one module, so that aligning with the text later touches one
place: the model version, the states, the fields of the signed document and where each comes from,
the stamp duty, and the levels a delegator signs at. docs/delegation.md lists each field's source.

Known (domain brief §6) and applied here:

* Minimum content: delegator and delegate (a person by citizen ID, or a company by its 13-digit
  registration number acting under its signing rule), the acts or services delegated, single act
  or several, validity window, sub-delegation allowed or not, each approval, the stamp-duty
  reference, and a status checked at every use. An agent acting outside the scope does not bind
  the principal, so the scope check is a hard gate (``covers``).
* Stamp duty on a power of attorney (Revenue Code, instrument 7): THB 10 for one act, THB 30 for
  more than one, paid for electronic instruments through the e-Stamp Duty service (form อ.ส. 9);
  its reference and receipt are kept with the document (``stamp_duty_amount``).
* A company is bound by its authorised directors under its registered signing rule
  (``providers.dbd.SigningRule``); the rule is modelled, not a single signer.
* **(design)** The delegator confirms at IAL 2.1 and AAL 2.1 or higher (``SIGN_FLOOR_*``), never
  below the services' own floors; ETDA's remote-signing standard (ขมธอ. 36-2566) asks IAL2/AAL2
  for its higher level and binds the authorisation to the exact document (``document_sha256``).

Pure functions and plain types; no database and no I/O.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

from policies import AAL, IAL

#: Written into every mandate; a later alignment with the standard's text bumps it.
MODEL_VERSION = "th-etda-31-2565/provisional-1"

# -- states ---------------------------------------------------------------------------------------
DRAFT = "draft"  # created, no signature yet
AWAITING_SIGNATURES = "awaiting_signatures"  # some approvals, the signing rule not yet satisfied
AWAITING_ACCEPTANCE = "awaiting_acceptance"  # signed; the delegate has not accepted yet
EFFECTIVE = "effective"  # signed and accepted: usable inside its window and scope
REVOKED = "revoked"
EXPIRED = "expired"
USED = "used"  # a single-use mandate whose act was done
STATES = (DRAFT, AWAITING_SIGNATURES, AWAITING_ACCEPTANCE, EFFECTIVE, REVOKED, EXPIRED, USED)
OPEN_STATES = (DRAFT, AWAITING_SIGNATURES, AWAITING_ACCEPTANCE, EFFECTIVE)
FINAL_STATES = (REVOKED, EXPIRED, USED)

# -- levels ---------------------------------------------------------------------------------------
SIGN_FLOOR_IAL = IAL("2.1")
SIGN_FLOOR_AAL = AAL("2.1")
#: An approval must come from a sign-in at most this old (a fresh authentication).
FRESH_SECONDS = 300

# -- limits ---------------------------------------------------------------------------------------
ANY_ACT = "*"
ACT_CODE = re.compile(r"[a-z][a-z0-9_.-]{0,63}")
MAX_SERVICES = 20
MAX_ACTS = 50
#: The longest a mandate may run (a power of attorney for years is a paper matter).
MAX_VALIDITY_SECONDS = 5 * 366 * 86400
MAX_DEPTH_LIMIT = 3
STAMP_REFERENCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9/_.-]{3,63}")


class MandateError(ValueError):
    """A refused delegation operation. ``code`` names the reason (snake_case; its Thai/English
    text is in ``idgw.delegation.page_errors.CODES``, and a test checks every code has one);
    ``status`` the HTTP status a page or API answers with; ``params`` fill the text."""

    def __init__(self, code: str, *, status: int = 400, **params) -> None:
        super().__init__(code)
        self.code = code
        self.status = status
        self.params = params


@dataclass(frozen=True)
class ScopeItem:
    """One e-service of a mandate's scope and the acts delegated there (``("*",)``: any act)."""

    client_id: str
    acts: tuple[str, ...]

    def as_json(self) -> dict:
        return {"client_id": self.client_id, "acts": list(self.acts)}

    @classmethod
    def from_json(cls, data: dict) -> ScopeItem:
        return cls(client_id=str(data["client_id"]), acts=tuple(str(a) for a in data["acts"]))


def scope_of(raw: list) -> tuple[ScopeItem, ...]:
    return tuple(ScopeItem.from_json(item) for item in raw or ())


def covers(scope: tuple[ScopeItem, ...], *, client_id: str, act: str | None) -> bool:
    """Whether ``scope`` covers ``act`` at ``client_id`` (``act`` None: some act at that service)."""
    for item in scope:
        if item.client_id == client_id:
            return act is None or ANY_ACT in item.acts or act in item.acts
    return False


def acts_at(scope: tuple[ScopeItem, ...], client_id: str) -> tuple[str, ...]:
    return next((item.acts for item in scope if item.client_id == client_id), ())


def within(child: tuple[ScopeItem, ...], parent: tuple[ScopeItem, ...]) -> bool:
    """Whether every service and act of ``child`` is covered by ``parent`` (a sub-delegation is a
    subset of its parent: it can never widen what the principal authorised)."""
    for item in child:
        parent_acts = acts_at(parent, item.client_id)
        if not parent_acts:
            return False
        if ANY_ACT in parent_acts:
            continue
        if ANY_ACT in item.acts or not set(item.acts) <= set(parent_acts):
            return False
    return True


def stamp_duty_amount(scope: tuple[ScopeItem, ...]) -> int:
    """THB due on the power of attorney (Revenue Code schedule, instrument 7): 10 for one act, 30
    for more than one. "Any act" is more than one."""
    acts = [a for item in scope for a in item.acts]
    return 10 if len(acts) == 1 and acts[0] != ANY_ACT else 30


def normal_stamp_reference(text: str | None) -> str | None:
    """The e-Stamp Duty reference as typed (trimmed), None when empty; ``MandateError`` when it
    cannot be one (letters, digits and / _ . -, 4 to 64 characters)."""
    value = (text or "").strip()
    if not value:
        return None
    if not STAMP_REFERENCE.fullmatch(value):
        raise MandateError("stamp_reference_invalid")
    return value


def check_window(*, valid_from: int, valid_until: int, now: int) -> None:
    """A validity window that can be used: ends after it starts, in the future, not beyond
    ``MAX_VALIDITY_SECONDS``. A start in the past (up to a day, a form filled slowly) starts now."""
    if valid_until <= valid_from:
        raise MandateError("window_inverted")
    if valid_until <= now:
        raise MandateError("window_past")
    if valid_from < now - 86400:
        raise MandateError("window_past")
    if valid_until - max(valid_from, now) > MAX_VALIDITY_SECONDS:
        raise MandateError("window_too_long")


def sign_levels(floors: list[tuple[IAL, AAL]]) -> tuple[IAL, AAL]:
    """The levels a delegator signs at for a scope: the highest of every service's delegation
    rule and floors (``floors``), and never below ``SIGN_FLOOR_*``."""
    ial = max([SIGN_FLOOR_IAL, *(f[0] for f in floors)])
    aal = max([SIGN_FLOOR_AAL, *(f[1] for f in floors)])
    return ial, aal


def canonical(content: dict) -> str:
    """The one text a mandate's content is signed and hashed as: JSON with sorted keys, no
    insignificant whitespace, UTF-8 (for our value types, strings, integers, booleans, lists and
    null, the same bytes as RFC 8785's JCS)."""
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def digest(document: str) -> str:
    return hashlib.sha256(document.encode("utf-8")).hexdigest()


def document_content(*, mandate_id: str, parent_id: str | None, depth: int, principal: dict, delegate_citizen_id: str,
                     scope: tuple[ScopeItem, ...], single_use: bool, valid_from: int, valid_until: int,
                     subdelegation_allowed: bool, stamp_duty: dict | None, created_at: int) -> dict:
    """What a delegator (or each director) signs: every field of the minimum content (module
    docstring), nothing that changes later (status, approvals and acceptance are recorded beside
    it). ``principal`` is ``{"kind": "person", "citizen_id", "name"}`` or ``{"kind": "company",
    "juristic_id", "name", "signing_rule"}``; names are ``{"th", "en"}``."""
    return {
        "model": MODEL_VERSION,
        "id": mandate_id,
        "parent": parent_id,
        "depth": depth,
        "principal": principal,
        "delegate": {"citizen_id": delegate_citizen_id},
        "scope": [item.as_json() for item in scope],
        "single_use": single_use,
        "valid_from": valid_from,
        "valid_until": valid_until,
        "subdelegation_allowed": subdelegation_allowed,
        "stamp_duty": stamp_duty,
        "created_at": created_at,
    }


def status_at(*, status: str, valid_until: int, now: int) -> str:
    """The status as of ``now``: an open mandate past its end is expired."""
    if status in OPEN_STATES and valid_until <= now:
        return EXPIRED
    return status


def usable(*, status: str, valid_from: int, valid_until: int, now: int) -> str | None:
    """None when a mandate can be used now, else why not (a reason code)."""
    current = status_at(status=status, valid_until=valid_until, now=now)
    if current == EFFECTIVE:
        return None if valid_from <= now else "not_yet_valid"
    return {DRAFT: "not_signed", AWAITING_SIGNATURES: "not_signed", AWAITING_ACCEPTANCE: "not_accepted",
            REVOKED: "revoked", EXPIRED: "expired", USED: "used"}[current]


def json_of(document: str) -> dict:
    """The content of a stored canonical document."""
    return json.loads(document)
