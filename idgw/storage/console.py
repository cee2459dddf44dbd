"""Tables of the admin console and the tamper-evident audit log.

``audit_heads`` holds the last sequence number and hash of each audit chain: a writer locks its
chain's head row (an UPDATE), appends its events after it and moves the head, so concurrent
writers and several gateway instances on one PostgreSQL never fork a chain. ``audit_checkpoints``
are chain heads signed with the gateway's key (periodically, and at every retention cut), so an
exported log can be verified offline. ``change_requests`` are the risky changes that wait for a
second admin (four eyes). Imported by idgw.storage.models so that one metadata (and one migration
history) holds every table.
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from idgw.storage.models import Base


class AuditHead(Base):
    __tablename__ = "audit_heads"

    chain: Mapped[str] = mapped_column(String(16), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


class AuditCheckpoint(Base):
    """A chain head signed by the gateway (``jws``: compact JWS, typ ``audit-checkpoint+jwt``).
    ``kind``: 'head' (periodic) or 'cut' (the last event removed by the retention rule: the chain
    now starts after it)."""

    __tablename__ = "audit_checkpoints"
    __table_args__ = (Index("ix_audit_checkpoints_chain_seq", "chain", "seq"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    chain: Mapped[str] = mapped_column(String(16))
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(8))
    at: Mapped[int] = mapped_column(BigInteger)
    kid: Mapped[str] = mapped_column(String(64))
    jws: Mapped[str] = mapped_column(Text)


class ChangeRequest(Base):
    """A risky change that takes effect only when a second admin approves it in time (four eyes).
    ``kind`` names the change ('policy.lower', 'role.grant_admin', 'service.delete',
    'keys.remove_early', ...); ``payload`` holds what is applied on approval. ``status``: pending,
    approved, rejected, cancelled, expired."""

    __tablename__ = "change_requests"
    __table_args__ = (Index("ix_change_requests_status", "status", "expires_at"),
                      Index("ix_change_requests_decided", "decided_at"))  # the recent decisions

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    target: Mapped[str] = mapped_column(String(120))
    payload: Mapped[dict] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    requested_by: Mapped[str] = mapped_column(String(36))  # account id
    requested_by_name: Mapped[str] = mapped_column(String(200))
    requested_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger)
    decided_by: Mapped[str | None] = mapped_column(String(36))
    decided_by_name: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[int | None] = mapped_column(BigInteger)
    decision_note: Mapped[str | None] = mapped_column(Text)
