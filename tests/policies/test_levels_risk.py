"""Levels, the risk table and the assessment (pure unit tests, table-driven)."""

import itertools

import pytest

from policies import AAL, IAL, AssessmentError, LevelError, assess, default_matrix

CATEGORIES = ["reputation", "financial", "programmes", "sensitive_information", "personal_safety", "civil_criminal"]
IMPACTS = ["none", "low", "moderate", "high"]
# shared/docs/domain.md §2 (NIST SP 800-63-3 table 6-1): the level family each impact requires
EXPECTED_FAMILY = {
    "reputation": {"none": 1, "low": 1, "moderate": 2, "high": 3},
    "financial": {"none": 1, "low": 1, "moderate": 2, "high": 3},
    "programmes": {"none": 1, "low": 2, "moderate": 2, "high": 3},
    "sensitive_information": {"none": 1, "low": 2, "moderate": 2, "high": 3},
    "personal_safety": {"none": 1, "low": 2, "moderate": 3, "high": 3},
    "civil_criminal": {"none": 1, "low": 2, "moderate": 2, "high": 3},
}
IAL_OF = {1: "1.1", 2: "2.1", 3: "3"}
AAL_OF = {1: "1", 2: "2.1", 3: "3"}


@pytest.mark.parametrize("text", ["IAL2", "2", "1.0", "2.30", "", " ", "4", "2.4", "1.4", "ial1.1", "3.0", "0"])
def test_ial_parse_errors(text):
    with pytest.raises(LevelError, match="IAL must be one of 1.1, 1.2, 1.3, 2.1, 2.2, 2.3, 3"):
        IAL.parse(text)


@pytest.mark.parametrize("text", ["AAL2", "2", "1.0", "2.30", "1.1", "2.3", "", "AAL1"])
def test_aal_parse_errors(text):
    with pytest.raises(LevelError, match="AAL must be one of 1, 2.1, 2.2, 3"):
        AAL.parse(text)


@pytest.mark.parametrize("value", [2.1, 2, None, b"2.1"])
def test_non_strings_are_refused(value):
    with pytest.raises(LevelError, match="string"):
        IAL.parse(value)
    with pytest.raises(LevelError):
        AAL.parse(value)


def test_total_order_is_positional_not_numeric():
    ials = [IAL.parse(v) for v in ("1.1", "1.2", "1.3", "2.1", "2.2", "2.3", "3")]
    assert sorted(reversed(ials)) == ials
    assert all(a < b for a, b in itertools.pairwise(ials))
    assert AAL.parse("2.2") > AAL.parse("2.1") > AAL.parse("1") and AAL.parse("3") == AAL("3")
    assert max(IAL("1.3"), IAL("2.1")) == IAL("2.1")
    with pytest.raises(TypeError):
        IAL("2.1") < AAL("2.1")  # noqa: B015 - different kinds do not compare
    assert IAL("2.2").acr == "urn:idgw:ial:2.2" and AAL.from_acr("urn:idgw:aal:2.1") == AAL("2.1")
    with pytest.raises(LevelError):
        AAL.from_acr("urn:idgw:aal:2")


def test_matrix_names_its_source():
    m = default_matrix()
    assert "800-63-3" in m.source["standard"] and m.source["version"]
    assert [c.id for c in m.categories] == CATEGORIES
    assert all(c.th and c.en for c in m.categories)


@pytest.mark.parametrize("category,impact", [(c, i) for c in CATEGORIES for i in IMPACTS])
def test_every_cell_of_the_risk_table(category, impact):
    answers = {c: "none" for c in CATEGORIES}
    answers[category] = impact
    a = assess(impacts=answers, needs_verified_identity=True)
    family = EXPECTED_FAMILY[category][impact]
    assert a.ial == IAL(IAL_OF[family]) and a.aal == AAL(AAL_OF[family])
    if family > 1:
        drivers = {r.category for r in a.reasons}
        assert drivers == {category}
        assert all(r.family == family and r.impact == impact for r in a.reasons)
    else:
        assert {r.code for r in a.reasons} == {"all_impacts_within_level_1"}


def test_highest_category_wins_and_all_drivers_are_named():
    a = assess(impacts={**{c: "low" for c in CATEGORIES}, "financial": "moderate"},
               authentication_impacts={**{c: "none" for c in CATEGORIES}, "personal_safety": "moderate"},
               needs_verified_identity=True)
    assert a.ial == IAL("2.1") and a.aal == AAL("3")
    ial_drivers = {r.category for r in a.reasons if r.kind == "ial"}
    assert ial_drivers == {"financial", "programmes", "sensitive_information", "personal_safety", "civil_criminal"}
    assert {r.category for r in a.reasons if r.kind == "aal"} == {"personal_safety"}


def test_no_verified_identity_means_ial_1_1_whatever_the_impacts():
    a = assess(impacts={c: "high" for c in CATEGORIES}, needs_verified_identity=False)
    assert a.ial == IAL("1.1") and a.aal == AAL("3")
    assert "no_verified_identity_needed" in {r.code for r in a.reasons}


@pytest.mark.parametrize("answers,message", [
    ({**{c: "none" for c in CATEGORIES}, "wealth": "low"}, "unknown proofing impact category: wealth"),
    ({c: "none" for c in CATEGORIES[1:]}, "missing for: reputation"),
    ({**{c: "none" for c in CATEGORIES}, "financial": "severe"}, "must be one of none, low, moderate, high"),
    ("low", "must be a mapping"),
])
def test_bad_answers(answers, message):
    with pytest.raises(AssessmentError, match=message):
        assess(impacts=answers, needs_verified_identity=True)
