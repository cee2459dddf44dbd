"""The delegation tests' world: citizens signed in through a ThaiD-style upstream (IAL 2.3, the
AAL asked for; by the gateway's own code, as the upstream callback calls it), e-services that
accept delegation with a catalogue of acts, and mandates made through the plain functions."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from jose import jwt as jose_jwt

from idgw.delegation import catalogue, mandates
from idgw.delegation.document import sign as sign_document
from idgw.delegation.mandates import Signer
from idgw.storage.models import Account, Client
from policies import AAL, IAL
from tests.flow import (
    Browser,
    Registered,
    add_service,
    authorize_url,
    callback_params,
    exchange,
    form_fields,
    register,
    rp_client,
)

# Demo citizens (providers/simulators/citizens.py): checksum-valid, ThaiD IAL 2.3.
SOMCHAI = ("1345951597671", "สมชาย", "ใจดี", "Somchai", "Jaidee")
SOMYING = ("1101700123456", "สมหญิง", "รักไทย", "Somying", "Rakthai")
MALEE = ("3100600456785", "มาลี", "ศรีสุข", "Malee", "Srisuk")
PRASERT = ("5701200987653", "ประเสริฐ", "มั่นคง", "Prasert", "Mankong")
ACTS = (("vat_filing", "ยื่นแบบภาษีมูลค่าเพิ่ม", "File a VAT return"),
        ("tax_refund", "ขอคืนภาษี", "Claim a tax refund"))


@dataclass
class Citizen:
    account_id: str
    citizen_id: str
    cookie: str
    browser: Browser


def citizen(gateway, person=SOMCHAI, *, aal: str = "2.2", ial: str = "2.3") -> Citizen:
    """``person`` signed in now through a ThaiD-style upstream at ``ial``/``aal``, with a browser
    holding the session cookie (and a browser id, for the CSRF tokens)."""
    from idgw.upstream import resolve_account, start_session
    from providers import UpstreamIdentity

    citizen_id, th_given, th_family, given, family = person
    now = gateway.clock.now()
    identity = UpstreamIdentity(provider="thaid", issuer="https://thaid.example.test", subject=f"thaid-{citizen_id}",
                                citizen_id=citizen_id, claims={"th_given_name": th_given, "th_family_name": th_family,
                                                               "given_name": given, "family_name": family},
                                ial=ial, aal=aal, amr=("pwd", "otp") if aal != "1" else ("pwd",), auth_time=now,
                                raw_levels={})
    with gateway.db() as db:
        account = resolve_account(db, identity=identity, now=now).account
        _session, cookie = start_session(db, old_cookie=None, account=account, identity=identity, now=now,
                                         ip="127.0.0.1", client_id=None, user_agent="test")
        account_id = account.id
        db.commit()
    b = Browser(gateway)
    b.get("/signin")  # the gateway issues this browser its id (for the CSRF tokens)
    b.http.cookies.set(gateway.gw.settings.cookie_name, cookie, domain="127.0.0.1", path="/")
    return Citizen(account_id, citizen_id, cookie, b)


def delegable_service(gateway, *, like: Registered | None = None, acts=ACTS, any_act: bool = False,
                      stamp_required: bool = False, max_depth: int = 1, policy: dict | None = None,
                      **options) -> Registered:
    """An e-service whose policy allows delegation, with ``acts`` in its catalogue."""
    policy = {"delegation_allowed": True, **(policy or {})}
    reg = add_service(gateway, like=like, policy=policy, **options) if like else register(gateway, policy=policy,
                                                                                            **options)
    with_catalogue(gateway, reg.client_id, acts=acts, any_act=any_act, stamp_required=stamp_required,
                   max_depth=max_depth)
    return reg


def with_catalogue(gateway, client_id: str, *, acts=ACTS, any_act: bool = False, stamp_required: bool = False,
                   max_depth: int = 1) -> None:
    """``acts`` in the service's catalogue and its delegation rule (signing at IAL 2.1 / AAL 2.1)."""
    with gateway.db() as db:
        now = gateway.clock.now()
        for code, th, en in acts:
            catalogue.add_act(db, client_id=client_id, code=code, name_th=th, name_en=en, actor="test-admin", now=now)
        catalogue.set_rules(db, client_id=client_id, sign_ial="2.1", sign_aal="2.1", any_act_allowed=any_act,
                            stamp_duty_required=stamp_required, max_depth=max_depth, actor="test-admin", now=now)
        db.commit()


def signer_of(db, account_id: str, *, now: int, ial: str = "2.3", aal: str = "2.2") -> Signer:
    return Signer(account=db.get(Account, account_id), ial=IAL(ial), aal=AAL(aal), auth_time=now)


def gateway_signer(gateway):
    """The ``sign`` callable mandates.approve takes: the gateway's own key, as the pages use it."""
    def sign(row, approvals):
        return sign_document(gateway.gw.keys.signer("ES256"), issuer=gateway.gw.settings.issuer,
                             now=gateway.clock.now(), row=row, approvals=approvals)
    return sign


def person_mandate(gateway, principal: Citizen, delegate: Citizen, *, client_id: str, acts=("vat_filing",),
                   single_use: bool = False, days: int = 30, accept: bool = True, **extra) -> str:
    """A mandate from ``principal`` to ``delegate`` at ``client_id``, signed (and accepted)."""
    with gateway.db() as db:
        now = gateway.clock.now()
        row = mandates.create(db, creator=db.get(Account, principal.account_id), principal_kind="person",
                              delegate_citizen_id=delegate.citizen_id, scope=[(client_id, list(acts))],
                              single_use=single_use, valid_from=now, valid_until=now + days * 86400,
                              subdelegation_allowed=extra.pop("subdelegation_allowed", False), now=now, **extra)
        mandates.approve(db, row=row, signer=signer_of(db, principal.account_id, now=now),
                         document_sha256=row.document_sha256, now=now, sign=gateway_signer(gateway))
        if accept:
            mandates.accept(db, row=row, account=db.get(Account, delegate.account_id), now=now)
        mandate_id = row.id
        db.commit()
    return mandate_id


def sub_of(gateway, client_id: str, key: str) -> str:
    with gateway.db() as db:
        return gateway.gw.provider.subject_for(client=db.get(Client, client_id), account_id=key)


def sign_in_acting(gateway, service, delegate, *, choice: str | None, act: str | None = "vat_filing"):
    """The delegate's browser through /authorize: the choice page (answered with ``choice``, or
    asserted absent when None), consent, and the code; returns (tokens, rp, choice page text)."""
    rp = rp_client(gateway, service, scope="openid profile offline_access")
    url, _state, _nonce, verifier = authorize_url(gateway, rp, **({"delegation_act": act} if act else {}))
    b = delegate.browser
    page = b.follow(b.get(url))
    choice_text = None
    if choice is None:
        assert 'name="acting"' not in page.text
    else:
        assert page.status_code == 200 and 'name="acting"' in page.text, page.text[:500]
        choice_text = page.text
        action, hidden = form_fields(page.text)
        page = b.follow(b.http.post(action, data={**hidden, "acting": choice}))
    if 'value="allow"' in page.text:
        page = b.consent(page)
    params = callback_params(page)
    return exchange(gateway, rp, params["code"], verifier), rp, choice_text


def decode(gateway, token: str, audience: str) -> dict:
    jwks = httpx.get(gateway.url + "/jwks.json").json()
    return jose_jwt.decode(token, jwks, algorithms=["ES256"], audience=audience, issuer=gateway.url,
                           options={"verify_at_hash": False})
