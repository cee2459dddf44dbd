"""Checking a delegation over HTTP, by anyone (no sign-in), on SQLite and PostgreSQL: by number and
by signed document (page and JSON), each bad document refused with its reason and nothing else;
the printable document for the people the mandate concerns, 404 for anyone else."""

from __future__ import annotations

import base64
import dataclasses
import json
import re
from datetime import UTC, datetime, timedelta

import httpx
from joserfc.jwk import ECKey

from idgw.delegation import mandates
from idgw.delegation import model as m
from idgw.oidc.keys import Signer
from idgw.storage.delegation import Mandate
from idgw.storage.models import Account
from tests.delegation.world import MALEE, SOMCHAI, SOMYING, citizen, delegable_service, person_mandate

# What a refusal must never show: the principal's name, its masked or full ID, the delegate's.
PRIVATE = ("สมชาย", "Somchai", SOMCHAI[0], SOMYING[0], "1-34xx", "1-10xx", "ยื่นแบบภาษี")


def _world(gateway):
    service = delegable_service(gateway)
    a, b = citizen(gateway, SOMCHAI), citizen(gateway, SOMYING)
    mandate_id = person_mandate(gateway, a, b, client_id=service.client_id)
    with gateway.db() as db:
        jws = db.get(Mandate, mandate_id).jws
    return service, a, b, mandate_id, jws


def _anonymous(gateway) -> httpx.Client:
    return httpx.Client(base_url=gateway.url, follow_redirects=False, timeout=20)


def _jws_form(http: httpx.Client, jws: str) -> httpx.Response:
    page = http.get("/delegations/verify")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    return http.post("/delegations/verify", data={"csrf_token": token, "jws": jws})


def _refused(response: httpx.Response, reason: str, *, status: int = 200) -> None:
    assert response.status_code == status, (response.status_code, response.text[:300])
    for private in PRIVATE:
        assert private not in response.text, private
    if response.headers["content-type"].startswith("application/json"):
        body = response.json()
        assert body == {"valid": False, "status": None, "reason": reason, "delegation": None}, body
    else:
        assert 'class="verdict invalid"' in response.text and 'id="delegation"' not in response.text


def _payload(jws: str) -> dict:
    part = jws.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def test_verify_by_number_page_and_json(gateway):
    service, _a, _b, mandate_id, _jws = _world(gateway)
    with _anonymous(gateway) as http:
        page = http.get(f"/delegations/verify?id={mandate_id}")
        assert page.status_code == 200 and 'class="verdict valid"' in page.text
        assert 'id="status">มีผล<' in page.text and "สมชาย ใจดี" in page.text and "บุคคลธรรมดา" in page.text
        assert "1-34xx-xxxxx-x7-1" in page.text and "1-10xx-xxxxx-x5-6" in page.text  # masked, both
        assert SOMCHAI[0] not in page.text and SOMYING[0] not in page.text
        assert "บริการทดสอบ Test service" in page.text  # the service by its name
        assert "ยื่นแบบภาษีมูลค่าเพิ่ม" in page.text  # the act by its name
        year_be = (datetime.fromtimestamp(gateway.clock.now(), UTC) + timedelta(hours=7)).year + 543
        assert f" {year_be} " in page.text  # Buddhist-era dates
        assert 'id="stamp-duty">ไม่ใช่<' in page.text and 'id="single-use">ไม่ใช่<' in page.text
        en = http.get(f"/delegations/verify?id={mandate_id}&lang=en")
        assert "Genuine" in en.text and "File a VAT return" in en.text and "In effect" in en.text
        data = http.get(f"/delegations/verify.json?id={mandate_id}")
        assert data.status_code == 200 and data.headers["cache-control"] == "no-store"
        body = data.json()
        assert body["valid"] is True and body["status"] == "effective" and body["reason"] is None
        summary = body["delegation"]
        assert summary["principal"] == {"kind": "person", "name": {"th": "สมชาย ใจดี", "en": "Somchai Jaidee"},
                                        "citizen_id": "1-34xx-xxxxx-x7-1"}
        assert summary["delegate"] == {"citizen_id": "1-10xx-xxxxx-x5-6"} and summary["stamp_duty"] is False
        assert SOMCHAI[0] not in data.text and SOMYING[0] not in data.text
        # unknown: 404, nothing else
        unknown = "00000000-0000-4000-8000-000000000000"
        _refused(http.get(f"/delegations/verify?id={unknown}"), "not_found", status=404)
        _refused(http.get(f"/delegations/verify.json?id={unknown}"), "not_found", status=404)
        _refused(http.get("/delegations/verify.json?id=x"), "not_found", status=404)
        assert http.get("/delegations/verify.json").status_code == 400


