"""``idgw delegation ...`` and the client registration options for delegation, with the real
command (its typer application, in this process, with the environment a shell would give it; one
test runs the installed entry point in a subprocess) on SQLite and PostgreSQL: the act catalogue
and rule, expiry, verification by number and by signed document (exit 1 when not valid);
``add_client``'s security_event_uri and token_exchange, with their refusals."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from idgw.admin import AdminError, add_client, client_info
from idgw.delegation import catalogue
from idgw.delegation import model as m
from idgw.oidc.exchange import GRANT_TYPE
from idgw.storage.delegation import Mandate
from idgw.storage.models import AuditEvent, Client
from tests.delegation.world import SOMCHAI, SOMYING, citizen, delegable_service, person_mandate

SECRET = "test-secret-key-0123456789abcdef0123456789"


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


def _env(database_url, *, dev=True, issuer="http://example.org") -> dict:
    env = {k: None for k in os.environ if k.startswith("IDGW_")}  # nothing from the caller's shell
    env.update(IDGW_DATABASE_URL=database_url, IDGW_SECRET_KEY=SECRET, IDGW_ISSUER=issuer)
    if dev:
        env["IDGW_DEV"] = "1"
    return env


def idgw(database_url, *args, dev=True, issuer="http://example.org") -> Ran:
    """``idgw ARGS`` as a shell would run it: the same typer application, its exit code and both
    streams (in this process: a new interpreter per command cost a second each)."""
    from idgw.cli import app

    result = CliRunner().invoke(app, list(args), env=_env(database_url, dev=dev, issuer=issuer))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Ran(result.exit_code, result.stdout, result.stderr)


def test_the_installed_command_runs_delegation(database_url):
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDGW_")}
    env.update({k: v for k, v in _env(database_url).items() if v is not None})
    from idgw.storage.db import upgrade

    upgrade(database_url)
    result = subprocess.run([sys.executable, "-m", "idgw", "delegation", "expire"], capture_output=True, text=True,
                            env=env, timeout=120)
    assert result.returncode == 0, (result.stdout, result.stderr)


def ok(result):
    assert result.returncode == 0, (result.stdout, result.stderr)
    return result


def test_acts_and_rules(gateway, database_url):
    service = delegable_service(gateway)
    cid = service.client_id
    listed = json.loads(ok(idgw(database_url, "delegation", "acts", "list", cid, "--json")).stdout)
    assert [a["code"] for a in listed] == ["tax_refund", "vat_filing"] and listed[1]["name_en"] == "File a VAT return"
    ok(idgw(database_url, "delegation", "acts", "add", cid, "vat_amend", "--name-th", "ยื่นแบบเพิ่มเติม",
            "--name-en", "File an amended return"))
    bad = idgw(database_url, "delegation", "acts", "add", cid, "VAT Amend", "--name-th", "ก", "--name-en", "A")
    assert bad.returncode == 1 and "An act code starts with a lowercase letter" in bad.stderr
    again = idgw(database_url, "delegation", "acts", "add", cid, "vat_amend", "--name-th", "ก", "--name-en", "A")
    assert again.returncode == 1 and "The act vat_amend is already in the catalogue." in again.stderr
    ok(idgw(database_url, "delegation", "acts", "retire", cid, "tax_refund"))
    gone = idgw(database_url, "delegation", "acts", "retire", cid, "tax_refund")
    assert gone.returncode == 1 and "There is no act tax_refund in the catalogue." in gone.stderr
    text = ok(idgw(database_url, "delegation", "acts", "list", cid)).stdout
    assert text.splitlines() == ["vat_amend\tยื่นแบบเพิ่มเติม\tFile an amended return",
                                 "vat_filing\tยื่นแบบภาษีมูลค่าเพิ่ม\tFile a VAT return"]
    assert idgw(database_url, "delegation", "acts", "list", "nosuchclient").returncode == 1
    # the rule: shown, then changed in parts (the rest kept)
    shown = json.loads(ok(idgw(database_url, "delegation", "rules", cid, "--json")).stdout)
    assert shown == {"client_id": cid, "sign_ial": "2.1", "sign_aal": "2.1", "any_act_allowed": False,
                     "stamp_duty_required": False, "max_depth": 1}
    changed = json.loads(ok(idgw(database_url, "delegation", "rules", cid, "--sign-ial", "2.3", "--any-act",
                                 "--stamp-required", "--max-depth", "2", "--json")).stdout)
    assert changed == {**shown, "sign_ial": "2.3", "any_act_allowed": True, "stamp_duty_required": True,
                       "max_depth": 2}
    ok(idgw(database_url, "delegation", "rules", cid, "--no-stamp-required"))
    for args, words in ((["--sign-ial", "1.1"], "Signing levels may not be below IAL 2.1 / AAL 2.1."),
                        (["--sign-aal", "9"], "That level is not valid."),
                        (["--max-depth", "4"], "The sub-delegation depth must be between 0 and 3.")):
        refused = idgw(database_url, "delegation", "rules", cid, *args)
        assert refused.returncode == 1 and words in refused.stderr, refused.stderr
    assert idgw(database_url, "delegation", "rules", "nosuchclient", "--sign-ial", "2.2").returncode == 1
    with gateway.db() as db:
        rules = catalogue.rules_for(db, cid)
        assert (rules.sign_ial.value, rules.any_act_allowed, rules.stamp_duty_required, rules.max_depth) == (
            "2.3", True, False, 2)
        actors = {e.actor for e in db.scalars(select(AuditEvent).where(AuditEvent.name == "delegation.rules_changed",
                                                                        AuditEvent.client_id == cid))}
        assert actors == {"test-admin", "cli"}


def test_expire_and_verify(gateway, database_url, tmp_path):
    service = delegable_service(gateway)
    a, b = citizen(gateway, SOMCHAI), citizen(gateway, SOMYING)
    mandate_id = person_mandate(gateway, a, b, client_id=service.client_id)
    with gateway.db() as db:
        jws = db.get(Mandate, mandate_id).jws
    answer = ok(idgw(database_url, "delegation", "verify", "--id", mandate_id))
    body = json.loads(answer.stdout)
    assert body["valid"] is True and body["status"] == "effective" and body["delegation"]["id"] == mandate_id
    assert SOMCHAI[0] not in answer.stdout  # the summary: masked IDs
    signed = tmp_path / "delegation.jws"
    signed.write_text("\n".join(jws[i:i + 64] for i in range(0, len(jws), 64)) + "\n", encoding="utf-8")
    body = json.loads(ok(idgw(database_url, "delegation", "verify", "--jws-file", str(signed),
                              issuer=gateway.url)).stdout)
    assert body["valid"] is True and body["delegation"]["id"] == mandate_id
    # another gateway's issuer, an altered document, an unknown number: not valid, exit 1
    other = idgw(database_url, "delegation", "verify", "--jws-file", str(signed), issuer="http://other.example")
    assert other.returncode == 1 and json.loads(other.stdout)["reason"] == "signature_invalid"
    head, payload, sig = jws.split(".")
    signed.write_text(f"{head}.{payload[:30]}{'A' if payload[30] != 'A' else 'B'}{payload[31:]}.{sig}")
    altered = idgw(database_url, "delegation", "verify", "--jws-file", str(signed), issuer=gateway.url)
    assert altered.returncode == 1 and json.loads(altered.stdout) == {
        "valid": False, "status": None, "reason": "signature_invalid", "delegation": None}
    unknown = idgw(database_url, "delegation", "verify", "--id", "00000000-0000-4000-8000-000000000000")
    assert unknown.returncode == 1 and json.loads(unknown.stdout)["reason"] == "not_found"
    assert idgw(database_url, "delegation", "verify").returncode == 2
    assert idgw(database_url, "delegation", "verify", "--id", mandate_id, "--jws-file", str(signed)).returncode == 2
    missing = idgw(database_url, "delegation", "verify", "--jws-file", str(tmp_path / "none.jws"))
    assert missing.returncode == 1 and "none.jws" in missing.stderr
    # expiry: a mandate past its end is recorded expired, once
    with gateway.db() as db:
        db.get(Mandate, mandate_id).valid_until = gateway.clock.now() - 10
        db.commit()
    assert ok(idgw(database_url, "delegation", "expire")).stdout.strip() == "expired 1 delegation(s)"
    assert ok(idgw(database_url, "delegation", "expire")).stdout.strip() == "expired 0 delegation(s)"
    with gateway.db() as db:
        assert db.get(Mandate, mandate_id).status == m.EXPIRED
        assert db.scalar(select(AuditEvent).where(AuditEvent.name == "delegation.expired")) is not None
    assert json.loads(idgw(database_url, "delegation", "verify", "--id", mandate_id).stdout)["status"] == "expired"


def test_add_client_security_event_uri_and_token_exchange(gateway):
    with gateway.db() as db:
        now = gateway.clock.now()
        new = add_client(db, name="กรมสรรพากร RD", redirect_uris=["https://rd.example.go.th/cb"],
                         security_event_uri="https://rd.example.go.th/events?v=1", token_exchange=True, now=now)
        plain = add_client(db, name="Plain", redirect_uris=["https://plain.example.go.th/cb"], now=now)
        db.flush()
        info = client_info(db.get(Client, new.client_id))
        assert info["security_event_uri"] == "https://rd.example.go.th/events?v=1" and info["token_exchange"] is True
        assert info["grant_types"] == ["authorization_code", "refresh_token", GRANT_TYPE]
        info = client_info(db.get(Client, plain.client_id))
        assert info["security_event_uri"] is None and info["token_exchange"] is False
        assert GRANT_TYPE not in info["grant_types"]
        # the URI is checked as the back-channel logout URI is: https outside dev, no fragment
        for uri in ("http://rd.example.go.th/events", "https://rd.example.go.th/events#x", "/events",
                    "ftp://rd.example.go.th/events"):
            with pytest.raises(AdminError, match="security_event_uri"):
                add_client(db, name="x", redirect_uris=["https://x.example.go.th/cb"], security_event_uri=uri,
                           now=now)
        dev = add_client(db, name="dev", redirect_uris=["https://d.example.go.th/cb"],
                         security_event_uri="http://d.example.go.th/events", now=now, dev=True)
        assert db.get(Client, dev.client_id).security_event_uri == "http://d.example.go.th/events"
        with pytest.raises(AdminError, match="confidential"):
            add_client(db, name="spa", redirect_uris=["https://spa.example.go.th/cb"], auth_method="none",
                       token_exchange=True, now=now)
        db.rollback()


def test_client_add_command_options(gateway, database_url):
    made = json.loads(ok(idgw(database_url, "client", "add", "--name", "RD", "--redirect-uri",
                              "https://rd.example.go.th/cb", "--security-event-uri", "https://rd.example.go.th/ev",
                              "--token-exchange", "--json", dev=False)).stdout)
    shown = json.loads(ok(idgw(database_url, "client", "show", made["client_id"], "--json")).stdout)
    assert shown["security_event_uri"] == "https://rd.example.go.th/ev" and shown["token_exchange"] is True
    assert GRANT_TYPE in shown["grant_types"]
    refused = idgw(database_url, "client", "add", "--name", "SPA", "--redirect-uri", "https://spa.example.go.th/cb",
                   "--auth-method", "none", "--token-exchange", dev=False)
    assert refused.returncode == 1 and "confidential" in refused.stderr
    refused = idgw(database_url, "client", "add", "--name", "RD2", "--redirect-uri", "https://rd2.example.go.th/cb",
                   "--security-event-uri", "http://rd2.example.go.th/ev", dev=False)
    assert refused.returncode == 1 and "security_event_uri" in refused.stderr and "https" in refused.stderr
    with gateway.db() as db:
        assert db.scalar(select(Client).where(Client.name.in_(["SPA", "RD2"]))) is None
