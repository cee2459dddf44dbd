"""Live health checks of the configured upstreams, all at once, each request with a timeout.

- OpenID Connect (ThaiD-style): the discovery document is reachable and a JSON object, it names the
  configured issuer, its ``jwks_uri`` is reachable and holds keys that parse (fetched now, not the
  connector's cache).
- NDID: the RP node's API answers its IdP list (``GET /utility/idp``, the cheapest call the
  connector makes, ``providers.ndid``) and the IdPs of ``idp_id_list`` are registered there.

A check that fails says which step and why (a ``problem`` code with parameters, worded by
``idgw.console.upstreams_texts``); the steps after it are skipped. The checks only read: the
connectors' caches are left alone, and no secret is sent or shown (OIDC discovery and JWKS are
public; the NDID IdP list needs no credentials).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import httpx
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

HEALTH_TIMEOUT = 3.0
MAX_DOCUMENT = 512 * 1024


@dataclass(frozen=True)
class Check:
    """One step: ``status`` ok | failed | skipped; ``problem``: why it failed (unreachable,
    timeout, http, not_json, issuer, no_jwks_uri, no_keys, no_idps, idps_missing, too_large)
    with ``params``; for an ok step ``params`` says what was found."""

    step: str
    status: str
    problem: str | None = None
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Health:
    name: str
    kind: str
    ok: bool
    checks: tuple[Check, ...]
    seconds: float
    checked_at: int


class _Failed(Exception):
    def __init__(self, problem: str, **params) -> None:
        super().__init__(problem)
        self.problem = problem
        self.params = params


async def _get_json(http: httpx.AsyncClient, url: str, *, timeout: float):
    """The JSON document at ``url`` or ``_Failed`` saying why not."""
    try:
        response = await http.get(url, headers={"Accept": "application/json"}, timeout=timeout)
    except httpx.TimeoutException:
        raise _Failed("timeout", seconds=f"{timeout:g}") from None
    except httpx.TransportError as exc:
        raise _Failed("unreachable", error=type(exc).__name__) from None
    if response.status_code != 200:
        raise _Failed("http", status=response.status_code)
    if len(response.content) > MAX_DOCUMENT:
        raise _Failed("too_large")
    try:
        return response.json()
    except ValueError:
        raise _Failed("not_json") from None


async def _steps(steps: list[str], run) -> tuple[Check, ...]:
    """Run ``run(done)`` which appends ok checks to ``done``; a ``_Failed`` fails the next step and
    skips the rest."""
    done: list[Check] = []
    try:
        await run(done)
    except _Failed as exc:
        done.append(Check(steps[len(done)], "failed", exc.problem, exc.params))
    done.extend(Check(step, "skipped") for step in steps[len(done):])
    return tuple(done)


OIDC_STEPS = ["discovery", "issuer", "jwks", "keys"]
NDID_STEPS = ["node", "idps"]


async def check_oidc(upstream, http: httpx.AsyncClient, *, timeout: float, now: int) -> tuple[Check, ...]:
    async def run(done: list[Check]) -> None:
        url = upstream.issuer + "/.well-known/openid-configuration"
        metadata = await _get_json(http, url, timeout=timeout)
        if not isinstance(metadata, dict):
            raise _Failed("not_json")
        done.append(Check("discovery", "ok", params={"url": url}))
        if metadata.get("issuer") != upstream.issuer:
            raise _Failed("issuer", got=str(metadata.get("issuer"))[:200], want=upstream.issuer)
        done.append(Check("issuer", "ok", params={"issuer": upstream.issuer}))
        jwks_uri = metadata.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not jwks_uri.startswith(("https://", "http://")):
            raise _Failed("no_jwks_uri")
        document = await _get_json(http, jwks_uri, timeout=timeout)
        done.append(Check("jwks", "ok", params={"url": jwks_uri}))
        try:
            keys = KeySet.import_key_set(document)  # type: ignore[arg-type]
        except (JoseError, KeyError, TypeError, ValueError, AttributeError):
            raise _Failed("no_keys") from None
        signing = [k for k in keys.keys if k.get("use") in (None, "sig")]
        if not signing:
            raise _Failed("no_keys")
        done.append(Check("keys", "ok", params={"n": len(signing), "at": now}))

    return await _steps(OIDC_STEPS, run)


async def check_ndid(upstream, http: httpx.AsyncClient, *, timeout: float, now: int) -> tuple[Check, ...]:
    async def run(done: list[Check]) -> None:
        listed = await _get_json(http, upstream.api_base + "/utility/idp", timeout=timeout)
        if not isinstance(listed, list):
            raise _Failed("not_json")
        ids = {e.get("node_id") for e in listed if isinstance(e, dict) and isinstance(e.get("node_id"), str)}
        done.append(Check("node", "ok", params={"n": len(ids)}))
        wanted = list(upstream.idp_id_list)
        missing = [i for i in wanted if i not in ids]
        if missing:
            raise _Failed("idps_missing", ids=", ".join(missing))
        if not ids:
            raise _Failed("no_idps")
        done.append(Check("idps", "ok", params={"ids": ", ".join(wanted) if wanted else "", "n": len(ids)}))

    return await _steps(NDID_STEPS, run)


CHECKS = {"oidc": check_oidc, "ndid": check_ndid}


async def check_one(upstream, http: httpx.AsyncClient, *, timeout: float, now: int) -> Health:
    started = time.monotonic()
    check = CHECKS.get(upstream.type)
    steps = OIDC_STEPS if upstream.type == "oidc" else NDID_STEPS
    if check is None:
        checks: tuple[Check, ...] = (Check("node", "failed", "unknown_kind"),)
    else:
        try:  # a guard over the whole upstream: every request has its own timeout already
            checks = await asyncio.wait_for(check(upstream, http, timeout=timeout, now=now),
                                            timeout=timeout * len(steps) + 1)
        except TimeoutError:
            checks = (Check(steps[0], "failed", "timeout", {"seconds": f"{timeout:g}"}),
                      *(Check(s, "skipped") for s in steps[1:]))
    return Health(name=upstream.name, kind=upstream.type, ok=all(c.status == "ok" for c in checks), checks=checks,
                  seconds=round(time.monotonic() - started, 3), checked_at=now)


async def check_all(upstreams: dict, *, now: int, timeout: float = HEALTH_TIMEOUT,
                    transport: httpx.AsyncBaseTransport | None = None) -> list[Health]:
    """Every upstream checked concurrently, in configuration order."""
    async with httpx.AsyncClient(transport=transport, follow_redirects=False) as http:
        return list(await asyncio.gather(*(check_one(u, http, timeout=timeout, now=now)
                                           for u in upstreams.values())))
