"""Two gateway instances on one PostgreSQL behave as one gateway (issue 16, "Several instances as
one"): two real ``idgw serve --no-migrate`` processes with the same settings, the schema migrated
once by ``idgw db upgrade``. Everything that matters is in the database, so

- a sign-in started on A finishes on B, and its code is redeemed at A;
- one code redeemed at A and B at the same moment yields one token response (the other is a
  replay: invalid_grant, and the tokens issued from the code are revoked, RFC 6749 §4.1.2);
- one refresh token presented at A and B at the same moment rotates once; with the grace off
  (IDGW_REFRESH_GRACE=0) the other presentation is reuse and the family ends revoked;
- a key rotation (``idgw keys rotate``) is served by both instances' JWKS within the key store's
  recheck bound, and ID tokens signed after it verify with either instance's JWKS;
- failed passwords sent to A and B in turn, or at once, reach the lock at the configured count once;
- each instance keeps one connection LISTENing for proofing events (idgw.proofing.signals);
- the audit chain is intact after all of it (``idgw audit verify``).
"""

from __future__ import annotations

import base64
import json
import threading
import time
from functools import partial
from urllib.parse import urlsplit

import httpx
import pytest
from jose import jwt as jose_jwt
from sqlalchemy import func, select

from idgw.oidc import keys as oidc_keys
from idgw.storage.models import Account, AuditEvent
from tests.flow import (
    PASSWORD,
    REDIRECT_URI,
    RP_PREFIXES,
    authorize_url,
    callback_params,
    form_fields,
    register,
    rp_client,
)
from tests.ops.instances import start_deployment

MAX_FAILED = 4
# How long a rotation done elsewhere may take to reach an instance's JWKS: the key store re-reads
# the key table at most every ``recheck`` seconds (idgw.oidc.keys.KeyStore, 15 s), in the
# background of the first request after that, so the request after it has the new keys.
KEY_PROPAGATION = 15.0
A, B = 0, 1


@pytest.fixture(scope="module")
def deployment(postgres, tmp_path_factory):
    running = start_deployment(postgres.create_database(), tmp_path_factory.mktemp("two-instances"),
                               max_failed_logins=MAX_FAILED, throttle_free_attempts=MAX_FAILED, refresh_grace=0)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def reg(deployment):
    return register(deployment)


# -- a browser that moves between the instances -------------------------------------------------------
def _on(deployment, index: int, location: str) -> str:
    """``location`` (a path, or a URL on the issuer, which is A's address) on instance ``index``."""
    base = deployment.instances[index].url
    if location.startswith("/"):
        return base + location
    parts = urlsplit(location)
    assert f"{parts.scheme}://{parts.netloc}" in (deployment.url, base), location
    return base + location[len(f"{parts.scheme}://{parts.netloc}"):]


def _follow(http: httpx.Client, deployment, index: int, response: httpx.Response) -> httpx.Response:
    while response.status_code in (302, 303) and not response.headers["location"].startswith(RP_PREFIXES):
        response = http.get(_on(deployment, index, response.headers["location"]))
    return response


def _submit(http, deployment, index: int, page: httpx.Response, **fields) -> httpx.Response:
    action, hidden = form_fields(page.text)
    return _follow(http, deployment, index, http.post(_on(deployment, index, action), data={**hidden, **fields}))


def sign_in(deployment, reg, *, start: int, finish: int, http: httpx.Client | None = None):
    """Authorize on ``start``; the password, consent and the redirect with the code on ``finish``.
    Returns (callback params, nonce, code verifier)."""
    http = http or httpx.Client(timeout=20)
    rp = rp_client(deployment, reg)
    url, state, nonce, verifier = authorize_url(deployment, rp)
    page = _follow(http, deployment, start, http.get(_on(deployment, start, url)))
    assert 'name="password"' in page.text, (page.status_code, page.text[:300])
    page = _submit(http, deployment, finish, page, username=reg.username, password=PASSWORD)
    if 'value="allow"' in page.text:
        page = _submit(http, deployment, finish, page, decision="allow")
    params = callback_params(page)
    assert params["state"] == state and params["iss"] == deployment.url
    return params, nonce, verifier


def redeem(deployment, reg, index: int, code: str, verifier: str) -> httpx.Response:
    return httpx.post(deployment.instances[index].url + "/token", auth=(reg.client_id, reg.client_secret),
                      data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI,
                            "code_verifier": verifier}, timeout=20)


def refresh(deployment, reg, index: int, token: str) -> httpx.Response:
    return httpx.post(deployment.instances[index].url + "/token", auth=(reg.client_id, reg.client_secret),
                      data={"grant_type": "refresh_token", "refresh_token": token}, timeout=20)


def active(deployment, reg, index: int, token: str) -> bool:
    answer = httpx.post(deployment.instances[index].url + "/introspect", auth=(reg.client_id, reg.client_secret),
                        data={"token": token}, timeout=20)
    assert answer.status_code == 200, answer.text
    return answer.json()["active"]


