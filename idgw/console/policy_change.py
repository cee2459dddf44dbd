"""Four eyes on lowering a service's floor: a policy whose IAL or AAL is below the floors its risk
assessment computes takes effect only when a second admin approves it (change kind
``policy.lower``); raising a floor, or saving at the computed floors, still applies at once.

``save`` is what the policy page (``idgw.web.admin``) calls to store a policy; ``apply`` (run by
``four_eyes.approve``) stores the requested version with ``idgw.assurance.set_policy``, the same
function, as the approver (``set_by``), naming the requester and the request in the audit event.
A request is made against one version of the service's policy: if the policy changed meanwhile,
approving it is refused (``changed_since``) rather than silently undoing the newer version.
"""

from __future__ import annotations

import dataclasses

from idgw.assurance import PolicyChangeError, PolicyInput, current_row, set_policy
from idgw.console import four_eyes
from idgw.storage.models import Client
from idgw.web.i18n import add_messages, t

KIND = "policy.lower"

add_messages({
    "chg_policy_lower": {
        "th": "ลดระดับขั้นต่ำของบริการ “{name}” ({client_id}) ให้ต่ำกว่าผลประเมิน: {changes} "
              "(ผลประเมินคำนวณได้ IAL {computed_ial}, AAL {computed_aal})",
        "en": "Lower the floors of “{name}” ({client_id}) below its assessment: {changes} "
              "(computed: IAL {computed_ial}, AAL {computed_aal})"},
    "chg_policy_none": {"th": "ยังไม่มีนโยบาย", "en": "no policy yet"},
    "chg_policy_same": {"th": "{kind} {level} (ไม่เปลี่ยน)", "en": "{kind} {level} (unchanged)"},
})


def lowered(assessment, policy) -> list[tuple[str, str, str]]:
    """The floors of ``policy`` below those ``assessment`` computes: [(kind, chosen, computed)]."""
    return [(kind, have.value, computed.value)
            for kind, have, computed in (("IAL", policy.min_ial, assessment.ial),
                                         ("AAL", policy.min_aal, assessment.aal))
            if have < computed]


def save(db, *, client: Client, data: PolicyInput, assessment, policy, admin, now: int, ttl: int) -> tuple:
    """Store the policy the page computed (``assessment``, ``policy`` from ``assurance.compute``):
    ('saved', version) at once, or ('requested', change request) when a floor is below the
    computed one. Raises ``FourEyesError('duplicate')`` when such a request is already waiting."""
    if not lowered(assessment, policy):
        return "saved", set_policy(db, client_id=client.client_id, data=data, actor=admin.username, now=now)
    current = current_row(db, client.client_id)
    payload = {
        "policy": dataclasses.asdict(data),
        "service_name": client.name,
        "base_version": current.version if current else None,
        "before": {"ial": current.min_ial, "aal": current.min_aal} if current else None,
        "after": {"ial": policy.min_ial.value, "aal": policy.min_aal.value},
        "computed": {"ial": assessment.ial.value, "aal": assessment.aal.value},
    }
    row = four_eyes.request_change(db, kind=KIND, target=client.client_id, payload=payload, requester=admin,
                                   now=now, ttl=ttl, reason=(data.justification or "").strip() or None)
    return "requested", row


def apply(db, request, approver, now: int) -> None:
    """Store the requested version as ``approver``; refused if the policy changed since the request."""
    payload = request.payload
    current = current_row(db, request.target)
    if (current.version if current else None) != payload.get("base_version"):
        raise PolicyChangeError(
            f"the policy of {request.target} changed since this request (version {payload.get('base_version')}, "
            f"now {current.version if current else None}); make the request again",
            code="changed_since", client_id=request.target)
    set_policy(db, client_id=request.target, data=PolicyInput(**payload["policy"]), actor=approver.username,
               now=now, requested_by=request.requested_by_name, change_id=request.id)


def describe(payload: dict, target: str, locale: str) -> str:
    before, after, computed = payload.get("before"), payload["after"], payload["computed"]
    changes = []
    for kind, key in (("IAL", "ial"), ("AAL", "aal")):
        if before and before[key] == after[key]:
            changes.append(t("chg_policy_same", locale, kind=kind, level=after[key]))
        else:
            changes.append(f"{kind} {before[key] if before else t('chg_policy_none', locale)} → {after[key]}")
    return t("chg_policy_lower", locale, name=payload.get("service_name") or target, client_id=target,
             changes=", ".join(changes), computed_ial=computed["ial"], computed_aal=computed["aal"])


def pending_view(db, client_id: str, *, now: int, locale: str) -> dict | None:
    """The lowering of ``client_id``'s floors waiting for a second admin, for the policy page
    (``console_changes_pending.html``), or None."""
    row = four_eyes.pending_for(db, kind=KIND, target=client_id, now=now)
    if row is None:
        return None
    return {"id": row.id, "description": four_eyes.describe(row, locale), "by": row.requested_by_name,
            "at": row.requested_at, "until": row.expires_at, "reason": row.reason}


four_eyes.register_kind(KIND, apply=apply, describe=describe)
