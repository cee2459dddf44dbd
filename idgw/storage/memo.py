"""Rows read once per transaction: a sign-in step asks for the same service's policy and client
row several times (the request's checks, the decision, the consent receipt, Authlib's own
validation). ``once`` keeps what a read returned until the session's transaction ends; any flush
that writes a row of the model the memo is registered for (``forget_on_flush``) drops it, so a
change made in the transaction is what its later reads see. Nothing crosses transactions."""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.orm import Session

from idgw.storage import raw
from idgw.storage.models import Client

_MODELS: dict[str, type] = {}


def once(db: Session, name: str, key, load):
    """``load()`` for ``key`` at most once in ``db``'s current transaction."""
    memo = db.info.get(name)
    if memo is not None and memo[0] is db.get_transaction() and key in memo[1]:
        return memo[1][key]
    value = load()
    transaction = db.get_transaction()  # after load(): the read may have begun it
    if memo is None or memo[0] is not transaction:
        memo = db.info[name] = (transaction, {})
    memo[1][key] = value
    return value


def forget_on_flush(name: str, model: type) -> None:
    """Drop the memo ``name`` whenever a flush writes (adds, changes or deletes) a ``model`` row."""
    _MODELS[name] = model


@event.listens_for(Session, "after_flush")
def _forget(session, _context) -> None:
    held = [name for name in _MODELS if name in session.info]
    if not held:
        return
    written = (*session.new, *session.dirty, *session.deleted)
    for name in held:
        if any(isinstance(o, _MODELS[name]) for o in written):
            del session.info[name]


_CLIENT_ROWS = "idgw_client_rows"
_SELECT_CLIENT = raw.select_from(Client.__table__, "client_id = :p_client_id")
forget_on_flush(_CLIENT_ROWS, Client)


def client_row(db: Session, client_id: str):
    """The client's row (every column, by name; disabled or not) or None, read once per
    transaction: the sign-in step, the consent receipt and Authlib's checks all look it up."""
    return once(db, _CLIENT_ROWS, client_id,
                lambda: raw.first(db.connection(), _SELECT_CLIENT, {"p_client_id": client_id}))
