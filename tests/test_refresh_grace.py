"""The refresh rotation grace (RFC 9700 §4.14.2, ``IDGW_REFRESH_GRACE``), over real HTTP on SQLite
and PostgreSQL: a rotated refresh token presented again by its client within the grace, while the
pair issued for it is unused, gets a fresh pair and the unused one is revoked (a response lost
between the rotation's commit and the client). Once per rotation; anything else is reuse, which
revokes the family, or a plain refusal that burns nothing (idgw.oidc.grants.RefreshTokenGrant
says which and why)."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from tests.conftest import start_gateway
from tests.flow import register
from tests.security.probes import in_parallel, introspect, statuses
from tests.test_token import audit_names
from tests.test_tokens_use import issue, refresh, userinfo


def ok(response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()


def refused(response) -> bool:
    return response.status_code == 400 and response.json()["error"] == "invalid_grant"


def active(gateway, reg, token: str) -> bool:
    return introspect(gateway, reg, token)["active"]


def refresh_events(gateway) -> list[dict]:
    from idgw.storage.models import AuditEvent

    with gateway.db() as db:
        return [e.detail for e in db.scalars(select(AuditEvent).where(AuditEvent.name == "token.refreshed")
                                             .order_by(AuditEvent.id))]


def test_a_lost_response_retried_within_the_grace_gets_a_fresh_pair_once(gateway):
    reg, first = issue(gateway)
    lost = ok(refresh(gateway, reg, first["refresh_token"]))  # committed, but never reached the client
    retry = ok(refresh(gateway, reg, first["refresh_token"]))
    assert retry["refresh_token"] not in (lost["refresh_token"], first["refresh_token"])
    assert retry["access_token"] != lost["access_token"] and "id_token" in retry
    # the unused pair is revoked: refresh token and the access token issued with it
    assert not active(gateway, reg, lost["refresh_token"]) and not active(gateway, reg, lost["access_token"])
    assert userinfo(gateway, lost["access_token"]).status_code == 401
    assert active(gateway, reg, retry["access_token"]) and active(gateway, reg, retry["refresh_token"])
    assert userinfo(gateway, retry["access_token"]).status_code == 200
    assert refresh_events(gateway)[-2:] == [{}, {"grace": True}]
    # Once per rotation: a further retry is refused and burns nothing
    assert refused(refresh(gateway, reg, first["refresh_token"]))
    assert active(gateway, reg, retry["refresh_token"]) and "token.reused" not in audit_names(gateway)
    # the grace's pair is an ordinary one: it rotates, and the old token is reuse once it is used
    later = ok(refresh(gateway, reg, retry["refresh_token"]))
    assert refused(refresh(gateway, reg, first["refresh_token"]))
    assert not active(gateway, reg, later["refresh_token"]) and not active(gateway, reg, later["access_token"])
    assert audit_names(gateway).count("token.reused") == 1


def test_the_replaced_successor_presented_later_is_reuse(gateway):
    """Whoever presents the pair the grace replaced did receive it: two holders of one grant, so
    the family goes (the decision is explained in RefreshTokenGrant)."""
    reg, first = issue(gateway)
    lost = ok(refresh(gateway, reg, first["refresh_token"]))
    retry = ok(refresh(gateway, reg, first["refresh_token"]))
    assert refused(refresh(gateway, reg, lost["refresh_token"]))
    assert not active(gateway, reg, retry["refresh_token"]) and not active(gateway, reg, retry["access_token"])
    assert refused(refresh(gateway, reg, retry["refresh_token"]))
    assert audit_names(gateway).count("token.reused") == 1
    # presenting it again, with the family already gone, records nothing more
    assert refused(refresh(gateway, reg, lost["refresh_token"]))
    assert audit_names(gateway).count("token.reused") == 1


def test_after_the_grace_or_once_the_successor_was_used_it_is_reuse(gateway):
    reg, first = issue(gateway)
    second = ok(refresh(gateway, reg, first["refresh_token"]))
    gateway.clock.advance(gateway.gw.settings.refresh_grace + 1)
    assert refused(refresh(gateway, reg, first["refresh_token"]))
    assert not active(gateway, reg, second["refresh_token"]) and not active(gateway, reg, second["access_token"])
    assert audit_names(gateway).count("token.reused") == 1

    reg, first = issue(gateway, reg)
    second = ok(refresh(gateway, reg, first["refresh_token"]))
    third = ok(refresh(gateway, reg, second["refresh_token"]))  # the successor was used: the client had it
    assert refused(refresh(gateway, reg, first["refresh_token"]))
    assert not active(gateway, reg, third["refresh_token"]) and not active(gateway, reg, third["access_token"])
    assert audit_names(gateway).count("token.reused") == 2


def test_a_token_rotated_before_successors_were_recorded_is_reuse(gateway):
    """Rows from before revision 0010 have no parent_id: the old rule."""
    from idgw.storage.models import Token

    reg, first = issue(gateway)
    second = ok(refresh(gateway, reg, first["refresh_token"]))
    with gateway.db() as db:
        db.execute(update(Token).where(Token.account_id == reg.account_id).values(parent_id=None))
        db.commit()
    assert refused(refresh(gateway, reg, first["refresh_token"]))
    assert not active(gateway, reg, second["refresh_token"])
    assert "token.reused" in audit_names(gateway)


def test_another_clients_presentation_gets_nothing_and_burns_nothing(gateway):
    reg, first = issue(gateway)
    second = ok(refresh(gateway, reg, first["refresh_token"]))
    other = register(gateway)
    assert refused(refresh(gateway, other, first["refresh_token"]))
    assert active(gateway, reg, second["refresh_token"]) and active(gateway, reg, second["access_token"])
    assert "token.reused" not in audit_names(gateway) and len(refresh_events(gateway)) == 1
    # ...and the owner's own lost-response retry still works
    assert ok(refresh(gateway, reg, first["refresh_token"]))["refresh_token"] != second["refresh_token"]


def test_retries_sent_at_once_get_exactly_one_fresh_pair(gateway):
    """The successor is revoked by one conditional UPDATE: of retries racing (threads, each on
    its own connection), exactly one wins; the others are refused and revoke nothing."""
    reg = register(gateway)
    for round_ in range(2):
        _reg, first = issue(gateway, reg)
        lost = ok(refresh(gateway, reg, first["refresh_token"]))
        form = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
        results = in_parallel(4, lambda http, form=form: http.post(gateway.url + "/token", data=form,
                                                                    auth=(reg.client_id, reg.client_secret)))
        assert statuses(results) == [200, 400, 400, 400], (round_, statuses(results))
        assert all(refused(r) for r in results if r.status_code == 400)
        fresh = next(r for r in results if r.status_code == 200).json()
        assert active(gateway, reg, fresh["refresh_token"]) and active(gateway, reg, fresh["access_token"])
        assert not active(gateway, reg, lost["refresh_token"])
    assert "token.reused" not in audit_names(gateway)
    assert [e for e in refresh_events(gateway) if e] == [{"grace": True}] * 2


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # a setting read in Python: SQLite only
def test_no_grace_when_it_is_zero(database_url):
    gateway = start_gateway(database_url, refresh_grace=0)
    try:
        reg, first = issue(gateway)
        second = ok(refresh(gateway, reg, first["refresh_token"]))
        assert refused(refresh(gateway, reg, first["refresh_token"]))
        assert not active(gateway, reg, second["refresh_token"])
        assert "token.reused" in audit_names(gateway)
    finally:
        gateway.stop()
        gateway.gw.engine.dispose()
