"""Policy versions, the raise/lower rule, the policy.changed audit, and the idgw policy commands."""

import json

import pytest
from sqlalchemy import select

from idgw.assurance import PolicyChangeError, PolicyInput, current_policy, history, set_policy
from idgw.storage.models import AuditEvent
from policies import AAL, IAL
from tests.flow import NO_IMPACT, register
from tests.test_keys_cli import run_cli

MODERATE_MONEY = {**NO_IMPACT, "financial": "moderate"}


def test_versions_raise_lower_and_audit(gateway):
    reg = register(gateway, policy=False)
    with gateway.db() as db:
        now = gateway.clock.now()
        assert current_policy(db, reg.client_id) is None
        set_policy(db, client_id=reg.client_id, actor="admin-a", now=now,
                   data=PolicyInput(needs_verified_identity=True, proofing_impacts=MODERATE_MONEY))
        p = current_policy(db, reg.client_id)
        assert (p.min_ial, p.min_aal) == (IAL("2.1"), AAL("2.1"))
        # raising above the computed value is allowed without a justification
        set_policy(db, client_id=reg.client_id, actor="admin-b", now=now + 1,
                   data=PolicyInput(needs_verified_identity=True, proofing_impacts=MODERATE_MONEY, min_aal="2.2"))
        # lowering below it is refused without one...
        with pytest.raises(PolicyChangeError, match="AAL 1 is below the computed 2.1.*justification"):
            set_policy(db, client_id=reg.client_id, actor="admin-c", now=now + 2,
                       data=PolicyInput(needs_verified_identity=True, proofing_impacts=MODERATE_MONEY, min_aal="1"))
        with pytest.raises(PolicyChangeError, match="justification"):
            set_policy(db, client_id=reg.client_id, actor="admin-c", now=now + 2,
                       data=PolicyInput(needs_verified_identity=True, proofing_impacts=MODERATE_MONEY, min_aal="1",
                                        justification="short"))
        # ...and allowed with one
        set_policy(db, client_id=reg.client_id, actor="admin-c", now=now + 3,
                   data=PolicyInput(needs_verified_identity=True, proofing_impacts=MODERATE_MONEY, min_aal="1",
                                    justification="ผู้ใช้เป็นเจ้าหน้าที่ในเครือข่ายภายใน มีมาตรการชดเชยตามบันทึกที่ 12/2569"))
        db.commit()
        versions = history(db, reg.client_id)
        assert [v.version for v in versions] == [3, 2, 1]
        assert [v.set_by for v in versions] == ["admin-c", "admin-b", "admin-a"]
        assert versions[0].assessment["computed_aal"] == "2.1" and versions[0].justification
        changes = list(db.scalars(select(AuditEvent).where(AuditEvent.name == "policy.changed",
                                                           AuditEvent.client_id == reg.client_id)))
        assert len(changes) == 3
        assert changes[0].detail["before"] is None and changes[0].detail["after"]["min_aal"] == "2.1"
        assert changes[1].detail["before"]["min_aal"] == "2.1" and changes[1].detail["after"]["min_aal"] == "2.2"
        assert changes[2].detail["before"]["min_aal"] == "2.2" and changes[2].detail["after"]["min_aal"] == "1"
        assert changes[2].actor == "admin-c"


@pytest.mark.parametrize("data,message", [
    (dict(min_ial="IAL2"), "IAL must be one of"),
    (dict(min_aal="2"), "AAL must be one of"),
    (dict(release_citizen_id=True), "legal basis"),
    (dict(proofing_impacts={**NO_IMPACT, "fame": "low"}), "unknown proofing impact category: fame"),
])
def test_invalid_policies_change_nothing(gateway, data, message):
    reg = register(gateway)
    with gateway.db() as db:
        before = len(history(db, reg.client_id))
        payload = {"needs_verified_identity": True, "proofing_impacts": NO_IMPACT, **data}
        with pytest.raises(PolicyChangeError, match=message):
            set_policy(db, client_id=reg.client_id, actor="x", now=1, data=PolicyInput(**payload))
        db.rollback()
        assert len(history(db, reg.client_id)) == before


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_policy_commands(database_url, tmp_path):
    assert run_cli(database_url, "db", "upgrade").returncode == 0
    out = run_cli(database_url, "policy", "assess", "--impact", "financial=moderate", "--impact",
                  "personal_safety=moderate", "--json")
    assert out.returncode == 0, out.stderr
    assessed = json.loads(out.stdout)
    assert assessed["ial"] == "3" and assessed["aal"] == "3"
    assert any("personal_safety" in r for r in assessed["reasons"])
    text = run_cli(database_url, "policy", "assess", "--impact", "financial=moderate").stdout
    assert "IAL floor: 2.1" in text and "financial impact is moderate" in text
    bad = run_cli(database_url, "policy", "assess", "--impact", "financial=huge")
    assert bad.returncode == 1 and "must be one of none, low, moderate, high" in bad.stderr

    client = json.loads(run_cli(database_url, "client", "add", "--name", "e-Service", "--redirect-uri",
                                "https://svc.example/cb", "--json").stdout)["client_id"]
    assert run_cli(database_url, "policy", "show", client).returncode == 1  # no policy yet
    out = run_cli(database_url, "policy", "set", client, "--impact", "financial=moderate", "--min-aal", "2.2",
                  "--actor", "somchai.admin")
    assert out.returncode == 0 and "IAL 2.1, AAL 2.2" in out.stdout, out.stderr
    low = run_cli(database_url, "policy", "set", client, "--impact", "financial=moderate", "--min-aal", "1")
    assert low.returncode == 1 and "justification" in low.stderr
    shown = json.loads(run_cli(database_url, "policy", "show", client, "--json").stdout)
    assert shown["current"]["min_aal"] == "2.2" and shown["current"]["set_by"] == "somchai.admin"
    assert len(shown["history"]) == 1

    # export -> import round trip makes a new version with the same floors
    export = tmp_path / "policies.yaml"
    assert run_cli(database_url, "policy", "export", str(export)).returncode == 0
    assert "min_aal: '2.2'" in export.read_text()
    assert run_cli(database_url, "policy", "import", str(export)).returncode == 0
    shown = json.loads(run_cli(database_url, "policy", "show", client, "--json").stdout)
    assert len(shown["history"]) == 2 and shown["current"]["min_aal"] == "2.2"

    # a bad file changes nothing and names the line
    text = export.read_text().replace("min_aal: '2.2'", "min_aal: '2'")
    broken = tmp_path / "broken.yaml"
    broken.write_text(text)
    out = run_cli(database_url, "policy", "import", str(broken))
    line = next(i for i, t in enumerate(text.splitlines(), 1) if t.lstrip("- ").startswith("client_id"))
    assert out.returncode == 1 and f"line {line}" in out.stderr and "AAL must be one of" in out.stderr
    broken.write_text("idgw_policies: 1\nservices:\n  - client_id: nobody\n    proofing_impacts: {}\n")
    out = run_cli(database_url, "policy", "import", str(broken))
    assert out.returncode == 1 and "line 3" in out.stderr and "no client nobody" in out.stderr
    broken.write_text("idgw_policies: 1\nservices: [\n")
    out = run_cli(database_url, "policy", "import", str(broken))
    assert out.returncode == 1 and "not valid YAML" in out.stderr
    shown = json.loads(run_cli(database_url, "policy", "show", client, "--json").stdout)
    assert len(shown["history"]) == 2
