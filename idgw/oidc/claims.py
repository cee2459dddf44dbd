"""The ``claims`` request parameter (OIDC Core §5.5): parsing and the essential ``acr`` in it.
What is released for it is decided in ``idgw.release``."""

from __future__ import annotations

from idgw.jsontext import JSONTextError, loads


class ClaimsRequestError(ValueError):
    pass


def parse_claims_parameter(raw: str | None) -> dict | None:
    """The ``claims`` request parameter (OIDC Core §5.5): a JSON object with optional
    ``id_token`` and ``userinfo`` members, each an object."""
    if raw is None:
        return None
    try:
        value = loads(raw, max_bytes=4096, max_depth=8)
    except JSONTextError as exc:
        raise ClaimsRequestError(f"the claims parameter is {exc}" if "JSON" not in str(exc)
                                 else "the claims parameter is not valid JSON") from None
    if not isinstance(value, dict) or set(value) - {"id_token", "userinfo"}:
        raise ClaimsRequestError("the claims parameter must be an object with id_token and/or userinfo")
    for member in value.values():
        if not isinstance(member, dict) or not all(isinstance(v, dict | None) for v in member.values()):
            raise ClaimsRequestError("each claims member must map claim names to null or an object")
    return value


def requested_acr(claims: dict | None) -> tuple[list[str], bool]:
    """The acr values asked for in ``claims.id_token.acr`` (OIDC Core §5.5.1.1: ``value`` or
    ``values``) and whether they are essential."""
    acr = ((claims or {}).get("id_token") or {}).get("acr")
    if not isinstance(acr, dict):
        return [], False
    values = acr.get("values") if "values" in acr else ([acr["value"]] if "value" in acr else [])
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values) or len(values) > 20:
        raise ClaimsRequestError("claims.id_token.acr values must be a list of strings")
    essential = acr.get("essential", False)
    if not isinstance(essential, bool):
        raise ClaimsRequestError("claims.id_token.acr essential must be true or false")
    return values, essential
