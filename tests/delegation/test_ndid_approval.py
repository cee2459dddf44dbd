"""Approving a delegation in one's own NDID app (``dsign.dcontract``) over real HTTP: the gateway with
the NDID simulator as its upstream (tests/upstream_world.py). The simulated IdP node fetches the
document from the gateway's document URL and checks its SHA-256 before an accept counts; the
gateway records the approval (method ``ndid_dsign``, the IdP's levels) only from the node's answer.
Refusals (not a signer, no CSRF token, levels below the mandate's, a changed document) record
nothing."""

from __future__ import annotations

import hashlib

import httpx
import pytest
from sqlalchemy import select

from idgw.delegation import catalogue, mandates
from idgw.delegation import model as m
from idgw.delegation.ndid_approval import KIND, ndid_offer
from idgw.storage.delegation import Mandate, MandateApproval
from idgw.storage.models import Account, UpstreamAttempt
from providers.dbd import DbdRegistry
from providers.simulators.dbd import DEMO_COMPANY_ID, create_dbd_app
from providers.simulators.server import ServerThread, free_port
from tests.delegation.world import (
    MALEE,
    PRASERT,
    SOMCHAI,
    SOMYING,
    citizen,
    delegable_service,
    gateway_signer,
    signer_of,
)
from tests.upstream_world import Upstreams, wait_until

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
WAIT_TITLE = "อนุมัติการมอบอำนาจในแอปของท่าน"
NOT_RECORDED = "ยังไม่มีการบันทึกการอนุมัติใด ๆ"


@pytest.fixture
def world(database_url, tmp_path):
    running = Upstreams(database_url, tmp_path)
    yield running
    running.close()


def draft(gateway, principal, delegate, *, client_id: str) -> tuple[str, str]:
    """A person's mandate in draft: (id, document SHA-256)."""
    with gateway.db() as db:
        now = gateway.clock.now()
        row = mandates.create(db, creator=db.get(Account, principal.account_id), principal_kind="person",
                              delegate_citizen_id=delegate.citizen_id, scope=[(client_id, ["vat_filing"])],
                              single_use=False, valid_from=now, valid_until=now + 30 * 86400,
                              subdelegation_allowed=False, now=now)
        db.commit()
        return row.id, row.document_sha256


def csrf(gateway, person, purpose: str) -> str:
    return gateway.gw.pages.csrf_token(person.browser.http.cookies.get("idgw_browser"), purpose)


def start(gateway, person, mandate_id: str, **form):
    data = {"csrf_token": csrf(gateway, person, f"ndid:{mandate_id}"), **form}
    return person.browser.http.post(f"/delegations/{mandate_id}/ndid", data=data)


def started(world, person, mandate_id: str) -> tuple[str, dict]:
    """Start, and return (the waiting page's path, the request the platform received)."""
    answer = start(world.gateway, person, mandate_id)
    assert answer.status_code == 303, answer.text[-600:]
    wait_url = answer.headers["location"]
    assert wait_url.startswith(f"/delegations/{mandate_id}/ndid/")
    return wait_url, world.requests()[-1]


def ended(person, wait_url: str) -> str:
    """Poll the status JSON as static/ndid_wait.js does, until the attempt ends: its ``next``."""
    def done():
        answer = person.browser.http.get(wait_url + "/status")
        assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store", answer.text
        return answer.json()["next"] if answer.json()["state"] == "done" else None
    return wait_until(done, timeout=20, every=0.2, what="the end of the NDID approval")


def mandate(gateway, mandate_id: str) -> tuple[Mandate, list[MandateApproval]]:
    with gateway.db() as db:
        row = db.get(Mandate, mandate_id)
        db.expunge(row)
        return row, list(db.scalars(select(MandateApproval).where(MandateApproval.mandate_id == mandate_id)))


