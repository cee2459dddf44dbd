"""Export of the audit log as JSON lines, for a SIEM and for offline verification.

    {"type": "header", "format": "idgw-audit-export/1", "issuer", "exported_at", "since", "keys": JWKS}
    {"type": "event", "id", "chain", "seq", "at", "name", ..., "prev_hash", "hash"}  (by chain, in seq order)
    {"type": "checkpoint", "chain", "seq", "hash", "kind", "at", "kid", "jws"}
    {"type": "end", "events": N}

``since`` keeps, in each chain, the events from the first one at or after that time to the end
(a contiguous tail, so its links can be checked), and the checkpoints from the one just before
it on. The events are read in batches, so an export of any size streams in constant memory.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from sqlalchemy import func, select

from idgw.audit.verify import rows_of
from idgw.storage.console import AuditCheckpoint, AuditHead
from idgw.storage.models import AuditEvent

FORMAT = "idgw-audit-export/1"


def _line(item: dict) -> str:
    return json.dumps(item, ensure_ascii=False, separators=(",", ":")) + "\n"


def first_seq(db, chain: str, since: int | None) -> int | None:
    """The first ``seq`` of ``chain`` to export (None: nothing)."""
    where = [AuditEvent.chain == chain]
    if since is not None:
        where.append(AuditEvent.at >= since)
    return db.scalar(select(func.min(AuditEvent.seq)).where(*where))


def lines(db, *, issuer: str, keys: dict, now: int, since: int | None = None) -> Iterator[str]:
    """The export, line by line."""
    yield _line({"type": "header", "format": FORMAT, "issuer": issuer, "exported_at": now, "since": since,
                 "keys": keys})
    chains = sorted(set(db.scalars(select(AuditHead.chain))) | set(db.scalars(select(AuditEvent.chain).distinct())))
    count = 0
    for chain in chains:
        start = first_seq(db, chain, since)
        if start is None:
            continue
        for row in rows_of(db, chain, start - 1):
            count += 1
            yield _line({"type": "event", **row})
        marks = db.scalars(select(AuditCheckpoint).where(AuditCheckpoint.chain == chain,
                                                         AuditCheckpoint.seq >= start - 1)
                           .order_by(AuditCheckpoint.seq, AuditCheckpoint.id))
        for m in marks:
            yield _line({"type": "checkpoint", "id": m.id, "chain": m.chain, "seq": m.seq, "hash": m.hash,
                         "kind": m.kind, "at": m.at, "kid": m.kid, "jws": m.jws})
    yield _line({"type": "end", "events": count})
