"""Per-service assurance policies in the database, translated to and from ``policies`` types.

Each e-service has exactly one current policy (its highest version). Floors come from a risk
assessment: raising them is allowed; lowering below the computed value needs a written
justification. Every change is audited as ``policy.changed`` with before and after values.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import yaml
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from idgw import audit
from idgw.storage import memo, raw
from idgw.storage.models import Client, ServicePolicyVersion
from policies import AAL, IAL, Assessment, AssessmentError, LevelError, PolicyError, ServicePolicy, assess

MIN_JUSTIFICATION = 20


class PolicyChangeError(ValueError):
    """A policy change that is refused; the message says why and what to do (in English, for the
    CLI and logs). ``code`` and ``params`` let a page say the same in its own language:

    - ``floor_below_computed``: ``lowered`` [(kind, chosen, computed)], ``min_chars``;
    - ``invalid_answers`` / ``invalid_level`` / ``invalid_policy``: ``detail`` (the English reason
      of the assessment, the level parser or the policy rules; only a hand-made request gets these
      from the admin page, whose fields offer valid values only);
    - ``no_client``: ``client_id``.

    The errors of an import file (CLI only) name their line and keep the default code.
    """

    def __init__(self, message: str, *, code: str = "invalid_policy", **params) -> None:
        super().__init__(message)
        self.code = code
        self.params = params


@dataclass(frozen=True)
class PolicyInput:
    """What an administrator submits (CLI, admin page or import file)."""

    needs_verified_identity: bool
    proofing_impacts: dict
    authentication_impacts: dict | None = None
    min_ial: str | None = None
    min_aal: str | None = None
    max_age: int | None = None
    allowed_providers: list | None = None
    allowed_authenticators: list | None = None
    release_citizen_id: bool = False
    citizen_id_legal_basis: str | None = None
    delegation_allowed: bool = False
    release_verified_claims: bool = False
    justification: str | None = None


def to_policy(row: ServicePolicyVersion) -> ServicePolicy:
    return ServicePolicy(
        min_ial=IAL(row.min_ial), min_aal=AAL(row.min_aal), max_age=row.max_age,
        allowed_providers=frozenset(row.allowed_providers) if row.allowed_providers is not None else None,
        allowed_authenticators=(frozenset(row.allowed_authenticators)
                                if row.allowed_authenticators is not None else None),
        release_citizen_id=bool(row.release_citizen_id), citizen_id_legal_basis=row.citizen_id_legal_basis,
        delegation_allowed=bool(row.delegation_allowed), release_verified_claims=bool(row.release_verified_claims),
    )


_POLICIES = ServicePolicyVersion.__table__
_CURRENT = (select(_POLICIES).where(_POLICIES.c.client_id == bindparam("p_client_id"))
            .order_by(_POLICIES.c.version.desc()).limit(1))


def current_row(db, client_id: str):
    """The service's current policy version as a row (columns by name), or None. Read on every
    authorization step, so one prebuilt Core statement and no ORM object; through the session,
    so a version added in this transaction is seen."""
    return db.execute(_CURRENT, {"p_client_id": client_id}).first()


_POLICY_COLUMNS = ("min_ial", "min_aal", "max_age", "allowed_providers", "allowed_authenticators",
                   "release_citizen_id", "citizen_id_legal_basis", "delegation_allowed", "release_verified_claims")
# What to_policy reads, on the driver's cursor (idgw.storage.raw): every authorization step reads it.
_RAW_CURRENT = raw.Statement(
    f"SELECT {', '.join(_POLICY_COLUMNS)} FROM {_POLICIES.name} WHERE client_id = :p_client_id "  # noqa: S608
    "ORDER BY version DESC LIMIT 1",
    columns=_POLICY_COLUMNS, json_columns=frozenset({"allowed_providers", "allowed_authenticators"}))


_MEMO = "idgw_current_policies"
memo.forget_on_flush(_MEMO, ServicePolicyVersion)


def current_policy(db, client_id: str) -> ServicePolicy | None:
    """The service's current policy, or None. Read once per transaction (``idgw.storage.memo``);
    a version written in this transaction is seen."""
    if not isinstance(db, Session):
        row = current_row(db, client_id)
        return to_policy(row) if row else None
    return memo.once(db, _MEMO, client_id, lambda: _read_policy(db, client_id))


def _read_policy(db: Session, client_id: str) -> ServicePolicy | None:
    if db.new:
        db.flush()  # as a read through the session would (autoflush)
    row = raw.first(db.connection(), _RAW_CURRENT, {"p_client_id": client_id})
    return to_policy(row) if row else None


def history(db, client_id: str) -> list[ServicePolicyVersion]:
    return list(db.scalars(select(ServicePolicyVersion).where(ServicePolicyVersion.client_id == client_id)
                           .order_by(ServicePolicyVersion.version.desc())))


def compute(data: PolicyInput) -> tuple[Assessment, ServicePolicy]:
    """Validate the input and build the policy it asks for (no I/O). Raises PolicyChangeError."""
    try:
        assessment = assess(impacts=data.proofing_impacts, authentication_impacts=data.authentication_impacts,
                            needs_verified_identity=bool(data.needs_verified_identity))
        min_ial = IAL.parse(data.min_ial) if data.min_ial is not None else assessment.ial
        min_aal = AAL.parse(data.min_aal) if data.min_aal is not None else assessment.aal
        policy = ServicePolicy(
            min_ial=min_ial, min_aal=min_aal, max_age=data.max_age,
            allowed_providers=frozenset(data.allowed_providers) if data.allowed_providers is not None else None,
            allowed_authenticators=(frozenset(data.allowed_authenticators)
                                    if data.allowed_authenticators is not None else None),
            release_citizen_id=bool(data.release_citizen_id), citizen_id_legal_basis=data.citizen_id_legal_basis,
            delegation_allowed=bool(data.delegation_allowed),
            release_verified_claims=bool(data.release_verified_claims),
            assessment=assessment,
        )
    except (AssessmentError, LevelError, PolicyError) as exc:
        code = {AssessmentError: "invalid_answers", LevelError: "invalid_level"}.get(type(exc), "invalid_policy")
        raise PolicyChangeError(str(exc), code=code, detail=str(exc)) from None
    lowered = [(kind, have.value, computed.value)
               for kind, have, computed in (("IAL", min_ial, assessment.ial), ("AAL", min_aal, assessment.aal))
               if have < computed]
    if lowered and len((data.justification or "").strip()) < MIN_JUSTIFICATION:
        raise PolicyChangeError(
            "; ".join(f"{kind} {have} is below the computed {computed}" for kind, have, computed in lowered)
            + f": lowering a floor needs a written justification (at least {MIN_JUSTIFICATION} characters)",
            code="floor_below_computed", lowered=lowered, min_chars=MIN_JUSTIFICATION)
    return assessment, policy


def reachable(settings, upstreams, *, proofing_ial: IAL | None = None) -> tuple[IAL, AAL]:
    """The highest IAL and the highest AAL that some sign-in method configured here can reach,
    each on its own (a service whose floors exceed them can never be signed in to).

    - AAL: local authenticators reach 2.2 (a passkey with user verification), or 3 when
      ``settings.aal3_aaguid_set`` names authenticators whose attestation grants it; an upstream
      reaches the AAL it offers.
    - IAL: local factors never prove who someone is, so a local account is self-asserted (1.1);
      upstreams raise it to the IAL they offer, and officer video proofing to ``proofing_ial`` (the
      grant, when it is offered to the service: idgw.proofing.cases.proofing_reach).

    ``upstreams``: the connectors a service may use; each says ``levels_offered() -> (max IAL,
    max AAL)``; one that does not (or offers a value outside the scale) adds nothing."""
    ial, aal = IAL.lowest(), AAL("3") if settings.aal3_aaguid_set else AAL("2.2")
    if proofing_ial is not None:
        ial = max(ial, proofing_ial)
    for upstream in upstreams:
        offered = getattr(upstream, "levels_offered", None)
        if offered is None:
            continue
        try:
            max_ial, max_aal = offered()
            ial, aal = max(ial, IAL.parse(max_ial)), max(aal, AAL.parse(max_aal))
        except (TypeError, ValueError):  # LevelError is a ValueError
            continue
    return ial, aal


def describe(row: ServicePolicyVersion | None) -> dict | None:
    if row is None:
        return None
    return {"version": row.version, "min_ial": row.min_ial, "min_aal": row.min_aal, "max_age": row.max_age,
            "allowed_providers": row.allowed_providers, "allowed_authenticators": row.allowed_authenticators,
            "release_citizen_id": row.release_citizen_id, "citizen_id_legal_basis": row.citizen_id_legal_basis,
            "delegation_allowed": row.delegation_allowed, "release_verified_claims": row.release_verified_claims,
            "justification": row.justification, "set_by": row.set_by, "set_at": row.set_at,
            "assessment": row.assessment}


def set_policy(db, *, client_id: str, data: PolicyInput, actor: str, now: int, **detail) -> ServicePolicyVersion:
    """Store a new current version for ``client_id``; the caller commits. ``detail``: more for the
    audit event (a four-eyes approval names its request and the requester: idgw.console.policy_change)."""
    if db.get(Client, client_id) is None:
        raise PolicyChangeError(f"no client {client_id}", code="no_client", client_id=client_id)
    assessment, policy = compute(data)
    previous = current_row(db, client_id)
    row = ServicePolicyVersion(
        id=str(uuid.uuid4()), client_id=client_id, version=(previous.version + 1) if previous else 1,
        min_ial=policy.min_ial.value, min_aal=policy.min_aal.value, max_age=policy.max_age,
        allowed_providers=sorted(policy.allowed_providers) if policy.allowed_providers is not None else None,
        allowed_authenticators=(sorted(policy.allowed_authenticators)
                                if policy.allowed_authenticators is not None else None),
        release_citizen_id=policy.release_citizen_id, citizen_id_legal_basis=policy.citizen_id_legal_basis,
        delegation_allowed=policy.delegation_allowed, release_verified_claims=policy.release_verified_claims,
        assessment={**assessment.answers(), "computed_ial": assessment.ial.value, "computed_aal": assessment.aal.value,
                    "reasons": [r.describe() for r in assessment.reasons]},
        justification=(data.justification or "").strip() or None, set_by=actor, set_at=now,
    )
    db.add(row)
    db.flush()
    before = describe(previous)
    audit.record(db, "policy.changed", at=now, actor=actor, client_id=client_id,
                 before={k: v for k, v in (before or {}).items() if k != "assessment"} or None,
                 after={k: v for k, v in describe(row).items() if k != "assessment"}, **detail)
    return row


# -- export / import ------------------------------------------------------------------------------
EXPORT_FIELDS = ("needs_verified_identity", "proofing_impacts", "authentication_impacts", "min_ial", "min_aal",
                 "max_age", "allowed_providers", "allowed_authenticators", "release_citizen_id",
                 "citizen_id_legal_basis", "delegation_allowed", "release_verified_claims", "justification")


def policy_fields(row) -> dict:
    """A stored policy version as the fields of ``PolicyInput`` (what an export writes)."""
    a = row.assessment
    return {
        "needs_verified_identity": a["needs_verified_identity"],
        "proofing_impacts": a["proofing_impacts"], "authentication_impacts": a["authentication_impacts"],
        "min_ial": row.min_ial, "min_aal": row.min_aal, "max_age": row.max_age,
        "allowed_providers": row.allowed_providers, "allowed_authenticators": row.allowed_authenticators,
        "release_citizen_id": row.release_citizen_id, "citizen_id_legal_basis": row.citizen_id_legal_basis,
        "delegation_allowed": row.delegation_allowed, "release_verified_claims": row.release_verified_claims,
        "justification": row.justification,
    }


def set_delegation_allowed(db, *, client_id: str, allowed: bool, actor: str, now: int):
    """A new policy version that differs from the current one only in whether delegation is allowed."""
    row = current_row(db, client_id)
    if row is None:
        raise PolicyChangeError(f"service {client_id} has no policy yet", code="no_client", client_id=client_id)
    data = PolicyInput(**{**policy_fields(row), "delegation_allowed": allowed})
    return set_policy(db, client_id=client_id, data=data, actor=actor, now=now)


def export_yaml(db) -> str:
    services = []
    for client in db.scalars(select(Client).order_by(Client.client_id)):
        row = current_row(db, client.client_id)
        if row is None:
            continue
        services.append({"client_id": client.client_id, **policy_fields(row)})
    return yaml.safe_dump({"idgw_policies": 1, "services": services}, allow_unicode=True, sort_keys=False)


class _LineLoader(yaml.SafeLoader):
    """Records the line of every mapping so errors can point at it."""


def _construct_mapping(loader, node, deep=False):
    mapping = yaml.SafeLoader.construct_mapping(loader, node, deep=deep)
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _strip_lines(value):
    if isinstance(value, dict):
        return {k: _strip_lines(v) for k, v in value.items() if k != "__line__"}
    if isinstance(value, list):
        return [_strip_lines(v) for v in value]
    return value


def parse_import(db, text: str) -> list[tuple[str, PolicyInput]]:
    """Validate a whole import file before anything changes; errors name the line."""
    try:
        doc = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise PolicyChangeError(f"line {mark.line + 1 if mark else '?'}: not valid YAML") from None
    if not isinstance(doc, dict) or doc.get("idgw_policies") != 1 or not isinstance(doc.get("services"), list):
        raise PolicyChangeError("line 1: expected a document with idgw_policies: 1 and a services list")
    parsed, seen = [], set()
    for entry in doc["services"]:
        line = entry.get("__line__", "?") if isinstance(entry, dict) else "?"
        if not isinstance(entry, dict) or not isinstance(entry.get("client_id"), str):
            raise PolicyChangeError(f"line {line}: each service needs a client_id")
        client_id = entry["client_id"]
        unknown = set(entry) - set(EXPORT_FIELDS) - {"client_id", "__line__"}
        if unknown:
            raise PolicyChangeError(f"line {line}: unknown field(s) {', '.join(sorted(unknown))}")
        if client_id in seen:
            raise PolicyChangeError(f"line {line}: {client_id} appears twice")
        seen.add(client_id)
        if db.get(Client, client_id) is None:
            raise PolicyChangeError(f"line {line}: no client {client_id}")
        clean = _strip_lines(entry)
        try:
            data = PolicyInput(**{k: clean[k] for k in EXPORT_FIELDS if k in clean})
            compute(data)
        except (TypeError, PolicyChangeError) as exc:
            raise PolicyChangeError(f"line {line} ({client_id}): {exc}") from None
        parsed.append((client_id, data))
    return parsed


def import_yaml(db, text: str, *, actor: str, now: int) -> list[str]:
    """All or nothing: every entry is validated first; then each becomes a new version."""
    entries = parse_import(db, text)
    for client_id, data in entries:
        set_policy(db, client_id=client_id, data=data, actor=actor, now=now)
    return [c for c, _ in entries]
