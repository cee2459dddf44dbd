"""A mandate's life: create, sign (approve), accept, revoke, expire. Plain functions on an ORM
session; the caller commits (at the request edge). Every refusal is a ``MandateError`` and changes
nothing; every change is audited.

States (``idgw.delegation.model``): draft -> awaiting_signatures -> awaiting_acceptance ->
effective -> used | revoked | expired. The signed document is issued (``document.sign``) when the
approvals satisfy the principal's rule; the mandate becomes effective only when the delegate
accepts it while signed in.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import or_, select, update

from idgw import audit
from idgw.delegation import catalogue
from idgw.delegation import model as m
from idgw.delegation.model import MandateError, ScopeItem
from idgw.storage.delegation import Mandate, MandateApproval
from idgw.storage.models import Account, Token
from policies import AAL, IAL
from providers.base import valid_citizen_id
from providers.dbd import Company, valid_juristic_id


@dataclass(frozen=True)
class Signer:
    """Who is signing and how they signed in (their gateway session)."""

    account: Account
    ial: IAL
    aal: AAL
    auth_time: int


def _name(account: Account) -> dict:
    th = " ".join(p for p in (account.given_name_th, account.family_name_th) if p)
    en = " ".join(p for p in (account.given_name, account.family_name) if p)
    return {"th": th or en or account.username, "en": en or th or account.username}


def load(db, mandate_id: str, *, lock: bool = False) -> Mandate:
    if not isinstance(mandate_id, str) or len(mandate_id) != 36:
        raise MandateError("not_found", status=404)
    query = select(Mandate).where(Mandate.id == mandate_id)
    row = db.scalar(query.with_for_update() if lock else query)
    if row is None:
        raise MandateError("not_found", status=404)
    return row


def create(db, *, creator: Account, principal_kind: str, delegate_citizen_id: str, scope: list[tuple[str, list[str]]],
           single_use: bool, valid_from: int, valid_until: int, subdelegation_allowed: bool, now: int,
           company: Company | None = None, stamp_reference: str | None = None, stamp_receipt: str | None = None,
           parent: Mandate | None = None) -> Mandate:
    """A new mandate in ``draft``, drafted by ``creator``: for themselves (``principal_kind``
    "person"), for a company they direct ("company", with its registry answer ``company``), or a
    sub-delegation of ``parent``, which they hold. Every check of the bad-input list runs here."""
    delegate_citizen_id = (delegate_citizen_id or "").strip()
    if not valid_citizen_id(delegate_citizen_id):
        raise MandateError("delegate_invalid")
    checked = catalogue.checked_scope(db, scope)
    m.check_window(valid_from=valid_from, valid_until=valid_until, now=now)
    valid_from = max(valid_from, now)
    depth = 0
    if parent is not None:
        principal, principal_ids = _sub_principal(db, creator=creator, parent=parent, scope=checked,
                                                  valid_from=valid_from, valid_until=valid_until, now=now)
        depth = parent.depth + 1
        single_use = single_use or parent.single_use
    elif principal_kind == "person":
        if not creator.citizen_id:
            raise MandateError("principal_unverified", status=403)
        principal = {"kind": "person", "citizen_id": creator.citizen_id, "name": _name(creator)}
        principal_ids = dict(principal_account_id=creator.id, principal_citizen_id=creator.citizen_id)
    elif principal_kind == "company":
        if company is None or not valid_juristic_id(company.juristic_id):
            raise MandateError("juristic_invalid")
        if not company.active:
            raise MandateError("company_inactive", status=409)
        if not creator.citizen_id or company.director(creator.citizen_id) is None:
            raise MandateError("not_a_director", status=403)
        principal = {"kind": "company", "juristic_id": company.juristic_id,
                     "name": {"th": company.name_th, "en": company.name_en}, "signing_rule": company.rule.as_json()}
        principal_ids = dict(principal_juristic_id=company.juristic_id, company=company.as_json())
    else:
        raise MandateError("principal_kind_invalid")
    if principal.get("citizen_id") == delegate_citizen_id:
        raise MandateError("delegate_self")
    if subdelegation_allowed and depth + 1 > catalogue.max_depth(db, checked):
        raise MandateError("subdelegation_too_deep")
    stamp = _stamp(db, checked, reference=stamp_reference, receipt=stamp_receipt)
    mandate_id = str(uuid.uuid4())
    content = m.document_content(
        mandate_id=mandate_id, parent_id=parent.id if parent else None, depth=depth, principal=principal,
        delegate_citizen_id=delegate_citizen_id, scope=checked, single_use=bool(single_use), valid_from=valid_from,
        valid_until=valid_until, subdelegation_allowed=bool(subdelegation_allowed), stamp_duty=stamp, created_at=now)
    document = m.canonical(content)
    row = Mandate(
        id=mandate_id, model=m.MODEL_VERSION, parent_id=parent.id if parent else None, depth=depth,
        principal_kind=principal["kind"], principal_name=principal["name"], delegate_citizen_id=delegate_citizen_id,
        scope=[i.as_json() for i in checked], single_use=bool(single_use), valid_from=valid_from,
        valid_until=valid_until, subdelegation_allowed=bool(subdelegation_allowed), stamp_duty=stamp, status=m.DRAFT,
        created_by=creator.id, created_at=now, document=document, document_sha256=m.digest(document), **principal_ids)
    db.add(row)
    audit.record(db, "delegation.created", at=now, actor=creator.id, on_behalf_of=principal_key(row),
                 mandate_id=row.id, parent_id=row.parent_id, kind=row.principal_kind,
                 services=[i.client_id for i in checked], single_use=row.single_use)
    return row


def _sub_principal(db, *, creator: Account, parent: Mandate, scope: tuple[ScopeItem, ...], valid_from: int,
                   valid_until: int, now: int) -> tuple[dict, dict]:
    """A sub-delegation: only by the parent's holder, of an effective parent that allows it, a
    subset of it in scope and time; the principal stays the parent's."""
    if parent.delegate_account_id != creator.id:
        raise MandateError("not_holder", status=403)
    if m.usable(status=parent.status, valid_from=parent.valid_from, valid_until=parent.valid_until, now=now):
        raise MandateError("parent_not_effective", status=409)
    if not parent.subdelegation_allowed:
        raise MandateError("subdelegation_not_allowed", status=403)
    if not m.within(scope, m.scope_of(parent.scope)):
        raise MandateError("subdelegation_wider_scope")
    if valid_from < parent.valid_from or valid_until > parent.valid_until:
        raise MandateError("subdelegation_longer")
    parent_doc = m.json_of(parent.document)
    ids = dict(principal_account_id=parent.principal_account_id, principal_citizen_id=parent.principal_citizen_id,
               principal_juristic_id=parent.principal_juristic_id, company=parent.company)
    return parent_doc["principal"], ids


