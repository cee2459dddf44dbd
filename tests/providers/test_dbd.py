"""The DBD-style juristic-person registry: the juristic ID checksum, the signing rules of the demo companies
(who binds the company, in words), the snapshot round trip, and the real client against the simulator over
real HTTP (uvicorn in a thread on a free port): found, not found, an invalid ID, each fault and bad shapes."""

from __future__ import annotations

import time

import httpx
import pytest

from providers.dbd import (
    MAX_ANSWER_BYTES,
    Company,
    CompanyLookupError,
    DbdRegistry,
    Director,
    SigningRule,
    valid_juristic_id,
)
from providers.simulators.dbd import (
    DEMO_ANY_ONE_ID,
    DEMO_CLOSED_ID,
    DEMO_COMPANIES,
    DEMO_COMPANY_ID,
    DEMO_SEAL_ID,
    create_dbd_app,
)
from providers.simulators.server import ServerThread, free_port

SOMCHAI, SOMYING, MALEE, PRASERT = "1345951597671", "1101700123456", "3100600456785", "5701200987653"
OUTSIDER = "1209900345611"  # a demo citizen who directs none of the demo companies
UNKNOWN_ID = "0105564999991"  # checksum-valid, not a demo company
RULES = {c["juristic_id"]: SigningRule.from_json(c["signing_rule"]) for c in DEMO_COMPANIES}
NAMES = {SOMCHAI: "สมชาย", SOMYING: "สมหญิง", MALEE: "มาลี", PRASERT: "ประเสริฐ"}
NAMES_EN = {SOMCHAI: "Somchai", SOMYING: "Somying", MALEE: "Malee", PRASERT: "Prasert"}


@pytest.fixture(scope="module")
def dbd():
    app = create_dbd_app(control=True)
    server = ServerThread(app, port=free_port()).start()
    yield server, app.state.simulator
    app.state.simulator.release()
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 5  # a stalled request does not hold the server


@pytest.fixture
def sim(dbd):
    dbd[1].clear_faults()
    yield dbd[1]
    dbd[1].clear_faults()


@pytest.fixture
def url(dbd) -> str:
    return dbd[0].url


def lookup(url: str, juristic_id: str, *, timeout: float = 5.0, transport=None) -> Company:
    with DbdRegistry(base_url=url, timeout=timeout, transport=transport) as registry:
        return registry.lookup(juristic_id)


def failure(url: str, juristic_id: str = DEMO_COMPANY_ID, **kw) -> CompanyLookupError:
    with pytest.raises(CompanyLookupError) as info:
        lookup(url, juristic_id, **kw)
    error = info.value
    assert error.text_th and error.text_en
    for pid in (SOMCHAI, SOMYING, MALEE, PRASERT):  # safe to log: no director's citizen ID
        assert pid not in str(error)
    return error


# -- juristic ID ----------------------------------------------------------------------------------------------

def test_juristic_id_checksum():
    for company in DEMO_COMPANIES:
        assert valid_juristic_id(company["juristic_id"]) and company["juristic_id"].startswith("0105")
    assert valid_juristic_id(UNKNOWN_ID)
    assert not valid_juristic_id("0105564001231")  # wrong check digit
    assert not valid_juristic_id(SOMCHAI)  # a citizen ID: first digit not 0
    assert not valid_juristic_id("1105564001238")  # check digit right for its digits, but first digit 1
    for bad in ("010556400123", "01055640012300", "", "01055640O1230", "０105564001230", None, 105564001230,
                b"0105564001230", ["0105564001230"]):
        assert not valid_juristic_id(bad)


# -- signing rules --------------------------------------------------------------------------------------------

def test_two_directors_jointly():
    rule = RULES[DEMO_COMPANY_ID]
    assert rule.satisfied(approvers=[SOMCHAI, SOMYING], sealed=False)
    assert not rule.satisfied(approvers=[SOMCHAI], sealed=True)  # one approval short
    assert rule.missing(approvers=[SOMCHAI], sealed=False) == 1
    assert rule.missing(approvers=[], sealed=False) == 2
    assert not rule.satisfied(approvers=[SOMCHAI, SOMCHAI], sealed=False)  # duplicates count once
    assert rule.missing(approvers=(SOMCHAI, SOMCHAI), sealed=False) == 1
    assert not rule.satisfied(approvers={SOMCHAI, OUTSIDER}, sealed=False)  # a non-director does not count
    assert rule.missing(approvers=iter([SOMYING, OUTSIDER, 42, None]), sealed=False) == 1
    with pytest.raises(TypeError):
        rule.satisfied(approvers=SOMCHAI, sealed=False)  # one bare ID would count its digits