def at_once(*calls):
    """Run the calls in threads released together by a barrier; their results in order."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(i, call):
        barrier.wait()
        results[i] = call()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def kid_of(jwt: str) -> str:
    head = jwt.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))["kid"]


def jwks(deployment, index: int) -> dict:
    return httpx.get(deployment.instances[index].url + "/jwks.json", timeout=10).json()


def verify(deployment, reg, token: dict, published: dict) -> dict:
    """The ID token's claims, checked with the published key its header names (and only that one)."""
    kid = kid_of(token["id_token"])
    key = [k for k in published["keys"] if k["kid"] == kid]
    assert key, f"{kid} is not published"
    return jose_jwt.decode(token["id_token"], key[0], algorithms=["ES256"], audience=reg.client_id,
                           issuer=deployment.url, access_token=token["access_token"])


def audit_count(deployment, name: str) -> int:
    with deployment.db() as db:
        return db.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.name == name))


# -- the tests --------------------------------------------------------------------------------------
def test_a_sign_in_started_on_one_finishes_on_the_other(deployment, reg):
    http = httpx.Client(timeout=20)
    params, nonce, verifier = sign_in(deployment, reg, start=A, finish=B, http=http)
    token = redeem(deployment, reg, A, params["code"], verifier)
    assert token.status_code == 200, token.text
    claims = verify(deployment, reg, token.json(), jwks(deployment, B))
    assert claims["nonce"] == nonce
    # B's session is A's too (one sign-in, one browser): a second authorize at A needs no password,
    # and the pairwise subject (a per-deployment salt in the database) is the same from either.
    rp = rp_client(deployment, reg)
    url, _state, nonce2, verifier2 = authorize_url(deployment, rp)
    page = _follow(http, deployment, A, http.get(_on(deployment, A, url)))
    again = callback_params(page)
    second = redeem(deployment, reg, B, again["code"], verifier2)
    assert second.status_code == 200, second.text
    claims2 = verify(deployment, reg, second.json(), jwks(deployment, A))
    assert (claims2["sub"], claims2["nonce"]) == (claims["sub"], nonce2)
    assert active(deployment, reg, B, token.json()["access_token"])
    assert active(deployment, reg, A, second.json()["access_token"])


def test_one_code_redeemed_at_both_at_once_gives_one_token_response(deployment, reg):
    replays = audit_count(deployment, "code.replayed")
    for _round in range(3):
        params, _nonce, verifier = sign_in(deployment, reg, start=A, finish=A)
        answers = at_once(*(partial(redeem, deployment, reg, i, params["code"], verifier) for i in (A, B)))
        assert sorted(a.status_code for a in answers) == [200, 400], [a.text for a in answers]
        won = next(a for a in answers if a.status_code == 200).json()
        lost = next(a for a in answers if a.status_code == 400).json()
        assert lost["error"] == "invalid_grant"
        assert won["access_token"] and won["refresh_token"]
        # The loser is a replay whichever order the database put them in: it waits for the winner's
        # row lock (or reads the code already redeemed) and then revokes what the code issued.
        assert not active(deployment, reg, A, won["access_token"])
        assert refresh(deployment, reg, B, won["refresh_token"]).json()["error"] == "invalid_grant"
    assert audit_count(deployment, "code.replayed") == replays + 3


def test_one_refresh_token_at_both_at_once_rotates_once(deployment, reg):
    reused = audit_count(deployment, "token.reused")
    for _round in range(3):
        params, _nonce, verifier = sign_in(deployment, reg, start=B, finish=B)
        first = redeem(deployment, reg, B, params["code"], verifier).json()
        answers = at_once(*(partial(refresh, deployment, reg, i, first["refresh_token"]) for i in (A, B)))
        assert sorted(a.status_code for a in answers) == [200, 400], [a.text for a in answers]
        won = next(a for a in answers if a.status_code == 200).json()
        assert next(a for a in answers if a.status_code == 400).json()["error"] == "invalid_grant"
        assert won["refresh_token"] != first["refresh_token"]
        # Grace off: the second presentation of a rotated token is reuse (RFC 9700 §4.14.2), so the
        # family, the pair just issued included, ends revoked: no live token is left from it.
        assert not active(deployment, reg, A, won["access_token"])
        assert not active(deployment, reg, B, first["access_token"])
        assert refresh(deployment, reg, A, won["refresh_token"]).json()["error"] == "invalid_grant"
    assert audit_count(deployment, "token.reused") >= reused + 3


