"""The DOPA-style card check: the real client against the simulator over real HTTP (uvicorn in a thread on
a free port), each status and fault, the photo lookup and its size cap, and the laser-code rules."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from providers.dopa import (
    CardCheckResult,
    CardCheckUnavailable,
    CardData,
    CardStatus,
    DopaCardCheck,
    normalise_laser,
)
from providers.simulators.citizens import DEMO_CITIZENS, citizen_by_pid
from providers.simulators.dopa import DEFAULT_FACES_DIR, DopaSimulator, create_dopa_app
from providers.simulators.server import ServerThread, free_port

SOMCHAI, REVOKED = "1345951597671", "3101700554321"
UNKNOWN = "6000000000000"  # checksum-valid, not a demo citizen


@pytest.fixture(scope="module")
def dopa():
    app = create_dopa_app(timeout_delay=30)
    server = ServerThread(app, port=free_port()).start()
    yield server, app.state.simulator
    app.state.simulator.release()
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 5  # a stalled request does not hold the server


@pytest.fixture
def sim(dopa) -> DopaSimulator:
    dopa[1].clear_faults()
    yield dopa[1]
    dopa[1].clear_faults()


@pytest.fixture
def url(dopa) -> str:
    return dopa[0].url


def card(pid: str = SOMCHAI, **changes) -> CardData:
    c = citizen_by_pid(pid)
    data = CardData(citizen_id=pid, given_name_th=c["given_name"], family_name_th=c["family_name"],
                    given_name_en=c["given_name_en"], family_name_en=c["family_name_en"], birthdate=c["birthdate"],
                    laser_code=c["laser"])
    return replace(data, **changes)


def run(url: str, call, *, timeout: float = 5.0, transport=None):
    """Run ``call(client)`` with a fresh client in a fresh event loop."""
    async def go():
        async with DopaCardCheck(url, timeout=timeout, transport=transport) as client:
            return await call(client)
    return asyncio.run(go())


def check(url: str, data: CardData, **kw) -> CardCheckResult:
    return run(url, lambda client: client.check(data), **kw)


def unavailable(url: str, call, **kw) -> CardCheckUnavailable:
    with pytest.raises(CardCheckUnavailable) as info:
        run(url, call, **kw)
    assert info.value.message_th and info.value.message_en
    return info.value


# -- laser code and card data -------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["jt-1234 5678-90", "JT1234567890", " Jt 1234-5678-90 ", "jt\u20131234567890"])
def test_normalise_laser_accepts_dashes_spaces_and_lower_case(text):
    assert normalise_laser(text) == "JT1234567890"


@pytest.mark.parametrize("text", ["", "J1234567890", "JT123456789", "JT12345678901", "1T1234567890",
                                  "JTX234567890", "JT12345678.0", "ญญ1234567890", "JT１２３４５６７８９０"])
def test_normalise_laser_rejects_bad_shapes_without_echoing_them(text):
    with pytest.raises(ValueError, match="2 letters followed by 10 digits") as info:
        normalise_laser(text)
    assert not text or text not in str(info.value)


def test_card_data_normalises_the_laser_and_masks_it_in_repr():
    data = card(laser_code="jt-1234 5678-90")
    assert data.laser_code == "JT1234567890"
    shown = repr(data) + str(data) + repr([data])
    for secret in ("JT1234567890", "1234567890", SOMCHAI, "สมชาย", "Jaidee", "1985-03-14"):
        assert secret not in shown
    with pytest.raises(ValueError):
        card(citizen_id="3712644096692")  # fails the checksum
    with pytest.raises(ValueError):
        card(birthdate="14/03/1985")


def test_demo_citizens_have_distinct_valid_lasers_and_reference_photos():
    lasers = [c["laser"] for c in DEMO_CITIZENS]
    assert len(set(lasers)) == len(lasers) and all(normalise_laser(x) == x for x in lasers)
    faces = [c["face"] for c in DEMO_CITIZENS]
    assert len(set(faces)) == len(faces)
    sim = DopaSimulator()
    assert all(sim.photo_path(face) is not None for face in faces)
    assert [c["pid"] for c in DEMO_CITIZENS if c.get("card_revoked")] == [REVOKED]


# -- statuses ---------------------------------------------------------------------------------------------

def test_valid_card(url, sim):
    result = check(url, card())
    assert result.ok and result.status is CardStatus.VALID and result.mismatched == ()
    assert result.reference.startswith("SIM-") and abs(result.checked_at - time.time()) < 60
    assert "valid" in result.messages["en"] and result.message_th


def test_names_compare_after_whitespace_and_case_folding(url, sim):
    result = check(url, card(given_name_en="  SOMCHAI ", family_name_en="jaidee", given_name_th=" สมชาย  "))
    assert result.ok


def test_revoked_card(url, sim):
    result = check(url, card(REVOKED))
    assert result.status is CardStatus.REVOKED and not result.ok
    assert "district office" in result.message_en and "อำเภอ" in result.message_th


def test_mismatch_lists_the_fields_and_never_echoes_the_data(url, sim):
    submitted = card(family_name_en="Jaideee", birthdate="1985-03-15", laser_code="JT1234567891")
    result = check(url, submitted)
    assert result.status is CardStatus.MISMATCH
    assert set(result.mismatched) == {"family_name_en", "birthdate", "laser_code"}
    for text in result.messages.values():
        for value in ("Jaideee", "1985-03-15", "JT1234567891", SOMCHAI):
            assert value not in text
    assert "laser code" in result.message_en and "date of birth" in result.message_en
    assert result.as_dict() == {"source": "DOPA", "status": "data_mismatch", "reference": result.reference,
                                "mismatched": list(result.mismatched), "checked_at": result.checked_at}


def test_a_revoked_card_with_wrong_data_is_a_mismatch(url, sim):
    # The card status is not told to someone who cannot show the card's data.
    assert check(url, card(REVOKED, given_name_th="วิชา")).mismatched == ("given_name_th",)


def test_unknown_citizen_is_not_found(url, sim):
    result = check(url, card(citizen_id=UNKNOWN))
    assert result.status is CardStatus.NOT_FOUND and result.mismatched == ()


# -- faults -----------------------------------------------------------------------------------------------

def test_revoked_and_laser_mismatch_faults_per_citizen_and_global(url, sim):
    sim.set_fault("revoked", SOMCHAI)
    assert check(url, card()).status is CardStatus.REVOKED
    assert check(url, card("1101700123456")).ok  # another citizen is unaffected
    sim.set_fault("none", SOMCHAI)
    assert check(url, card()).ok
    httpx.post(url + "/sim/faults", json={"fault": "laser_mismatch"}).raise_for_status()
    assert httpx.get(url + "/sim/faults").json()["faults"] == {"*": "laser_mismatch"}
    result = check(url, card("1101700123456"))
    assert result.status is CardStatus.MISMATCH and result.mismatched == ("laser_code",)
    httpx.post(url + "/sim/faults", json={"fault": "none"}).raise_for_status()
    assert check(url, card("1101700123456")).ok


def test_fault_endpoint_refuses_unknown_faults(url, sim):
    answer = httpx.post(url + "/sim/faults", json={"fault": "explode"})
    assert answer.status_code == 400 and "revoked" in answer.json()["known"]
    with pytest.raises(ValueError):
        sim.set_fault("explode")


def test_timeout(url, sim):
    sim.set_fault("timeout")
    started = time.monotonic()
    error = unavailable(url, lambda client: client.check(card()), timeout=0.5)
    assert error.code == "timeout" and time.monotonic() - started < 3
    error = unavailable(url, lambda client: client.reference_photo(SOMCHAI), timeout=0.5)
    assert error.code == "timeout"
    deadline = time.monotonic() + 2  # the sim notices the client left: nothing holds the server's shutdown
    while sim.stalled and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sim.stalled == 0


def test_unavailable(url, sim):
    sim.set_fault("unavailable", SOMCHAI)
    assert unavailable(url, lambda client: client.check(card())).code == "unavailable"
    assert unavailable(url, lambda client: client.reference_photo(SOMCHAI)).code == "unavailable"


def test_nothing_listening_is_unavailable():
    closed = f"http://127.0.0.1:{free_port()}"
    assert unavailable(closed, lambda client: client.check(card())).code == "unavailable"


def test_garbage_answers_are_bad_answers(url, sim):
    sim.set_fault("garbage")
    assert unavailable(url, lambda client: client.check(card())).code == "bad_answer"
    assert unavailable(url, lambda client: client.reference_photo(SOMCHAI)).code == "bad_answer"


@pytest.mark.parametrize("answer", [
    httpx.Response(200, json=["valid"]),
    httpx.Response(200, json={"status": "ok", "reference": "R1", "mismatched": [], "checked_at": 1}),
    httpx.Response(200, json={"status": "valid", "reference": "", "mismatched": [], "checked_at": 1}),
    httpx.Response(200, json={"status": "valid", "reference": "R1", "mismatched": ["birthdate"], "checked_at": 1}),
    httpx.Response(200, json={"status": "data_mismatch", "reference": "R1", "mismatched": ["pid"], "checked_at": 1}),
    httpx.Response(200, json={"status": "valid", "reference": "R1", "mismatched": [], "checked_at": "now"}),
    httpx.Response(302, headers={"Location": "https://elsewhere.example/"}),
    httpx.Response(400, json={"error": "invalid_request"}),
])
def test_wrongly_shaped_answers_are_bad_answers(answer):
    transport = httpx.MockTransport(lambda request: answer)
    error = unavailable("http://dopa.test", lambda client: client.check(card()), transport=transport)
    assert error.code == "bad_answer"


# -- reference photo --------------------------------------------------------------------------------------

def test_reference_photo_bytes_match_the_file(url, sim):
    photo = run(url, lambda client: client.reference_photo(SOMCHAI))
    assert photo.content == (Path(DEFAULT_FACES_DIR) / "kit_harington_1.jpg").read_bytes()
    assert photo.media_type == "image/jpeg" and photo.reference.startswith("SIM-")
    assert "bytes>" in repr(photo) and len(repr(photo)) < 200
    png = run(url, lambda client: client.reference_photo(REVOKED))
    assert png.media_type == "image/png" and png.content.startswith(b"\x89PNG")


def test_unknown_citizen_or_missing_photo_is_none(url, sim, tmp_path, monkeypatch):
    assert run(url, lambda client: client.reference_photo(UNKNOWN)) is None
    monkeypatch.setenv("IDGW_DEMO_FACES_DIR", str(tmp_path))  # an empty directory: nobody has a photo
    empty = DopaSimulator()
    assert empty.faces_dir == tmp_path.resolve()
    server = ServerThread(empty.app, port=free_port()).start()
    try:
        assert run(server.url, lambda client: client.reference_photo(SOMCHAI)) is None
    finally:
        server.stop()


def test_a_bare_404_is_not_no_photo():
    transport = httpx.MockTransport(lambda request: httpx.Response(404, text="Not Found"))
    error = unavailable("http://dopa.test", lambda client: client.reference_photo(SOMCHAI), transport=transport)
    assert error.code == "bad_answer"


def test_oversize_photo_is_cut_off_while_streaming(url, sim):
    sim.set_fault("huge_photo", SOMCHAI)
    error = unavailable(url, lambda client: client.reference_photo(SOMCHAI))
    assert error.code == "bad_answer" and "larger than" in error.detail
