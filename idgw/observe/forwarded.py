"""Which reverse proxies the gateway believes (``IDGW_TRUSTED_PROXIES``) and what it takes from them.

The client address decides throttling and lands in the audit log, and a request id from outside
lands in every log line: both are taken from a request's headers only when the connection comes
from a proxy named in the setting. That check needs the socket's peer, so it is done here, in the
gateway's outermost middleware, and uvicorn's own proxy-header handling is off (``idgw.cli
proxy_options``): uvicorn would replace the peer before any middleware could look at it.

X-Forwarded-For is read from the right: each proxy appends the address it received the request
from, so the first address from the right that is not a trusted proxy is the client; anything left
of it was written by the client and is ignored. X-Forwarded-Proto is taken from the last proxy.
"""

from __future__ import annotations

import ipaddress
import re

_REQUEST_ID = re.compile(rb"[A-Za-z0-9._-]{1,128}")
_SCHEMES = {"http": ("http", "ws"), "https": ("https", "wss")}


class TrustedProxies:
    """``spec``: comma-separated addresses and networks (CIDR), or ``*`` for any peer (only where
    nothing but the proxy can reach the gateway's port). Empty: no proxy is trusted."""

    _CACHE_SIZE = 4096

    def __init__(self, spec: str = "") -> None:
        items = [item.strip() for item in (spec or "").split(",") if item.strip()]
        self.any = "*" in items
        self.networks = tuple(ipaddress.ip_network(item, strict=False) for item in items if item != "*")
        self._known: dict[str, bool] = {}

    def __bool__(self) -> bool:
        return self.any or bool(self.networks)

    def __contains__(self, host: str) -> bool:
        known = self._known.get(host)
        if known is None:
            known = self._check(host)
            if len(self._known) >= self._CACHE_SIZE:
                self._known.clear()
            self._known[host] = known
        return known

    def _check(self, host: str) -> bool:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        if self.any:
            return True
        if address.version == 6 and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self.networks)

    def apply(self, scope) -> bool:
        """When the socket's peer is trusted: the client address and scheme from X-Forwarded-For and
        -Proto written into ``scope``; returns whether the peer is trusted (and its headers believed)."""
        client = scope.get("client")
        if not client or not self or client[0] not in self:
            return False
        forwarded = proto = None
        for name, value in scope["headers"]:
            if name == b"x-forwarded-for":
                forwarded = value if forwarded is None else forwarded + b"," + value
            elif name == b"x-forwarded-proto":
                proto = value
        if forwarded is not None:
            host = client_from(forwarded.decode("latin-1"), self)
            if host is not None:
                scope["client"] = (host, 0)
        if proto is not None:
            schemes = _SCHEMES.get(proto.decode("latin-1").rsplit(",", 1)[-1].strip().lower())
            if schemes is not None:
                scope["scheme"] = schemes[scope["type"] == "websocket"]
        return True


def client_from(forwarded_for: str, trusted: TrustedProxies) -> str | None:
    """The rightmost address of an X-Forwarded-For value that is not a trusted proxy (all trusted:
    the leftmost). A hop that is not an IP address ends the walk: the trusted proxy right of it, or
    None (the socket's peer stays the client) when it is the rightmost; text a client wrote is never
    taken for its address."""
    hops = [hop.strip() for hop in forwarded_for.split(",")]
    chosen = None
    for hop in reversed(hops):
        host = _address(hop)
        if host is None:
            return chosen
        chosen = host
        if host not in trusted:
            return host
    return chosen


def _address(hop: str) -> str | None:
    """An IP address in canonical form, from ``a.b.c.d``, ``a.b.c.d:port``, ``v6`` or ``[v6]:port``."""
    if hop.startswith("["):
        hop = hop[1:].split("]", 1)[0]
    elif hop.count(":") == 1:
        hop = hop.split(":", 1)[0]
    try:
        return str(ipaddress.ip_address(hop))
    except ValueError:
        return None


def forwarded_request_id(headers) -> str | None:
    """The X-Request-ID a trusted proxy sent, if it is 1..128 characters of [A-Za-z0-9._-]."""
    for name, value in headers:
        if name == b"x-request-id":
            return value.decode("ascii") if _REQUEST_ID.fullmatch(value) else None
    return None