def test_verify_by_signed_document_page_and_json(gateway):
    _service, _a, _b, mandate_id, jws = _world(gateway)
    with _anonymous(gateway) as http:
        wrapped = "\n".join(jws[i:i + 76] for i in range(0, len(jws), 76))  # as copied from the printed page
        page = _jws_form(http, wrapped)
        assert page.status_code == 200 and 'class="verdict valid"' in page.text and mandate_id in page.text
        # the form is bound to this browser: no token, or another browser's, is refused
        assert http.post("/delegations/verify", data={"jws": jws}).status_code == 403
        with _anonymous(gateway) as other:
            other.get("/delegations/verify")
            token = re.search(r'name="csrf_token" value="([^"]+)"',
                              http.get("/delegations/verify").text).group(1)
            assert other.post("/delegations/verify", data={"csrf_token": token, "jws": jws}).status_code == 403
        answer = http.post("/delegations/verify.json", json={"jws": jws})
        assert answer.status_code == 200 and answer.json()["valid"] is True
        assert answer.json()["delegation"]["id"] == mandate_id
        # a revoked mandate's document still verifies; its status says it is over
        with gateway.db() as db:
            db.get(Mandate, mandate_id).status = m.REVOKED
            db.commit()
        answer = http.post("/delegations/verify.json", json={"jws": jws}).json()
        assert answer["valid"] is True and answer["status"] == "revoked"
        page = _jws_form(http, jws)
        assert 'id="status">ถูกเพิกถอนแล้ว<' in page.text and "ทำการแทนไม่ได้ในขณะนี้" in page.text


def test_bad_documents_refused_with_their_reason_only(gateway):
    _service, _a, _b, mandate_id, jws = _world(gateway)
    header = json.loads(base64.urlsafe_b64decode(jws.split(".")[0] + "=="))
    forged = Signer("ES256", header["kid"], ECKey.generate_key("P-256", private=True)).sign(
        _payload(jws), typ="delegation+jwt")  # same claims and kid, another key
    head, payload, signature = jws.split(".")
    flipped = payload[:40] + ("A" if payload[40] != "A" else "B") + payload[41:]
    altered = f"{head}.{flipped}.{signature}"
    with _anonymous(gateway) as http:
        for bad in (forged, altered, "not.a.jws", "x"):
            _refused(http.post("/delegations/verify.json", json={"jws": bad}), "signature_invalid")
            _refused(_jws_form(http, bad), "signature_invalid")
        # the gateway's own signature over a document that is not this mandate's any more
        with gateway.db() as db:
            row = db.get(Mandate, mandate_id)
            content = m.json_of(row.document)
            content["scope"][0]["acts"] = ["tax_refund"]
            row.document = m.canonical(content)
            row.document_sha256 = m.digest(row.document)
            db.commit()
        _refused(http.post("/delegations/verify.json", json={"jws": jws}), "document_mismatch")
        _refused(_jws_form(http, jws), "document_mismatch")
        # a stored text that no longer hashes to what was signed: refused by number too
        with gateway.db() as db:
            row = db.get(Mandate, mandate_id)
            row.document = row.document.replace("tax_refund", "vat_filing")
            db.commit()
        _refused(http.get(f"/delegations/verify.json?id={mandate_id}"), "document_mismatch")
        _refused(http.get(f"/delegations/verify?id={mandate_id}"), "document_mismatch")


def test_an_unsigned_draft_is_not_valid_and_shows_nothing(gateway):
    service = delegable_service(gateway)
    a = citizen(gateway, SOMCHAI)
    with gateway.db() as db:
        now = gateway.clock.now()
        row = mandates.create(db, creator=db.get(Account, a.account_id), principal_kind="person",
                              delegate_citizen_id=SOMYING[0], scope=[(service.client_id, ["vat_filing"])],
                              single_use=False, valid_from=now, valid_until=now + 86400, subdelegation_allowed=False,
                              now=now)
        draft_id = row.id
        db.commit()
    with _anonymous(gateway) as http:
        answer = http.get(f"/delegations/verify.json?id={draft_id}")
        assert answer.status_code == 200 and answer.json() == {"valid": False, "status": "draft",
                                                               "reason": "not_signed", "delegation": None}
        page = http.get(f"/delegations/verify?id={draft_id}")
        assert "ยังลงนามไม่ครบ" in page.text and 'id="delegation"' not in page.text
        for private in PRIVATE:
            assert private not in page.text and private not in answer.text


