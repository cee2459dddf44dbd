"""deploy/grafana/idgw-dashboard.json asks only for metrics a running gateway exposes, and shows them all."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx

from tests.observe.serving import METRICS_TOKEN

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "idgw-dashboard.json"
HISTOGRAM_SUFFIXES = ("_bucket", "_count", "_sum")


def _exposed(text: str) -> tuple[set[str], set[str]]:
    """(names a query may use, family names) of one scrape, from its TYPE lines (a family without
    samples yet, such as a counter nothing has moved, is announced all the same)."""
    names, families = set(), set()
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M):
        families.add(name)
        names |= {name + s for s in HISTOGRAM_SUFFIXES} if kind == "histogram" else {name}
    return names, families


def _expressions(dashboard: dict) -> list[str]:
    found = []
    for panel in dashboard["panels"]:
        found += [target["expr"] for target in panel.get("targets", [])]
    found += [v["definition"] for v in dashboard["templating"]["list"] if v.get("definition")]
    return found


def test_every_panel_uses_exposed_metrics_and_every_metric_has_a_panel(observed):
    scraped = httpx.get(observed.url + "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).text
    names, families = _exposed(scraped)
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    used = {name for expr in _expressions(dashboard) for name in re.findall(r"\bidgw_[a-z0-9_]+", expr)}
    assert used and used <= names, used - names
    shown = {name for name in families if name in used or any(name + s in used for s in HISTOGRAM_SUFFIXES)}
    assert shown == families, families - shown


def test_the_dashboard_imports_with_a_chosen_prometheus():
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert 36 <= dashboard["schemaVersion"] <= 41
    assert [i["name"] for i in dashboard["__inputs"]] == ["DS_PROMETHEUS"]
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${DS_PROMETHEUS}"
            assert target["expr"].count("(") == target["expr"].count(")"), target["expr"]
            assert 'instance=~"$instance"' in target["expr"], target["expr"]