def _stamp(db, scope: tuple[ScopeItem, ...], *, reference: str | None, receipt: str | None) -> dict | None:
    ref = m.normal_stamp_reference(reference)
    if ref is None:
        if catalogue.stamp_duty_required(db, scope):
            raise MandateError("stamp_required", amount=m.stamp_duty_amount(scope))
        return None
    rec = m.normal_stamp_reference(receipt) if receipt else None
    return {"reference": ref, "receipt": rec, "amount": m.stamp_duty_amount(scope), "currency": "THB"}


def principal_key(row: Mandate) -> str:
    """The principal as the audit log names it and its ``sub`` is derived from (pairwise per
    sector like anyone's): the person's account id, or ``juristic:<13-digit id>`` for a company."""
    return row.principal_account_id if row.principal_kind == "person" else f"juristic:{row.principal_juristic_id}"


def approvals_of(db, mandate_id: str) -> list[MandateApproval]:
    return list(db.scalars(select(MandateApproval).where(MandateApproval.mandate_id == mandate_id)
                           .order_by(MandateApproval.at)))


def signers_needed(db, row: Mandate) -> dict:
    """Who may approve ``row`` and what is still missing: ``{"kind": "person"|"company",
    "account_id"|"rule", "missing": n}``."""
    approved = {a.citizen_id for a in approvals_of(db, row.id)}
    if row.principal_kind == "company" and row.parent_id is None:
        rule = Company.from_json(row.company).rule
        sealed = any(a.sealed for a in approvals_of(db, row.id))
        return {"kind": "company", "rule": rule, "approved": approved,
                "missing": rule.missing(approvers=approved, sealed=sealed),
                "seal_missing": rule.seal and not sealed}
    signer = _holder_of_parent(db, row) if row.parent_id else row.principal_account_id
    return {"kind": "person", "account_id": signer, "approved": approved, "missing": 0 if approved else 1,
            "seal_missing": False}


def _holder_of_parent(db, row: Mandate) -> str | None:
    parent = db.get(Mandate, row.parent_id)
    return parent.delegate_account_id if parent else None