def test_any_one_director():
    rule = RULES[DEMO_ANY_ONE_ID]
    for pid in (SOMCHAI, MALEE, PRASERT):
        assert rule.satisfied(approvers=[pid], sealed=False) and rule.missing(approvers=[pid], sealed=False) == 0
    assert not rule.satisfied(approvers=[SOMYING, OUTSIDER], sealed=False)
    assert rule.missing(approvers=[SOMYING], sealed=False) == 1


def test_joint_with_the_seal():
    rule = RULES[DEMO_SEAL_ID]
    assert rule.seal and rule.satisfied(approvers=[MALEE, PRASERT], sealed=True)
    assert not rule.satisfied(approvers=[MALEE, PRASERT], sealed=False)  # the seal is missing
    assert rule.missing(approvers=[MALEE, PRASERT], sealed=False) == 0  # only the seal
    assert not rule.satisfied(approvers=[MALEE], sealed=True) and rule.missing(approvers=[MALEE], sealed=True) == 1


def test_closed_company_rule_is_still_a_rule():
    rule = RULES[DEMO_CLOSED_ID]
    assert rule.satisfied(approvers=[SOMYING], sealed=False) and not rule.satisfied(approvers=[SOMCHAI], sealed=False)


def test_must_include_counts_in_missing():
    rule = SigningRule(directors=(SOMCHAI, SOMYING, MALEE), required=2, must_include=(SOMCHAI,))
    assert not rule.satisfied(approvers=[SOMYING, MALEE], sealed=False)  # two, but not the compulsory one
    assert rule.missing(approvers=[SOMYING, MALEE], sealed=False) == 1
    assert rule.missing(approvers=[], sealed=False) == 2
    assert rule.satisfied(approvers=[SOMCHAI, MALEE], sealed=False)


def test_rule_text_in_thai_and_english():
    assert RULES[DEMO_COMPANY_ID].text(names=NAMES, locale="th") == "สมชาย และ สมหญิง ลงลายมือชื่อร่วมกัน"
    assert RULES[DEMO_COMPANY_ID].text(names=NAMES_EN, locale="en") == "Somchai and Somying jointly"
    assert RULES[DEMO_ANY_ONE_ID].text(names=NAMES, locale="th") == \
        "กรรมการคนใดคนหนึ่งลงลายมือชื่อ (สมชาย, มาลี, ประเสริฐ)"
    assert RULES[DEMO_ANY_ONE_ID].text(names=NAMES_EN, locale="en") == "any one of Somchai, Malee, Prasert"
    assert RULES[DEMO_SEAL_ID].text(names=NAMES, locale="th") == \
        "มาลี และ ประเสริฐ ลงลายมือชื่อร่วมกัน พร้อมประทับตราสำคัญของบริษัท"
    assert RULES[DEMO_SEAL_ID].text(names=NAMES_EN, locale="en") == "Malee and Prasert jointly, with the company seal"
    assert RULES[DEMO_CLOSED_ID].text(names=NAMES_EN, locale="en") == "Somying alone"
    two_of_three = SigningRule(directors=(SOMCHAI, SOMYING, MALEE), required=2)
    assert two_of_three.text(names=NAMES, locale="th") == "กรรมการสองในสามคนลงลายมือชื่อร่วมกัน (สมชาย, สมหญิง, มาลี)"
    assert two_of_three.text(names=NAMES_EN, locale="en") == "two of Somchai, Somying, Malee sign jointly"
    including = SigningRule(directors=(SOMCHAI, SOMYING, MALEE), required=2, must_include=(SOMCHAI,), seal=True)
    assert including.text(names=NAMES_EN, locale="en") == \
        "two of Somchai, Somying, Malee sign jointly, including Somchai, with the company seal"
    assert "โดยต้องมี สมชาย" in including.text(names=NAMES, locale="th")
    unnamed = two_of_three.text(names={}, locale="en")  # no name: the ID is shown masked, never whole
    assert SOMCHAI not in unnamed and "1-3459-xxxxx-67-1" in unnamed
    with pytest.raises(ValueError):
        two_of_three.text(names=NAMES, locale="fr")


