"""At commit the transaction's own rows are flushed before the audit chain's head is locked: on
PostgreSQL every writer of that chain waits for the lock until COMMIT, so it is taken last."""

from sqlalchemy import event

from idgw import audit
from idgw.audit import chain
from idgw.storage.models import Interaction


def test_the_unit_of_work_is_flushed_before_the_chain_head_is_locked(sessions, monkeypatch):
    move_head = chain._move_head

    def locking(conn, name, n):
        seen.append("lock the chain head")  # (on the driver's cursor: no SQLAlchemy event sees it)
        return move_head(conn, name, n)

    monkeypatch.setattr(chain, "_move_head", locking)
    with sessions() as db:
        audit.record(db, "token.issued", at=1_800_000_000, actor="a-1", client_id="svc")
        db.add(Interaction(id="ia-order", client_id=None, params={"progress": {}}, created_at=1, expires_at=2))
        seen: list[str] = []
        event.listen(db.get_bind(), "before_cursor_execute",
                     lambda _c, _cur, statement, *_a: seen.append(" ".join(statement.split()[:3]).lower()))
        db.commit()
    insert_ia = next(i for i, s in enumerate(seen) if s.startswith("insert into interactions"))
    head = seen.index("lock the chain head")
    assert insert_ia < head, seen
    with sessions() as db:
        assert db.get(Interaction, "ia-order") is not None


def test_events_recorded_with_nothing_else_to_write_are_appended(sessions):
    from sqlalchemy import select

    from idgw.storage.models import AuditEvent

    with sessions() as db:
        audit.record(db, "token.issued", at=1_800_000_000, actor="a-2", client_id="svc")
        db.commit()
    with sessions() as db:
        assert db.scalar(select(AuditEvent.actor).where(AuditEvent.actor == "a-2")) == "a-2"
