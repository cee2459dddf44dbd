"""Evidence images of a case (the reference photo, frames the gateway captured from the call),
sealed with AES-256-GCM at rest and deleted when their retention ends. Their SHA-256 stays in
the case record for good; the bytes go at ``delete_after`` (``idgw proofing purge``), each
deletion audited (``proofing.purged``) and noted in the case record."""

from __future__ import annotations

import hashlib
import uuid

from sqlalchemy import select

from idgw.audit import record as audit
from idgw.proofing import record
from idgw.proofing.cases import LIVE
from idgw.storage.proofing import ProofingCase, ProofingMedia

DAY = 86400


def keep(db, sealer, *, case_id: str, kind: str, content: bytes, media_type: str, now: int,
         retention_days: int) -> ProofingMedia:
    row_id = str(uuid.uuid4())
    sealed = sealer.seal(content, context=f"proofing-media:{row_id}")
    row = ProofingMedia(id=row_id, case_id=case_id, kind=kind, sha256=hashlib.sha256(content).hexdigest(),
                        media_type=media_type, sealed=sealed, created_at=now,
                        delete_after=now + retention_days * DAY)
    db.add(row)
    db.flush()
    return row


def read(sealer, row: ProofingMedia | None) -> bytes | None:
    if row is None or row.sealed is None:
        return None
    return sealer.open(row.sealed, context=f"proofing-media:{row.id}")


def reference_of(db, case_id: str) -> ProofingMedia | None:
    return db.scalars(select(ProofingMedia).where(ProofingMedia.case_id == case_id, ProofingMedia.kind == "reference",
                                                  ProofingMedia.deleted_at.is_(None)).limit(1)).first()


def purge(db, *, now: int) -> int:
    """Delete every image whose retention has ended; returns how many."""
    rows = list(db.scalars(select(ProofingMedia).where(ProofingMedia.delete_after <= now,
                                                       ProofingMedia.deleted_at.is_(None))))
    for row in rows:
        row.sealed = None
        row.deleted_at = now
        record.append(db, row.case_id, "media_purged", at=now, actor="gateway", media=row.id, media_kind=row.kind,
                      sha256=row.sha256)
        audit(db, "proofing.purged", at=now, case=row.case_id, media=row.id, kind=row.kind, sha256=row.sha256)
    return len(rows)


def purge_for_account(db, account_id: str, now: int) -> int:
    """The person withdrew their consent to biometric processing: delete now the images of their
    *finished* cases (the consent was the basis for keeping them), each deletion noted in its case
    record (``reason`` ``consent_withdrawn``) and audited; the SHA-256 stays. A live case is
    cancelled by the caller first. The images of a case flagged for suspected fraud, or rejected
    for it, stay until their retention ends: they are kept for legal claims (PDPA s.26(5)(d)), not
    on consent. Returns how many were deleted."""
    # The finished cases' rows held for update: two withdrawals do not append to one record at once.
    finished = select(ProofingCase).where(ProofingCase.account_id == account_id, ProofingCase.state.not_in(LIVE))
    case_ids = [c.id for c in db.scalars(finished.order_by(ProofingCase.created_at).with_for_update())
                if not fraud_evidence(c)]
    if not case_ids:
        return 0
    rows = list(db.scalars(select(ProofingMedia).where(ProofingMedia.case_id.in_(case_ids),
                                                       ProofingMedia.deleted_at.is_(None))
                           .order_by(ProofingMedia.created_at, ProofingMedia.id)))
    for row in rows:
        row.sealed = None
        row.deleted_at = now
        record.append(db, row.case_id, "media_purged", at=now, actor=f"citizen:{account_id}", media=row.id,
                      media_kind=row.kind, sha256=row.sha256, reason="consent_withdrawn")
        audit(db, "proofing.purged", at=now, actor=account_id, case=row.case_id, media=row.id, kind=row.kind,
              sha256=row.sha256, reason="consent_withdrawn")
    return len(rows)


def fraud_evidence(case: ProofingCase) -> bool:
    return bool(case.flagged) or (case.decision or {}).get("reason") == "suspected_fraud"

