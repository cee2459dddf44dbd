"""A proofing case's append-only record: every state change with its time, actor and data, each
entry chained to the previous entry of the same case by SHA-256 over a canonical JSON form.

Nothing updates or deletes an entry (``idgw proofing purge`` deletes media, never entries: their
hashes stay as evidence). ``verify`` recomputes the chain, so an edited, removed or reordered entry
is found. The audit log (idgw.audit) records the same moments by name; the record keeps the detail.
"""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import select

from idgw.storage.proofing import ProofingEvent

GENESIS = "0" * 64


def _digest(prev_hash: str, *, case_id: str, seq: int, at: int, kind: str, actor: str | None, data: dict) -> str:
    body = json.dumps({"case": case_id, "seq": seq, "at": at, "kind": kind, "actor": actor, "data": data},
                      sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


def append(db, case_id: str, kind: str, *, at: int, actor: str | None = None, data: dict | None = None,
           **fields) -> ProofingEvent:
    """Add one entry after the case's last one (the caller holds the case row for update and
    commits). Its data: ``data`` (any keys, e.g. a result carrying its own ``at``) and ``fields``."""
    data = {**(data or {}), **fields}
    last = db.execute(select(ProofingEvent.seq, ProofingEvent.hash).where(ProofingEvent.case_id == case_id)
                      .order_by(ProofingEvent.seq.desc()).limit(1)).first()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    # JSON round trip: what is hashed is exactly what the database gives back later.
    data = json.loads(json.dumps(data, ensure_ascii=False))
    row = ProofingEvent(case_id=case_id, seq=seq, at=at, kind=kind, actor=actor, data=data, prev_hash=prev,
                        hash=_digest(prev, case_id=case_id, seq=seq, at=at, kind=kind, actor=actor, data=data))
    db.add(row)
    db.flush()
    return row


def entries(db, case_id: str) -> list[ProofingEvent]:
    return list(db.scalars(select(ProofingEvent).where(ProofingEvent.case_id == case_id)
                           .order_by(ProofingEvent.seq)))


def verify(db, case_id: str) -> list[str]:
    """Problems found in the case's chain (empty: intact)."""
    problems = []
    prev = GENESIS
    for expected_seq, row in enumerate(entries(db, case_id), start=1):
        if row.seq != expected_seq:
            problems.append(f"entry {expected_seq} is missing (found {row.seq})")
        if row.prev_hash != prev:
            problems.append(f"entry {row.seq} does not follow the previous entry")
        digest = _digest(row.prev_hash, case_id=case_id, seq=row.seq, at=row.at, kind=row.kind, actor=row.actor,
                         data=row.data)
        if digest != row.hash:
            problems.append(f"entry {row.seq} was changed")
        prev = row.hash
    return problems
