"""OpenID Connect Back-Channel Logout 1.0: tell e-services that a gateway session ended.

Signing out queues one ``logout_deliveries`` row per (e-service, session) in the same transaction
(``idgw.login.sessions.sign_out``); this module signs a logout token for each row when it is sent
and POSTs it to the service's registered ``backchannel_logout_uri``, retrying with back-off.

* The logout token (§2.4) carries ``iss``, ``aud``, ``iat``, ``exp``, ``jti``, the service's
  ``sub`` (pairwise as in its ID tokens), the ``sid`` of its ID tokens and the ``events`` claim;
  never a ``nonce``. Its ``typ`` is ``logout+jwt`` (§2.4, so it cannot pass for an ID token) and it
  is signed with the service's ID-token algorithm.
* Delivery (§2.5, §2.8): form-encoded ``logout_token``; 200 or 204 is success; no redirects are
  followed. Network errors, 5xx, 408 and 429 are retried after ``RETRY_DELAYS``; another 4xx means
  the service refused the token, and it is not sent again. Each outcome is audited.
* Several gateway workers or instances share the queue: a row is leased (``claimed_until``) by
  one conditional UPDATE, so it is sent by one of them at a time. That machinery (lease, retry,
  audit, the sender loop) is ``idgw.oidc.push.PushSender``, shared with Security Event Tokens.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import httpx

from idgw.oidc.push import BATCH, LEASE, POLL_SECONDS, RETRY_DELAYS, PushSender
from idgw.security import random_token
from idgw.storage.models import Client, LogoutDelivery

log = logging.getLogger(__name__)

EVENT = "http://schemas.openid.net/event/backchannel-logout"
#: Back-Channel Logout §2.4 recommends a short lifetime: the token is verified on receipt.
LOGOUT_TOKEN_TTL = 120
__all__ = ["BATCH", "EVENT", "LEASE", "LOGOUT_TOKEN_TTL", "POLL_SECONDS", "RETRY_DELAYS", "BackchannelLogout",
           "Notice", "logout_token"]


@dataclass(frozen=True)
class Notice:
    id: str
    client_id: str
    session_id: str
    account_id: str
    attempts: int
    uri: str
    token: str


def logout_token(provider, *, client: Client, account_id: str, session_id: str, now: int) -> str:
    """The signed logout token for one e-service and one session (Back-Channel Logout §2.4)."""
    claims = {
        "iss": provider.settings.issuer, "aud": client.client_id, "iat": now, "exp": now + LOGOUT_TOKEN_TTL,
        "jti": random_token(18), "sub": provider.subject_for(client=client, account_id=account_id),
        "sid": session_id, "events": {EVENT: {}},
    }
    return provider.keys.signer(client.id_token_signed_response_alg or "ES256").sign(claims, typ="logout+jwt")


class BackchannelLogout(PushSender[Notice]):
    """Sends queued logout notices. ``deliver_due`` does one round (blocking; tests call it);
    ``run`` loops in the application's lifespan, woken by ``wake`` after a sign-out commits."""

    table = LogoutDelivery.__table__
    uri_field = "backchannel_logout_uri"
    label = "back-channel logout"
    delivered_event = "logout.delivered"
    failed_event = "logout.failed"
    logger = log

    def notice(self, db, row, *, client: Client, uri: str, now: int) -> Notice:
        token = logout_token(self.provider, client=client, account_id=row.account_id,
                             session_id=row.session_id, now=now)
        return Notice(row.id, row.client_id, row.session_id, row.account_id, row.attempts, uri, token)

    def post(self, http: httpx.Client, notice: Notice) -> httpx.Response:
        # §2.5: the logout token as a form parameter; 200 or 204 is success (push.judged).
        return http.post(notice.uri, data={"logout_token": notice.token}, headers={"Cache-Control": "no-store"})

    def audit_of(self, notice: Notice) -> dict:
        return {"on_behalf_of": notice.account_id, "client_id": notice.client_id, "session_id": notice.session_id}
