"""E-services in the admin console: register from the pages and sign in to the new service (code
flow + PKCE), edit it, issue a new secret (the old one refused at once), disable it (no sign-in,
no token, no refresh, its tokens inactive) and enable it, delete it with four eyes; each refusal
(wildcard, fragment, http outside development, a private key in the JWKS, JWKS and JWKS URI
together) keeps what was typed and changes nothing; the gate (non-admin, stale sign-in) and CSRF.
The audit trail records the actor and the settings before and after, never a secret."""

from __future__ import annotations

import html
import json
import re
from contextlib import closing

import httpx
import pytest
from markupsafe import escape
from sqlalchemy import select

from idgw.admin import AdminError, add_user
from idgw.console import four_eyes, services
from idgw.storage.console import ChangeRequest
from idgw.storage.models import Account, AuditEvent, Client
from tests.console.world import form_post, make_staff, staff_client
from tests.flow import PASSWORD, REDIRECT_URI, Browser, Registered, exchange, login_flow, set_policy

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

NEW = "/admin/services/new"
EC_PUBLIC = {"kty": "EC", "crv": "P-256", "kid": "svc-1", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
             "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}
EC_PRIVATE = {**EC_PUBLIC, "d": "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"}


def fields(**overrides) -> dict:
    """Every field of the service form, as a person fills it in."""
    values = {"name": "กรมทดสอบ Test agency", "client_id": "", "redirect_uris": REDIRECT_URI,
              "post_logout_redirect_uris": "https://rp.example.test/bye", "backchannel_logout_uri": "",
              "auth_method": "client_secret_basic", "jwks": "", "jwks_uri": "", "id_token_alg": "ES256",
              "subject_type": "pairwise", "sector_identifier_uri": "", "scope": "openid profile email offline_access",
              "security_event_uri": ""}
    values.update(overrides)
    return values


def secret_of(page: httpx.Response) -> tuple[str, str | None]:
    client_id = re.search(r'id="client-id" value="([^"]+)"', page.text).group(1)
    secret = re.search(r'id="client-secret" value="([^"]+)"', page.text)
    return html.unescape(client_id), html.unescape(secret.group(1)) if secret else None


def register_page(gateway, http, **overrides) -> httpx.Response:
    page = http.get(gateway.url + NEW)
    assert page.status_code == 200, page.text[:300]
    return form_post(http, page, form=NEW, **fields(**overrides))


def citizen(gateway, username="somsri") -> str:
    with gateway.db() as db:
        account = add_user(db, username=username, password=PASSWORD, now=gateway.clock.now())
        db.commit()
        return account.id


def events(gateway, name: str, client_id: str | None = None) -> list[AuditEvent]:
    with gateway.db() as db:
        query = select(AuditEvent).where(AuditEvent.name == name)
        if client_id:
            query = query.where(AuditEvent.client_id == client_id)
        return list(db.scalars(query.order_by(AuditEvent.id)))


def client_row(gateway, client_id: str) -> Client | None:
    with gateway.db() as db:
        return db.get(Client, client_id)


def token_call(gateway, reg: Registered, data: dict, path="/token", secret=None) -> httpx.Response:
    return httpx.post(gateway.url + path, auth=(reg.client_id, secret or reg.client_secret), data=data)


def test_registered_from_the_console_a_service_signs_people_in_with_code_flow_and_pkce(gateway):
    with closing(staff_client(gateway, "admin.somsak")) as http:
        form = http.get(gateway.url + NEW + "?lang=en")
        assert "Register an e-service" in form.text and 'id="client_id"' in form.text
        page = register_page(gateway, http)
        assert page.status_code == 200 and page.url.path == NEW
        client_id, secret = secret_of(page)
        assert secret and "it is shown only once" in page.text  # the warning (the page is in English now)
        assert f'href="/admin/services/{client_id}"' in page.text  # on to its policy page
        assert f'href="/admin/services/{client_id}/settings"' in page.text
        # the secret is never shown again, nor is it stored
        settings = http.get(gateway.url + f"/admin/services/{client_id}/settings?lang=th")
        assert settings.status_code == 200 and secret not in settings.text and REDIRECT_URI in settings.text
        listing = http.get(gateway.url + "/admin/services")
        assert client_id in listing.text and f"/admin/services/{client_id}/settings" in listing.text
        assert 'href="/admin/services/new"' in listing.text
    row = client_row(gateway, client_id)
    assert row.secret_hash != secret and row.redirect_uris == [REDIRECT_URI]
    assert row.sector_identifier == "rp.example.test"
    created = events(gateway, "client.created", client_id)
    assert len(created) == 1 and created[0].actor == "admin.somsak"
    assert created[0].detail["after"]["redirect_uris"] == [REDIRECT_URI]
    assert secret not in json.dumps(created[0].detail) and row.secret_hash not in json.dumps(created[0].detail)
    # a person signs in to it: the code flow with PKCE, the secret from the page at the token endpoint
    set_policy(gateway, client_id)
    reg = Registered(client_id, secret, "somsri", citizen(gateway))
    params, _state, _nonce, verifier, rp, _browser = login_flow(gateway, reg)
    tokens = exchange(gateway, rp, params["code"], verifier)
    assert tokens["id_token"] and tokens["refresh_token"]


def issued(gateway, http) -> tuple[Registered, dict]:
    """A service registered on the console, with a policy, and a person's tokens for it."""
    client_id, secret = secret_of(register_page(gateway, http))
    set_policy(gateway, client_id)
    reg = Registered(client_id, secret, "somsri", citizen(gateway))
    params, _state, _nonce, verifier, rp, _browser = login_flow(gateway, reg)
    return reg, exchange(gateway, rp, params["code"], verifier)


def test_edit_rotate_disable_and_enable(gateway):
    with closing(staff_client(gateway, "admin.somsak")) as http:
        reg, tokens = issued(gateway, http)
        base = gateway.url + f"/admin/services/{reg.client_id}"
        # edit: another name and a second redirect URI on the same host (the sector stays)
        page = http.get(base + "/settings")
        second = "https://rp.example.test/cb2"
        page = form_post(http, page, form="/settings", **fields(name="ชื่อใหม่ New name",
                                                                redirect_uris=f"{REDIRECT_URI}\n{second}"))
        assert page.url.path.endswith("/settings") and 'id="settings-message"' in page.text, page.text[:500]
        assert client_row(gateway, reg.client_id).redirect_uris == [REDIRECT_URI, second]
        updated = events(gateway, "client.updated", reg.client_id)
        assert len(updated) == 1 and updated[0].actor == "admin.somsak"
        assert updated[0].detail["before"] == {"name": "กรมทดสอบ Test agency", "redirect_uris": [REDIRECT_URI]}
        assert updated[0].detail["after"] == {"name": "ชื่อใหม่ New name", "redirect_uris": [REDIRECT_URI, second]}
        # a move to another host would give everyone a new pairwise sub: refused until confirmed
        page = form_post(http, page, form="/settings", **fields(redirect_uris="https://new.example.test/cb"))
        assert page.status_code == 400 and 'id="confirm_subjects"' in page.text
        assert "https://new.example.test/cb" in page.text  # what was typed is kept
        assert client_row(gateway, reg.client_id).redirect_uris == [REDIRECT_URI, second]

        # a new secret: confirm first; the old one is refused at once, the new one works
        confirm = http.get(base + "/secret")
        assert confirm.status_code == 200 and "ใช้ไม่ได้ทันที" in confirm.text
        page = form_post(http, confirm, form="/secret")
        _client_id, new_secret = secret_of(page)
        assert new_secret and new_secret != reg.client_secret
        refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
        old = token_call(gateway, reg, refresh)
        assert old.status_code == 401 and old.json()["error"] == "invalid_client"
        fresh = token_call(gateway, reg, refresh, secret=new_secret)
        assert fresh.status_code == 200, fresh.text
        tokens = fresh.json()
        rotated = events(gateway, "client.secret_rotated", reg.client_id)
        assert len(rotated) == 1 and rotated[0].actor == "admin.somsak"
        assert new_secret not in json.dumps(rotated[0].detail)
        reg = Registered(reg.client_id, new_secret, reg.username, reg.account_id)

        # a sign-in under way when the service is disabled stops at the next step
        browser = Browser(gateway)
        rp_url = login_url(gateway, reg)
        login = browser.follow(browser.get(rp_url))
        assert 'name="password"' in login.text
        page = http.get(base + "/settings")
        page = form_post(http, page, form="/disable")
        assert "ปิดใช้งานตั้งแต่" in page.text and client_row(gateway, reg.client_id).disabled_at
        listing = http.get(gateway.url + "/admin/services").text
        listed = re.search(rf"<tr class=\"disabled\">.*?{re.escape(reg.client_id)}.*?</tr>", listing, re.S)
        assert listed and "ปิดใช้งาน" in listed.group(0)  # the list says so
        stopped = browser.login(login, reg.username)
        assert stopped.status_code == 403 and "ปิดใช้งาน" in stopped.text
        # disabled: /authorize is an error page (no redirect to the service), the token endpoint
        # refuses (refresh too), introspection says inactive, userinfo refuses its access token
        again = Browser(gateway).get(login_url(gateway, reg))
        assert again.status_code == 400 and "location" not in again.headers and "ปิดใช้งาน" in again.text
        refused = token_call(gateway, reg, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
        assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
        inactive = token_call(gateway, reg, {"token": tokens["access_token"]}, path="/introspect")
        assert inactive.status_code == 200 and inactive.json() == {"active": False}
        info = httpx.get(gateway.url + "/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
        assert info.status_code == 401
        # enabled again: all of it works again (nothing was revoked)
        page = form_post(http, page, form="/enable")
        assert client_row(gateway, reg.client_id).disabled_at is None
        assert token_call(gateway, reg, {"token": tokens["access_token"]}, path="/introspect").json()["active"] is True
        back = token_call(gateway, reg, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
        assert back.status_code == 200, back.text
    disabled = events(gateway, "client.disabled", reg.client_id)
    enabled = events(gateway, "client.enabled", reg.client_id)
    assert [e.actor for e in disabled + enabled] == ["admin.somsak", "admin.somsak"]
    assert disabled[0].detail["before"] == {"disabled_at": None} and enabled[0].detail["after"] == {"disabled_at": None}


def login_url(gateway, reg: Registered) -> str:
    from tests.flow import authorize_url, rp_client

    return authorize_url(gateway, rp_client(gateway, reg))[0]


def test_delete_takes_a_second_admin(gateway):
    with closing(staff_client(gateway, "admin.somsak")) as http:
        reg, tokens = issued(gateway, http)
        page = http.get(gateway.url + f"/admin/services/{reg.client_id}/settings")
        # the client_id must be typed to confirm
        wrong = form_post(http, page, form="/delete", confirm="not-it", reason="ย้ายไประบบใหม่")
        assert wrong.status_code == 400 and "ไม่ตรงกับ" in wrong.text and 'value="not-it"' in wrong.text
        page = form_post(http, wrong, form="/delete", confirm=reg.client_id, reason="ย้ายไประบบใหม่")
        assert 'id="delete-pending"' in page.text and 'href="/admin/changes"' in page.text
        assert client_row(gateway, reg.client_id) is not None  # nothing deleted yet
    with gateway.db() as db:
        request = db.scalar(select(ChangeRequest).where(ChangeRequest.kind == "service.delete"))
        request_id = request.id
        assert request.target == reg.client_id and request.requested_by_name == "admin.somsak"
        assert four_eyes.describe(request, "en") == f"Delete the e-service “กรมทดสอบ Test agency” ({reg.client_id})"
        requester = db.scalar(select(Account).where(Account.username == "admin.somsak"))
        with pytest.raises(four_eyes.FourEyesError) as own:
            four_eyes.approve(db, request_id=request_id, approver=requester, now=gateway.clock.now())
        assert own.value.code == "own_request"
    # a second admin approves it on /admin/changes: the service is gone
    with closing(staff_client(gateway, "admin.somying", path="/admin/changes")) as second:
        changes = second.get(gateway.url + "/admin/changes?lang=en")
        assert f"Delete the e-service “กรมทดสอบ Test agency” ({reg.client_id})" in changes.text
        approved = form_post(second, changes, form=f"/{request_id}/approve")
        assert approved.status_code == 200 and 'id="changes-message"' in approved.text, approved.text[:500]
    assert client_row(gateway, reg.client_id) is None
    refused = token_call(gateway, reg, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert refused.status_code == 401
    removed = events(gateway, "client.removed", reg.client_id)
    assert len(removed) == 1 and removed[0].actor == "admin.somying"
    assert removed[0].detail["requested_by"] == "admin.somsak" and removed[0].detail["change_id"] == request_id
    assert removed[0].detail["before"]["name"] == "กรมทดสอบ Test agency" and reg.client_secret not in json.dumps(
        removed[0].detail)


REFUSALS = [
    ({"redirect_uris": "https://rp.example.test/*"}, "ไม่มีเครื่องหมาย *", "redirect_uris"),
    ({"redirect_uris": "https://rp.example.test/cb#top"}, "ไม่มีส่วน #", "redirect_uris"),
    ({"post_logout_redirect_uris": "https://*.example.test/bye"}, "ไม่มีเครื่องหมาย *", "post_logout_redirect_uris"),
    ({"auth_method": "private_key_jwt", "jwks": json.dumps({"keys": [EC_PRIVATE]})}, "มีกุญแจส่วนตัว", "jwks"),
    ({"auth_method": "private_key_jwt", "jwks": json.dumps({"keys": [EC_PUBLIC]}),
      "jwks_uri": "https://rp.example.test/jwks.json"}, "อย่างใดอย่างหนึ่ง", "jwks"),
    ({"jwks": "{not json"}, "ไม่ใช่ JSON", "jwks"),
    ({"name": ""}, "กรุณากรอกชื่อบริการ", "name"),
]


def test_a_refused_registration_keeps_what_was_typed_and_changes_nothing(gateway):
    with closing(staff_client(gateway, "admin.somsak")) as http:
        for overrides, words, field in REFUSALS:
            page = register_page(gateway, http, client_id="svc-refused", **overrides)
            assert page.status_code == 400 and words in page.text, (overrides, page.text[:2000])
            assert f'<a href="#{field}">' in page.text and f'id="{field}-error"' in page.text  # linked, marked
            assert all(str(escape(value)) in page.text for value in overrides.values()), overrides
        http.get(gateway.url + NEW + "?lang=en")  # the language switch: English from now on
        english = register_page(gateway, http, client_id="svc-refused", redirect_uris="https://rp.example.test/*")
    assert english.status_code == 400 and "must be an absolute https URL with no fragment (#) and no wildcard (*)" \
        in english.text
    assert client_row(gateway, "svc-refused") is None and not events(gateway, "client.created")


def test_the_decisions_are_as_strict_as_the_cli(gateway):
    with gateway.db() as db:
        now = gateway.clock.now()
        # http is for development and loopback only
        with pytest.raises(AdminError) as http_uri:
            services.register(db, fields(redirect_uris="http://rp.example.test/cb"), actor="a", now=now, dev=False)
        assert http_uri.value.code == "uri_https" and http_uri.value.params["field"] == "redirect_uris"
        with pytest.raises(AdminError) as logout_uri:
            services.register(db, fields(backchannel_logout_uri="http://rp.example.test/logout"), actor="a", now=now,
                              dev=False)
        assert logout_uri.value.code == "uri_https"
        row, secret = services.register(db, fields(redirect_uris="http://127.0.0.1:9000/cb"), actor="a", now=now,
                                        dev=False)
        assert secret and row.redirect_uris == ["http://127.0.0.1:9000/cb"]
        # a private key in the JWKS, also on an edit; a public one is taken
        loopback = "http://127.0.0.1:9000/cb"
        with pytest.raises(AdminError) as leaked:
            services.update(db, row.client_id, fields(redirect_uris=loopback, auth_method="private_key_jwt",
                                                      jwks=json.dumps({"keys": [EC_PRIVATE]})),
                            actor="a", now=now, dev=False)
        assert leaked.value.code == "jwks_private" and "svc-1" in leaked.value.params["keys"]
        row, secret = services.update(db, row.client_id, fields(redirect_uris="http://127.0.0.1:9000/cb",
                                                                auth_method="private_key_jwt",
                                                                jwks=json.dumps({"keys": [EC_PUBLIC]})),
                                      actor="a", now=now, dev=False)
        assert secret is None and row.secret_hash is None and row.jwks == {"keys": [EC_PUBLIC]}
        with pytest.raises(AdminError) as no_secret:
            services.rotate_secret(db, row.client_id, actor="a", now=now)
        assert no_secret.value.code == "no_secret"
        assert services.disable(db, row.client_id, actor="a", now=now) is True
        assert services.disable(db, row.client_id, actor="a", now=now) is False  # once only
        db.rollback()


def test_the_gate_and_csrf(gateway):
    # not signed in: to /signin, for the page and for a form
    anonymous = httpx.get(gateway.url + NEW)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/signin?next=")
    # staff without the admin role: 403, for reading and for changing
    make_staff(gateway, "officer.malee", roles=("officer",))
    with httpx.Client(follow_redirects=True, timeout=20) as officer:
        page = officer.get(gateway.url + NEW)
        page = form_post(officer, page, username="officer.malee", password=PASSWORD)
        assert page.url.path == NEW and page.status_code == 403
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token is None  # no form to copy
        assert officer.post(gateway.url + NEW, data=fields()).status_code == 403
    with closing(staff_client(gateway, "admin.somsak")) as http:
        client_id, _secret = secret_of(register_page(gateway, http))
        settings = http.get(gateway.url + f"/admin/services/{client_id}/settings?lang=th")
        # without or with a wrong CSRF token: refused, nothing changed
        missing = http.post(gateway.url + NEW, data=fields(client_id="svc-no-csrf"))
        assert missing.status_code == 403 and client_row(gateway, "svc-no-csrf") is None
        wrong = http.post(gateway.url + f"/admin/services/{client_id}/disable", data={"csrf_token": "0" * 64})
        assert wrong.status_code == 403 and client_row(gateway, client_id).disabled_at is None
        # a stale sign-in (more than 15 minutes ago) may read but not change: sign in again
        gateway.clock.advance(16 * 60)
        assert http.get(gateway.url + f"/admin/services/{client_id}/settings").status_code == 200
        stale = form_post(http, settings, form="/disable")
        assert stale.url.path == "/signin" and client_row(gateway, client_id).disabled_at is None
        page = http.get(gateway.url + NEW)
        stale = form_post(http, page, form=NEW, **fields(client_id="svc-stale"))
        assert stale.url.path == "/signin" and client_row(gateway, "svc-stale") is None
    assert len(events(gateway, "client.created")) == 1 and not events(gateway, "client.disabled")
