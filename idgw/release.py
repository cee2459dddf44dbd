"""What an e-service receives about a person, decided in one place.

A *release* is the set of items an e-service may receive for one grant, each ``"<target>/<claim>"``
where the target is ``id_token`` or ``userinfo`` (introspection answers what userinfo would) and
a verified claim is written ``verified_claims.<claim>`` (OpenID Connect for Identity Assurance 1.0).

* ``plan`` decides the release from what the service asked (scopes, the ``claims`` parameter,
  OIDC Core §5.4 and §5.5) and what its policy allows; it is shown on the consent page, and the
  person agrees to exactly that (``covered`` tells whether an earlier consent already did).
* The release the person agreed to is stored with the authorization code and every token issued
  from it; ``claims_for`` turns it into values for the ID token, userinfo and introspection.
* The citizen ID needs both the service policy's legal basis (domain brief §4) and the
  ``citizen_id`` scope, in every token and response; it is re-checked against the current policy
  at release time, so withdrawing the legal basis stops it at once.
"""

from __future__ import annotations

from idgw.clock import iso_utc
from idgw.storage.models import Account
from policies import IAL, ServicePolicy

TRUST_FRAMEWORK = "th_dga_digital_id"  # DGA มรด. 1-1/1-2:2564
TARGETS = ("id_token", "userinfo")
SCOPE_CLAIMS = {
    "profile": ["name", "given_name", "family_name", "locale", "th_given_name", "th_family_name"],
    "email": ["email", "email_verified"],
    "citizen_id": ["citizen_id"],
}
#: claim -> the scope that also covers it
CLAIM_SCOPE = {claim: scope for scope, claims in SCOPE_CLAIMS.items() for claim in claims}
VERIFIED_CLAIM_NAMES = ["given_name", "family_name", "th_given_name", "th_family_name", "citizen_id"]
VERIFIED = "verified_claims."
#: Identity levels whose claims count as verified (IAL 1.2 and up).
VERIFIED_FROM = IAL("1.2")


def citizen_id_allowed(*, scopes: set[str], policy: ServicePolicy | None) -> bool:
    return "citizen_id" in scopes and bool(policy and policy.release_citizen_id)


def _requested_inner(member) -> list[str] | None:
    """The claims named inside a ``verified_claims`` request (IDA §6.3), or None when it names none."""
    if not isinstance(member, dict):
        return None
    inner = member.get("claims")
    if isinstance(inner, dict) and inner:
        return [name for name in inner if isinstance(name, str)]
    return None


def plan(*, scope: str, claims_request: dict | None, policy: ServicePolicy | None, verified: bool) -> tuple[str, ...]:
    """The release for a request: what its scopes name (in userinfo), the individual claims its
    ``claims`` parameter names (in the target it names), and ``verified_claims`` when the request
    asks for them or the policy releases them, for an identity proofed to IAL 1.2 or more
    (``verified``). Inside ``verified_claims`` only the claims the request names, or else those its
    scopes cover. The citizen ID only with the legal basis and the ``citizen_id`` scope."""
    scopes = set(scope.split())
    cid = citizen_id_allowed(scopes=scopes, policy=policy)
    items: set[str] = set()

    def allowed(claim: str) -> bool:
        return claim != "citizen_id" or cid

    for s in scopes:
        items |= {f"userinfo/{c}" for c in SCOPE_CLAIMS.get(s, []) if allowed(c)}
    by_scope = [c for c in VERIFIED_CLAIM_NAMES if CLAIM_SCOPE.get(c) in scopes and allowed(c)]
    for target in TARGETS:
        asked = (claims_request or {}).get(target) or {}
        for name in asked:
            if name in CLAIM_SCOPE and allowed(name):
                items.add(f"{target}/{name}")
        wants = "verified_claims" in asked or bool(policy and policy.release_verified_claims)
        if verified and wants:
            named = _requested_inner(asked.get("verified_claims"))
            inner = [c for c in (named if named is not None else by_scope) if c in VERIFIED_CLAIM_NAMES and allowed(c)]
            items |= {f"{target}/{VERIFIED}{c}" for c in inner}
    return tuple(sorted(items))


def scope_items(scope: str) -> set[str]:
    """What scopes alone grant (in userinfo), whoever asks."""
    return {f"userinfo/{c}" for s in scope.split() for c in SCOPE_CLAIMS.get(s, [])}


def covered(release: tuple[str, ...], *, consented_scope: str | None, consented_claims: list | None) -> bool:
    """Whether an earlier consent (its scopes, and the items it showed) covers ``release``."""
    agreed = scope_items(consented_scope or "") | set(consented_claims or [])
    return set(release) <= agreed


def is_verified(account: Account) -> bool:
    return IAL(account.ial) >= VERIFIED_FROM and account.ial_verified_at is not None


def _values(account: Account) -> dict:
    name = " ".join(p for p in (account.given_name, account.family_name) if p)
    values = {"name": name or None, "given_name": account.given_name, "family_name": account.family_name,
              "locale": account.locale, "th_given_name": account.given_name_th,
              "th_family_name": account.family_name_th, "email": account.email,
              "email_verified": bool(account.email_verified) if account.email else None,
              "citizen_id": account.citizen_id}
    return {k: v for k, v in values.items() if v is not None}


def claims_for(*, release, target: str, account: Account, scope: str, policy: ServicePolicy | None) -> dict:
    """The claim values for ``target`` (``id_token`` or ``userinfo``) from a stored release. The
    citizen ID is re-checked against the current policy and the grant's scopes."""
    prefix = f"{target}/"
    names = [item[len(prefix):] for item in (release or ()) if item.startswith(prefix)]
    if not names:
        return {}
    cid = citizen_id_allowed(scopes=set(scope.split()), policy=policy)
    values = _values(account)
    out: dict = {}
    inner: dict = {}
    for name in names:
        verified_claim = name.startswith(VERIFIED)
        claim = name[len(VERIFIED):] if verified_claim else name
        if (claim == "citizen_id" and not cid) or claim not in values:
            continue
        (inner if verified_claim else out)[claim] = values[claim]
    if inner and is_verified(account):
        out["verified_claims"] = {
            "verification": {"trust_framework": TRUST_FRAMEWORK, "assurance_level": account.ial,
                             "time": iso_utc(account.ial_verified_at),
                             "evidence": account.ial_evidence_detail or [
                                 {"type": "electronic_record",
                                  "check_details": [{"check_method": account.ial_evidence or "unknown"}]}]},
            "claims": inner,
        }
    return out


def describe(release: tuple[str, ...], *, scope: str) -> dict:
    """For the consent page: the individual claims beyond what the scopes name, and the verified
    claims, each as claim names (the page words them)."""
    scopes = set(scope.split())
    beyond = sorted({item.split("/", 1)[1] for item in release
                     if VERIFIED not in item and CLAIM_SCOPE.get(item.split("/", 1)[1]) not in scopes})
    verified = sorted({item.split(VERIFIED, 1)[1] for item in release if VERIFIED in item},
                      key=VERIFIED_CLAIM_NAMES.index)
    return {"extra": beyond, "verified": verified}
