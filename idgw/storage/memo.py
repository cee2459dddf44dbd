"""Rows read once per transaction: a sign-in step asks for the same service's policy and client
row several times (the request's checks, the decision, the consent receipt, Authlib's own
validation). ``once`` keeps what a read returned until the session's transaction ends; any flush
that writes a row of the model the memo is registered for (``forget_on_flush``) drops it, so a
change made in the transaction is what its later reads see. Nothing crosses transactions."""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.orm import Session

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
    for name, model in _MODELS.items():
        if name in session.info and any(isinstance(o, model) for o in (*session.new, *session.dirty,
                                                                         *session.deleted)):
            del session.info[name]
