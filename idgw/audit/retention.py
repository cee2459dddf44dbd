"""The audit retention rule: events older than ``audit_retention_days`` are removed from the
start of each chain, and only after a signed ``cut`` checkpoint at the last removed event has been
committed, so the chain still verifies from the cut (``idgw.audit.verify``) and nobody can remove
events at the start of a chain without the gateway's key. Run by ``idgw purge``.

The cut is the event just before the first one that is still within the retention period, so no
event newer than the period is ever removed (a chain's times are nearly, not strictly, ordered).
"""

from __future__ import annotations

from sqlalchemy import delete, func, select

from idgw import audit
from idgw.audit import checkpoints
from idgw.storage.console import AuditCheckpoint, AuditHead
from idgw.storage.models import AuditEvent

BATCH = 5000


def cut_seq(db, chain: str, cutoff: int) -> int:
    """The last seq of ``chain`` to remove: everything before the first event at or after ``cutoff``
    (the whole chain when every event is older)."""
    first_kept = db.scalar(select(func.min(AuditEvent.seq)).where(AuditEvent.chain == chain, AuditEvent.at >= cutoff))
    if first_kept is not None:
        return first_kept - 1
    return db.scalar(select(func.max(AuditEvent.seq)).where(AuditEvent.chain == chain)) or 0


def apply(sessionmaker, *, now: int, settings, signer=None) -> dict[str, int]:
    """Remove the events past retention; returns {"audit_events": n} (0 when nothing is due)."""
    cutoff = now - settings.audit_retention_days * 86400
    with sessionmaker() as db:
        chains = list(db.scalars(select(AuditHead.chain)))
        due = {}
        for chain in chains:
            seq = cut_seq(db, chain, cutoff)
            first = db.scalar(select(func.min(AuditEvent.seq)).where(AuditEvent.chain == chain))
            if first is not None and seq >= first:
                due[chain] = seq
    if not due:
        return {"audit_events": 0}
    signer = signer or checkpoints.signer_from_settings(sessionmaker, settings)
    with sessionmaker() as db:
        for chain, seq in due.items():
            hash_ = checkpoints.hash_at(db, chain, seq)
            checkpoints.sign_at(db, signer, issuer=settings.issuer, now=now, chain=chain, seq=seq, hash=hash_,
                                kind="cut")
        db.commit()
    removed = 0
    for chain, seq in due.items():
        while True:
            with sessionmaker() as db:
                ids = list(db.scalars(select(AuditEvent.id).where(AuditEvent.chain == chain, AuditEvent.seq <= seq)
                                      .order_by(AuditEvent.seq).limit(BATCH)))
                if not ids:
                    break
                removed += db.execute(delete(AuditEvent).where(AuditEvent.id.in_(ids))).rowcount
                db.commit()
        with sessionmaker() as db:  # checkpoints of removed events vouch for nothing any more
            db.execute(delete(AuditCheckpoint).where(AuditCheckpoint.chain == chain, AuditCheckpoint.seq < seq))
            db.commit()
    with sessionmaker() as db:
        audit.record(db, "audit.cut", at=now, actor="system", removed=removed, before=cutoff,
                     cuts={c: s for c, s in sorted(due.items())})
        db.commit()
    return {"audit_events": removed}
