"""Audit events are written with the change they record, carry who and for which client, and
hold no secrets; session limits by AAL."""

import json

import pytest
from sqlalchemy import select

from idgw.storage.models import Account, AuditEvent
from tests.flow import exchange, login_flow, register


def events(gateway):
    with gateway.db() as db:
        return list(db.scalars(select(AuditEvent).order_by(AuditEvent.id)))


def test_a_whole_flow_leaves_the_expected_trail_without_secrets(gateway):
    reg = register(gateway)
    params, _, _, verifier, rp, _ = login_flow(gateway, reg)
    tok = exchange(gateway, rp, params["code"], verifier)
    trail = events(gateway)
    names = [e.name for e in trail]
    for name in ("client.created", "keys.generated", "account.created", "session.created", "consent.granted",
                 "authorization.granted", "code.redeemed", "token.issued"):
        assert name in names, name
    assert names.index("session.created") < names.index("authorization.granted") < names.index("code.redeemed")
    granted = next(e for e in trail if e.name == "authorization.granted")
    assert granted.actor == reg.account_id and granted.client_id == reg.client_id and granted.session_id
    assert granted.ip == "127.0.0.1"
    dump = json.dumps([[e.name, e.actor, e.client_id, e.detail] for e in trail], ensure_ascii=False)
    for secret in (params["code"], tok["access_token"], tok["refresh_token"], tok["id_token"], reg.client_secret,
                   "correct horse battery staple"):
        assert secret not in dump


def test_unknown_audit_event_names_are_refused(gateway):
    from idgw import audit

    with gateway.db() as db, pytest.raises(audit.UnknownAuditEventError):
        audit.record(db, "something.happened", at=0)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("aal,idle,absolute", [("1", None, 30 * 86400), ("2.1", 1800, 43200),
                                               ("2.2", 1800, 43200), ("3", 900, 43200)])
def test_session_limits_by_aal(gateway, aal, idle, absolute):
    from idgw.login.sessions import create_session, load_session

    reg = register(gateway)
    with gateway.db() as db:
        account = db.get(Account, reg.account_id)
        t0 = 1_800_000_000
        row, cookie = create_session(db, account=account, factor="pwd", amr=["pwd"], now=t0, ip=None)
        row.aal = aal  # as if stepped up to this level
        db.commit()
        if idle is not None:
            assert load_session(db, cookie=cookie, now=t0 + idle - 1) is not None  # touches last_seen
            assert load_session(db, cookie=cookie, now=t0 + 2 * idle - 2) is not None
            assert load_session(db, cookie=cookie, now=t0 + 3 * idle) is None  # idle too long
        # absolute limit, even when active all along
        last = t0
        step = (idle - 60) if idle else 86400
        while last + step < t0 + absolute:
            last += step
            if idle is not None:
                row.last_seen = last - 1
                db.commit()
            assert load_session(db, cookie=cookie, now=last) is not None
        if idle is not None:
            row.last_seen = t0 + absolute - 1
            db.commit()
        assert load_session(db, cookie=cookie, now=t0 + absolute) is None
        assert load_session(db, cookie="forged", now=t0) is None


def test_events_are_written_at_commit_and_dropped_on_rollback_or_close(tmp_path):
    from sqlalchemy import func, select

    from idgw import audit
    from idgw.storage.db import make_engine, make_sessionmaker, upgrade
    from idgw.storage.models import AuditEvent

    url = f"sqlite:///{tmp_path}/a.db"
    upgrade(url)
    engine = make_engine(url)
    sm = make_sessionmaker(engine)

    def count():
        with sm() as db:
            return db.scalar(select(func.count()).select_from(AuditEvent))

    with sm() as db:
        audit.record(db, "session.created", at=1, actor="a")
        audit.record(db, "session.ended", at=2, actor="a")
        assert count() == 0  # not written before the commit
        db.rollback()
        db.commit()
    assert count() == 0
    with sm() as db:
        audit.record(db, "session.created", at=1, actor="a")
    with sm() as db:  # closed without commit: dropped
        db.commit()
    assert count() == 0
    with sm() as db:
        audit.record(db, "session.created", at=1, actor="a", detail_key="x")
        audit.record(db, "login.failed", at=2, actor="b")
        db.commit()
    with sm() as db:
        rows = list(db.scalars(select(AuditEvent).order_by(AuditEvent.id)))
    assert [(r.name, r.actor, r.at) for r in rows] == [("session.created", "a", 1), ("login.failed", "b", 2)]
    assert rows[0].detail == {"detail_key": "x"}
    with engine.begin() as conn:  # on a connection: written at once
        audit.record(conn, "session.ended", at=3)
    assert count() == 3
    engine.dispose()
