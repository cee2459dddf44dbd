"""What each e-service allows to be delegated: its delegation rule and its catalogue of named acts,
maintained by the service's admin; and the scope checks that use them (a hard gate: an agent
acting outside the scope does not bind the principal)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select

from idgw import audit
from idgw.assurance import current_policy
from idgw.delegation.model import (
    ACT_CODE,
    ANY_ACT,
    MAX_ACTS,
    MAX_DEPTH_LIMIT,
    MAX_SERVICES,
    SIGN_FLOOR_AAL,
    SIGN_FLOOR_IAL,
    MandateError,
    ScopeItem,
    sign_levels,
)
from idgw.storage.delegation import DelegationAct, DelegationRule
from idgw.storage.models import Client
from policies import AAL, IAL, LevelError


@dataclass(frozen=True)
class Rules:
    """A service's delegation rule (``DelegationRule``), or the defaults when its admin set none."""

    sign_ial: IAL = SIGN_FLOOR_IAL
    sign_aal: AAL = SIGN_FLOOR_AAL
    any_act_allowed: bool = False
    stamp_duty_required: bool = False
    max_depth: int = 1


def rules_for(db, client_id: str) -> Rules:
    row = db.get(DelegationRule, client_id)
    if row is None:
        return Rules()
    return Rules(sign_ial=IAL(row.sign_ial), sign_aal=AAL(row.sign_aal), any_act_allowed=row.any_act_allowed,
                 stamp_duty_required=row.stamp_duty_required, max_depth=row.max_depth)


def set_rules(db, *, client_id: str, sign_ial: str, sign_aal: str, any_act_allowed: bool, stamp_duty_required: bool,
              max_depth: int, actor: str, now: int) -> Rules:
    """Set a service's delegation rule (audited with before and after). The signing levels may not
    be below ``SIGN_FLOOR_*`` (the service's floors are added at use: ``required_levels``)."""
    if db.get(Client, client_id) is None:
        raise MandateError("unknown_service", status=404, client_id=client_id)
    try:
        ial, aal = IAL(sign_ial), AAL(sign_aal)
    except LevelError as exc:
        raise MandateError("invalid_level", detail=str(exc)) from exc
    if ial < SIGN_FLOOR_IAL or aal < SIGN_FLOOR_AAL:
        raise MandateError("sign_level_too_low", ial=SIGN_FLOOR_IAL.value, aal=SIGN_FLOOR_AAL.value)
    if not isinstance(max_depth, int) or not 0 <= max_depth <= MAX_DEPTH_LIMIT:
        raise MandateError("max_depth_invalid", limit=MAX_DEPTH_LIMIT)
    before = rules_for(db, client_id)
    row = db.get(DelegationRule, client_id) or DelegationRule(client_id=client_id)
    row.sign_ial, row.sign_aal = ial.value, aal.value
    row.any_act_allowed, row.stamp_duty_required, row.max_depth = any_act_allowed, stamp_duty_required, max_depth
    row.set_by, row.set_at = actor, now
    db.add(row)
    after = Rules(sign_ial=ial, sign_aal=aal, any_act_allowed=any_act_allowed, stamp_duty_required=stamp_duty_required,
                  max_depth=max_depth)
    audit.record(db, "delegation.rules_changed", at=now, actor=actor, client_id=client_id,
                 before=_rules_json(before), after=_rules_json(after))
    return after


def _rules_json(rules: Rules) -> dict:
    return {"sign_ial": rules.sign_ial.value, "sign_aal": rules.sign_aal.value,
            "any_act_allowed": rules.any_act_allowed,
            "stamp_duty_required": rules.stamp_duty_required, "max_depth": rules.max_depth}


def acts_of(db, client_id: str) -> list[DelegationAct]:
    """The service's current catalogue, by code."""
    return list(db.scalars(select(DelegationAct).where(DelegationAct.client_id == client_id,
                                                       DelegationAct.retired_at.is_(None))
                           .order_by(DelegationAct.code)))


