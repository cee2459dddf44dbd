"""ICE servers for a proofing call, in the browser's RTCIceServer shape (also what CallMedia takes).

TURN credentials follow the TURN REST API shared-secret scheme (draft-uberti-behave-turn-rest,
coturn's ``use-auth-secret``): the username is ``<expiry unix time>:<label>`` and the credential
base64(HMAC-SHA1(secret, username)); the TURN server recomputes it and refuses it after the expiry.
No TURN account is stored anywhere. With no STUN or TURN URL configured the list is empty: host
candidates only (enough when browsers and gateway reach each other directly, e.g. on one machine).

``turn_ttl`` bounds when an allocation may be made, so mint the list when a browser connects (and
for the gateway's own side at each offer), not once per case.
"""

from __future__ import annotations

import base64
import hashlib
import hmac


def _urls(value: str) -> list[str]:
    return [u.strip() for u in value.split(",") if u.strip()]


def turn_credential(secret: str, username: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()).decode()


def ice_servers(settings, *, now: int, label: str) -> list[dict]:
    """``settings.stun_urls`` / ``turn_urls``: comma-separated ``stun:``/``turn:``/``turns:`` URLs;
    ``turn_secret``: coturn's ``static-auth-secret``; ``turn_ttl``: seconds the credential lasts.
    ``label``: who it is for, e.g. ``case-<id>-citizen`` (coturn logs it; keep personal data out)."""
    if ":" in label:
        raise ValueError("the label must not contain ':' (it separates the expiry in the username)")
    servers: list[dict] = []
    stun = _urls(settings.stun_urls)
    if stun:
        servers.append({"urls": stun})
    turn = _urls(settings.turn_urls)
    if turn:
        if not settings.turn_secret:
            raise ValueError("TURN URLs need turn_secret")
        username = f"{now + int(settings.turn_ttl)}:{label}"
        servers.append({"urls": turn, "username": username,
                        "credential": turn_credential(settings.turn_secret, username)})
    return servers
