"""make bench warms every server up before its counted rounds (bench/oidc_bench.py ``warm_up``):
each metric runs uncounted for ``Plan.warm_seconds`` (the two GETs a fifth of it), the rates seen
go in the report, and ``--quick`` (warm_seconds 0) runs none."""

from __future__ import annotations

import asyncio

import bench.oidc_bench as ob


class _Server:
    name = "peer"


def _run(monkeypatch, plan: ob.Plan, metrics) -> tuple[dict, list[str]]:
    calls: list[str] = []

    async def measure(metric, t, plan_):
        await asyncio.sleep(0.01)
        calls.append(metric)
        return ob.Outcome(count=10 * len(calls), seconds=1.0, errors=0, latencies_ms=[])

    monkeypatch.setattr(ob, "measure_throughput", measure)
    report: dict = {}
    asyncio.run(ob.warm_up(_Server(), plan, metrics, report))
    return report, calls


def test_each_metric_runs_uncounted_for_its_time_and_the_rates_are_reported(monkeypatch):
    report, calls = _run(monkeypatch, ob.Plan(warm_seconds=0.25), ("discovery", "token", "login_session"))
    order = ("discovery", "token", "login_session")
    counts = {m: calls.count(m) for m in order}
    # 0.25 s of 10 ms rounds for token and login_session, a fifth of it for discovery
    assert counts["token"] >= 10 and counts["login_session"] >= 10, counts
    assert 1 <= counts["discovery"] < counts["token"] / 2, counts
    assert calls == sorted(calls, key=order.index)  # one metric after another
    seen = report["warm_up"]["peer"]
    assert [len(seen[m]) for m in order] == [counts[m] for m in order]
    assert seen["discovery"][0] == 10 and seen["token"][0] == 10 * (counts["discovery"] + 1)


def test_quick_runs_no_warm_up(monkeypatch):
    report, calls = _run(monkeypatch, ob.Plan(warm_seconds=0), ("token",))
    assert calls == [] and "warm_up" not in report
