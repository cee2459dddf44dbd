"""panva's openid-client (an OpenID Certified RP library) against the gateway started by the real
``idgw serve`` command: code flow + PKCE + RFC 9207 iss + ID-token signature checks, userinfo,
refresh rotation, introspection, revocation and RP-initiated logout."""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port

RP_DIR = Path(__file__).parent / "rp_node"


@pytest.fixture
def served_gateway(database_url, tmp_path):
    port = free_port()
    env = {**os.environ, "IDGW_DEV": "1", "IDGW_ISSUER": f"http://127.0.0.1:{port}", "IDGW_DATABASE_URL": database_url,
           "IDGW_SECRET_KEY": "node-test-secret-0123456789abcdef0123456789"}
    # The server's output goes to a file: a pipe nobody reads fills (64 KiB, one access line a
    # request) and then blocks the server mid-test.
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "idgw", "serve", "--port", str(port)], env=env,
                            stdout=log, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.time() > deadline or proc.poll() is not None:
                output = (tmp_path / "serve.log").read_text()
                raise RuntimeError("idgw serve did not start: " + output)
            time.sleep(0.1)
        yield env, f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def test_openid_client_completes_the_whole_flow(served_gateway):
    if shutil.which("node") is None or not (RP_DIR / "node_modules").exists():
        pytest.fail("node and tests/rp_node/node_modules are required (make test runs npm ci)")
    env, issuer = served_gateway
    cli = [sys.executable, "-m", "idgw"]
    out = subprocess.run([*cli, "client", "add", "--name", "openid-client RP", "--redirect-uri",
                          "http://127.0.0.1:9/cb", "--post-logout-redirect-uri", "http://127.0.0.1:9/bye", "--json"],
                         env=env, capture_output=True, text=True, check=True)
    client = json.loads(out.stdout)
    subprocess.run([*cli, "policy", "set", client["client_id"], "--justification", "conformance test service"],
                   env=env, capture_output=True, text=True, check=True)
    subprocess.run([*cli, "user", "add", "malee", "--password", "malee-password-123", "--given-name", "Malee"],
                   env=env, capture_output=True, text=True, check=True)
    rp_env = {**os.environ, "ISSUER": issuer, "CLIENT_ID": client["client_id"],
              "CLIENT_SECRET": client["client_secret"],
              "REDIRECT_URI": "http://127.0.0.1:9/cb", "POST_LOGOUT_REDIRECT_URI": "http://127.0.0.1:9/bye",
              "USERNAME": "malee", "PASSWORD": "malee-password-123"}
    run = subprocess.run(["node", str(RP_DIR / "rp.mjs")], env=rp_env, capture_output=True, text=True, timeout=120)
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert run.returncode == 0 and result["ok"], result
    assert result["id_token_claims"]["iss"] == issuer and result["id_token_alg"] == "ES256"
    assert result["userinfo"]["given_name"] == "Malee"
    assert result["refreshed"] and result["introspection_active"] is True
    assert result["revoked_refresh_active"] is False
    assert result["logout_redirect"].startswith("http://127.0.0.1:9/bye")

    # an essential acr naming an identity level is answered with that value (OIDC Core §5.5.1.1;
    # security review item 5: acr was always urn:idgw:aal:<n>, so this could never be met)
    ial = subprocess.run(["node", str(RP_DIR / "rp.mjs")], env={
        **rp_env, "ESSENTIAL_ACR": "urn:idgw:ial:2.2 urn:idgw:ial:1.1"}, capture_output=True, text=True, timeout=120)
    result = json.loads(ial.stdout.strip().splitlines()[-1])
    assert ial.returncode == 0 and result["ok"], result
    assert result["id_token_claims"]["acr"] == "urn:idgw:ial:1.1"

    # and the same library refuses a wrong password (the login form comes back)
    bad = subprocess.run(["node", str(RP_DIR / "rp.mjs")], env={**rp_env, "PASSWORD": "not-the-password"},
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and json.loads(bad.stdout.strip().splitlines()[-1])["ok"] is False