def test_the_principal_approves_in_the_ndid_app(world):
    g = world.gateway
    assert ndid_offer(g.gw)
    service = delegable_service(g)
    somchai, somying = citizen(g, SOMCHAI), citizen(g, SOMYING)
    mandate_id, sha = draft(g, somchai, somying, client_id=service.client_id)

    wait_url, request = started(world, somchai, mandate_id)
    document_url = f"{g.url}/delegations/document/{sha}"
    assert request["request_type"] == "dsign.dcontract" and request["identifier"] == SOMCHAI[0]
    assert (request["min_ial"], request["min_aal"]) == ("2.1", "2.1")  # catalogue.required_levels
    th, en, url = request["request_message"].split("\n")
    assert url == document_url and mandate_id in th and mandate_id in en
    assert "สมชาย ใจดี" in th and "สมหญิง รักไทย" in th and "Somchai Jaidee" in en and "Somying Rakthai" in en
    page = somchai.browser.http.get(wait_url)
    assert page.status_code == 200 and WAIT_TITLE in page.text and 'src="/static/ndid_wait.js"' in page.text
    assert f'data-status-url="{wait_url}/status"' in page.text and "IAL 2.1" in page.text
    assert start(g, somchai, mandate_id).headers["location"] == wait_url  # a second click: the same wait

    world.answer(request["request_id"], ial="2.3", aal="2.2")  # the IdP node fetches the document first
    assert ended(somchai, wait_url) == f"/delegations/{mandate_id}?done=signed"
    checks = world.request(request["request_id"])["document_checks"]
    assert [c["problem"] for c in checks] == [None]
    row, approvals = mandate(g, mandate_id)
    assert row.status == m.AWAITING_ACCEPTANCE and row.jws
    [approval] = approvals
    assert (approval.method, approval.ial, approval.aal, approval.role) == ("ndid_dsign", "2.3", "2.2", "delegator")
    assert approval.reference == request["request_id"] and approval.document_sha256 == sha
    assert approval.account_id == somchai.account_id
    assert [e.detail["method"] for e in world.audit("delegation.approved")] == ["ndid_dsign"]
    assert somchai.browser.http.get(wait_url).headers["location"] == f"/delegations/{mandate_id}?done=signed"
    # The document is no longer published once signed.
    assert somchai.browser.http.get(document_url).status_code == 404


@SQLITE_ONLY
def test_an_approval_is_recorded_even_when_the_browser_is_gone(world):
    g = world.gateway
    service = delegable_service(g)
    somchai, somying = citizen(g, SOMCHAI), citizen(g, SOMYING)
    mandate_id, _sha = draft(g, somchai, somying, client_id=service.client_id)
    world.ndid_faults(idp_answers={"idp-bank-a": "accept"})  # the IdP answers at once, nobody polls
    wait_url, _request = started(world, somchai, mandate_id)
    # The platform's callbacks (hints only) make the gateway read the node and record the approval.
    wait_until(lambda: mandate(g, mandate_id)[0].status == m.AWAITING_ACCEPTANCE, what="the approval")
    assert [(a.ial, a.aal) for a in mandate(g, mandate_id)[1]] == [("2.3", "2.2")]
    assert ended(somchai, wait_url) == f"/delegations/{mandate_id}?done=signed"


@SQLITE_ONLY
def test_a_document_changed_after_publishing_is_31000_and_records_nothing(world):
    g = world.gateway
    service = delegable_service(g)
    somchai, somying = citizen(g, SOMCHAI), citizen(g, SOMYING)
    mandate_id, sha = draft(g, somchai, somying, client_id=service.client_id)
    wait_url, request = started(world, somchai, mandate_id)
    with g.db() as db:  # the stored text changes under its published name
        row = db.get(Mandate, mandate_id)
        row.document = row.document.replace('"single_use":false', '"single_use":true')
        db.commit()
    world.answer(request["request_id"])
    assert ended(somchai, wait_url) == wait_url
    # The gateway no longer publishes a text that does not hash to its name: the IdP node's fetch fails.
    assert "HTTP 404" in world.request(request["request_id"])["document_checks"][0]["problem"]
    page = somchai.browser.http.get(wait_url)
    assert page.status_code == 400 and "เอกสาร" in page.text and NOT_RECORDED in page.text
    assert f'action="/delegations/{mandate_id}/ndid"' in page.text  # try again
    row, approvals = mandate(g, mandate_id)
    assert row.status == m.DRAFT and approvals == [] and row.document_sha256 == sha
    [failed] = world.audit("upstream.failed")
    assert failed.detail["code"] == "document_unverified" and failed.detail["provider"] == KIND + "ndid"


