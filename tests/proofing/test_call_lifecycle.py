"""The call around a case against the real gateway (idgw.proofing.call): a side leaving (officer:
back to the queue, first in line; citizen: expired), the sweeper, who may join the WebSocket,
hostile messages on an authorised socket, the officer's live-check endpoints' refusals, and a
sign-in that times out while the citizen waits (its life extended by polls up to the cap)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time

import httpx
import pytest
from sqlalchemy import select, update

from idgw.proofing import call, cases, media_store, record
from idgw.storage.models import Account, AuditEvent, Interaction
from idgw.storage.proofing import ProofingCase
from tests.conftest import start_gateway
from tests.proofing.citizen_world import SOMCHAI, card_form, case_id_of, running_world
from tests.proofing.test_citizen_flow import _csrf, approve, consent_and_card_page, start
from tests.proofing.world import case_row, citizen_browser, make_case, officer_client

GRACE = 0.5
JPEG = b"\xff\xd8\xff\xe0" + b"reference photo" * 10 + b"\xff\xd9"


@pytest.fixture
def gateway(database_url, monkeypatch):
    """The gateway with short grace periods and no background sweeper (the tests run
    ``call.sweep_once`` themselves, and must not race it)."""
    monkeypatch.setattr(call, "SWEEP_EVERY", 3600.0)
    running = start_gateway(database_url)
    running.gw.proofing.grace = {"officer": GRACE, "citizen": GRACE}
    yield running
    running.stop()
    running.gw.engine.dispose()


sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


# -- helpers -----------------------------------------------------------------------------------------
def citizen_cookie(gateway, ref) -> str:
    return f"{gateway.gw.settings.cookie_name}={ref.cookie}"


def cookies_of(http: httpx.Client) -> str:
    return "; ".join(f"{c.name}={c.value}" for c in http.cookies.jar)


def browser_of(http: httpx.Client) -> str:
    return next(c.value for c in http.cookies.jar if c.name == "idgw_browser")


def csrf(gateway, http: httpx.Client, case_id: str) -> dict:
    return {"X-CSRF-Token": gateway.gw.pages.csrf_token(browser_of(http), f"officer:{case_id}")}


def claim(gateway, http: httpx.Client, case_id: str) -> None:
    token = gateway.gw.pages.csrf_token(browser_of(http), f"officer:{case_id}")
    page = http.post(f"/officer/case/{case_id}/claim", data={"csrf_token": token})
    assert page.url.path == f"/officer/case/{case_id}", (page.status_code, page.url)
    assert case_row(gateway, case_id).state == "claimed"


def audit_of(gateway, name: str, case_id: str) -> list[dict]:
    with gateway.db() as db:
        rows = db.scalars(select(AuditEvent).where(AuditEvent.name == name)).all()
        return [e.detail for e in rows if e.detail.get("case") == case_id]


def record_of(gateway, case_id: str) -> list[tuple[str, dict]]:
    with gateway.db() as db:
        return [(e.kind, e.data) for e in record.entries(db, case_id)]


def connect(gateway, case_id: str, cookie: str | None = None, origin: str | None = "default"):
    from websockets.asyncio.client import connect as ws_connect

    headers = {"Cookie": cookie} if cookie else {}
    return ws_connect(gateway.url.replace("http", "ws", 1) + f"/proofing/ws/{case_id}",
                      origin=gateway.url if origin == "default" else origin, additional_headers=headers,
                      proxy=None, compression=None, max_size=None, open_timeout=5)


async def receive(sock, name: str | None = None, timeout: float = 5.0, **fields) -> dict:
    """The next message that is not a presence event (or the next event called ``name`` with
    these ``fields``)."""
    while True:
        message = json.loads(await asyncio.wait_for(sock.recv(), timeout))
        if name is None and not (message["type"] == "event" and message["name"] == "presence"):
            return message
        if name and message.get("name") == name and fields.items() <= message.items():
            return message


async def drain(sock, seconds: float) -> list[dict]:
    """Everything the socket receives within ``seconds``."""
    got, end = [], time.monotonic() + seconds
    with contextlib.suppress(asyncio.TimeoutError):
        while (left := end - time.monotonic()) > 0:
            got.append(json.loads(await asyncio.wait_for(sock.recv(), left)))
    return got


async def closed(sock) -> int:
    from websockets.exceptions import ConnectionClosed

    with contextlib.suppress(ConnectionClosed):
        while True:
            await asyncio.wait_for(sock.recv(), 5)
    return sock.close_code


async def until(predicate, timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "timed out"
        await asyncio.sleep(0.02)


async def refused_with(gateway, case_id: str, cookie: str | None = None) -> tuple[str, int]:
    """(error code, close code) of a socket the gateway refuses after the handshake."""
    async with connect(gateway, case_id, cookie) as sock:
        return (await receive(sock))["code"], await closed(sock)


# -- 1. the officer's call drops -----------------------------------------------------------------
def test_officer_gone_hands_the_case_back_first_in_line(gateway):
    ref = make_case(gateway)
    gateway.clock.advance(30)
    later = make_case(gateway)
    queued_at = case_row(gateway, ref.case_id).queued_at
    officer = officer_client(gateway, "officer.lek")
    claim(gateway, officer, ref.case_id)
    rooms = gateway.gw.proofing.rooms

    async def scenario():
        async with connect(gateway, ref.case_id, citizen_cookie(gateway, ref)) as citizen:
            assert (await receive(citizen))["role"] == "citizen"
            sock = await connect(gateway, ref.case_id, cookies_of(officer))
            assert (await receive(sock))["role"] == "officer"
            # The officer's page reloads: back within the grace, nothing happens.
            await sock.close()
            await until(lambda: not rooms.connected(ref.case_id, "officer"))
            sock = await connect(gateway, ref.case_id, cookies_of(officer))
            assert (await receive(sock))["role"] == "officer"
            quiet = await drain(citizen, GRACE * 3)
            assert [m for m in quiet if m.get("name") == "released"] == []
            assert case_row(gateway, ref.case_id).claimed_by is not None
            # The officer's call drops for good: after the grace the citizen waits again, first in line.
            await sock.close()
            assert await receive(citizen, "released", timeout=GRACE + 5) == {"type": "event", "name": "released"}
            case = case_row(gateway, ref.case_id)
            assert (case.state, case.claimed_by, case.claimed_at, case.queued_at) == ("queued", None, None, queued_at)
            with gateway.db() as db:
                assert [c.id for c in cases.queue(db)] == [ref.case_id, later.case_id]
        # The citizen's page reloads into the queue view (which holds no socket): still waiting.
        await asyncio.sleep(GRACE * 3)
        assert case_row(gateway, ref.case_id).state == "queued"

    asyncio.run(scenario())
    assert [d["reason"] for d in audit_of(gateway, "proofing.released", ref.case_id)] == ["officer_disconnected"]
    kinds = record_of(gateway, ref.case_id)
    assert kinds[-1][0] == "queued" and kinds[-1][1]["reason"] == "officer_disconnected"
    assert [k for k, _ in kinds].count("queued") == 2  # joined, then released


# -- 2. the citizen closes the tab ------------------------------------------------------------------
def test_citizen_gone_expires_the_case_and_the_decision_is_refused(gateway):
    ref = make_case(gateway)
    officer = officer_client(gateway, "officer.nok")
    claim(gateway, officer, ref.case_id)

    async def scenario():
        async with connect(gateway, ref.case_id, cookies_of(officer)) as sock:
            assert (await receive(sock))["role"] == "officer"
            async with connect(gateway, ref.case_id, citizen_cookie(gateway, ref)) as citizen:
                assert (await receive(citizen))["role"] == "citizen"
                await receive(sock, "presence", role="citizen", present=True)
            await receive(sock, "presence", role="citizen", present=False)
            assert await receive(sock, "expired", timeout=GRACE + 5) == {"type": "event", "name": "expired"}

    asyncio.run(scenario())
    case = case_row(gateway, ref.case_id)
    assert case.state == "expired"
    assert [d["reason"] for d in audit_of(gateway, "proofing.expired", ref.case_id)] == ["citizen_left"]
    token = gateway.gw.pages.csrf_token(browser_of(officer), f"officer:{ref.case_id}")
    answer = officer.post(f"/officer/case/{ref.case_id}/decision", headers={"Accept": "application/json"},
                          data={"csrf_token": token, "outcome": "approve", "note": "", "version": str(case.version)})
    assert answer.status_code == 409 and answer.json()["code"] == "citizen_left"
    after = case_row(gateway, ref.case_id)
    assert (after.state, after.version, after.decision) == ("expired", case.version, None)
    assert audit_of(gateway, "proofing.decided", ref.case_id) == []
    with gateway.db() as db:
        assert db.get(Account, ref.account_id).ial in (None, "1.1")


# -- 3. the sweeper --------------------------------------------------------------------------------
def test_sweeper_ends_unseen_cases_only(gateway):
    stale, fresh = make_case(gateway), make_case(gateway)
    with gateway.db() as db:
        db.execute(update(ProofingCase).where(ProofingCase.id == stale.case_id)
                   .values(citizen_seen_at=gateway.clock.now() - call.UNSEEN_SECONDS - 5))
        db.commit()
    # No socket is open for these cases, so the sweep may run on a loop of its own.
    assert asyncio.run(call.sweep_once(gateway.gw)) == [stale.case_id]
    assert case_row(gateway, stale.case_id).state == "expired"
    assert case_row(gateway, fresh.case_id).state == "queued"
    assert [d["reason"] for d in audit_of(gateway, "proofing.expired", stale.case_id)] == ["citizen_left"]
    assert asyncio.run(call.sweep_once(gateway.gw)) == []


# -- 4. who may join -----------------------------------------------------------------------------------
def test_who_may_join(gateway):
    from websockets.exceptions import InvalidStatus

    ref, other = make_case(gateway), make_case(gateway)
    ready, finished = make_case(gateway, queue=False), make_case(gateway)
    with gateway.db() as db:
        cases.cancel(db, db.get(ProofingCase, finished.case_id), now=gateway.clock.now())
        db.commit()
    claimer, bystander = officer_client(gateway, "officer.pim"), officer_client(gateway, "officer.dao")
    claim(gateway, claimer, ref.case_id)
    mine = citizen_cookie(gateway, ref)

    async def scenario():
        out = {"nobody": await refused_with(gateway, ref.case_id),
               "other_citizen": await refused_with(gateway, ref.case_id, citizen_cookie(gateway, other)),
               "ready": await refused_with(gateway, ready.case_id, citizen_cookie(gateway, ready)),
               "finished": await refused_with(gateway, finished.case_id, citizen_cookie(gateway, finished)),
               "bystander": await refused_with(gateway, ref.case_id, cookies_of(bystander)),
               "not_a_uuid": await refused_with(gateway, "not-a-case", mine),
               "too_long": await refused_with(gateway, ref.case_id + "0" * 20, mine),
               "way_too_long": await refused_with(gateway, "a" * 100, mine)}
        with pytest.raises(InvalidStatus) as foreign:
            async with connect(gateway, ref.case_id, mine, origin="http://evil.example"):
                pass
        out["foreign_origin"] = foreign.value.response.status_code
        async with connect(gateway, ref.case_id, mine) as first:
            assert (await receive(first))["role"] == "citizen"
            out["second"] = await refused_with(gateway, ref.case_id, mine)
            await first.send(json.dumps({"type": "ping"}))
            out["first_still"] = await receive(first)
        return out

    out = asyncio.run(scenario())
    for name in ("nobody", "other_citizen", "ready", "finished", "bystander", "not_a_uuid", "too_long",
                 "way_too_long"):
        assert out[name] == ("unauthorized", 1008), (name, out[name])
    assert out["foreign_origin"] == 403
    assert out["second"] == ("already_connected", 4409) and out["first_still"] == {"type": "pong"}


# -- 5. hostile messages on an authorised socket ---------------------------------------------------
@sqlite_only
def test_hostile_messages_on_an_authorised_socket(gateway):
    big, bad_json, bad_sdp = make_case(gateway), make_case(gateway), make_case(gateway)

    async def scenario():
        out = {}
        async with connect(gateway, big.case_id, citizen_cookie(gateway, big)) as sock:
            await receive(sock)
            await sock.send(json.dumps({"type": "ping", "pad": "x" * (65 * 1024)}))
            out["too_large"] = (await receive(sock))["code"], await closed(sock)
        async with connect(gateway, bad_json.case_id, citizen_cookie(gateway, bad_json)) as sock:
            await receive(sock)
            codes = []
            for text in ("{not json", '{"type": "ping"', "[1, 2]"):
                await sock.send(text)
                codes.append((await receive(sock))["code"])
            out["malformed"] = codes, await closed(sock)
        before = case_row(gateway, bad_sdp.case_id)
        async with connect(gateway, bad_sdp.case_id, citizen_cookie(gateway, bad_sdp)) as sock:
            await receive(sock)
            await sock.send(json.dumps({"type": "offer", "sdp": "v=0\r\nm=video garbage\r\nx" * 50}))
            out["bad_sdp"] = (await receive(sock))["code"]
            await sock.send(json.dumps({"type": "ping"}))
            out["alive"] = await receive(sock)
            after = case_row(gateway, bad_sdp.case_id)
            out["unchanged"] = (before.state, before.version, after.state, after.version)
        return out

    out = asyncio.run(scenario())
    assert out["too_large"] == ("too_large", 1009)
    assert out["malformed"] == (["malformed"] * 3, 1008)
    assert out["bad_sdp"] == "bad_sdp" and out["alive"] == {"type": "pong"}
    state, version, *after = out["unchanged"]
    assert state == "queued" and after == [state, version]


# -- 6. the officer's live-check endpoints -----------------------------------------------------------
def test_live_check_endpoints_refuse(gateway):
    ref, other = make_case(gateway), make_case(gateway)
    claimer, bystander = officer_client(gateway, "officer.fon"), officer_client(gateway, "officer.mek")
    claim(gateway, claimer, ref.case_id)
    claim(gateway, bystander, other.case_id)
    base = f"/officer/case/{ref.case_id}"
    ok = csrf(gateway, claimer, ref.case_id)

    for path in ("compare", "cue"):
        assert claimer.post(f"{base}/{path}").json() == {"error": "csrf"}
        wrong = claimer.post(f"{base}/{path}", headers={"X-CSRF-Token": "0" * 64})
        assert (wrong.status_code, wrong.json()) == (403, {"error": "csrf"})
        other_case = csrf(gateway, claimer, other.case_id)  # a token bound to another case
        assert claimer.post(f"{base}/{path}", headers=other_case).status_code == 403
    refused = claimer.post(f"{base}/compare", headers=ok)
    assert (refused.status_code, refused.json()) == (409, {"error": "no_reference"})
    assert claimer.get(f"{base}/reference").status_code == 404  # none yet

    photo_row = _keep(gateway, ref.case_id, "reference", JPEG)
    foreign_frame = _keep(gateway, other.case_id, "frame", b"\xff\xd8other")
    refused = claimer.post(f"{base}/compare", headers=ok)
    assert (refused.status_code, refused.json()) == (409, {"error": "no_video"})
    refused = claimer.post(f"{base}/cue", headers=ok)
    assert (refused.status_code, refused.json()) == (409, {"error": "citizen_not_connected"})
    photo = claimer.get(f"{base}/reference")
    assert photo.status_code == 200 and photo.content == JPEG
    assert photo.headers["cache-control"] == "no-store" and photo.headers["content-type"] == "image/jpeg"
    assert claimer.get(f"{base}/frame/{photo_row}").content == JPEG
    assert claimer.get(f"{base}/frame/{foreign_frame}").status_code == 404  # another case's image

    # Another officer (holding a case of their own) and the citizen get nothing of this case.
    mine = csrf(gateway, bystander, ref.case_id)
    assert bystander.post(f"{base}/compare", headers=mine).json() == {"error": "not_yours"}
    assert bystander.get(f"{base}/reference").status_code == 403
    assert bystander.get(f"{base}/frame/{photo_row}").status_code == 403

    async def bystander_cue():  # the citizen is connected, the call's media exists
        async with connect(gateway, ref.case_id, citizen_cookie(gateway, ref)) as sock:
            await receive(sock)
            await sock.send(json.dumps({"type": "offer", "sdp": "garbage"}))
            assert (await receive(sock))["code"] == "bad_sdp"
            return await asyncio.to_thread(bystander.post, f"{base}/cue", headers=mine)

    answer = asyncio.run(bystander_cue())
    assert (answer.status_code, answer.json()) == (403, {"error": "not_yours"})
    assert case_row(gateway, ref.case_id).cues == []

    with citizen_browser(gateway, ref) as citizen:
        assert citizen.post(f"{base}/compare").status_code == 403  # no CSRF token
        citizen.cookies.set("idgw_browser", gateway.gw.pages.browser_ids.new())
        token = csrf(gateway, citizen, ref.case_id)  # even with a valid token: not an officer
        for path in ("compare", "cue"):
            answer = citizen.post(f"{base}/{path}", headers=token)
            assert answer.status_code == 403, (path, answer.text)
        assert citizen.get(f"{base}/reference").status_code == 403
        assert citizen.get(f"{base}/frame/{photo_row}").status_code == 403
    with gateway.db() as db:
        case = db.get(ProofingCase, ref.case_id)
        assert (case.state, case.face, case.cues) == ("claimed", None, [])


def _keep(gateway, case_id: str, kind: str, content: bytes) -> str:
    with gateway.db() as db:
        row = media_store.keep(db, gateway.gw.proofing.sealer, case_id=case_id, kind=kind, content=content,
                               media_type="image/jpeg", now=gateway.clock.now(), retention_days=90)
        db.commit()
        return row.id


# -- 7. the paused sign-in while the citizen waits -------------------------------------------------
@sqlite_only
def test_sign_in_kept_alive_up_to_the_cap_then_approval_says_sign_in_again(database_url, monkeypatch):
    monkeypatch.setattr(call, "SWEEP_EVERY", 3600.0)  # the clock jumps: the sweeper must not end the case
    with running_world(database_url, proofing_max_wait=1200) as world:
        gateway = world.gateway
        ttl = gateway.gw.settings.interaction_ttl
        reg, _rp, browser, page, _v = start(world)
        camera = browser.submit(consent_and_card_page(browser, page), **card_form(SOMCHAI))
        case_id = case_id_of(str(camera.url))
        browser.http.post(f"/proofing/case/{case_id}/join", data={"csrf_token": _csrf(camera.text)})
        with gateway.db() as db:
            iid = db.get(ProofingCase, case_id).interaction_id
            created = db.get(Interaction, iid).created_at
        cap = created + 1200

        def poll() -> tuple[int, int, int]:
            t0 = gateway.clock.now()
            assert browser.get(f"/proofing/case/{case_id}/status.json").json()["state"] == "queued"
            with gateway.db() as db:
                return t0, gateway.clock.now(), db.get(Interaction, iid).expires_at

        previous = 0
        for _ in range(2):  # each poll: one interaction lifetime from now (900 s), below the cap
            gateway.clock.advance(60)
            t0, t1, expires = poll()
            assert t0 + ttl <= expires <= t1 + ttl < cap and expires > previous
            previous = expires
        for _ in range(3):  # now + 900 s is past the cap: polls extend it no further
            gateway.clock.advance(200)
            assert poll()[2] == cap

        with gateway.db() as db:  # the sign-in times out while the officer decides
            db.execute(update(Interaction).where(Interaction.id == iid).values(expires_at=gateway.clock.now() - 1))
            db.commit()
        approve(gateway, case_id)
        status = browser.get(f"/proofing/case/{case_id}/status.json").json()
        assert status == {"state": "approved"}  # no "next": the sign-in cannot continue
        done = browser.get(f"/proofing/case/{case_id}")
        assert done.status_code == 200 and "Your earlier sign-in has timed out" in done.text
        assert 'id="continue"' not in done.text
        with gateway.db() as db:
            assert db.get(Account, reg.account_id).ial == "2.2"
