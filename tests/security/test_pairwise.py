"""Pairwise ``sub`` is keyed by sector, not by client (OIDC Core §8.1; security review item 9):
one agency's several services on one host see one ``sub``, different hosts never do, and a
service whose redirect URIs span hosts must register a sector_identifier_uri listing them."""

from __future__ import annotations

import json

import httpx
import pytest
from jose import jwt as jose_jwt

from tests.flow import Browser, add_service, register
from tests.security.receiver import Receiver


def test_services_on_one_host_share_a_sub_and_other_hosts_do_not(gateway):
    first = register(gateway, redirect_uris=["https://rp.agency.test/cb-a"])
    same_host = add_service(gateway, like=first, redirect_uris=["https://rp.agency.test/cb-b"])
    other_host = add_service(gateway, like=first, redirect_uris=["https://rp.health.test/cb"])
    browser = Browser(gateway)
    subs = {}
    for name, reg in (("first", first), ("same_host", same_host), ("other_host", other_host)):
        subs[name] = _sub_with_redirect(gateway, reg, browser)
    assert subs["first"] == subs["same_host"]
    assert subs["first"] != subs["other_host"]


def _sub_with_redirect(gateway, reg, browser):
    """login_flow with the service's own redirect URI."""
    from tests.flow import authorize_url, callback_params, rp_client

    with gateway.db() as db:
        from idgw.storage.models import Client

        redirect = db.get(Client, reg.client_id).redirect_uris[0]
    rp = rp_client(gateway, reg, redirect_uri=redirect)
    url, _state, _nonce, verifier = authorize_url(gateway, rp)
    page = browser.follow(browser.get(url))
    if 'name="password"' in page.text:
        page = browser.login(page, reg.username)
    if 'value="allow"' in page.text:
        page = browser.consent(page)
    params = callback_params(page)
    tokens = rp.fetch_token(gateway.url + "/token", grant_type="authorization_code", code=params["code"],
                            code_verifier=verifier)
    info = httpx.get(gateway.url + "/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}).json()
    sub = jose_jwt.get_unverified_claims(tokens["id_token"])["sub"]
    assert info["sub"] == sub
    return sub


def test_redirect_uris_on_several_hosts_need_a_sector_identifier_uri(gateway):
    from idgw.admin import AdminError, add_client

    with gateway.db() as db, pytest.raises(AdminError, match="sector"):
        add_client(db, name="x", redirect_uris=["https://a.example/cb", "https://b.example/cb"],
                   now=gateway.clock.now())
    # public subjects need no sector
    with gateway.db() as db:
        add_client(db, name="x", redirect_uris=["https://a.example/cb", "https://b.example/cb"],
                   subject_type="public", now=gateway.clock.now())


def test_a_sector_identifier_uri_keys_the_sub_by_its_host(gateway):
    from idgw.admin import AdminError, add_client

    uris = ["https://a.example/cb", "https://b.example/cb"]
    with Receiver() as sector:
        sector.documents["/sector.json"] = json.dumps(uris).encode()
        sector.documents["/partial.json"] = json.dumps(uris[:1]).encode()
        with gateway.db() as db:
            new = add_client(db, name="x", redirect_uris=uris, sector_identifier_uri=sector.url + "/sector.json",
                             now=gateway.clock.now())
            db.commit()
            from idgw.storage.models import Client

            assert db.get(Client, new.client_id).sector_identifier == "127.0.0.1"
        with gateway.db() as db, pytest.raises(AdminError, match="does not list"):
            add_client(db, name="x", redirect_uris=uris, sector_identifier_uri=sector.url + "/partial.json",
                       now=gateway.clock.now())
        with gateway.db() as db, pytest.raises(AdminError, match="could not be read"):
            add_client(db, name="x", redirect_uris=uris, sector_identifier_uri=sector.url + "/missing.json",
                       now=gateway.clock.now())