@pytest.mark.parametrize("data", [
    None, [], {"directors": [SOMCHAI], "required": 1, "must_include": []},  # seal missing: fail closed
    {"directors": [SOMCHAI], "required": 1, "must_include": [], "seal": False, "max_amount": 100},
    {"directors": [SOMCHAI], "required": 0, "must_include": [], "seal": False},
    {"directors": [SOMCHAI, SOMYING], "required": 3, "must_include": [], "seal": False},
    {"directors": [SOMCHAI], "required": True, "must_include": [], "seal": False},
    {"directors": [SOMCHAI], "required": "1", "must_include": [], "seal": False},
    {"directors": [], "required": 1, "must_include": [], "seal": False},
    {"directors": SOMCHAI, "required": 1, "must_include": [], "seal": False},
    {"directors": [SOMCHAI, SOMCHAI], "required": 1, "must_include": [], "seal": False},
    {"directors": ["3712644096692"], "required": 1, "must_include": [], "seal": False},  # fails the checksum
    {"directors": [SOMCHAI], "required": 1, "must_include": [SOMYING], "seal": False},
    {"directors": [SOMCHAI, SOMYING], "required": 1, "must_include": [SOMCHAI, SOMYING], "seal": False},
    {"directors": [SOMCHAI], "required": 1, "must_include": [], "seal": "yes"},
])
def test_from_json_rejects_bad_rules(data):
    with pytest.raises(ValueError) as info:
        SigningRule.from_json(data)
    assert "3712644096692" not in str(info.value) and SOMCHAI not in str(info.value)


def test_rule_and_company_round_trip_and_mask_citizen_ids():
    for rule in RULES.values():
        assert SigningRule.from_json(rule.as_json()) == rule
    company = Company.from_json({**DEMO_COMPANIES[0], "reference": "R-1", "checked_at": 1700000000})
    assert Company.from_json(company.as_json()) == company
    assert company.director(SOMYING) == Director(citizen_id=SOMYING, name_th="นางสาวสมหญิง รักไทย",
                                                 name_en="Ms. Somying Rakthai")
    assert company.director(OUTSIDER) is None and company.active
    assert SOMCHAI not in repr(company) and SOMYING not in repr(company.rule)
    with pytest.raises(ValueError):  # the rule names someone who is not a listed director
        Company.from_json({**company.as_json(), "signing_rule": {**company.rule.as_json(), "directors": [MALEE]}})


# -- lookups over HTTP ----------------------------------------------------------------------------------------

def test_found(url, sim):
    company = lookup(url, DEMO_COMPANY_ID)
    assert company.name_th == "บริษัท ตัวอย่างการค้า จำกัด" and company.name_en == "Example Trading Co., Ltd."
    assert company.active and [d.citizen_id for d in company.directors] == [SOMCHAI, SOMYING]
    assert company.rule == RULES[DEMO_COMPANY_ID] and company.rule.required == 2
    assert company.reference.startswith("DBD-SIM-") and abs(company.checked_at - time.time()) < 60
    closed = lookup(url, DEMO_CLOSED_ID)
    assert closed.status == "closed" and not closed.active
    assert lookup(url, DEMO_SEAL_ID).rule.seal


def test_not_found(url, sim):
    error = failure(url, UNKNOWN_ID)
    assert error.code == "not_found" and error.reference.startswith("DBD-SIM-")


def test_invalid_id_sends_nothing(url, sim):
    before = sim.requests
    seen = []
    transport = httpx.MockTransport(lambda request: seen.append(request) or httpx.Response(500))
    for bad in ("0105564001231", SOMCHAI, "12345", None):
        assert failure(url, bad).code == "invalid_id"
        assert failure("http://dbd.test", bad, transport=transport).code == "invalid_id"
    assert sim.requests == before and seen == []


def test_request_carries_the_id_in_the_body_only():
    seen = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(404, json={"status": "not_found", "reference": "R-9"})

    assert failure("http://dbd.test", transport=httpx.MockTransport(answer)).code == "not_found"
    assert seen[0].method == "POST" and seen[0].url.path == "/v1/juristic-persons"
    assert DEMO_COMPANY_ID not in str(seen[0].url) and DEMO_COMPANY_ID in seen[0].content.decode()


def test_timeout(url, sim):
    sim.set_fault("timeout", DEMO_COMPANY_ID)
    started = time.monotonic()
    assert failure(url, timeout=0.5).code == "timeout"
    assert time.monotonic() - started < 1.5
    assert lookup(url, DEMO_ANY_ONE_ID).active  # only that company stalls
    deadline = time.monotonic() + 3  # the sim notices the client left: nothing holds the server's shutdown
    while sim.stalled and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sim.stalled == 0


