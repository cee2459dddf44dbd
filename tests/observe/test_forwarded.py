"""X-Forwarded-For, -Proto and X-Request-ID are believed from a trusted proxy only (IDGW_TRUSTED_PROXIES):
what the gateway records as the client's address (the audit log) and the request id it answers with."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import select

from idgw.observe.forwarded import TrustedProxies, client_from, forwarded_request_id
from tests.flow import Browser, authorize_url, register, rp_client
from tests.observe.serving import PROXY, via_proxy

HEX32 = re.compile(r"[0-9a-f]{32}")


def _failed_sign_in_ip(gateway, http: httpx.Client, forwarded_for: str) -> str:
    """The address the audit log records for a failed password sent through ``http``."""
    from idgw.storage.models import AuditEvent

    reg = register(gateway)
    rp = rp_client(gateway, reg)
    browser = Browser(gateway)
    browser.http = http
    http.headers["X-Forwarded-For"] = forwarded_for
    url, *_ = authorize_url(gateway, rp)
    browser.login(browser.follow(browser.get(url)), reg.username, password="wrong password, wrong")
    with gateway.db() as db:
        return db.scalar(select(AuditEvent.ip).where(AuditEvent.name == "login.failed",
                                                     AuditEvent.actor == reg.account_id))


def test_the_client_address_comes_from_a_trusted_proxy_only(observed):
    spoofed = "6.6.6.6, 198.51.100.23"
    with httpx.Client(base_url=observed.url, timeout=20) as direct:
        assert _failed_sign_in_ip(observed, direct, spoofed) == "127.0.0.1"
    with via_proxy(base_url=observed.url) as proxied:
        # The client wrote 6.6.6.6; the proxy appended the address it saw, 198.51.100.23.
        assert _failed_sign_in_ip(observed, proxied, spoofed) == "198.51.100.23"
        # A chain of trusted proxies is walked from the right to the first untrusted hop.
        assert _failed_sign_in_ip(observed, proxied, f"198.51.100.24, {PROXY}") == "198.51.100.24"
        # Garbage where the client's address should be: the proxy itself, never the text.
        assert _failed_sign_in_ip(observed, proxied, "<script>, unknown") == PROXY


def test_a_request_id_is_echoed_from_a_trusted_proxy_and_generated_otherwise(observed):
    with via_proxy() as proxied:
        r = proxied.get(observed.url + "/healthz", headers={"X-Request-ID": "edge-7f3a.01_B"})
        assert r.headers["x-request-id"] == "edge-7f3a.01_B"
        for bad in ("a b", "x" * 129, "<script>", "id;drop", ""):
            r = proxied.get(observed.url + "/healthz", headers={"X-Request-ID": bad})
            assert HEX32.fullmatch(r.headers["x-request-id"]), bad
    direct = httpx.get(observed.url + "/healthz", headers={"X-Request-ID": "edge-7f3a.01_B"})
    assert HEX32.fullmatch(direct.headers["x-request-id"])
    again = httpx.get(observed.url + "/healthz")
    assert HEX32.fullmatch(again.headers["x-request-id"]) and again.headers["x-request-id"] != \
        direct.headers["x-request-id"]
    # Every answer carries one, the token endpoint's and a 404 included.
    assert HEX32.fullmatch(httpx.post(observed.url + "/token", data={}).headers["x-request-id"])
    assert HEX32.fullmatch(httpx.get(observed.url + "/no/such/page").headers["x-request-id"])


@pytest.mark.parametrize(("spec", "forwarded", "expected"), [
    ("10.0.0.0/8", "203.0.113.9", "203.0.113.9"),
    ("10.0.0.0/8", "203.0.113.9, 10.1.2.3", "203.0.113.9"),
    ("10.0.0.0/8", "1.1.1.1, 203.0.113.9, 10.1.2.3", "203.0.113.9"),
    ("10.0.0.0/8", "10.9.9.9, 10.1.2.3", "10.9.9.9"),  # all trusted: the leftmost
    ("10.0.0.0/8", "203.0.113.9:4711", "203.0.113.9"),
    ("10.0.0.0/8", "[2001:db8::1]:443, 10.0.0.1", "2001:db8::1"),
    ("10.0.0.0/8", "2001:DB8:0::1", "2001:db8::1"),
    ("10.0.0.0/8", "", None),
    ("10.0.0.0/8", "not-an-ip", None),
    # A broken hop: nothing left of it counts; the trusted proxy that received it stands for the client.
    ("10.0.0.0/8", "203.0.113.9, bogus, 10.0.0.1", "10.0.0.1"),
    ("*", "203.0.113.9, 10.0.0.1", "203.0.113.9"),
])
def test_the_client_is_the_rightmost_untrusted_hop(spec, forwarded, expected):
    assert client_from(forwarded, TrustedProxies(spec)) == expected


def _scope(peer: str, *headers: tuple[bytes, bytes], kind: str = "http") -> dict:
    return {"type": kind, "client": (peer, 5000), "scheme": "http" if kind == "http" else "ws",
            "headers": list(headers)}


def test_proxy_headers_from_an_untrusted_peer_change_nothing():
    trusted = TrustedProxies("10.0.0.0/8, 192.0.2.7")
    headers = ((b"x-forwarded-for", b"203.0.113.9"), (b"x-forwarded-proto", b"https"))
    scope = _scope("198.51.100.1", *headers)
    assert trusted.apply(scope) is False
    assert scope["client"] == ("198.51.100.1", 5000) and scope["scheme"] == "http"
    scope = _scope("192.0.2.7", *headers)
    assert trusted.apply(scope) is True
    assert scope["client"] == ("203.0.113.9", 0) and scope["scheme"] == "https"
    socket = _scope("::ffff:10.0.0.5", *headers, kind="websocket")  # an IPv4 proxy seen on a dual-stack socket
    assert trusted.apply(socket) is True and socket["scheme"] == "wss"
    # Several X-Forwarded-For headers are one list; an unknown scheme is ignored.
    scope = _scope("10.0.0.1", (b"x-forwarded-for", b"1.1.1.1"), (b"x-forwarded-for", b"203.0.113.5"),
                   (b"x-forwarded-proto", b"gopher"))
    assert trusted.apply(scope) and scope["client"] == ("203.0.113.5", 0) and scope["scheme"] == "http"
    assert not TrustedProxies("").apply(_scope("127.0.0.1", *headers))


def test_the_trusted_list_is_checked_when_read():
    with pytest.raises(ValueError):
        TrustedProxies("10.0.0.0/8, proxy.example")
    assert "127.0.0.1" not in TrustedProxies("") and "anything" not in TrustedProxies("*")


@pytest.mark.parametrize(("value", "kept"), [(b"abc", "abc"), (b"A-b_c.9", "A-b_c.9"), (b"x" * 128, "x" * 128),
                                             (b"x" * 129, None), (b"", None), (b"a b", None), (b"\xe0\xb8\x81", None),
                                             (b"a\nb", None)])
def test_a_request_id_is_short_and_plain(value, kept):
    assert forwarded_request_id([(b"x-request-id", value)]) == kept