def may_sign(db, *, row: Mandate, account: Account, now: int) -> dict:
    """``signers_needed`` for ``row`` when ``account`` may approve it now (the "who" and "when" of
    ``approve``; the levels are the sign-in's, checked there); ``MandateError`` otherwise. A
    company director is judged by the stored rule here and by the registry's fresh answer in
    ``approve``."""
    current = m.status_at(status=row.status, valid_until=row.valid_until, now=now)
    if current not in (m.DRAFT, m.AWAITING_SIGNATURES):
        raise MandateError("not_awaiting_signature", status=409, status_=current)
    if not account.citizen_id:
        raise MandateError("principal_unverified", status=403)
    needed = signers_needed(db, row)
    if account.citizen_id in needed["approved"]:
        raise MandateError("already_approved", status=409)
    if needed["kind"] == "company" and account.citizen_id not in needed["rule"].directors:
        raise MandateError("not_a_director", status=403)
    if needed["kind"] == "person" and needed["account_id"] != account.id:
        raise MandateError("not_the_signer", status=403)
    return needed


def approve(db, *, row: Mandate, signer: Signer, document_sha256: str, now: int, sign, sealed: bool = False,
            company: Company | None = None, method: str = "session", reference: str | None = None) -> Mandate:
    """Record ``signer``'s approval of exactly the document they saw (``document_sha256``). A
    person's mandate is signed by the person (a sub-delegation by the parent's holder); a
    company's by its directors under its signing rule, read afresh from the registry
    (``company``). The approval needs the levels of ``catalogue.required_levels`` from a sign-in
    at most ``FRESH_SECONDS`` old. When the approvals satisfy the rule the gateway signs the
    document (``sign(row, approvals) -> jws``) and the mandate awaits the delegate's acceptance."""
    account = signer.account
    needed = may_sign(db, row=row, account=account, now=now)
    if document_sha256 != row.document_sha256:
        raise MandateError("document_changed", status=409)
    need_ial, need_aal = catalogue.required_levels(db, m.scope_of(row.scope))
    if signer.ial < need_ial or signer.aal < need_aal:
        raise MandateError("level_too_low", status=403, ial=need_ial.value, aal=need_aal.value)
    if now - signer.auth_time > m.FRESH_SECONDS:
        raise MandateError("not_fresh", status=403, ial=need_ial.value, aal=need_aal.value)
    if needed["kind"] == "company":
        if company is None or company.juristic_id != row.principal_juristic_id:
            raise MandateError("company_unavailable", status=503)
        if not company.active:
            raise MandateError("company_inactive", status=409)
        if account.citizen_id not in company.rule.directors:
            raise MandateError("not_a_director", status=403)
        row.company = company.as_json()  # the registry's current answer is what the rule is judged by
        role = "director"
    else:
        if needed["account_id"] != account.id:
            raise MandateError("not_the_signer", status=403)
        role = "delegator"
    db.add(MandateApproval(id=str(uuid.uuid4()), mandate_id=row.id, account_id=account.id,
                           citizen_id=account.citizen_id, role=role, method=method, ial=signer.ial.value,
                           aal=signer.aal.value, auth_time=signer.auth_time, sealed=bool(sealed),
                           document_sha256=document_sha256, reference=reference, at=now))
    db.flush()
    audit.record(db, "delegation.approved", at=now, actor=account.id, on_behalf_of=principal_key(row),
                 mandate_id=row.id, role=role, method=method, ial=signer.ial.value, aal=signer.aal.value,
                 sealed=bool(sealed))
    after = signers_needed(db, row)
    if after["missing"] == 0 and not after["seal_missing"]:
        row.status = m.AWAITING_ACCEPTANCE
        row.jws = sign(row, approvals_of(db, row.id))
    else:
        row.status = m.AWAITING_SIGNATURES
    return row


def accept(db, *, row: Mandate, account: Account, now: int) -> Mandate:
    """The delegate accepts, signed in as the holder of the delegate's citizen ID: the mandate
    becomes effective."""
    if not account.citizen_id or account.citizen_id != row.delegate_citizen_id:
        raise MandateError("not_the_delegate", status=403)
    current = m.status_at(status=row.status, valid_until=row.valid_until, now=now)
    if current != m.AWAITING_ACCEPTANCE:
        raise MandateError("not_awaiting_acceptance", status=409, status_=current)
    row.delegate_account_id = account.id
    row.accepted_at = row.effective_at = now
    row.status = m.EFFECTIVE
    audit.record(db, "delegation.accepted", at=now, actor=account.id, on_behalf_of=principal_key(row),
                 mandate_id=row.id)
    audit.record(db, "delegation.effective", at=now, actor=account.id, on_behalf_of=principal_key(row),
                 mandate_id=row.id, valid_from=row.valid_from, valid_until=row.valid_until)
    return row


