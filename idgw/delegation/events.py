"""Telling e-services that a delegation ended: a Security Event Token (RFC 8417) pushed to the
``security_event_uri`` each service registered (RFC 8935).

Revoking a mandate (``mandates._revoke_tree``: the mandate and its whole sub-delegation tree)
calls ``queue_revoked`` in the same transaction: one ``security_event_deliveries`` row per
(e-service that was issued a token or an authorization code under one of the mandates and has a
``security_event_uri``, mandate). ``SecurityEvents`` signs each SET when it is sent and POSTs it,
leased, retried and audited by the queue machinery it shares with back-channel logout
(``idgw.oidc.push``).

The SET (RFC 8417 §2.2), header ``typ: secevent+jwt`` (§2.3, so it cannot pass for an ID or
access token), signed with the service's ID-token algorithm; keys at ``/jwks.json``::

    {"iss": "<gateway issuer>", "iat": 1767225600, "jti": "<random, new on every attempt>",
     "aud": "<client_id>", "txn": "<delivery id, the same on every attempt>",
     "events": {"urn:idgw:secevent:delegation-revoked": {
         "subject": {"format": "opaque", "id": "<mandate id>"},
         "principal_sub": "<the principal's sub at this service>",
         "actor_sub": "<the delegate's sub at this service>",
         "reason": "revoked", "revoked_at": 1767225600}}}

* ``urn:idgw:secevent:delegation-revoked``: the mandate named by ``subject`` ended before its
  time; every token issued under it has been revoked, and nothing more may be done under it.
* ``subject``: the mandate, as the ``delegation.id`` claim of tokens issued under it names it
  (RFC 9493 "opaque" format).
* ``principal_sub`` / ``actor_sub``: the ``sub`` and ``act.sub`` those tokens carried: pairwise
  for the service, like every ``sub`` it sees. ``actor_sub`` is absent if nobody accepted it.
* ``reason``: ``revoked`` (by the principal, a director or the delegator), ``renounced`` or
  ``declined`` (by the delegate), ``parent_revoked`` (a sub-delegation ended with its parent).
* ``revoked_at``: when, in Unix seconds.
* No ``sub`` and no ``exp`` at the top (RFC 8417 §2.2: both optional; the subjects are members of
  the event). ``txn`` lets a receiver see that two SETs are attempts at one notice.

Delivery (RFC 8935 §2): the SET is the body of a POST with ``Content-Type:
application/secevent+jwt`` and ``Accept: application/json``. ``202 Accepted`` (§2.2; also 200 and
204) is success; ``400`` with a JSON ``{"err": ...}`` (§2.3, codes §2.4) is a refusal, recorded
with its ``err`` and not retried; network errors, 5xx, 408 and 429 are retried with back-off.
Audited as ``security_event.delivered`` / ``security_event.failed`` with the client and mandate
ids only.
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass

import httpx
from sqlalchemy import select, union

from idgw.delegation.mandates import principal_key
from idgw.oidc.push import Outcome, PushSender, judged
from idgw.security import random_token
from idgw.storage.delegation import Mandate, SecurityEventDelivery
from idgw.storage.models import AuthorizationCode, Client, Token

log = logging.getLogger(__name__)

EVENT = "urn:idgw:secevent:delegation-revoked"
#: RFC 8417 §2.3: the explicit type of a SET; RFC 8935 §2.1: the media type of the POST body.
SET_TYP = "secevent+jwt"
MEDIA_TYPE = "application/" + SET_TYP
#: RFC 8935 §2.4 error codes are ASCII names; anything else is recorded as a bare HTTP 400.
_ERR = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def queue_revoked(db, *, mandate_ids: list[str], now: int) -> int:
    """Queue one SET per (e-service issued tokens or codes under any of ``mandate_ids`` that has a
    ``security_event_uri``, mandate), in the caller's transaction (no commit). The payload keeps
    what the SET needs at send time: the mandate's id, revocation reason and time, and the keys
    its subjects are derived from. Returns how many were queued."""
    ids = sorted(set(mandate_ids))
    if not ids:
        return 0
    issued = union(select(Token.client_id, Token.mandate_id).where(Token.mandate_id.in_(ids)),
                   select(AuthorizationCode.client_id, AuthorizationCode.mandate_id)
                   .where(AuthorizationCode.mandate_id.in_(ids)))
    pairs = {(client_id, mandate_id) for client_id, mandate_id in db.execute(issued)}
    if not pairs:
        return 0
    listening = set(db.scalars(select(Client.client_id).where(
        Client.client_id.in_({c for c, _ in pairs}), Client.security_event_uri.is_not(None),
        Client.security_event_uri != "")))
    rows = {r.id: r for r in db.scalars(select(Mandate).where(Mandate.id.in_({m for _, m in pairs})))}
    queued = 0
    for client_id, mandate_id in sorted(pairs):
        row = rows.get(mandate_id)
        if client_id not in listening or row is None:
            continue
        db.add(SecurityEventDelivery(id=str(uuid.uuid4()), client_id=client_id, event=EVENT,
                                     payload=_payload(row), created_at=now, next_attempt_at=now, attempts=0))
        queued += 1
    return queued


def _payload(row: Mandate) -> dict:
    return {"mandate_id": row.id, "reason": row.revoke_reason, "revoked_at": row.revoked_at,
            "principal": principal_key(row), "actor": row.delegate_account_id}


def revoked_set(provider, *, client: Client, payload: dict, txn: str, now: int) -> str:
    """The signed SET telling ``client`` that the mandate of ``payload`` was revoked (RFC 8417 §2.2)."""
    event = {"subject": {"format": "opaque", "id": payload["mandate_id"]},
             "principal_sub": provider.subject_for(client=client, account_id=payload["principal"])}
    if payload.get("actor"):
        event["actor_sub"] = provider.subject_for(client=client, account_id=payload["actor"])
    event.update(reason=payload["reason"], revoked_at=payload["revoked_at"])
    claims = {"iss": provider.settings.issuer, "iat": now, "jti": random_token(18), "aud": client.client_id,
              "txn": txn, "events": {EVENT: event}}
    return provider.keys.signer(client.id_token_signed_response_alg or "ES256").sign(claims, typ=SET_TYP)


@dataclass(frozen=True)
class EventNotice:
    id: str
    client_id: str
    mandate_id: str
    principal: str
    attempts: int
    uri: str
    token: str


def _refusal_code(response: httpx.Response) -> str | None:
    """The ``err`` of an RFC 8935 §2.3 error response, when it is one."""
    try:
        body = response.json()
    except ValueError:
        return None
    err = body.get("err") if isinstance(body, dict) else None
    return err if isinstance(err, str) and _ERR.fullmatch(err) else None


class SecurityEvents(PushSender[EventNotice]):
    """Sends queued SETs. ``deliver_due`` does one round (blocking; tests call it); ``run`` loops
    in the application's lifespan, woken by ``wake`` after a revocation commits."""

    table = SecurityEventDelivery.__table__
    uri_field = "security_event_uri"
    label = "security event"
    delivered_event = "security_event.delivered"
    failed_event = "security_event.failed"
    logger = log

    def notice(self, db, row, *, client: Client, uri: str, now: int) -> EventNotice:
        payload = row.payload
        token = revoked_set(self.provider, client=client, payload=payload, txn=row.id, now=now)
        return EventNotice(row.id, row.client_id, payload["mandate_id"], payload["principal"], row.attempts, uri,
                           token)

    def post(self, http: httpx.Client, notice: EventNotice) -> httpx.Response:
        # RFC 8935 §2.1: the SET itself is the body.
        return http.post(notice.uri, content=notice.token.encode("ascii"),
                         headers={"Content-Type": MEDIA_TYPE, "Accept": "application/json"})

    def outcome(self, response: httpx.Response) -> Outcome:
        # RFC 8935 §2.2: 202 Accepted; 200 and 204 are taken as success too.
        if response.status_code == 400:
            # §2.3: the receiver refused this SET and says why; sending it again would not help.
            err = _refusal_code(response)
            return Outcome(False, False, f"HTTP 400 {err}" if err else "HTTP 400", {"err": err} if err else {})
        return judged(response, success=(200, 202, 204))

    def audit_of(self, notice: EventNotice) -> dict:
        return {"on_behalf_of": notice.principal, "client_id": notice.client_id, "mandate_id": notice.mandate_id}