def add_act(db, *, client_id: str, code: str, name_th: str, name_en: str, actor: str, now: int) -> DelegationAct:
    code = (code or "").strip()
    name_th, name_en = (name_th or "").strip(), (name_en or "").strip()
    if db.get(Client, client_id) is None:
        raise MandateError("unknown_service", status=404, client_id=client_id)
    if not ACT_CODE.fullmatch(code):
        raise MandateError("act_code_invalid")
    if not name_th or not name_en or len(name_th) > 200 or len(name_en) > 200:
        raise MandateError("act_name_required")
    row = db.scalar(select(DelegationAct).where(DelegationAct.client_id == client_id, DelegationAct.code == code))
    if row is not None and row.retired_at is None:
        raise MandateError("act_exists", status=409, code_=code)
    if row is None:
        row = DelegationAct(id=str(uuid.uuid4()), client_id=client_id, code=code, created_at=now)
        db.add(row)
    row.name_th, row.name_en, row.created_by, row.retired_at = name_th, name_en, actor, None
    audit.record(db, "delegation.rules_changed", at=now, actor=actor, client_id=client_id, act_added=code)
    return row


def retire_act(db, *, client_id: str, code: str, actor: str, now: int) -> None:
    """Take an act out of the catalogue: no new mandate may name it; existing ones keep it (what
    was signed does not change)."""
    row = db.scalar(select(DelegationAct).where(DelegationAct.client_id == client_id, DelegationAct.code == code,
                                                DelegationAct.retired_at.is_(None)))
    if row is None:
        raise MandateError("act_unknown", status=404, code_=code)
    row.retired_at = now
    audit.record(db, "delegation.rules_changed", at=now, actor=actor, client_id=client_id, act_retired=code)


def act_names(db, client_id: str) -> dict[str, dict]:
    """code -> {"th", "en"} for every act the service ever had (retired ones still name old mandates)."""
    rows = db.scalars(select(DelegationAct).where(DelegationAct.client_id == client_id))
    return {r.code: {"th": r.name_th, "en": r.name_en} for r in rows}


def delegable_services(db) -> list[Client]:
    """The e-services whose current policy allows delegation, by name."""
    clients = db.scalars(select(Client).order_by(Client.name))
    out = []
    for client in clients:
        policy = current_policy(db, client.client_id)
        if policy is not None and policy.delegation_allowed:
            out.append(client)
    return out


def checked_scope(db, raw: list[tuple[str, list[str]]]) -> tuple[ScopeItem, ...]:
    """The scope a delegator asked for, checked: each service exists and its policy allows
    delegation; each act is in its catalogue, or "any act" where its rule allows it; at least one
    act per service; no service twice."""
    if not raw:
        raise MandateError("scope_empty")
    if len(raw) > MAX_SERVICES:
        raise MandateError("scope_too_large")
    items: list[ScopeItem] = []
    seen: set[str] = set()
    for client_id, acts in raw:
        if client_id in seen:
            raise MandateError("scope_duplicate")
        seen.add(client_id)
        policy = current_policy(db, client_id) if db.get(Client, client_id) is not None else None
        if policy is None or not policy.delegation_allowed:
            raise MandateError("service_not_delegable", client_id=client_id)
        acts = sorted(set(acts or ()))
        if not acts:
            raise MandateError("scope_no_act", client_id=client_id)
        if len(acts) > MAX_ACTS:
            raise MandateError("scope_too_large")
        if ANY_ACT in acts:
            if not rules_for(db, client_id).any_act_allowed:
                raise MandateError("any_act_not_allowed", client_id=client_id)
            acts = [ANY_ACT]
        else:
            known = {a.code for a in acts_of(db, client_id)}
            unknown = [a for a in acts if a not in known]
            if unknown:
                raise MandateError("act_not_in_catalogue", client_id=client_id, act=unknown[0])
        items.append(ScopeItem(client_id=client_id, acts=tuple(acts)))
    return tuple(sorted(items, key=lambda i: i.client_id))


def required_levels(db, scope: tuple[ScopeItem, ...]) -> tuple[IAL, AAL]:
    """The levels every approval of a mandate with ``scope`` needs: each service's delegation rule
    and its own floors (a delegation is never signed below what the service asks of a sign-in)."""
    floors: list[tuple[IAL, AAL]] = []
    for item in scope:
        rules = rules_for(db, item.client_id)
        floors.append((rules.sign_ial, rules.sign_aal))
        policy = current_policy(db, item.client_id)
        if policy is not None:
            floors.append((policy.min_ial, policy.min_aal))
    return sign_levels(floors)


def max_depth(db, scope: tuple[ScopeItem, ...]) -> int:
    """How deep sub-delegation may go under ``scope``: the strictest of its services."""
    return min((rules_for(db, item.client_id).max_depth for item in scope), default=0)


def stamp_duty_required(db, scope: tuple[ScopeItem, ...]) -> bool:
    return any(rules_for(db, item.client_id).stamp_duty_required for item in scope)
