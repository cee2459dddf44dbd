"""Revoking a delegation tells the e-services that were issued tokens under it: a Security Event
Token (RFC 8417) pushed over real HTTP to the ``security_event_uri`` they registered (RFC 8935),
verified here by python-jose against the gateway's published keys. On SQLite and PostgreSQL."""

from __future__ import annotations

import secrets
import uuid

import httpx
import pytest
from jose import jwt as jose_jwt
from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from idgw.delegation import events, mandates
from idgw.delegation.model import MandateError
from idgw.storage.delegation import Mandate, SecurityEventDelivery
from idgw.storage.models import Account, AuditEvent, AuthorizationCode, Client, Token
from providers.simulators.server import ServerThread, free_port
from tests.delegation.world import MALEE, SOMCHAI, SOMYING, citizen, delegable_service, gateway_signer, signer_of
from tests.flow import wait_until

EVENT = "urn:idgw:secevent:delegation-revoked"


class Receiver:
    """An e-service's SET endpoint: records each POST, answers ``answers`` in order (status, JSON
    body or None), then ``202 Accepted``."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        self.answers: list[tuple[int, dict | None]] = []

        async def receive(request: Request) -> Response:
            self.received.append({"path": request.url.path, "content_type": request.headers.get("content-type"),
                                  "accept": request.headers.get("accept"), "token": (await request.body()).decode()})
            status, body = self.answers.pop(0) if self.answers else (202, None)
            return Response(status_code=status) if body is None else JSONResponse(body, status_code=status)

        self.server = ServerThread(Starlette(routes=[Route("/{name}", receive, methods=["POST"])]), port=free_port())
        self.url = self.server.url


@pytest.fixture
def receiver():
    r = Receiver()
    r.server.start()
    yield r
    r.server.stop()


def listen(gateway, client_id: str, uri: str) -> None:
    with gateway.db() as db:
        db.get(Client, client_id).security_event_uri = uri
        db.commit()


def signed_mandate(gateway, creator, delegate, *, client_ids, parent_id: str | None = None,
                   subdelegation_allowed: bool = False) -> str:
    """A person's mandate (or, with ``parent_id``, a sub-delegation by its holder ``creator``) at
    ``client_ids``, signed and accepted."""
    with gateway.db() as db:
        now = gateway.clock.now()
        parent = db.get(Mandate, parent_id) if parent_id else None
        row = mandates.create(db, creator=db.get(Account, creator.account_id), principal_kind="person",
                              delegate_citizen_id=delegate.citizen_id,
                              scope=[(c, ["vat_filing"]) for c in client_ids], single_use=False, valid_from=now,
                              valid_until=parent.valid_until if parent else now + 30 * 86400,
                              subdelegation_allowed=subdelegation_allowed, now=now, parent=parent)
        mandates.approve(db, row=row, signer=signer_of(db, creator.account_id, now=now),
                         document_sha256=row.document_sha256, now=now, sign=gateway_signer(gateway))
        mandates.accept(db, row=row, account=db.get(Account, delegate.account_id), now=now)
        db.commit()
        return row.id


def issued(gateway, *, client_id: str, account_id: str, mandate_id: str, code: bool = False) -> None:
    """A token (or an unredeemed authorization code) issued to ``client_id`` under the mandate."""
    now = gateway.clock.now()
    common = dict(id=str(uuid.uuid4()), client_id=client_id, account_id=account_id, session_id=str(uuid.uuid4()),
                  scope="openid", auth_time=now, acr="urn:test", amr=["pwd"], mandate_id=mandate_id,
                  mandate_act="vat_filing")
    with gateway.db() as db:
        if code:
            db.add(AuthorizationCode(code_hash=secrets.token_hex(32), redirect_uri="https://rp.example.test/cb",
                                     code_challenge="x" * 43, code_challenge_method="S256", created_at=now,
                                     expires_at=now + 60, **common))
        else:
            db.add(Token(kind="access", token_hash=secrets.token_hex(32), jti=secrets.token_hex(16),
                         family_id=str(uuid.uuid4()), issued_at=now, expires_at=now + 3600, **common))
        db.commit()


def revoke(gateway, mandate_id: str, *, by) -> list[str]:
    with gateway.db() as db:
        done = mandates.revoke(db, row=db.get(Mandate, mandate_id), account=db.get(Account, by.account_id),
                               now=gateway.clock.now())
        db.commit()
        return done


def deliver(gateway, receiver: Receiver, *, expect: int) -> None:
    """One round by hand (the app's own sender may get there first: the lease lets one send)."""
    gateway.gw.delegation.events.deliver_due()
    assert wait_until(lambda: len(receiver.received) >= expect, timeout=10), receiver.received
    assert wait_until(lambda: settled(gateway), timeout=10)


def settled(gateway) -> bool:
    """No delivery is leased to a sender right now (its outcome has been recorded)."""
    with gateway.db() as db:
        return db.scalar(select(func.count()).select_from(SecurityEventDelivery)
                         .where(SecurityEventDelivery.claimed_until.is_not(None))) == 0


def sub(gateway, client_id: str, account_id: str) -> str:
    with gateway.db() as db:
        return gateway.gw.provider.subject_for(client=db.get(Client, client_id), account_id=account_id)


def verified_set(gateway, sent: dict, *, client_id: str) -> dict:
    """RFC 8935 §2.1 request and RFC 8417 §2.2 SET checks, by python-jose (not the gateway's code)."""
    assert sent["content_type"] == "application/secevent+jwt" and sent["accept"] == "application/json"
    header = jose_jwt.get_unverified_header(sent["token"])
    assert header["typ"] == "secevent+jwt" and header["kid"]
    jwks = httpx.get(gateway.url + "/jwks.json").json()
    claims = jose_jwt.decode(sent["token"], jwks, algorithms=["ES256", "RS256"], audience=client_id,
                             issuer=gateway.url)
    assert set(claims) == {"iss", "iat", "jti", "aud", "txn", "events"}  # no sub, no exp at the top
    assert claims["aud"] == client_id and list(claims["events"]) == [EVENT]
    return claims


def audited(gateway, name: str, client_id: str) -> list[AuditEvent]:
    with gateway.db() as db:
        return list(db.scalars(select(AuditEvent).where(AuditEvent.name == name, AuditEvent.client_id == client_id)
                               .order_by(AuditEvent.id)))


def deliveries(gateway) -> list[SecurityEventDelivery]:
    with gateway.db() as db:
        return list(db.scalars(select(SecurityEventDelivery).order_by(SecurityEventDelivery.created_at)))


def test_revocation_pushes_one_signed_set_to_each_service_that_was_issued_tokens(gateway, receiver):
    tokens = delegable_service(gateway)
    codes, idle, deaf = (delegable_service(gateway, like=tokens) for _ in range(3))
    for reg, path in ((tokens, "/tokens"), (codes, "/codes"), (idle, "/idle")):
        listen(gateway, reg.client_id, receiver.url + path)  # ``deaf`` registered no security_event_uri
    principal, delegate = citizen(gateway, SOMCHAI), citizen(gateway, SOMYING)
    mandate_id = signed_mandate(gateway, principal, delegate,
                                client_ids=[r.client_id for r in (tokens, codes, idle, deaf)])
    issued(gateway, client_id=tokens.client_id, account_id=delegate.account_id, mandate_id=mandate_id)
    issued(gateway, client_id=codes.client_id, account_id=delegate.account_id, mandate_id=mandate_id, code=True)
    issued(gateway, client_id=deaf.client_id, account_id=delegate.account_id, mandate_id=mandate_id)

    assert revoke(gateway, mandate_id, by=principal) == [mandate_id]
    queued = deliveries(gateway)
    assert sorted(d.client_id for d in queued) == sorted([tokens.client_id, codes.client_id])
    assert {d.event for d in queued} == {EVENT}
    with gateway.db() as db:
        row = db.get(Mandate, mandate_id)
        revoked_at = row.revoked_at
        assert db.scalar(select(Token.revoked_at).where(Token.client_id == tokens.client_id)) == revoked_at
        # queue_revoked counts what it queues (rolled back: the revocation already queued them)
        assert events.queue_revoked(db, mandate_ids=[mandate_id, mandate_id], now=revoked_at) == 2
        db.rollback()

    deliver(gateway, receiver, expect=2)
    assert sorted(r["path"] for r in receiver.received) == ["/codes", "/tokens"]
    txns = {d.client_id: d.id for d in queued}
    for sent in receiver.received:
        reg = tokens if sent["path"] == "/tokens" else codes
        claims = verified_set(gateway, sent, client_id=reg.client_id)
        assert claims["txn"] == txns[reg.client_id]
        assert claims["events"][EVENT] == {
            "subject": {"format": "opaque", "id": mandate_id},
            "principal_sub": sub(gateway, reg.client_id, principal.account_id),
            "actor_sub": sub(gateway, reg.client_id, delegate.account_id),
            "reason": "revoked", "revoked_at": revoked_at}
        [event] = audited(gateway, "security_event.delivered", reg.client_id)
        assert event.detail == {"mandate_id": mandate_id, "attempts": 1}  # no token, no personal data
        assert event.actor == "gateway" and event.on_behalf_of == principal.account_id
    assert all(d.delivered_at is not None and d.attempts == 1 for d in deliveries(gateway))

    # a second round, even much later, sends nothing more; the mandate cannot be revoked twice
    gateway.clock.advance(7200)
    assert gateway.gw.delegation.events.deliver_due() == 0
    with pytest.raises(MandateError) as err:
        revoke(gateway, mandate_id, by=principal)
    assert err.value.code == "already_final"
    assert len(deliveries(gateway)) == 2 and len(receiver.received) == 2


def test_an_unavailable_receiver_is_retried_after_the_back_off(gateway, receiver):
    service = delegable_service(gateway)
    listen(gateway, service.client_id, receiver.url + "/events")
    principal, delegate = citizen(gateway, SOMCHAI), citizen(gateway, SOMYING)
    mandate_id = signed_mandate(gateway, principal, delegate, client_ids=[service.client_id])
    issued(gateway, client_id=service.client_id, account_id=delegate.account_id, mandate_id=mandate_id)
    receiver.answers = [(500, None)]
    revoke(gateway, mandate_id, by=principal)

    deliver(gateway, receiver, expect=1)
    [row] = deliveries(gateway)
    assert row.attempts == 1 and row.delivered_at is None and row.failed_at is None
    assert row.last_error == "HTTP 500" and row.next_attempt_at > gateway.clock.now()
    gateway.clock.advance(6)  # past the first delay (push.RETRY_DELAYS[0] == 5)
    deliver(gateway, receiver, expect=2)
    [row] = deliveries(gateway)
    assert row.attempts == 2 and row.delivered_at is not None and row.last_error is None
    first, second = (verified_set(gateway, s, client_id=service.client_id) for s in receiver.received)
    assert first["jti"] != second["jti"] and first["txn"] == second["txn"] == row.id  # signed afresh, one notice
    [event] = audited(gateway, "security_event.delivered", service.client_id)
    assert event.detail == {"mandate_id": mandate_id, "attempts": 2}
    assert audited(gateway, "security_event.failed", service.client_id) == []


def test_a_set_the_receiver_refuses_is_recorded_and_not_sent_again(gateway, receiver):
    service = delegable_service(gateway)
    listen(gateway, service.client_id, receiver.url + "/events")
    principal, delegate = citizen(gateway, SOMCHAI), citizen(gateway, SOMYING)
    mandate_id = signed_mandate(gateway, principal, delegate, client_ids=[service.client_id])
    issued(gateway, client_id=service.client_id, account_id=delegate.account_id, mandate_id=mandate_id)
    receiver.answers = [(400, {"err": "invalid_key", "description": "Key ID is not recognised"})]
    revoke(gateway, mandate_id, by=principal)

    deliver(gateway, receiver, expect=1)
    [row] = deliveries(gateway)
    assert row.failed_at is not None and row.delivered_at is None and row.attempts == 1
    assert row.last_error == "HTTP 400 invalid_key"
    [event] = audited(gateway, "security_event.failed", service.client_id)
    assert event.detail == {"mandate_id": mandate_id, "attempts": 1, "error": "HTTP 400 invalid_key",
                            "err": "invalid_key"}
    gateway.clock.advance(7200)
    gateway.gw.delegation.events.wake()
    assert gateway.gw.delegation.events.deliver_due() == 0
    assert len(receiver.received) == 1


def test_revoking_a_parent_tells_the_services_of_its_sub_delegations(gateway, receiver):
    parent_service = delegable_service(gateway, max_depth=2)
    sub_service = delegable_service(gateway, like=parent_service, max_depth=2)
    listen(gateway, parent_service.client_id, receiver.url + "/parent")
    listen(gateway, sub_service.client_id, receiver.url + "/sub")
    principal, holder, sub_holder = citizen(gateway, SOMCHAI), citizen(gateway, SOMYING), citizen(gateway, MALEE)
    parent_id = signed_mandate(gateway, principal, holder, subdelegation_allowed=True,
                               client_ids=[parent_service.client_id, sub_service.client_id])
    child_id = signed_mandate(gateway, holder, sub_holder, client_ids=[sub_service.client_id], parent_id=parent_id)
    issued(gateway, client_id=parent_service.client_id, account_id=holder.account_id, mandate_id=parent_id)
    issued(gateway, client_id=sub_service.client_id, account_id=sub_holder.account_id, mandate_id=child_id)

    assert sorted(revoke(gateway, parent_id, by=principal)) == sorted([parent_id, child_id])
    deliver(gateway, receiver, expect=2)
    sent = {r["path"]: r for r in receiver.received}
    assert set(sent) == {"/parent", "/sub"}
    for path, reg, mandate_id, actor, reason in (
            ("/parent", parent_service, parent_id, holder, "revoked"),
            ("/sub", sub_service, child_id, sub_holder, "parent_revoked")):
        event = verified_set(gateway, sent[path], client_id=reg.client_id)["events"][EVENT]
        assert event["subject"] == {"format": "opaque", "id": mandate_id} and event["reason"] == reason
        assert event["principal_sub"] == sub(gateway, reg.client_id, principal.account_id)
        assert event["actor_sub"] == sub(gateway, reg.client_id, actor.account_id)
    assert all(d.delivered_at is not None for d in deliveries(gateway))
