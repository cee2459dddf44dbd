"""The console's signing-keys page (/admin/keys): the keys with their state and age, "Rotate now"
(the JWKS serves the new keys and still the old ones), the "rotate soon" flag past 90 days, and
removing a retired public key early only through four eyes (gone from the JWKS once a second
admin approves); the refusals (non-admin, not signed in, CSRF, stale session, an active or
unknown key) change nothing."""

from __future__ import annotations

import time
from contextlib import closing

import httpx
import pytest
from sqlalchemy import select, update

from idgw.console import four_eyes
from idgw.console import keys as console_keys
from idgw.storage.console import ChangeRequest
from idgw.storage.models import Account, AuditEvent, SigningKey
from tests.console.world import form_post, make_staff, staff_client
from tests.upstream_world import wait_until

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def published(gateway) -> set[str]:
    jwks_uri = httpx.get(gateway.url + "/.well-known/openid-configuration").json()["jwks_uri"]
    return {k["kid"] for k in httpx.get(httpx.URL(gateway.url).join(jwks_uri)).json()["keys"]}


def key_rows(gateway) -> dict[str, SigningKey]:
    with gateway.db() as db:
        return {k.kid: k for k in db.scalars(select(SigningKey))}


def audit(gateway, name: str) -> list[AuditEvent]:
    with gateway.db() as db:
        return list(db.scalars(select(AuditEvent).where(AuditEvent.name == name).order_by(AuditEvent.id)))


def test_rotate_now_publishes_new_keys_and_keeps_the_old_ones(gateway):
    old = set(key_rows(gateway))
    assert published(gateway) == old and len(old) == 2
    with closing(staff_client(gateway, "admin.somsak", path="/admin/keys")) as http:
        page = http.get(gateway.url + "/admin/keys", params={"lang": "en"})
        assert page.status_code == 200 and "Signing keys" in page.text
        assert page.text.count('data-state="active"') == 2 and "ES256" in page.text and "RS256, PS256" in page.text
        assert "0 days" in page.text and 'id="schedule-none"' in page.text and "Rotate soon" not in page.text
        done = form_post(http, page, "/rotate")
        assert done.status_code == 200 and "?done=rotated" in str(done.url) and "Keys rotated" in done.text
        rows = key_rows(gateway)
        new = set(rows) - old
        assert len(new) == 2 and all(rows[k].retired_at is not None for k in old)
        # at once (no waiting for the key store's recheck): the JWKS serves the new keys and still the old
        assert published(gateway) == old | new
        for kid in new:
            assert kid in done.text
        assert done.text.count('data-state="retired"') == 2 and 'id="schedule"' in done.text
        # the gateway signs with a new key
        assert gateway.gw.keys.signer("ES256").kid in new
        thai = http.get(gateway.url + "/admin/keys", params={"lang": "th"})
        year = str(time.gmtime(gateway.clock.now()).tm_year + 543)
        assert "เลิกใช้แล้ว ยังเผยแพร่ถึง" in thai.text and year in thai.text  # Buddhist-era dates
    rotated = audit(gateway, "keys.rotated")[-1]
    assert rotated.actor == "admin.somsak" and set(rotated.detail["retired"]) == old
    assert set(rotated.detail["activated"]) == new


def test_keys_older_than_90_days_are_flagged(gateway):
    with gateway.db() as db:
        db.execute(update(SigningKey).values(created_at=gateway.clock.now() - 91 * 86400))
        db.commit()
    with closing(staff_client(gateway, "admin.somsak", path="/admin/keys")) as http:
        page = http.get(gateway.url + "/admin/keys", params={"lang": "en"})
        assert page.text.count("Rotate soon (older than 90 days)") == 2 and "91 days" in page.text
        rotated = form_post(http, page, "/rotate")
        assert "Rotate soon" not in rotated.text  # retired keys are not flagged; the new ones are young


