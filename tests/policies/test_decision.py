"""evaluate(): every reason code, table-driven; no policy means deny."""

import pytest

from policies import (
    AAL,
    IAL,
    AuthRequest,
    LevelError,
    PolicyError,
    ServicePolicy,
    SessionState,
    acr_alternatives,
    combined_acr,
    default_rules,
    evaluate,
    first_satisfied,
)

NOW = 1_800_000_000


def session(ial="1.1", aal="1", age=60, idle=0, amr=("pwd",), provider=None):
    return SessionState(ial=IAL(ial), aal=AAL(aal), auth_time=NOW - age, last_active=NOW - idle,
                        amr=frozenset(amr), provider=provider)


def policy(ial="1.1", aal="1", **kw):
    return ServicePolicy(min_ial=IAL(ial), min_aal=AAL(aal), **kw)


CASES = [
    # (name, policy, request, session, outcome, codes)
    ("no policy", None, AuthRequest(), session(), "deny", ["no_policy"]),
    ("no session", policy(), AuthRequest(), None, "step_up", ["no_session"]),
    ("allow at floor", policy(), AuthRequest(), session(), "allow", []),
    ("aal below floor", policy(aal="2.1"), AuthRequest(), session(), "step_up", ["aal_below_floor"]),
    ("ial below floor", policy(ial="2.2"), AuthRequest(), session(ial="1.3"), "step_up", ["ial_below_floor"]),
    ("both below", policy(ial="2.1", aal="2.2"), AuthRequest(), session(), "step_up",
     ["ial_below_floor", "aal_below_floor"]),
    ("request raises aal", policy(), AuthRequest(aal=AAL("2.1")), session(), "step_up", ["requested_aal_unmet"]),
    ("request raises ial", policy(), AuthRequest(ial=IAL("1.2")), session(), "step_up", ["requested_ial_unmet"]),
    ("essential acr unmet", policy(), AuthRequest(aal=AAL("2.2"), essential=True), session(aal="2.1"), "step_up",
     ["essential_acr_unmet"]),
    ("request lower than floor gets floor", policy(aal="2.1"), AuthRequest(aal=AAL("1")), session(), "step_up",
     ["aal_below_floor"]),
    ("request met", policy(), AuthRequest(aal=AAL("2.1")), session(aal="2.2", amr=("hwk", "user")), "allow", []),
    ("request max_age exceeded", policy(), AuthRequest(max_age=30), session(age=31), "step_up", ["max_age_exceeded"]),
    ("policy max_age exceeded", policy(max_age=600), AuthRequest(), session(age=601), "step_up",
     ["max_age_exceeded"]),
    ("max_age is the smaller of both", policy(max_age=60), AuthRequest(max_age=600), session(age=61), "step_up",
     ["max_age_exceeded"]),
    ("max_age within", policy(max_age=600), AuthRequest(max_age=600), session(age=600), "allow", []),
    ("aal2 idle too long", policy(), AuthRequest(), session(aal="2.1", idle=1800), "step_up",
     ["session_too_old_for_aal"]),
    ("aal3 idle 15 min", policy(), AuthRequest(), session(aal="3", idle=900), "step_up",
     ["session_too_old_for_aal"]),
    ("aal2 within idle", policy(), AuthRequest(), session(aal="2.1", idle=1799), "allow", []),
    ("aal2 past 12 h", policy(), AuthRequest(), session(aal="2.2", age=12 * 3600), "step_up",
     ["session_too_old_for_aal"]),
    ("aal1 past 30 days", policy(), AuthRequest(), session(age=30 * 86400), "step_up", ["session_too_old_for_aal"]),
    ("aal1 no idle limit", policy(), AuthRequest(), session(idle=20 * 86400, age=20 * 86400), "allow", []),
    ("provider not allowed", policy(allowed_providers=frozenset({"thaid"})), AuthRequest(),
     session(provider="ndid"), "step_up", ["provider_not_allowed"]),
    ("provider allowed", policy(allowed_providers=frozenset({"thaid"})), AuthRequest(),
     session(provider="thaid"), "allow", []),
    ("authenticator not allowed", policy(allowed_authenticators=frozenset({"hwk"})), AuthRequest(), session(),
     "step_up", ["authenticator_not_allowed"]),
]


@pytest.mark.parametrize("name,pol,req,sess,outcome,codes", CASES, ids=[c[0] for c in CASES])
def test_decisions(name, pol, req, sess, outcome, codes):
    d = evaluate(policy=pol, request=req, session=sess, now=NOW)
    assert d.outcome == outcome
    assert list(d.codes) == codes


def test_step_up_says_what_is_missing():
    d = evaluate(policy=policy(ial="2.2", aal="2.1"), request=AuthRequest(aal=AAL("2.2")), session=session(), now=NOW)
    assert d.need_ial == IAL("2.2") and d.need_aal == AAL("2.2") and not d.need_login
    assert d.required_ial == IAL("2.2") and d.required_aal == AAL("2.2")
    d = evaluate(policy=policy(), request=AuthRequest(), session=session(age=10**8), now=NOW)
    assert d.need_login


def test_policy_validation():
    with pytest.raises(PolicyError, match="legal basis"):
        policy(release_citizen_id=True)
    with pytest.raises(PolicyError, match="max_age"):
        policy(max_age=-1)
    assert policy(release_citizen_id=True, citizen_id_legal_basis="พ.ร.บ. การทะเบียนราษฎร มาตรา ...").release_citizen_id


def test_acr_alternatives_keep_their_order_and_ignore_other_vocabularies():
    alts = acr_alternatives(["urn:idgw:aal:2.1", "urn:mace:incommon:iap:silver", "urn:idgw:ial:1.3:aal:2.2",
                             "urn:idgw:aal:2.1"])
    assert [a.value for a in alts] == ["urn:idgw:aal:2.1", "urn:idgw:ial:1.3:aal:2.2"]
    assert alts[1].ial == IAL("1.3") and alts[1].aal == AAL("2.2") and alts[0].ial is None
    assert first_satisfied(alts, ial=IAL("1.3"), aal=AAL("2.2")).value == "urn:idgw:aal:2.1"
    assert first_satisfied(alts, ial=IAL("1.1"), aal=AAL("1")) is None
    assert combined_acr(ial=IAL("2.2"), aal=AAL("2.1")) == "urn:idgw:ial:2.2:aal:2.1"
    for bad in (["urn:idgw:aal:2"], ["urn:idgw:ial:IAL2"], ["urn:idgw:loa:1"], ["urn:idgw:aal:2.1:ial:2.2"]):
        with pytest.raises(LevelError):
            acr_alternatives(bad)


@pytest.mark.parametrize("factors,aal", [
    (["pwd"], "1"), (["pwd", "otp"], "2.1"), (["pwd", "hwk"], "2.1"), (["hwk"], "1"), (["hwk_uv"], "2.2"),
    (["pwd", "otp", "hwk_uv"], "2.2"), (["hwk_uv_attested"], "3"), (["otp"], "1"), ([], None), (["user"], None)])
def test_factor_rules(factors, aal):
    got = default_rules().aal_for(factors)
    assert (got.value if got else None) == aal
