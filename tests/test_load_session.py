"""Loading a session reads its account in the same statement, and the account stays in the
request's session: the sign-in step's ``db.get(Account, ...)`` right after it issues no statement
(the identity map holds objects weakly; an account nobody references would be read again)."""

import gc

from sqlalchemy import event

from idgw.admin import add_user
from idgw.login.sessions import create_session, load_session
from idgw.storage.models import Account


def _signed_in(sessions) -> str:
    with sessions() as db:
        account = add_user(db, username="somchai", password="correct horse battery", now=1000)
        _row, cookie = create_session(db, account=account, factor="pwd", amr=["pwd"], now=1000, ip=None)
        db.commit()
        return cookie


def test_the_account_read_with_the_session_is_not_read_again(sessions):
    cookie = _signed_in(sessions)
    with sessions() as db:
        seen: list[str] = []
        event.listen(db.get_bind(), "before_cursor_execute", lambda _c, _cur, statement, *_a: seen.append(statement))
        session = load_session(db, cookie=cookie, now=1010)
        gc.collect()  # nothing but the request's session keeps the account now
        account = db.get(Account, session.account_id)
        assert account.username == "somchai"
        reads = [s for s in seen if s.startswith("SELECT")]  # (SQLite's BEGIN IMMEDIATE aside)
        assert len(reads) == 1 and "accounts" in reads[0] and "sessions" in reads[0]


def test_no_session_holds_no_account(sessions):
    _signed_in(sessions)
    with sessions() as db:
        assert load_session(db, cookie="not-a-cookie", now=1010) is None
        assert load_session(db, cookie=None, now=1010) is None
