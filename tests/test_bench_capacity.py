"""The arithmetic and plumbing of bench/capacity.py (no timings: the figures themselves live in
`make bench`). A wrong ratio here would print a target as met that is not."""

from types import SimpleNamespace

import pytest

from bench import capacity
from idgw.security import PASSWORD_HASHER


def test_raw_rate_is_measured_at_the_gateways_parameters():
    raw = capacity.raw_argon2id("pw", blocks=1, per_block=1)
    assert raw["parameters"] == {"type": "argon2id", "time_cost": PASSWORD_HASHER.time_cost,
                                 "memory_cost_kib": PASSWORD_HASHER.memory_cost,
                                 "parallelism": PASSWORD_HASHER.parallelism}
    assert raw["verifies"] == 1 and raw["cpu_ms_per_verify"] > 0
    assert raw["verifies_per_s_per_core"] == pytest.approx(1000 / raw["cpu_ms_per_verify"], rel=0.01)


RAW = {"cpu_ms_per_verify": 20.0, "verifies_per_s_per_core": 50.0, "parameters": {}}


def test_sign_ins_per_core_divide_by_the_cores_used():
    # 20 sign-ins/s at 40 ms of server CPU each: 0.8 cores busy, 25 sign-ins per core-second.
    f = capacity.password_per_core({"idgw": 20.0, "cpu_ms_per_op": {"idgw": 40.0, "peer": 25.0}}, RAW)
    assert f["cores_used"] == 0.8
    assert f["logins_per_s_per_core"] == 25.0
    assert f["ratio"] == 0.5
    assert f["cpu_ms_beyond_the_hash"] == 20.0
    assert f["peer_ratio"] == 0.8
    assert f["target"] == 0.9


def test_the_password_step_is_a_password_sign_in_less_a_session_sign_in():
    f = capacity.password_per_core({"idgw": 20.0, "cpu_ms_per_op": {"idgw": 40.0}}, RAW,
                                   {"idgw": 80.0, "cpu_ms_per_op": {"idgw": 15.0}})
    assert f["password_step_cpu_ms"] == 25.0
    assert f["password_step_ratio"] == 0.8  # the 20 ms hash is 80% of the step
    # No session figure, or a noisy one above the password sign-in: no step figure rather than a wrong one.
    assert "password_step_cpu_ms" not in capacity.password_per_core(
        {"idgw": 20.0, "cpu_ms_per_op": {"idgw": 40.0}}, RAW, {"idgw": 80.0, "cpu_ms_per_op": {"idgw": 41.0}})
    assert "password_step_cpu_ms" not in capacity.password_per_core(
        {"idgw": 20.0, "cpu_ms_per_op": {"idgw": 40.0}}, RAW, None)


def test_no_cpu_figure_no_ratio():
    assert capacity.password_per_core({"idgw": 20.0, "cpu_ms_per_op": {"idgw": None}}, RAW) is None
    assert capacity.password_per_core({"idgw": 20.0}, RAW) is None
    f = capacity.password_per_core({"idgw": 20.0, "cpu_ms_per_op": {"idgw": 40.0, "peer": None}}, RAW)
    assert "peer_ratio" not in f


def test_round_robin_hands_each_connection_to_the_next_instance():
    a = SimpleNamespace(port=1, discovery={}, session_cookie_names=("s",), sessions=[{"s": "x"}], cpu_roots=[10, 30],
                        path=lambda key: f"/{key}")
    b = SimpleNamespace(port=2, discovery={}, session_cookie_names=("s",), sessions=[], cpu_roots=[20, 30])
    both = capacity.RoundRobin("two", [a, b])
    assert [both.port for _ in range(5)] == [1, 2, 1, 2, 1]
    assert both.cpu_roots == [10, 20, 30]  # the shared database counted once
    assert both.sessions is a.sessions and both.path("token_endpoint") == "/token_endpoint"


def test_report_lines_name_misses_and_the_two_instance_ratio():
    f = capacity.password_per_core({"idgw": 20.0, "cpu_ms_per_op": {"idgw": 40.0}}, RAW)
    report = {"databases": {"sqlite": {"password_per_core": {**f, "argon2id_raw": {
        **RAW, "parameters": {"memory_cost_kib": 19456, "time_cost": 2, "parallelism": 1}}}}},
        "two_instances": {"token": {"one": 300.0, "two": 330.0, "ratio": 1.1,
                                    "cpu_ms_per_op": {"one": 2.0, "two": 2.1},
                                    "second_instance_cpu_share": 0.49, "errors": {"one": 0, "two": 0}}}}
    text = "\n".join(capacity.markdown_lines(report))
    assert "m=19 MiB, t=2, p=1" in text and "| sqlite | 20 | 40.0 ms | 25.0 | 20.0 ms | 50.0 | 0.50×" in text
    assert "token: two 330/s, one 300/s: 1.10×" in text and "49%" in text
    verdicts = capacity.verdicts(report)
    assert verdicts[0].startswith("MISS") and "password/core" in verdicts[0] and "0.50×" in verdicts[0]
    assert verdicts[1].startswith("info") and "1.10×" in verdicts[1]
    met = capacity.password_per_core({"idgw": 20.0, "cpu_ms_per_op": {"idgw": 21.0}}, RAW)
    assert capacity.verdicts({"databases": {"pg": {"password_per_core": met}}})[0].startswith("met ")
