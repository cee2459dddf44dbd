"""Key rotation, the idgw command and start-up settings validation."""

import json
import os
import subprocess
import sys

import httpx
import pytest
from jose import jwt as jose_jwt

from idgw.settings import Settings, SettingsError
from tests.flow import exchange, login_flow, register


def run_cli(database_url, *args, input=None, env_extra=None):
    env = {**os.environ, "IDGW_DATABASE_URL": database_url, "IDGW_DEV": "1",
           "IDGW_SECRET_KEY": "test-secret-key-0123456789abcdef0123456789", **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "idgw", *args], capture_output=True, text=True, env=env,
                          input=input, timeout=120)


def test_keys_rotate_keeps_old_public_key_until_its_tokens_expire(gateway, database_url):
    reg = register(gateway)
    params, _, _, verifier, rp, _ = login_flow(gateway, reg)
    tok = exchange(gateway, rp, params["code"], verifier)
    old_kid = jose_jwt.get_unverified_header(tok["id_token"])["kid"]
    out = run_cli(database_url, "keys", "rotate")
    assert out.returncode == 0, out.stderr
    gateway.gw.keys.refresh(force=True)
    kids = {k["kid"] for k in httpx.get(gateway.url + "/jwks.json").json()["keys"]}
    assert old_kid in kids and len(kids) == 4
    # new tokens use the new key; the old token still verifies against the published JWKS
    params, _, _, verifier, rp, _ = login_flow(gateway, reg)
    tok2 = exchange(gateway, rp, params["code"], verifier)
    new_kid = jose_jwt.get_unverified_header(tok2["id_token"])["kid"]
    assert new_kid != old_kid and new_kid in kids
    jwks = httpx.get(gateway.url + "/jwks.json").json()
    key = next(k for k in jwks["keys"] if k["kid"] == old_kid)
    jose_jwt.decode(tok["id_token"], key, algorithms=["ES256"], audience=reg.client_id,
                    access_token=tok["access_token"])
    assert httpx.get(gateway.url + "/userinfo",
                     headers={"Authorization": f"Bearer {tok['access_token']}"}).status_code == 200
    # after the longest token lifetime the old key leaves the JWKS
    gateway.clock.advance(gateway.gw.settings.max_token_ttl + 1)
    gateway.gw.keys.refresh(force=True)
    kids = {k["kid"] for k in httpx.get(gateway.url + "/jwks.json").json()["keys"]}
    assert old_kid not in kids and new_kid in kids


def test_private_keys_are_encrypted_at_rest(gateway):
    from sqlalchemy import select

    from idgw.storage.models import SigningKey
    with gateway.db() as db:
        for row in db.scalars(select(SigningKey)):
            # What is stored is sealed: opening it gives the private JWK, and neither the JWK's
            # JSON nor its private part appears in the stored text (the private part is random
            # base64url, so a random match of 30+ characters cannot happen by chance).
            private = json.loads(gateway.gw.keys._sealer.open(row.private_jwk, context=f"jwk:{row.kid}"))
            assert private["kty"] == row.kty and len(private["d"]) >= 30
            assert private["d"] not in row.private_jwk and '"kty"' not in row.private_jwk


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_cli_client_and_user_commands(database_url):
    assert run_cli(database_url, "db", "upgrade").returncode == 0
    out = run_cli(database_url, "client", "add", "--name", "กรมทดสอบ", "--redirect-uri", "https://svc.example/cb",
                  "--post-logout-redirect-uri", "https://svc.example/", "--json")
    assert out.returncode == 0, out.stderr
    created = json.loads(out.stdout)
    assert created["client_id"] and len(created["client_secret"]) >= 40
    listed = json.loads(run_cli(database_url, "client", "list", "--json").stdout)
    assert [c["client_id"] for c in listed] == [created["client_id"]]
    shown = json.loads(run_cli(database_url, "client", "show", created["client_id"], "--json").stdout)
    assert shown["name"] == "กรมทดสอบ" and created["client_secret"] not in json.dumps(shown)
    assert "client_secret" not in shown and "secret_hash" not in shown
    bad = run_cli(database_url, "client", "add", "--name", "x", "--redirect-uri", "http://svc.example/cb#frag")
    assert bad.returncode == 1 and "fragment" in bad.stderr
    bad = run_cli(database_url, "client", "add", "--name", "x", "--redirect-uri", "https://a/cb",
                  "--id-token-alg", "HS256")
    assert bad.returncode == 1 and "ES256" in bad.stderr
    assert run_cli(database_url, "client", "remove", created["client_id"]).returncode == 0
    assert json.loads(run_cli(database_url, "client", "list", "--json").stdout) == []
    assert run_cli(database_url, "client", "remove", created["client_id"]).returncode == 1
    out = run_cli(database_url, "user", "add", "somsak", "--password", "a good long password", "--citizen-id",
                  "1345951597671")
    assert out.returncode == 0, out.stderr
    out = run_cli(database_url, "user", "add", "somsak2", "--password", "a good long password", "--citizen-id",
                  "3712644096692")
    assert out.returncode == 1 and "check digit" in out.stderr


def test_settings_refuse_unsafe_production_configuration():
    with pytest.raises(SettingsError, match="https"):
        Settings.from_env({"IDGW_ISSUER": "http://id.example.go.th", "IDGW_SECRET_KEY": "x" * 40})
    with pytest.raises(SettingsError, match="SECRET_KEY"):
        Settings.from_env({"IDGW_ISSUER": "https://id.example.go.th"})
    with pytest.raises(SettingsError, match="IDGW_CODE_TTL"):
        Settings.from_env({"IDGW_DEV": "1", "IDGW_CODE_TTL": "abc"})
    with pytest.raises(SettingsError, match="IDGW_DEV"):
        Settings.from_env({"IDGW_DEV": "maybe"})
    ok = Settings.from_env({"IDGW_ISSUER": "https://id.example.go.th", "IDGW_SECRET_KEY": "k" * 40,
                            "IDGW_DATABASE_URL": "sqlite:////tmp/x.db"})
    assert ok.cookie_secure and not ok.dev


def test_serve_refuses_to_start_with_placeholder_secret(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDGW_")}
    env.update(IDGW_ISSUER="https://id.example.go.th", IDGW_DATABASE_URL=f"sqlite:///{tmp_path}/x.db")
    out = subprocess.run([sys.executable, "-m", "idgw", "serve"], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 2 and "IDGW_SECRET_KEY" in out.stderr


def test_citizen_id_checksum_examples():
    from idgw.admin import valid_citizen_id
    assert valid_citizen_id("1345951597671") and valid_citizen_id("6000000000000")
    assert not valid_citizen_id("3712644096692") and not valid_citizen_id("0345951597671")
    assert not valid_citizen_id("134595159767") and not valid_citizen_id("13459515976x1")
