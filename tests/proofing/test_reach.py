"""Where officer video proofing is offered, as plain decisions: the grant is capped below IAL 3,
a service may leave the route out, the raise routes include it only for an IAL gap it closes,
and the admin page's reachability counts it."""

import dataclasses

import pytest

from idgw.assurance import reachable
from idgw.login.raising import Route, routes_to
from idgw.proofing.cases import proofing_reach
from idgw.settings import Settings, SettingsError
from policies import AAL, IAL, ServicePolicy
from policies.decision import Decision

BASE = Settings.from_env({}, dev=True, card_check_url="http://127.0.0.1:9/dopa")


def test_the_grant_is_remote_attended_and_never_ial3():
    assert BASE.proofing_grant_ial == "2.2"
    for level in ("2.1", "2.3"):
        assert Settings.from_env({}, dev=True, proofing_grant_ial=level).proofing_grant_ial == level
    for level in ("3", "1.3", "2.4", ""):
        with pytest.raises(SettingsError, match="IDGW_PROOFING_GRANT_IAL"):
            Settings.from_env({}, dev=True, proofing_grant_ial=level)
    with pytest.raises(SettingsError, match="IDGW_PROOFING_CUES"):
        Settings.from_env({}, dev=True, proofing_cues="blink,smile")
    secret = "x" * 40
    with pytest.raises(SettingsError, match="IDGW_CARD_CHECK_URL must use https"):
        Settings.from_env({}, issuer="https://idgw.example.go.th", secret_key=secret,
                          card_check_url="http://dopa.example.go.th")
    assert Settings.from_env({}, issuer="https://idgw.example.go.th", secret_key=secret,
                             card_check_url="https://dopa.example.go.th").card_check_url
    with pytest.raises(SettingsError, match="IDGW_TURN_SECRET"):
        Settings.from_env({}, dev=True, turn_urls="turn:turn.example:3478")


def test_a_service_may_leave_the_route_out():
    assert proofing_reach(BASE, None) == IAL("2.2")
    assert proofing_reach(dataclasses.replace(BASE, card_check_url=""), None) is None  # no card source
    only_thaid = ServicePolicy(min_ial=IAL("2.2"), min_aal=AAL("1"), allowed_providers=frozenset({"thaid"}))
    assert proofing_reach(BASE, only_thaid) is None
    both = dataclasses.replace(only_thaid, allowed_providers=frozenset({"thaid", "officer_video"}))
    assert proofing_reach(BASE, both) == IAL("2.2")


def _gap(ial: str | None, aal: str | None = None) -> Decision:
    return Decision("step_up", need_ial=IAL(ial) if ial else None, need_aal=AAL(aal) if aal else None,
                    required_ial=IAL(ial or "1.1"), required_aal=AAL(aal or "1"))


@pytest.mark.parametrize("need, offered", [("2.1", True), ("2.2", True), ("2.3", False), ("3", False)])
def test_the_route_closes_only_gaps_within_the_grant(need, offered):
    routes = routes_to(decision=_gap(need), registry=None, db=None, account=object(), session=None, upstreams=[],
                       may_enrol=False, proofing_ial=IAL("2.2"))
    assert (Route("proofing", "video") in routes) is offered


def test_no_route_without_an_ial_gap_or_an_account():
    aal_only = routes_to(decision=_gap(None, "2.1"), registry=_NoFactors(), db=None, account=None, session=None,
                         upstreams=[], may_enrol=False, proofing_ial=IAL("2.2"))
    assert Route("proofing", "video") not in aal_only
    anonymous = routes_to(decision=_gap("2.2"), registry=None, db=None, account=None, session=None, upstreams=[],
                          may_enrol=False, proofing_ial=IAL("2.2"))
    assert anonymous == ()


def test_reachability_counts_proofing():
    assert reachable(BASE, [])[0] == IAL("1.1")
    assert reachable(BASE, [], proofing_ial=IAL("2.2"))[0] == IAL("2.2")


class _NoFactors:
    def all(self):
        return []
