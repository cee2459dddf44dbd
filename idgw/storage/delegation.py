"""Tables of electronic delegation of authority (idgw.delegation; ETDA ขมธอ. 31-2565, provisional model).

A ``mandates`` row is one delegation: who gives it (a person, or a company under its registered signing
rule), to whom (a citizen ID, linked to an account when the delegate accepts), for which services and
acts, for how long, and its status. Its ``document`` is the canonical JSON of what was signed; every
approval stores the SHA-256 of the document it approved, so an approval of another text never counts.
Per-service rules for delegation (the level a delegator signs at, the act catalogue) are kept with the
service. Imported by idgw.storage.models so that one metadata (and one migration history) holds every
table.
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from idgw.storage.models import Base


class DelegationRule(Base):
    """What a service's admin set for delegation to it: the levels a delegator (or a company's
    director) signs at (never below the service's own floors), whether "any act" may be delegated,
    whether the e-stamp duty reference is required, and how deep sub-delegation may go."""

    __tablename__ = "delegation_rules"

    client_id: Mapped[str] = mapped_column(ForeignKey("clients.client_id", ondelete="CASCADE"), primary_key=True)
    sign_ial: Mapped[str] = mapped_column(String(4))
    sign_aal: Mapped[str] = mapped_column(String(4))
    any_act_allowed: Mapped[bool] = mapped_column(Boolean, default=False)
    stamp_duty_required: Mapped[bool] = mapped_column(Boolean, default=False)
    max_depth: Mapped[int] = mapped_column(Integer, default=1)
    set_by: Mapped[str] = mapped_column(String(120))
    set_at: Mapped[int] = mapped_column(BigInteger)


class DelegationAct(Base):
    """One named act of a service's catalogue (e.g. ``vat_filing``), in Thai and English."""

    __tablename__ = "delegation_acts"
    __table_args__ = (UniqueConstraint("client_id", "code"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.client_id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    name_th: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[int] = mapped_column(BigInteger)
    retired_at: Mapped[int | None] = mapped_column(BigInteger)


class Mandate(Base):
    __tablename__ = "mandates"
    __table_args__ = (Index("ix_mandates_delegate", "delegate_citizen_id", "status"),
                      Index("ix_mandates_principal_account", "principal_account_id"),
                      Index("ix_mandates_juristic", "principal_juristic_id"),
                      Index("ix_mandates_parent", "parent_id"),
                      Index("ix_mandates_document", "document_sha256"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    model: Mapped[str] = mapped_column(String(64))  # idgw.delegation.model.MODEL_VERSION at creation
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("mandates.id"))
    depth: Mapped[int] = mapped_column(Integer, default=0)
    principal_kind: Mapped[str] = mapped_column(String(10))  # person | company
    principal_account_id: Mapped[str | None] = mapped_column(ForeignKey("accounts.id"))  # person principal
    principal_citizen_id: Mapped[str | None] = mapped_column(String(13))
    principal_juristic_id: Mapped[str | None] = mapped_column(String(13))
    principal_name: Mapped[dict] = mapped_column(JSON)  # {"th": ..., "en": ...}
    company: Mapped[dict | None] = mapped_column(JSON)  # providers.dbd.Company snapshot (as_json)
    delegate_citizen_id: Mapped[str] = mapped_column(String(13))
    delegate_account_id: Mapped[str | None] = mapped_column(ForeignKey("accounts.id"))
    scope: Mapped[list] = mapped_column(JSON)  # [{"client_id": ..., "acts": [...] | ["*"]}]
    single_use: Mapped[bool] = mapped_column(Boolean, default=False)
    valid_from: Mapped[int] = mapped_column(BigInteger)
    valid_until: Mapped[int] = mapped_column(BigInteger)
    subdelegation_allowed: Mapped[bool] = mapped_column(Boolean, default=False)
    stamp_duty: Mapped[dict | None] = mapped_column(JSON)  # {"reference", "receipt", "amount"}
    status: Mapped[str] = mapped_column(String(20))
    created_by: Mapped[str] = mapped_column(String(36))  # the account that drafted it
    created_at: Mapped[int] = mapped_column(BigInteger)
    document: Mapped[str] = mapped_column(Text)  # canonical JSON of the content signed
    document_sha256: Mapped[str] = mapped_column(String(64))
    jws: Mapped[str | None] = mapped_column(Text)  # the gateway's signature, once effective
    effective_at: Mapped[int | None] = mapped_column(BigInteger)
    accepted_at: Mapped[int | None] = mapped_column(BigInteger)
    used_at: Mapped[int | None] = mapped_column(BigInteger)
    revoked_at: Mapped[int | None] = mapped_column(BigInteger)
    revoked_by: Mapped[str | None] = mapped_column(String(36))
    revoke_reason: Mapped[str | None] = mapped_column(String(40))
    expired_at: Mapped[int | None] = mapped_column(BigInteger)


class MandateApproval(Base):
    """One signature on a mandate: the delegator's, or one director's for a company."""

    __tablename__ = "mandate_approvals"
    __table_args__ = (UniqueConstraint("mandate_id", "citizen_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    mandate_id: Mapped[str] = mapped_column(ForeignKey("mandates.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    citizen_id: Mapped[str] = mapped_column(String(13))
    role: Mapped[str] = mapped_column(String(10))  # delegator | director
    method: Mapped[str] = mapped_column(String(20))  # session | ndid_dsign
    ial: Mapped[str] = mapped_column(String(4))
    aal: Mapped[str] = mapped_column(String(4))
    auth_time: Mapped[int] = mapped_column(BigInteger)
    sealed: Mapped[bool] = mapped_column(Boolean, default=False)
    document_sha256: Mapped[str] = mapped_column(String(64))
    reference: Mapped[str | None] = mapped_column(String(120))  # NDID request id, for ndid_dsign
    at: Mapped[int] = mapped_column(BigInteger)


class SecurityEventDelivery(Base):
    """A Security Event Token (RFC 8417) to push to one e-service (RFC 8935), retried with back-off,
    leased to one worker at a time like back-channel logout deliveries."""

    __tablename__ = "security_event_deliveries"
    __table_args__ = (Index("ix_set_due", "delivered_at", "failed_at", "next_attempt_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.client_id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(200))  # the event type URI
    payload: Mapped[dict] = mapped_column(JSON)  # the event's members (no personal data beyond subjects)
    created_at: Mapped[int] = mapped_column(BigInteger)
    next_attempt_at: Mapped[int] = mapped_column(BigInteger)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_until: Mapped[int | None] = mapped_column(BigInteger)
    delivered_at: Mapped[int | None] = mapped_column(BigInteger)
    failed_at: Mapped[int | None] = mapped_column(BigInteger)
    last_error: Mapped[str | None] = mapped_column(Text)