def test_removing_a_retired_key_early_needs_a_second_admin(gateway):
    make_staff(gateway, "admin.second", ("admin",), passkey=False)
    old = set(key_rows(gateway))
    with closing(staff_client(gateway, "admin.somsak", path="/admin/keys")) as http:
        page = form_post(http, http.get(gateway.url + "/admin/keys", params={"lang": "en"}), "/rotate")
        new = set(key_rows(gateway)) - old
        victim = sorted(old)[0]
        asked = form_post(http, page, f"/admin/keys/{victim}/remove-early", reason="x")
        assert asked.status_code == 200 and "?done=requested" in str(asked.url) and "/admin/changes" in asked.text
        assert "waiting for a second admin" in asked.text
        # an active key cannot be removed, an unknown one does not exist
        token = asked.text.split('name="csrf_token" value="')[1].split('"')[0]
        refused = http.post(f"{gateway.url}/admin/keys/{sorted(new)[0]}/remove-early", data={"csrf_token": token})
        assert refused.status_code == 409 and "signs now" in refused.text
        missing = http.post(f"{gateway.url}/admin/keys/no-such-kid/remove-early", data={"csrf_token": token})
        assert missing.status_code == 404
        # the request itself changes nothing: the key stays published
        again = http.post(f"{gateway.url}/admin/keys/{victim}/remove-early", data={"csrf_token": token})
        assert again.status_code == 409 and "already waiting" in again.text
        assert victim in published(gateway) and key_rows(gateway)[victim].unpublish_at > gateway.clock.now()
        with gateway.db() as db:
            request = db.scalar(select(ChangeRequest).where(ChangeRequest.kind == console_keys.REMOVE_EARLY))
            assert request.target == victim and request.reason == "x" and victim in four_eyes.describe(request, "en")
            second = db.scalar(select(Account).where(Account.username == "admin.second"))
            four_eyes.approve(db, request_id=request.id, approver=second, now=gateway.clock.now())
            db.commit()
        assert wait_until(lambda: victim not in published(gateway), timeout=5, what="the key leaves the JWKS")
        assert published(gateway) == (old | new) - {victim}
        page = http.get(gateway.url + "/admin/keys", params={"lang": "en"})
        assert page.text.count('data-state="unpublished"') == 1 and "Unpublished since" in page.text
    removed = audit(gateway, "keys.removed")[-1]
    assert removed.actor == "admin.second" and removed.detail["kid"] == victim
    assert removed.detail["requested_by"] == "admin.somsak" and removed.detail["after"]["unpublish_at"] is not None
    assert removed.detail["before"]["unpublish_at"] > removed.detail["after"]["unpublish_at"]


def test_refusals_rotate_nothing(gateway):
    before = set(key_rows(gateway))
    with httpx.Client(timeout=20) as anonymous:
        assert anonymous.get(gateway.url + "/admin/keys").headers["location"].startswith("/signin?next=")
        assert anonymous.post(gateway.url + "/admin/keys/rotate").headers["location"].startswith("/signin?next=")
    with closing(staff_client(gateway, "auditor.malee", ("auditor",), path="/account")) as auditor:
        assert auditor.get(gateway.url + "/admin/keys").status_code == 403
        assert auditor.post(gateway.url + "/admin/keys/rotate").status_code == 403
    with closing(staff_client(gateway, "admin.somsak", path="/admin/keys")) as http:
        page = http.get(gateway.url + "/admin/keys")
        assert http.post(gateway.url + "/admin/keys/rotate").status_code == 403  # no CSRF token
        assert http.post(gateway.url + "/admin/keys/rotate", data={"csrf_token": "0" * 64}).status_code == 403
        gateway.clock.advance(16 * 60)  # signed in more than 15 minutes ago: sign in again to change anything
        stale = form_post(http, page, "/rotate")
        assert stale.url.path == "/signin" and "next=/admin/keys" in str(stale.url)
    assert set(key_rows(gateway)) == before and audit(gateway, "keys.rotated") == []
