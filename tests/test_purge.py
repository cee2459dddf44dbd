"""``idgw purge`` (idgw.purge): what goes, what stays, and that the gateway answers as before.

On SQLite and PostgreSQL, over real flows where they are cheap (codes, tokens, refresh, reuse,
replay, sign-out), with rows written directly where a flow would only be slow (sessions of a
group, old notices, throttle windows). The key safety test: a rotated refresh token stays while
its family can still be used, and presenting it after a purge still revokes the family."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import importlib.machinery
import json
import logging
import os
import sys
import time
import types
import uuid

import httpx
import pytest
from jose import jwt as jose_jwt
from sqlalchemy import func, select
from typer.testing import CliRunner

from idgw import purge as purging
from idgw.security import sha256_hex
from idgw.settings import Settings, SettingsError
from idgw.storage.delegation import Mandate, SecurityEventDelivery
from idgw.storage.models import (
    Account,
    AuditEvent,
    AuthorizationCode,
    Interaction,
    LoginSession,
    LogoutDelivery,
    Throttle,
    Token,
    UpstreamAttempt,
    UsedAssertion,
    WebAuthnChallenge,
)
from tests.flow import REDIRECT_URI, Browser, authorize_url, exchange, login_flow, register, rp_client, wait_until
from tests.security.receiver import Receiver

DAY = 24 * 3600
SECRET = "test-secret-key-0123456789abcdef0123456789"


# -- helpers ---------------------------------------------------------------------------------------

def run_purge(gateway, *, at: int | None = None, **kw) -> dict[str, int]:
    return purging.purge(gateway.gw.sessionmaker, now=gateway.clock.now() if at is None else at,
                         settings=gateway.gw.settings, **kw)


def signed_in(gateway, reg, browser=None):
    """A code flow asking for offline_access: (tokens, code, verifier, browser)."""
    params, _state, _nonce, verifier, rp, browser = login_flow(gateway, reg, browser=browser)
    return exchange(gateway, rp, params["code"], verifier), params["code"], verifier, browser


def refresh(gateway, reg, refresh_token: str) -> httpx.Response:
    return httpx.post(gateway.url + "/token", auth=(reg.client_id, reg.client_secret),
                      data={"grant_type": "refresh_token", "refresh_token": refresh_token})


def refused(response: httpx.Response) -> bool:
    return response.status_code == 400 and response.json()["error"] == "invalid_grant"


def token_row(gateway, value: str) -> Token | None:
    with gateway.db() as db:
        return db.scalar(select(Token).where(Token.token_hash == sha256_hex(value)))


def count(gateway, model, *where) -> int:
    with gateway.db() as db:
        return db.scalar(select(func.count()).select_from(model).where(*where))


def audit_count(gateway, name: str) -> int:
    return count(gateway, AuditEvent, AuditEvent.name == name)


def purged_events(gateway) -> list[AuditEvent]:
    with gateway.db() as db:
        return list(db.scalars(select(AuditEvent).where(AuditEvent.name == "data.purged").order_by(AuditEvent.id)))


def nonzero(removed: dict[str, int]) -> dict[str, int]:
    return {name: n for name, n in removed.items() if n}


def session(account_id: str, *, auth_time: int, expires_at: int, ended_at: int | None = None,
            group_id: str | None = None) -> LoginSession:
    return LoginSession(id=str(uuid.uuid4()), cookie_hash=uuid.uuid4().hex + uuid.uuid4().hex, account_id=account_id,
                        auth_time=auth_time, last_seen=auth_time, aal="1", amr=["pwd"], factors=[],
                        expires_at=expires_at, ended_at=ended_at, group_id=group_id)


def notice(model, client_id: str, *, created_at: int, delivered_at=None, failed_at=None, **extra):
    fields = dict(session_id=str(uuid.uuid4()), account_id=str(uuid.uuid4()), reason="logout") \
        if model is LogoutDelivery else dict(event="urn:idgw:secevent:delegation-revoked", payload={})
    return model(id=str(uuid.uuid4()), client_id=client_id, created_at=created_at,
                 next_attempt_at=created_at + 10 * 365 * DAY, attempts=1, delivered_at=delivered_at,
                 failed_at=failed_at, **fields, **extra)


# -- the rules over real flows ---------------------------------------------------------------------

def test_expired_rows_are_removed_and_counted_and_the_audit_log_is_kept(gateway):
    reg = register(gateway)
    tokens, _code, _verifier, browser = signed_in(gateway, reg)
    login_flow(gateway, reg, browser=browser)  # a second code, never redeemed
    url, *_ = authorize_url(gateway, rp_client(gateway, reg))
    Browser(gateway).get(url)  # a sign-in started and left at the login page
    now = gateway.clock.now()
    with gateway.db() as db:
        db.add(WebAuthnChallenge(id=uuid.uuid4().hex, purpose="authenticate", browser_hash="b" * 64,
                                 created_at=now, expires_at=now + 300))
        db.add(UsedAssertion(jti_hash=uuid.uuid4().hex, expires_at=now + 630))
        db.add(UpstreamAttempt(id=uuid.uuid4().hex, provider="thaid", browser_hash="b" * 64, state={},
                               created_at=now, expires_at=now + 600))
        db.commit()
    # Nothing has expired yet: nothing goes, and no event says otherwise.
    assert nonzero(run_purge(gateway)) == {}
    assert purged_events(gateway) == []

    interactions = count(gateway, Interaction)
    windows = count(gateway, Throttle, Throttle.key.like("ip:%") | Throttle.key.like("rate:%"))
    assert interactions >= 2 and windows >= 1
    with gateway.db() as db:
        events_before = sorted(db.execute(select(AuditEvent.id, AuditEvent.name, AuditEvent.hash)).all())
    gateway.clock.advance(2 * 3600)
    at = gateway.clock.now()
    removed = run_purge(gateway, at=at)

    assert removed["interactions"] == interactions
    assert removed["authorization_codes"] == 1  # the unredeemed one; the redeemed one's tokens live on
    assert removed["tokens"] == 1  # the access token; the refresh token is still valid
    assert removed["webauthn_challenges"] == removed["used_assertions"] == removed["upstream_attempts"] == 1
    assert removed["throttles"] == windows
    assert removed["sessions"] == removed["logout_deliveries"] == removed["security_event_deliveries"] == 0
    assert count(gateway, Interaction) == count(gateway, WebAuthnChallenge) == count(gateway, UsedAssertion) == 0
    assert count(gateway, AuthorizationCode, AuthorizationCode.redeemed_at.is_not(None)) == 1
    # The audit log is untouched, plus one event of what went.
    with gateway.db() as db:
        kept = sorted(db.execute(select(AuditEvent.id, AuditEvent.name, AuditEvent.hash)
                                 .where(AuditEvent.id.in_([e.id for e in events_before]))).all())
    assert kept == events_before
    (event,) = purged_events(gateway)
    assert event.actor == "system" and event.at == at
    assert event.detail == {"removed": nonzero(removed)}
    # What stays still works: the refresh token refreshes, and the session signs in without a password.
    assert refresh(gateway, reg, tokens["refresh_token"]).status_code == 200
    params, *_ = login_flow(gateway, reg, browser=browser)
    assert params.get("code")


def test_a_rotated_refresh_token_stays_while_its_family_lives_and_its_reuse_still_revokes_the_family(gateway):
    reg = register(gateway)
    first, *_ = signed_in(gateway, reg)
    answer = refresh(gateway, reg, first["refresh_token"])
    assert answer.status_code == 200
    second = answer.json()
    gateway.clock.advance(DAY)
    removed = run_purge(gateway)
    assert removed["tokens"] == 2  # the two access tokens
    rotated = token_row(gateway, first["refresh_token"])
    assert rotated is not None and rotated.rotated_at is not None and rotated.revoked_at is None
    # Presenting the rotated token is reuse: refused, and the whole family revoked.
    assert refused(refresh(gateway, reg, first["refresh_token"]))
    assert refused(refresh(gateway, reg, second["refresh_token"]))
    assert audit_count(gateway, "token.reused") == 1
    assert token_row(gateway, second["refresh_token"]).revoked_at is not None
    # Now nothing of the family can be used: its rows go, but for the session's record of the
    # service (one refresh token), and the code it came from.
    removed = run_purge(gateway)
    assert removed["tokens"] == 1 and removed["authorization_codes"] == 1
    assert count(gateway, Token, Token.account_id == reg.account_id) == 1


def test_a_redeemed_code_stays_while_its_tokens_live_and_its_replay_still_revokes_them(gateway):
    reg = register(gateway)
    tokens, code, verifier, _ = signed_in(gateway, reg)
    gateway.clock.advance(DAY)
    assert run_purge(gateway)["authorization_codes"] == 0
    replay = httpx.post(gateway.url + "/token", auth=(reg.client_id, reg.client_secret),
                        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI,
                              "code_verifier": verifier})
    assert refused(replay)
    assert refused(refresh(gateway, reg, tokens["refresh_token"]))
    assert audit_count(gateway, "code.replayed") == 1
    # Now nothing of the family can be used: the code goes. The revoked refresh token stays as
    # the record that the service received tokens in this (still open) session.
    removed = run_purge(gateway)
    assert removed["authorization_codes"] == 1 and removed["tokens"] == 0
    assert token_row(gateway, tokens["refresh_token"]) is not None


def test_a_family_that_can_no_longer_be_valid_goes_and_signing_out_still_reaches_the_service(gateway):
    from idgw.login.sessions import sign_out_everywhere

    settings = gateway.gw.settings
    with Receiver() as receiver:
        reg = register(gateway, backchannel_logout_uri=receiver.url + "/bcl")
        first, *_ = signed_in(gateway, reg)
        second = refresh(gateway, reg, first["refresh_token"]).json()
        session_id = token_row(gateway, second["refresh_token"]).session_id
        gateway.clock.advance(settings.refresh_token_ttl + DAY)
        removed = run_purge(gateway)
        assert removed["authorization_codes"] == 1 and removed["tokens"] == 3 and removed["sessions"] == 0
        with gateway.db() as db:
            left = list(db.scalars(select(Token.token_hash).where(Token.account_id == reg.account_id)))
        # One refresh token (the latest to expire: both do within the same second here) stays as
        # the session's record that the service received tokens in it.
        assert len(left) == 1 and left[0] in {sha256_hex(first["refresh_token"]), sha256_hex(second["refresh_token"])}
        # The session expired without being ended: "sign out everywhere" still tells the service.
        with gateway.db() as db:
            done = sign_out_everywhere(db, account_id=reg.account_id, now=gateway.clock.now(), ip=None,
                                       reason="signed_out_everywhere")
            db.commit()
        assert done.sessions == 1 and done.notices == 1
        gateway.gw.backchannel.wake()
        assert wait_until(lambda: len(receiver.received) == 1, timeout=10), receiver.received
        sent = jose_jwt.get_unverified_claims(receiver.received[0]["form"]["logout_token"])
        assert sent["sid"] == session_id
        assert wait_until(lambda: count(gateway, LogoutDelivery, LogoutDelivery.delivered_at.is_not(None)) == 1)
    # Once the session is past its retention, it goes, and the record with it; so does the notice.
    gateway.clock.advance((settings.session_retention_days + 1) * DAY)
    removed = run_purge(gateway)
    assert removed["sessions"] == 1 and removed["tokens"] == 1 and removed["logout_deliveries"] == 1
    assert count(gateway, Token, Token.account_id == reg.account_id) == 0


def test_tokens_and_codes_under_an_open_mandate_keep_a_record_for_its_revocation(gateway):
    from idgw.delegation import mandates
    from tests.delegation.world import SOMCHAI, SOMYING, citizen, delegable_service, person_mandate

    with Receiver() as receiver:
        principal, delegate = citizen(gateway, SOMCHAI), citizen(gateway, SOMYING)
        service = delegable_service(gateway, security_event_uri=receiver.url + "/events")
        mandate_id = person_mandate(gateway, principal, delegate, client_id=service.client_id)
        now = gateway.clock.now()
        common = dict(client_id=service.client_id, account_id=delegate.account_id, scope="openid", auth_time=now,
                      acr="urn:idgw:ial:2.3:aal:2.2", amr=["pwd"], mandate_id=mandate_id, mandate_act="vat_filing")
        with gateway.db() as db:
            for ttl in (600, 700):  # acting tokens of a session that is gone, and their codes
                db.add(Token(id=str(uuid.uuid4()), kind="access", token_hash=uuid.uuid4().hex, jti=uuid.uuid4().hex,
                             family_id=str(uuid.uuid4()), session_id=str(uuid.uuid4()), issued_at=now,
                             expires_at=now + ttl, **common))
                db.add(AuthorizationCode(id=str(uuid.uuid4()), code_hash=uuid.uuid4().hex, session_id=str(uuid.uuid4()),
                                         redirect_uri=REDIRECT_URI, code_challenge="x" * 43,
                                         code_challenge_method="S256", created_at=now, expires_at=now + ttl - 540,
                                         **common))
            db.commit()
        later = now + 2 * 3600
        removed = run_purge(gateway, at=later)
        assert removed["tokens"] == 1 and removed["authorization_codes"] == 1  # the last of each stays
        with gateway.db() as db:
            mandates.revoke(db, row=db.get(Mandate, mandate_id), account=db.get(Account, principal.account_id), now=now)
            db.commit()
        # ... so revoking the mandate still tells the service (RFC 8935 push of a SET).
        assert count(gateway, SecurityEventDelivery, SecurityEventDelivery.client_id == service.client_id) == 1
        removed = run_purge(gateway, at=later)
        assert removed["tokens"] == 1 and removed["authorization_codes"] == 1
        assert count(gateway, Token, Token.mandate_id == mandate_id) == 0


# -- the rules over rows written directly --------------------------------------------------------

def test_sessions_notices_and_throttles_go_only_when_long_over(gateway):
    from idgw.login.password import LOCKED_FOREVER

    reg = register(gateway)
    now = gateway.clock.now()
    retention = gateway.gw.settings.session_retention_days * DAY
    old = now - retention - DAY
    aid = reg.account_id
    gone, kept = [], []
    with gateway.db() as db:
        def add(row, goes: bool):
            db.add(row)
            (gone if goes else kept).append(row.id if hasattr(row, "id") else row.key)
            return row

        add(session(aid, auth_time=old - DAY, expires_at=now + DAY, ended_at=old), True)  # ended long ago
        add(session(aid, auth_time=old - 30 * DAY, expires_at=old), True)  # expired long ago, never ended
        add(session(aid, auth_time=old, expires_at=now + DAY, ended_at=now - retention + DAY), False)  # recent
        root = add(session(aid, auth_time=old - DAY, expires_at=now, ended_at=old - DAY), False)
        add(session(aid, auth_time=old, expires_at=now + 10 * DAY, group_id=root.id), False)  # its group is open
        root = add(session(aid, auth_time=old - DAY, expires_at=now, ended_at=old - DAY), True)
        add(session(aid, auth_time=old, expires_at=now, ended_at=old, group_id=root.id), True)  # all over
        root = add(session(aid, auth_time=old - DAY, expires_at=now, ended_at=old - DAY), False)
        add(session(aid, auth_time=old, expires_at=now - 20 * DAY, group_id=root.id), False)  # expired lately
        for model in (LogoutDelivery, SecurityEventDelivery):
            add(notice(model, reg.client_id, created_at=old, delivered_at=now - 31 * DAY), True)
            add(notice(model, reg.client_id, created_at=old, failed_at=now - 31 * DAY), True)
            add(notice(model, reg.client_id, created_at=old, delivered_at=now - 29 * DAY), False)
            add(notice(model, reg.client_id, created_at=old), False)  # still pending
        for key, failures, start, goes in (
                ("ip:192.0.2.1", 40, now - 2 * 3600, True), ("ip:192.0.2.2", 40, now - 100, False),
                ("rate:authorize:192.0.2.1", 300, now - 2 * 3600, True),
                ("rate:cardcheck:" + aid, 5, now - 1800, False),  # an hour's window
                ("name:" + "a" * 64, 100, LOCKED_FOREVER, False),  # locked: never
                ("name:" + "b" * 64, 3, 0, False)):  # counting towards a lock: never
            add(Throttle(key=key, failures=failures, window_start=start), goes)
        db.commit()
    removed = run_purge(gateway, batch=2)  # several batches per table
    assert {k: removed[k] for k in ("sessions", "logout_deliveries", "security_event_deliveries", "throttles")} == \
        {"sessions": 4, "logout_deliveries": 2, "security_event_deliveries": 2, "throttles": 2}
    with gateway.db() as db:
        present = set(db.scalars(select(LoginSession.id))) | set(db.scalars(select(LogoutDelivery.id))) \
            | set(db.scalars(select(SecurityEventDelivery.id))) | set(db.scalars(select(Throttle.key)))
    assert set(kept) <= present and not set(gone) & present


def test_the_audit_retention_runs_at_the_end_and_its_counts_join_the_report(gateway, monkeypatch):
    calls = []
    module = types.ModuleType("idgw.audit.retention")
    module.__spec__ = importlib.machinery.ModuleSpec("idgw.audit.retention", loader=None)

    def apply(sessionmaker, *, now, settings):
        calls.append((sessionmaker, now, settings))
        return {"audit_events": 7}

    module.apply = apply
    monkeypatch.setitem(sys.modules, "idgw.audit.retention", module)
    now = gateway.clock.now()
    removed = run_purge(gateway, at=now)
    assert removed["audit_events"] == 7 and calls == [(gateway.gw.sessionmaker, now, gateway.gw.settings)]
    assert [e.detail for e in purged_events(gateway)] == [{"removed": {"audit_events": 7}}]


# -- the command and the timer ---------------------------------------------------------------------

def test_the_purge_command_prints_what_it_removed(gateway, database_url):
    from idgw.cli import app

    now = int(time.time())
    with gateway.db() as db:
        for i in range(3):
            db.add(UsedAssertion(jti_hash=f"{i:064x}", expires_at=now - DAY))
        db.add(UsedAssertion(jti_hash="f" * 64, expires_at=now + 600))
        for _ in range(2):
            db.add(WebAuthnChallenge(id=uuid.uuid4().hex, purpose="register", browser_hash="b" * 64,
                                     created_at=now - DAY, expires_at=now - DAY + 300))
        db.commit()
    env = {k: None for k in os.environ if k.startswith("IDGW_")}
    env.update(IDGW_DATABASE_URL=database_url, IDGW_SECRET_KEY=SECRET, IDGW_ISSUER="http://example.org")
    result = CliRunner().invoke(app, ["purge", "--json"], env=env)
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    removed = json.loads(result.stdout)
    assert removed["used_assertions"] == 3 and removed["webauthn_challenges"] == 2
    assert sum(removed.values()) == 5 and "tokens" in removed and "sessions" in removed
    result = CliRunner().invoke(app, ["purge"], env=env)
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    lines = dict(line.split() for line in result.stdout.splitlines())
    assert lines["used_assertions"] == "0" and lines["total"] == "0" and "throttles" in lines
    assert count(gateway, UsedAssertion) == 1


def test_the_timer_purges_and_survives_a_failed_run(gateway, monkeypatch, caplog):
    now = gateway.clock.now()
    with gateway.db() as db:
        db.add(UsedAssertion(jti_hash="a" * 64, expires_at=now - DAY))
        db.commit()
    real, calls = purging.purge, []

    def flaky(*args, **kwargs):
        calls.append(kwargs["now"])
        if len(calls) == 1:
            raise RuntimeError("the database went away")
        return real(*args, **kwargs)

    monkeypatch.setattr(purging, "purge", flaky)
    settings = dataclasses.replace(gateway.gw.settings, purge_interval=1)

    def reported():
        return [r for r in caplog.records if r.getMessage().startswith("purge removed")]

    async def scenario():
        timer = asyncio.create_task(purging.run_purge_timer(gateway.gw.sessionmaker, settings, gateway.clock))
        try:
            for _ in range(100):  # at most 5 s; two runs take 1.6 to 2.4 s
                if reported():
                    return True
                await asyncio.sleep(0.05)
            return False
        finally:
            timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await timer

    with caplog.at_level(logging.INFO, logger="idgw.purge"):
        assert asyncio.run(scenario())
        # purge_interval 0: no timer at all.
        asyncio.run(asyncio.wait_for(purging.run_purge_timer(gateway.gw.sessionmaker,
                                                             dataclasses.replace(settings, purge_interval=0),
                                                             gateway.clock), timeout=1))
    assert len(calls) == 2
    failed = [r for r in caplog.records if r.getMessage().startswith("purge failed")]
    # The traceback is logged (redacted: idgw.observe.logs keeps it as exc_text and drops exc_info).
    assert len(failed) == 1
    assert "the database went away" in (failed[0].exc_text or str((failed[0].exc_info or (0, ""))[1]))
    (line,) = reported()
    assert line.levelno == logging.INFO and line.getMessage() == "purge removed 1 rows: used_assertions 1"
    assert count(gateway, UsedAssertion) == 0


@pytest.mark.parametrize("raw, ok", [("0", True), ("600", True), ("-1", False), ("hourly", False)])
def test_purge_interval_setting(raw, ok):
    env = {"IDGW_DEV": "1", "IDGW_PURGE_INTERVAL": raw, "IDGW_DATABASE_URL": "sqlite:////tmp/unused-purge.db"}
    if ok:
        assert Settings.from_env(env).purge_interval == int(raw)
    else:
        with pytest.raises(SettingsError, match="IDGW_PURGE_INTERVAL"):
            Settings.from_env(env)
    assert Settings.from_env({"IDGW_DEV": "1", "IDGW_DATABASE_URL": "sqlite:////tmp/unused-purge.db"}) \
        .session_retention_days == 30


def test_a_row_read_but_not_deleted_is_left_out_of_the_next_batches(gateway, monkeypatch):
    """Batches are not ordered by key (the rule's index finds them), so a row a request holds when
    its batch is deleted must not come back in every later batch: the run ends, having removed
    everything else."""
    from idgw.storage.models import UsedAssertion

    now = gateway.clock.now()
    with gateway.db() as db:
        for i in range(7):
            db.add(UsedAssertion(jti_hash=f"{i:064d}", expires_at=now - DAY))
        db.commit()
    held = f"{3:064d}"
    real_delete = purging._delete
    batches: list[list] = []

    def delete_but_the_held_row(sessionmaker, table, pk, ids, removable):
        batches.append(list(ids))
        if table.name != "used_assertions":
            return real_delete(sessionmaker, table, pk, ids, removable)
        return real_delete(sessionmaker, table, pk, [i for i in ids if i != held], removable)

    monkeypatch.setattr(purging, "_delete", delete_but_the_held_row)
    removed = run_purge(gateway, batch=2)
    assert removed["used_assertions"] == 6
    assert sum(ids.count(held) for ids in batches) == 1  # read once, then left out
    assert count(gateway, UsedAssertion) == 1


def test_a_run_stops_once_a_batch_worth_is_held_and_the_next_run_takes_them(gateway, monkeypatch):
    """Rows left out are kept in a list the next batch's statement carries: it stops at a batch's
    worth (within any parameter limit), and the rows are still removed by a later run."""
    from idgw.storage.models import UsedAssertion

    now = gateway.clock.now()
    with gateway.db() as db:
        for i in range(7):
            db.add(UsedAssertion(jti_hash=f"{i:064d}", expires_at=now - DAY))
        db.commit()
    real_delete = purging._delete
    batches: list[list] = []

    def hold_every_row(sessionmaker, table, pk, ids, removable):
        if table.name != "used_assertions":
            return real_delete(sessionmaker, table, pk, ids, removable)
        batches.append(list(ids))
        return []

    monkeypatch.setattr(purging, "_delete", hold_every_row)
    assert run_purge(gateway, batch=2)["used_assertions"] == 0
    assert len(batches) == 1 and count(gateway, UsedAssertion) == 7
    monkeypatch.setattr(purging, "_delete", real_delete)
    assert run_purge(gateway, batch=2)["used_assertions"] == 7