def test_a_dribbling_source_still_times_out_on_the_whole_exchange():
    class Dribble(httpx.SyncByteStream):
        def __iter__(self):
            for _ in range(20):
                time.sleep(0.1)  # each read well within the timeout, the whole far beyond it
                yield b" "

    transport = httpx.MockTransport(lambda request: httpx.Response(200, stream=Dribble()))
    started = time.monotonic()
    assert failure("http://dbd.test", timeout=0.5, transport=transport).code == "timeout"
    assert time.monotonic() - started < 1.0


def test_unavailable(url, sim):
    httpx.post(url + "/_sim/faults", json={"fault": "unavailable"}).raise_for_status()
    assert httpx.get(url + "/_sim/faults").json()["faults"] == {"*": "unavailable"}
    assert failure(url).code == "unavailable"
    httpx.post(url + "/_sim/faults", json={"fault": "none"}).raise_for_status()
    assert lookup(url, DEMO_COMPANY_ID).active


def test_nothing_listening_is_unavailable():
    assert failure(f"http://127.0.0.1:{free_port()}").code == "unavailable"


@pytest.mark.parametrize("status", [500, 502, 503, 408, 429])
def test_busy_statuses_are_unavailable(status):
    transport = httpx.MockTransport(lambda request: httpx.Response(status, text="busy"))
    assert failure("http://dbd.test", transport=transport).code == "unavailable"


@pytest.mark.parametrize("fault", ["garbage", "huge", "wrong_shape"])
def test_faulty_answers_are_bad_answers(url, sim, fault):
    sim.set_fault(fault, DEMO_COMPANY_ID)
    error = failure(url)
    assert error.code == "bad_answer"
    if fault == "huge":
        assert "larger than" in str(error)


def test_fault_endpoint_refuses_unknown_faults(url, sim):
    answer = httpx.post(url + "/_sim/faults", json={"fault": "explode"})
    assert answer.status_code == 400 and "garbage" in answer.json()["known"]
    with pytest.raises(ValueError):
        sim.set_fault("explode")


def good_answer(**changes) -> dict:
    return {**DEMO_COMPANIES[0], "reference": "R-1", "checked_at": 1700000000, **changes}


@pytest.mark.parametrize("answer", [
    httpx.Response(200, json=["company"]),
    httpx.Response(200, json=good_answer(juristic_id=DEMO_ANY_ONE_ID)),  # about another company
    httpx.Response(200, json=good_answer(juristic_id="0105564001231")),
    httpx.Response(200, json=good_answer(directors=[{"citizen_id": "3712644096692", "name_th": "ก",
                                                     "name_en": "A"}])),
    httpx.Response(200, json=good_answer(signing_rule={"directors": [SOMCHAI], "required": 1})),
    httpx.Response(200, json=good_answer(reference="")),
    httpx.Response(200, json=good_answer(checked_at="now")),
    httpx.Response(200, json=good_answer(status="")),
    httpx.Response(200, content=b'{"padding": "' + b"x" * MAX_ANSWER_BYTES + b'"}'),  # declared too long
    httpx.Response(404, text="Not Found"),  # a wrong base URL, not "no such company"
    httpx.Response(404, json={"status": "not_found"}),  # no reference
    httpx.Response(302, headers={"Location": "https://elsewhere.example/"}),
    httpx.Response(400, json={"error": "invalid_request"}),
])
def test_wrongly_shaped_answers_are_bad_answers(answer):
    error = failure("http://dbd.test", transport=httpx.MockTransport(lambda request: answer))
    assert error.code == "bad_answer"


def test_other_status_text_is_kept():
    answer = good_answer(status="ฟื้นฟูกิจการ")
    company = lookup("http://dbd.test", DEMO_COMPANY_ID, transport=httpx.MockTransport(
        lambda request: httpx.Response(200, json=answer)))
    assert company.status == "ฟื้นฟูกิจการ" and not company.active


def test_home_page_lists_the_demo_companies(url, sim):
    page = httpx.get(url + "/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    for company in DEMO_COMPANIES:
        assert company["juristic_id"] in page.text and company["name_th"] in page.text
        assert company["name_en"] in page.text
    assert "พร้อมประทับตราสำคัญของบริษัท" in page.text and "with the company seal" in page.text
    assert SOMCHAI not in page.text  # the directors' citizen IDs are not shown


def test_control_endpoint_only_when_asked():
    app = create_dbd_app()
    server = ServerThread(app, port=free_port()).start()
    try:
        assert httpx.post(server.url + "/_sim/faults", json={"fault": "garbage"}).status_code in (404, 405)
    finally:
        server.stop()