@SQLITE_ONLY
def test_an_idp_answering_below_the_mandate_levels_is_refused(world):
    g = world.gateway
    service = delegable_service(g)
    with g.db() as db:
        catalogue.set_rules(db, client_id=service.client_id, sign_ial="2.1", sign_aal="2.2", any_act_allowed=False,
                            stamp_duty_required=False, max_depth=1, actor="test-admin", now=g.clock.now())
        db.commit()
    somchai, somying = citizen(g, SOMCHAI), citizen(g, SOMYING)
    mandate_id, _sha = draft(g, somchai, somying, client_id=service.client_id)
    wait_url, request = started(world, somchai, mandate_id)
    assert request["min_aal"] == "2.2"
    world.ndid_faults(ignore_floors=True)  # a misbehaving IdP answers below the request's floors
    world.answer(request["request_id"], ial="2.3", aal="2.1")
    assert ended(somchai, wait_url) == wait_url
    page = somchai.browser.http.get(wait_url)
    assert "IAL 2.1 และ AAL 2.2" in page.text and NOT_RECORDED in page.text
    row, approvals = mandate(g, mandate_id)
    assert row.status == m.DRAFT and approvals == []
    assert [e.detail["code"] for e in world.audit("upstream.failed")] == ["aal_too_low"]


@SQLITE_ONLY
def test_only_a_signer_may_start_and_only_with_the_csrf_token(world):
    g = world.gateway
    service = delegable_service(g)
    somchai, somying, malee = citizen(g, SOMCHAI), citizen(g, SOMYING), citizen(g, MALEE)
    mandate_id, _sha = draft(g, somchai, somying, client_id=service.client_id)
    for other in (somying, malee):  # the delegate, a stranger
        refused = start(g, other, mandate_id)
        assert refused.status_code == 403 and "ท่านไม่ใช่ผู้ที่ต้องลงนาม" in refused.text
    no_token = somchai.browser.http.post(f"/delegations/{mandate_id}/ndid", data={})
    assert no_token.status_code == 403
    wrong = start(g, somchai, mandate_id, csrf_token=csrf(g, somchai, f"delegation:{mandate_id}"))
    assert wrong.status_code == 403
    assert world.requests() == []  # no NDID request was opened
    with g.db() as db:
        assert db.scalars(select(UpstreamAttempt)).all() == []

    # The waiting page, its status and Cancel are the starter's browser's only.
    wait_url, request = started(world, somchai, mandate_id)
    assert malee.browser.http.get(wait_url).status_code == 404
    assert malee.browser.http.get(wait_url + "/status").status_code == 404
    cancel = {"csrf_token": csrf(g, malee, f"ndid-wait:{wait_url.rsplit('/', 1)[1]}")}
    assert malee.browser.http.post(wait_url + "/cancel", data=cancel).status_code == 404
    cancel = {"csrf_token": csrf(g, somchai, f"ndid-wait:{wait_url.rsplit('/', 1)[1]}")}
    assert somchai.browser.http.post(wait_url + "/cancel", data={}).status_code == 403
    cancelled = somchai.browser.http.post(wait_url + "/cancel", data=cancel)
    assert cancelled.status_code == 303 and cancelled.headers["location"] == f"/delegations/{mandate_id}"
    assert wait_until(lambda: world.request(request["request_id"])["closed"], what="the close at the node")
    assert mandate(g, mandate_id)[1] == []


