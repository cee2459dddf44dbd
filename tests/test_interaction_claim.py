"""An interaction's one outcome is claimed by one statement that also writes the request's
changes to it (idgw.login.interaction.finish), so the step that issues a code leaves the unit of
work nothing to flush: the claim, the code and the audit all go through the driver's cursor."""

from sqlalchemy import event

from idgw.login.interaction import finish, keep_new
from idgw.storage.models import Interaction


def _stored(make_session, iid: str) -> tuple:
    with make_session() as db:
        row = db.get(Interaction, iid)
        return row.completed_at, row.params


def _new(make_session, iid: str) -> None:
    with make_session() as db:
        keep_new(db, Interaction(id=iid, client_id=None, params={"local": {"next": "/account"}, "progress": {}},
                                 created_at=100, expires_at=700, completed_at=None))
        db.commit()


def _statements(db) -> list[str]:
    seen: list[str] = []
    event.listen(db.get_bind(), "before_cursor_execute",
                 lambda _c, _cur, statement, *_a: seen.append(statement.split()[0].upper()))
    return seen


def test_the_claim_writes_the_requests_changes_and_nothing_is_left_to_flush(sessions):
    _new(sessions, "ia-1")
    with sessions() as db:
        ia = db.get(Interaction, "ia-1")
        ia.params = {**ia.params, "progress": {"consented": True}}  # this request's own change
        assert finish(db, ia=ia, now=200, result={"kind": "code"}) is True
        assert ia.completed_at == 200 and ia.params["result"] == {"kind": "code"}
        seen = _statements(db)
        db.commit()
        assert [s for s in seen if s in ("UPDATE", "INSERT")] == []  # the unit of work had nothing to write
    completed_at, params = _stored(sessions, "ia-1")
    assert completed_at == 200
    assert params == {"local": {"next": "/account"}, "progress": {"consented": True}, "result": {"kind": "code"}}


def test_another_column_changed_in_the_request_is_still_written(sessions):
    _new(sessions, "ia-4")
    with sessions() as db:
        ia = db.get(Interaction, "ia-4")
        ia.expires_at = 900
        ia.params = {**ia.params, "progress": {"consented": True}}
        assert finish(db, ia=ia, now=200, result={"kind": "code"}) is True
        db.commit()
    with sessions() as db:
        row = db.get(Interaction, "ia-4")
        assert (row.expires_at, row.completed_at, row.params["result"], row.params["progress"]) == (
            900, 200, {"kind": "code"}, {"consented": True})


def test_a_second_claim_loses_and_writes_nothing(sessions):
    _new(sessions, "ia-2")
    with sessions() as first:
        assert finish(first, ia=first.get(Interaction, "ia-2"), now=200, result={"kind": "code"}) is True
        first.commit()
    with sessions() as second:
        b = second.get(Interaction, "ia-2")
        b.params = {**b.params, "progress": {"shown": ["email"]}}
        assert finish(second, ia=b, now=201, result={"kind": "error", "location": "https://rp.example/cb"}) is False
        second.commit()
        assert b.params.get("result") == {"kind": "code"}  # the first outcome, reloaded; this one's change dropped
    completed_at, params = _stored(sessions, "ia-2")
    assert completed_at == 200 and params["result"] == {"kind": "code"} and params["progress"] == {}


def test_an_interaction_made_in_this_request_is_not_claimed_by_a_statement(sessions):
    with sessions() as db:
        ia = Interaction(id="ia-3", client_id=None, params={"progress": {}}, created_at=1, expires_at=2)
        seen = _statements(db)
        assert finish(db, ia=ia, now=1, result={"kind": "local"}) is True
        assert seen == [] and ia.completed_at == 1 and ia.params["result"] == {"kind": "local"}
