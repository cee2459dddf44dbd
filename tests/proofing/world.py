"""Proofing cases made directly in the database (no card form, no call), for tests of what comes
after: the officer console, decisions, evidence. Each case belongs to a new citizen account with a
live gateway session (its cookie lets a test act as that citizen's browser)."""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass

import httpx

from idgw.admin import add_user
from idgw.login.sessions import create_session
from idgw.proofing import cases
from idgw.storage.models import Account, LoginSession
from idgw.storage.proofing import ProofingCase
from tests.flow import PASSWORD

_numbers = itertools.count(1)


@dataclass
class CaseRef:
    case_id: str
    account_id: str
    session_id: str
    cookie: str  # the citizen's session cookie
    username: str
    citizen_id: str


def citizen_id(seed: int | None = None) -> str:
    """A valid 13-digit Thai citizen ID (check digit included)."""
    rng = random.Random(seed)
    body = str(rng.randint(1, 8)) + "".join(str(rng.randint(0, 9)) for _ in range(11))
    total = sum(int(body[i]) * (13 - i) for i in range(12))
    return body + str((11 - total % 11) % 10)


def make_case(gateway, *, client_id: str | None = None, need_ial: str = "2.2", grant_ial: str | None = None,
              card_status: str = "valid", card: dict | None = None, queue: bool = True,
              username: str | None = None) -> CaseRef:
    """A citizen (password account, AAL 1 session), their consent and a case whose card check
    answered ``card_status``; queued (``cases.join_queue``) unless ``queue`` is false."""
    n = next(_numbers)
    username = username or f"citizen.{n}.{random.randrange(10**6)}"
    now = gateway.clock.now()
    pid = (card or {}).get("citizen_id") or citizen_id()
    card = card or {"citizen_id": pid, "given_name_th": "สมหญิง", "family_name_th": "ใจดี",
                    "given_name_en": "Somying", "family_name_en": "Jaidee", "birthdate": "1985-03-12"}
    with gateway.db() as db:
        account = add_user(db, username=username, password=PASSWORD, now=now)
        db.flush()
        session, cookie = create_session(db, account=account, factor="pwd", amr=["pwd"], now=now, ip="127.0.0.1")
        consent = cases.give_consent(db, account_id=account.id, retention_days=90, now=now)
        case = cases.open_case(db, account_id=account.id, session_id=session.id, interaction_id=None,
                               client_id=client_id, need_ial=need_ial,
                               grant_ial=grant_ial or cases.grant_level(gateway.gw.settings),
                               consent_id=consent.id, card=card,
                               card_check={"source": "DOPA", "status": card_status, "reference": f"TXN-{n}",
                                           "mismatched": [], "checked_at": now},
                               now=now)
        if queue:
            cases.join_queue(db, case, now=now)
        db.commit()
        return CaseRef(case.id, account.id, session.id, cookie, username, pid)


def citizen_browser(gateway, ref: CaseRef) -> httpx.Client:
    """An HTTP client holding the citizen's session cookie."""
    http = httpx.Client(base_url=gateway.url, follow_redirects=True, timeout=20)
    http.cookies.set(gateway.gw.settings.cookie_name, ref.cookie)
    return http


def assess(gateway, case_id: str, *, face_match: bool | None = True, cue_performed: bool | None = True,
           checklist: str | None = None) -> None:
    """What the call would have produced, as the gateway's own functions note it: a face
    comparison (``face_match``; None: none), one cue and its result (None: no cue), the checklist
    (every item ``checklist``; None: untouched)."""
    now = gateway.clock.now()
    with gateway.db() as db:
        case = db.get(ProofingCase, case_id)
        officer = cases.Officer(case.claimed_by or "test-officer", "test-session")
        if face_match is not None:
            cases.note_face(db, case, {"distance": 0.41 if face_match else 0.72, "threshold": 0.6,
                                       "match": face_match, "quality": {"sharpness": 0.9},
                                       "models": {"detector": "hog-19.24", "embedding": "resnet-v1"},
                                       "compared_at": now},
                            now=now)
        if cue_performed is not None:
            cue = {"id": f"cue-{next(_numbers)}", "cue": "blink", "window": 5, "shown_at": now, "result": None}
            cases.note_cue_shown(db, case, cue, officer, now=now)
            cases.note_cue_result(db, case, cue["id"], {"performed": cue_performed,
                                                        "failed": [] if cue_performed else ["not_performed"]},
                                  now=now)
        if checklist is not None:
            cases.set_checklist(db, case, {k: checklist for k in cases.CHECKLIST}, officer, now=now)
        db.commit()


def account_and_session(gateway, ref: CaseRef) -> tuple[Account, LoginSession]:
    with gateway.db() as db:
        return db.get(Account, ref.account_id), db.get(LoginSession, ref.session_id)


def case_row(gateway, case_id: str) -> ProofingCase:
    with gateway.db() as db:
        return db.get(ProofingCase, case_id)


def officer_client(gateway, username: str, *, second_factor: bool = True) -> httpx.Client:
    """An officer signed in at AAL 2.2 (password, then a passkey stand-in), Thai pages."""
    from tests.stepup import FIXTURE_CODE, enable_second_factor
    from tests.test_admin_pages import form_post, make_admin

    make_admin(gateway, username=username, roles=("officer",))
    if second_factor:
        enable_second_factor(gateway, username, factor="hwk_uv")
    http = httpx.Client(base_url=gateway.url, follow_redirects=True, timeout=20)
    page = http.get("/officer")
    assert page.url.path == "/signin"
    page = form_post(http, page, username=username, password=PASSWORD)
    if second_factor:
        assert page.url.path.startswith("/signin/factor/"), page.url  # AAL 1 is not enough: step up
        page = form_post(http, page, code=FIXTURE_CODE)
        assert page.url.path == "/officer", (page.url, page.text[:300])
    return http