def may_revoke(db, *, row: Mandate, account: Account) -> str | None:
    """How ``account`` may end ``row`` (``"principal"``, ``"director"``, ``"delegator"`` for the
    holder who sub-delegated it, ``"delegate"`` to decline or renounce), or None."""
    if row.principal_kind == "person" and row.principal_account_id == account.id:
        return "principal"
    if row.principal_kind == "company" and account.citizen_id and row.company \
            and account.citizen_id in Company.from_json(row.company).rule.directors:
        return "director"
    if row.parent_id and _holder_of_parent(db, row) == account.id:
        return "delegator"
    if account.citizen_id and account.citizen_id == row.delegate_citizen_id:
        return "delegate"
    return None


def revoke(db, *, row: Mandate, account: Account, now: int, reason: str = "revoked") -> list[str]:
    """End ``row`` at once, and every sub-delegation under it: status revoked, every token issued
    under them revoked, and the e-services that received such tokens told by a Security Event
    Token (``idgw.delegation.events``). Returns the ids revoked."""
    role = may_revoke(db, row=row, account=account)
    if role is None:
        raise MandateError("not_allowed", status=403)
    current = m.status_at(status=row.status, valid_until=row.valid_until, now=now)
    if current in m.FINAL_STATES:
        raise MandateError("already_final", status=409, status_=current)
    why = {"delegate": "declined" if current != m.EFFECTIVE else "renounced"}.get(role, reason)
    return _revoke_tree(db, row=row, actor=account.id, now=now, reason=why)


def _revoke_tree(db, *, row: Mandate, actor: str, now: int, reason: str) -> list[str]:
    from idgw.delegation.events import queue_revoked

    revoked: list[str] = []
    todo = [(row, reason)]
    while todo:
        current, why = todo.pop()
        if current.status in m.FINAL_STATES:
            continue
        current.status, current.revoked_at, current.revoked_by, current.revoke_reason = m.REVOKED, now, actor, why
        revoked.append(current.id)
        audit.record(db, "delegation.revoked", at=now, actor=actor, on_behalf_of=principal_key(current),
                     mandate_id=current.id, reason=why)
        todo.extend((child, "parent_revoked") for child in db.scalars(select(Mandate).where(
            Mandate.parent_id == current.id)))
    if revoked:
        db.execute(update(Token).where(Token.mandate_id.in_(revoked), Token.revoked_at.is_(None))
                   .values(revoked_at=now))
        queue_revoked(db, mandate_ids=revoked, now=now)
    return revoked


def expire_due(db, *, now: int, limit: int = 500) -> int:
    """Record the end of open mandates past their validity (status ``expired``, audited)."""
    rows = list(db.scalars(select(Mandate).where(Mandate.status.in_(m.OPEN_STATES), Mandate.valid_until <= now)
                           .limit(limit)))
    for row in rows:
        row.status, row.expired_at = m.EXPIRED, now
        audit.record(db, "delegation.expired", at=now, on_behalf_of=principal_key(row), mandate_id=row.id)
    return len(rows)


def given_by(db, account: Account) -> list[Mandate]:
    """Mandates this person gave (as principal) or drafted (a sub-delegation, a company's)."""
    return list(db.scalars(select(Mandate).where(or_(Mandate.principal_account_id == account.id,
                                                     Mandate.created_by == account.id))
                           .order_by(Mandate.created_at.desc())))


def held_by(db, account: Account) -> list[Mandate]:
    """Mandates naming this person's citizen ID as delegate."""
    if not account.citizen_id:
        return []
    return list(db.scalars(select(Mandate).where(Mandate.delegate_citizen_id == account.citizen_id)
                           .order_by(Mandate.created_at.desc())))


def of_companies(db, account: Account) -> list[Mandate]:
    """Company mandates where this person is one of the directors in the company's rule."""
    if not account.citizen_id:
        return []
    rows = db.scalars(select(Mandate).where(Mandate.principal_kind == "company").order_by(Mandate.created_at.desc()))
    return [r for r in rows if r.company and account.citizen_id in Company.from_json(r.company).rule.directors]
