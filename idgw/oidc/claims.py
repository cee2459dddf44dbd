"""Claims released to e-services: userinfo by scope (OIDC Core §5.4) and ``verified_claims``
(OpenID Connect for Identity Assurance 1.0) for identities proofed to IAL 1.2 or higher."""

from __future__ import annotations

import json

from idgw.storage.models import Account, Client
from policies import IAL, ServicePolicy

TRUST_FRAMEWORK = "th_dga_digital_id"  # DGA มรด. 1-1/1-2:2564
VERIFIED_CLAIM_NAMES = ["given_name", "family_name", "th_given_name", "th_family_name", "citizen_id"]
SCOPE_CLAIMS = {
    "profile": ["name", "given_name", "family_name", "locale", "th_given_name", "th_family_name"],
    "email": ["email", "email_verified"],
    "citizen_id": ["citizen_id"],
}


class ClaimsRequestError(ValueError):
    pass


def parse_claims_parameter(raw: str | None) -> dict | None:
    """The ``claims`` request parameter (OIDC Core §5.5): a JSON object with optional
    ``id_token`` and ``userinfo`` members, each an object."""
    if raw is None:
        return None
    if len(raw) > 4096:
        raise ClaimsRequestError("the claims parameter is too long")
    try:
        value = json.loads(raw)
    except ValueError:
        raise ClaimsRequestError("the claims parameter is not valid JSON") from None
    if not isinstance(value, dict) or set(value) - {"id_token", "userinfo"}:
        raise ClaimsRequestError("the claims parameter must be an object with id_token and/or userinfo")
    for member in value.values():
        if not isinstance(member, dict) or not all(isinstance(v, dict | None) for v in member.values()):
            raise ClaimsRequestError("each claims member must map claim names to null or an object")
    return value


def essential_acr(claims: dict | None) -> list[str] | None:
    """acr values the client marked essential in ``claims.id_token.acr`` (OIDC Core §5.5.1.1)."""
    acr = ((claims or {}).get("id_token") or {}).get("acr")
    if not isinstance(acr, dict) or not acr.get("essential"):
        return None
    values = acr.get("values") or ([acr["value"]] if "value" in acr else [])
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ClaimsRequestError("claims.id_token.acr values must be strings")
    return values


def wants_verified_claims(claims: dict | None, where: str) -> bool:
    return isinstance(claims, dict) and "verified_claims" in (claims.get(where) or {})


def verified_claims(account: Account, *, release_citizen_id: bool) -> dict | None:
    """The IDA structure for an account proofed to IAL ≥ 1.2, else None."""
    if IAL(account.ial) < IAL("1.2") or account.ial_verified_at is None:
        return None
    values = {"given_name": account.given_name, "family_name": account.family_name,
              "th_given_name": account.given_name_th, "th_family_name": account.family_name_th}
    if release_citizen_id and account.citizen_id:
        values["citizen_id"] = account.citizen_id
    return {
        "verification": {"trust_framework": TRUST_FRAMEWORK, "assurance_level": account.ial,
                         "time": account.ial_verified_at,
                         "evidence": [{"type": "electronic_record", "check_details": [
                             {"check_method": account.ial_evidence or "unknown"}]}]},
        "claims": {k: v for k, v in values.items() if v},
    }


def userinfo_claims(*, subject: str, account: Account, client: Client, scope: str, policy: ServicePolicy | None,
                    claims_request: dict | None) -> dict:
    """Claims released for ``scope``: only what was consented to, and the citizen ID only when
    the service's policy records a legal basis for it (shared/docs/domain.md §4)."""
    scopes = set(scope.split())
    out: dict = {"sub": subject}
    if "profile" in scopes:
        name = " ".join(p for p in (account.given_name, account.family_name) if p)
        values = {"name": name or None, "given_name": account.given_name, "family_name": account.family_name,
                  "locale": account.locale, "th_given_name": account.given_name_th,
                  "th_family_name": account.family_name_th}
        out.update({k: v for k, v in values.items() if v})
    if "email" in scopes and account.email:
        out.update(email=account.email, email_verified=bool(account.email_verified))
    release_cid = bool(policy and policy.release_citizen_id)
    if "citizen_id" in scopes and account.citizen_id and release_cid:
        out["citizen_id"] = account.citizen_id
    if policy and (policy.release_verified_claims or wants_verified_claims(claims_request, "userinfo")):
        vc = verified_claims(account, release_citizen_id=release_cid and "citizen_id" in scopes)
        if vc:
            out["verified_claims"] = vc
    return out