def test_a_rotated_key_reaches_both_instances_within_the_bound(deployment, reg):
    before = {k["kid"] for k in jwks(deployment, A)["keys"]}
    params, _nonce, verifier = sign_in(deployment, reg, start=A, finish=A)
    old_token = redeem(deployment, reg, A, params["code"], verifier).json()
    rotated = deployment.cli("keys", "rotate")
    assert rotated.returncode == 0, rotated.stdout + rotated.stderr
    rotated_at = time.monotonic()
    with deployment.db() as db:
        from idgw.storage.models import SigningKey

        new = set(db.scalars(select(SigningKey.kid).where(SigningKey.retired_at.is_(None))))
    assert new and not new & before
    seen: dict[int, float] = {}
    while len(seen) < 2:
        for index in (A, B):
            if index not in seen and new <= {k["kid"] for k in jwks(deployment, index)["keys"]}:
                seen[index] = time.monotonic() - rotated_at
        assert time.monotonic() - rotated_at < KEY_PROPAGATION + 5, f"new keys not served everywhere: {seen}"
        time.sleep(0.2)
    print(f"\nkey rotation reached A after {seen[A]:.1f} s, B after {seen[B]:.1f} s "
          f"(bound {KEY_PROPAGATION:.0f} s, KeyStore recheck)")
    assert KEY_PROPAGATION == oidc_keys.KeyStore.__init__.__kwdefaults__["recheck"]
    for index in (A, B):
        published = jwks(deployment, index)
        assert before <= {k["kid"] for k in published["keys"]}  # old keys stay published (tokens live on)
        # An ID token signed before the rotation still verifies with this instance's JWKS...
        verify(deployment, reg, old_token, published)
        # ...and one this instance signs now carries a new key, which its JWKS verifies.
        params, _nonce, verifier = sign_in(deployment, reg, start=index, finish=index)
        token = redeem(deployment, reg, index, params["code"], verifier).json()
        assert kid_of(token["id_token"]) in new
        verify(deployment, reg, token, jwks(deployment, index))


def _password_attempt(deployment, reg, username: str, password: str, *, at: int) -> int:
    http = httpx.Client(timeout=20)
    rp = rp_client(deployment, reg)
    url, *_ = authorize_url(deployment, rp)
    page = _follow(http, deployment, A, http.get(_on(deployment, A, url)))
    assert 'name="password"' in page.text, page.text[:300]
    action, hidden = form_fields(page.text)
    return http.post(_on(deployment, at, action), data={**hidden, "username": username, "password": password}) \
        .status_code


def _account(deployment, username: str) -> Account:
    with deployment.db() as db:
        return db.scalar(select(Account).where(Account.username == username))


def _locked_events(deployment, account_id: str) -> int:
    with deployment.db() as db:
        return db.scalar(select(func.count()).select_from(AuditEvent)
                         .where(AuditEvent.name == "account.locked", AuditEvent.actor == account_id))


def test_failed_passwords_through_both_lock_once_at_the_count(deployment, reg):
    from idgw.login.password import LOCKED_FOREVER

    # In turn: A, B, A, B. Each failure counts on the account's one counter in the database.
    user = register(deployment)
    statuses = [_password_attempt(deployment, user, user.username, "wrong password", at=i % 2)
                for i in range(MAX_FAILED)]
    assert statuses == [401] * MAX_FAILED
    account = _account(deployment, user.username)
    assert (account.failed_logins, account.locked_until) == (MAX_FAILED, LOCKED_FOREVER)
    assert _locked_events(deployment, account.id) == 1
    # Locked through either instance, even with the right password; nothing more is counted.
    assert _password_attempt(deployment, user, user.username, PASSWORD, at=A) == 403
    assert _password_attempt(deployment, user, user.username, PASSWORD, at=B) == 403
    assert _account(deployment, user.username).failed_logins == MAX_FAILED
    # At once: as many failures as the lock needs, half through each instance, count exactly once each.
    other = register(deployment)
    statuses = at_once(*(partial(_password_attempt, deployment, other, other.username, "wrong", at=i % 2)
                         for i in range(MAX_FAILED)))
    assert statuses == [401] * MAX_FAILED
    account = _account(deployment, other.username)
    assert (account.failed_logins, account.locked_until) == (MAX_FAILED, LOCKED_FOREVER)
    assert _locked_events(deployment, account.id) == 1
    assert _password_attempt(deployment, other, other.username, PASSWORD, at=B) == 403


def test_each_instance_listens_for_proofing_events(deployment):
    """``idgw serve`` starts the proofing listener (idgw.proofing.signals): one LISTEN connection per
    process, so a case event committed through either instance reaches the sockets of both."""
    import psycopg

    from idgw.proofing import signals

    with psycopg.connect(signals.conninfo(deployment.engine.url), autocommit=True) as conn:
        listening = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s "
                                 "AND datname = current_database()", (signals.APPLICATION_NAME,)).fetchone()[0]
    assert listening == len(deployment.instances)


def test_the_audit_chain_is_intact_after_both_wrote_to_it(deployment, reg):
    # Both instances (and the rotation's command) appended to the one chain in this module.
    sign_in(deployment, reg, start=B, finish=A)
    verified = deployment.cli("audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    for instance in deployment.instances:
        assert instance.proc.poll() is None, instance.output(4000)
        assert "Traceback" not in instance.output(), instance.output(4000)