def test_malformed_and_oversized_json_refused(gateway):
    with _anonymous(gateway) as http:
        for body in (b"{not json", b"[]", b'{"jws": 5}', b'{"jws": ""}', b'{"jws": {"a": {"b": 1}}}'):
            answer = http.post("/delegations/verify.json", content=body, headers={"content-type": "application/json"})
            assert answer.status_code == 400 and answer.json()["valid"] is False, body
        answer = http.post("/delegations/verify.json", content=b'{"jws": "x"}', headers={"content-type": "text/plain"})
        assert answer.status_code == 415
        huge = json.dumps({"jws": "a" * (70 * 1024)}).encode()
        answer = http.post("/delegations/verify.json", content=huge, headers={"content-type": "application/json"})
        assert answer.status_code == 413 and answer.json()["error"] == "body_too_large"
        page = http.get("/delegations/verify")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        assert http.post("/delegations/verify", data={"csrf_token": token, "jws": "a" * (90 * 1024)}).status_code == 413


def test_verification_spends_the_callers_budget(gateway):
    _service, _a, _b, mandate_id, _jws = _world(gateway)
    gateway.gw.settings = dataclasses.replace(gateway.gw.settings, rate_per_ip=2)
    with _anonymous(gateway) as http:
        assert http.get(f"/delegations/verify.json?id={mandate_id}").status_code == 200
        assert http.get(f"/delegations/verify?id={mandate_id}").status_code == 200
        late = http.get(f"/delegations/verify.json?id={mandate_id}")
        assert late.status_code == 429 and int(late.headers["retry-after"]) > 0
        assert late.json()["error"] == "rate_limited"
        assert http.post("/delegations/verify.json", json={"jws": "x"}).status_code == 429
        assert http.get(f"/delegations/verify?id={mandate_id}").status_code == 429
        assert http.get("/delegations/verify").status_code == 200  # the empty form costs nothing


def test_print_page_for_the_people_concerned_only(gateway):
    _service, a, b, mandate_id, jws = _world(gateway)
    page = a.browser.get(f"/delegations/{mandate_id}/print")
    assert page.status_code == 200, page.text[:300]
    assert "หนังสือมอบอำนาจอิเล็กทรอนิกส์" in page.text and "Electronic delegation of authority" in page.text
    assert '<svg width="' in page.text and 'class="qr"' in page.text  # the QR code, made here
    assert f"{gateway.url}/delegations/verify?id={mandate_id}" in page.text
    assert jws in page.text and 'class="code jws"' in page.text
    with gateway.db() as db:
        row = db.get(Mandate, mandate_id)
        assert row.document_sha256 in page.text and row.model in page.text
    assert "ฉบับชั่วคราว" in page.text  # the model is marked provisional
    assert SOMCHAI[0] in page.text and SOMYING[0] in page.text  # the document itself, for its people
    assert 'id="approvals"' in page.text and "IAL 2.3 · AAL 2.2" in page.text
    assert 'href="/static/delegation.css"' in page.text and "style=" not in page.text
    en = a.browser.get(f"/delegations/{mandate_id}/print?lang=en")
    assert "Provisional" in en.text and "File a VAT return" in en.text
    assert b.browser.get(f"/delegations/{mandate_id}/print").status_code == 200  # the delegate
    stranger = citizen(gateway, MALEE)
    assert stranger.browser.get(f"/delegations/{mandate_id}/print").status_code == 404
    assert a.browser.get("/delegations/00000000-0000-4000-8000-000000000000/print").status_code == 404
    with _anonymous(gateway) as http:
        answer = http.get(f"/delegations/{mandate_id}/print")
        assert answer.status_code == 303
        assert answer.headers["location"] == f"/signin?next=/delegations/{mandate_id}/print"


def test_a_signed_document_still_verifies_after_its_key_left_the_jwks(gateway):
    _service, _a, _b, mandate_id, jws = _world(gateway)
    kid = _header_kid(jws)
    with gateway.db() as db:
        gateway.gw.keys.rotate(db, actor="test")
        db.commit()
    gateway.clock.advance(gateway.gw.settings.max_token_ttl + 60)  # the retired key is no longer published
    gateway.gw.keys.refresh(force=True)
    assert kid not in {k["kid"] for k in httpx.get(gateway.url + "/jwks.json").json()["keys"]}
    assert kid in {k["kid"] for k in httpx.get(gateway.url + "/delegations/keys.json").json()["keys"]}
    answer = httpx.post(gateway.url + "/delegations/verify.json", json={"jws": jws})
    assert answer.status_code == 200 and answer.json()["valid"] is True, answer.text


def _header_kid(jws: str) -> str:
    import base64
    import json

    head = jws.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))["kid"]
