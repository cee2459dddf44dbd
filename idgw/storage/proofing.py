"""Tables of officer video proofing (idgw.proofing). Imported by idgw.storage.models so that one
metadata (and one migration history) holds every table.

A case's record is ``proofing_events``: append-only, each row chained to the previous one of the
same case by SHA-256 (``idgw.proofing.record``), so an edited or deleted row is detectable. The
``proofing_cases`` row is the case's current state, derived from those events. Media (the
reference photo and frames the gateway captured) are sealed with AES-256-GCM and deleted when
their retention ends; the event record keeps their SHA-256.
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from idgw.storage.models import Base


class ProofingConsent(Base):
    """The citizen's explicit consent to biometric processing for video proofing (PDPA s.26;
    NIST SP 800-63A-4 §3.11), kept on the account: the notice version and retention they saw."""

    __tablename__ = "proofing_consents"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    notice_version: Mapped[str] = mapped_column(String(32))
    media_retention_days: Mapped[int] = mapped_column(Integer)
    granted_at: Mapped[int] = mapped_column(BigInteger)
    withdrawn_at: Mapped[int | None] = mapped_column(BigInteger)


class ProofingCase(Base):
    __tablename__ = "proofing_cases"
    __table_args__ = (Index("ix_proofing_cases_state_queued", "state", "queued_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    # The citizen's browser: their gateway session, and the sign-in it pauses (None: from the account page).
    session_id: Mapped[str] = mapped_column(String(36))
    interaction_id: Mapped[str | None] = mapped_column(String(64))
    client_id: Mapped[str | None] = mapped_column(String(64))
    need_ial: Mapped[str] = mapped_column(String(4))
    grant_ial: Mapped[str] = mapped_column(String(4))
    # ready | queued | claimed | awaiting_second | approved | rejected | cancelled | expired
    state: Mapped[str] = mapped_column(String(16))
    consent_id: Mapped[str] = mapped_column(String(36))
    # The card data the citizen entered (never the laser code) and the authoritative check's result.
    card: Mapped[dict] = mapped_column(JSON)
    card_check: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[int] = mapped_column(BigInteger)
    queued_at: Mapped[int | None] = mapped_column(BigInteger)
    # The citizen's page was last seen (status poll or call socket); a case left alone expires.
    citizen_seen_at: Mapped[int] = mapped_column(BigInteger)
    claimed_by: Mapped[str | None] = mapped_column(String(36))
    claimed_at: Mapped[int | None] = mapped_column(BigInteger)
    # The current assessment shown to the officer: face comparison, cues, checklist.
    face: Mapped[dict | None] = mapped_column(JSON)
    cues: Mapped[list] = mapped_column(JSON, default=list)
    checklist: Mapped[dict] = mapped_column(JSON, default=dict)
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    # A first officer's approval against a problem, waiting for a second officer (four eyes).
    first_decision: Mapped[dict | None] = mapped_column(JSON)
    decided_at: Mapped[int | None] = mapped_column(BigInteger)
    decision: Mapped[dict | None] = mapped_column(JSON)
    # Bumped by every change: officers' forms carry it, so a stale page cannot overwrite a newer state.
    version: Mapped[int] = mapped_column(Integer, default=0)


class ProofingEvent(Base):
    """One entry of a case's append-only record."""

    __tablename__ = "proofing_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("proofing_cases.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str | None] = mapped_column(String(80))
    data: Mapped[dict] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class ProofingMedia(Base):
    """A sealed image kept as evidence: the reference photo or a frame the gateway captured."""

    __tablename__ = "proofing_media"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("proofing_cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # reference | frame
    sha256: Mapped[str] = mapped_column(String(64))
    media_type: Mapped[str] = mapped_column(String(32))
    sealed: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[int] = mapped_column(BigInteger)
    delete_after: Mapped[int] = mapped_column(BigInteger, index=True)
    deleted_at: Mapped[int | None] = mapped_column(BigInteger)