@SQLITE_ONLY
def test_the_document_url_serves_only_open_mandates(world):
    g = world.gateway
    service = delegable_service(g)
    somchai, somying = citizen(g, SOMCHAI), citizen(g, SOMYING)
    http = httpx.Client(base_url=g.url)  # anyone: the IdP node does not sign in
    mandate_id, sha = draft(g, somchai, somying, client_id=service.client_id)
    served = http.get(f"/delegations/document/{sha}")
    assert served.status_code == 200 and hashlib.sha256(served.content).hexdigest() == sha
    assert served.headers["content-type"] == "application/json; charset=utf-8"
    assert served.headers["cache-control"] == "no-store" and served.json()["id"] == mandate_id
    for bad in (sha.upper(), sha[:-1], sha + "0", "x" * 64, hashlib.sha256(b"other").hexdigest()):
        assert http.get(f"/delegations/document/{bad}").status_code == 404

    with g.db() as db:  # a stored text that no longer hashes to its name is not published
        row = db.get(Mandate, mandate_id)
        original, row.document = row.document, row.document.replace("vat_filing", "tax_refund")
        db.commit()
    assert http.get(f"/delegations/document/{sha}").status_code == 404
    with g.db() as db:
        db.get(Mandate, mandate_id).document = original
        db.commit()

    signed_id, signed_sha = draft(g, somchai, somying, client_id=service.client_id)
    with g.db() as db:  # signed: awaiting acceptance
        row, now = db.get(Mandate, signed_id), g.clock.now()
        mandates.approve(db, row=row, signer=signer_of(db, somchai.account_id, now=now),
                         document_sha256=signed_sha, now=now, sign=gateway_signer(g))
        db.commit()
    with g.db() as db:  # revoked
        mandates.revoke(db, row=db.get(Mandate, mandate_id), account=db.get(Account, somchai.account_id),
                        now=g.clock.now())
        db.commit()
    assert http.get(f"/delegations/document/{signed_sha}").status_code == 404
    assert http.get(f"/delegations/document/{sha}").status_code == 404


@SQLITE_ONLY
def test_a_director_approves_for_the_company_under_its_signing_rule(database_url, tmp_path):
    registry = ServerThread(create_dbd_app(), port=free_port()).start()
    world = Upstreams(database_url, tmp_path, company_registry_url=registry.url)
    try:
        g = world.gateway
        service = delegable_service(g)
        director, outsider, employee = citizen(g, SOMCHAI), citizen(g, MALEE), citizen(g, PRASERT)
        with g.db() as db:
            now = g.clock.now()
            row = mandates.create(db, creator=db.get(Account, director.account_id), principal_kind="company",
                                  company=DbdRegistry(base_url=registry.url, timeout=5).lookup(DEMO_COMPANY_ID),
                                  delegate_citizen_id=employee.citizen_id, scope=[(service.client_id, ["vat_filing"])],
                                  single_use=False, valid_from=now, valid_until=now + 86400,
                                  subdelegation_allowed=False, now=now)
            db.commit()
            mandate_id = row.id
        refused = start(g, outsider, mandate_id)
        assert refused.status_code == 403 and "กรรมการผู้มีอำนาจ" in refused.text
        world.ndid_faults(idp_answers={"idp-bank-a": "accept"})
        wait_url, request = started(world, director, mandate_id)
        assert "บริษัท ตัวอย่างการค้า จำกัด" in request["request_message"]
        assert ended(director, wait_url) == f"/delegations/{mandate_id}?done=signed"
        row, approvals = mandate(g, mandate_id)
        assert row.status == m.AWAITING_SIGNATURES  # two directors jointly: one more to sign
        assert [(a.role, a.method, a.citizen_id) for a in approvals] == [("director", "ndid_dsign", SOMCHAI[0])]
    finally:
        world.close()
        registry.stop()


@SQLITE_ONLY
def test_not_offered_without_an_ndid_upstream(gateway):
    assert not ndid_offer(gateway.gw)
    service = delegable_service(gateway)
    somchai, somying = citizen(gateway, SOMCHAI), citizen(gateway, SOMYING)
    mandate_id, _sha = draft(gateway, somchai, somying, client_id=service.client_id)
    assert start(gateway, somchai, mandate_id).status_code == 404
    unknown = somchai.browser.http.post("/delegations/ndid-callback/" + "a" * 43, json={"request_id": "x"})
    assert unknown.status_code == 409 and unknown.json() == {"error": "unknown_request"}
