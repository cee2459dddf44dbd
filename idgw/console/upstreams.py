"""What the upstreams page shows: each configured identity source (``gw.upstreams``, loaded from
``IDGW_PROVIDERS_FILE`` by ``idgw.upstream.load_upstreams``) with its kind, the levels it asserts,
its settings with every secret masked, the services whose policy accepts it (a policy's
``allowed_providers``: None means any upstream), and what is wrong with the configuration.

The configuration stays in the file: nothing here changes it. A file that no longer loads stops
the next start, so it is reported (``file_invalid``) along with problems the loader accepts but an
operator should fix: a policy naming an upstream that is not configured, an upstream no service
accepts, plain HTTP off loopback, an OIDC upstream whose ``max_ial`` is above what its
``ial_mapping`` can give. Each problem is a code with parameters (worded by
``idgw.console.upstreams_texts``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from sqlalchemy import select

from idgw.assurance import current_policy
from idgw.storage.models import Client
from idgw.upstream import UpstreamSetupError, load_upstreams
from providers.base import IAL_LEVELS

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
MASK = "••••••••"


@dataclass(frozen=True)
class Problem:
    code: str
    params: dict = field(default_factory=dict)
    upstream: str | None = None  # the upstream it concerns (None: the file or a service)


@dataclass(frozen=True)
class Service:
    client_id: str
    name: str
    any_upstream: bool  # its policy names no upstream: every configured one is accepted
    disabled: bool


def settings_of(upstream) -> list[tuple[str, str]]:
    """(field, value) of the upstream's configuration as loaded; secrets masked."""
    if upstream.type == "oidc":
        return [("issuer", upstream.issuer), ("client_id", upstream.client_id), ("client_secret", MASK),
                ("scope", upstream.scope), ("claim_mapping.citizen_id", upstream.claim_mapping["citizen_id"]),
                ("acr_values_map", ", ".join(f"{k} → {v}" for k, v in upstream.acr_values_map.items()) or "—"),
                ("amr", ", ".join(upstream.amr) or "—"), ("timeout_seconds", f"{upstream.timeout:g}"),
                ("max_clock_skew", str(upstream.max_clock_skew))]
    if upstream.type == "ndid":
        return [("api_base", upstream.api_base), ("namespace", upstream.namespace),
                ("mode", str(upstream.request_mode)), ("idp_id_list", ", ".join(upstream.idp_id_list) or "—"),
                ("min_idp", str(upstream.min_idp)), ("request_timeout", str(upstream.request_timeout)),
                ("node_id", upstream.node_id or "—"), ("amr", ", ".join(upstream.amr) or "—"),
                ("timeout_seconds", f"{upstream.timeout:g}")]
    return []


def levels_of(upstream) -> dict:
    """The levels the upstream asserts: ``max_ial``/``max_aal`` (what it is offered for) and, for
    OIDC, the ``ial`` claim's mapping (the AAL is configuration: ThaiD publishes none)."""
    max_ial, max_aal = upstream.levels_offered()
    levels = {"max_ial": max_ial, "max_aal": max_aal}
    if upstream.type == "oidc":
        levels["ial_mapping"] = sorted(upstream.ial_mapping.items(), key=lambda kv: IAL_LEVELS.index(kv[1]))
        levels["trusted_aal"] = upstream.trusted_aal
    return levels


def services(db) -> list[tuple[Service, frozenset | None]]:
    """Every e-service with the upstreams its current policy allows (None: any)."""
    out = []
    for client in db.scalars(select(Client).order_by(Client.name, Client.client_id)):
        policy = current_policy(db, client.client_id)
        allowed = policy.allowed_providers if policy is not None else None
        out.append((Service(client_id=client.client_id, name=client.name, any_upstream=allowed is None,
                            disabled=client.disabled_at is not None), allowed))
    return out


def accepting(upstreams: dict, listed: list[tuple[Service, frozenset | None]]) -> dict[str, list[Service]]:
    """Upstream name → the services that accept it."""
    return {name: [s for s, allowed in listed if allowed is None or name in allowed] for name in upstreams}


def _plain_http(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "http" and parts.hostname not in LOOPBACK


def problems(upstreams: dict, listed: list[tuple[Service, frozenset | None]], *, providers_file: str,
             load=load_upstreams) -> list[Problem]:
    """What is wrong with the configuration (the running one, and the file as it is now)."""
    found: list[Problem] = []
    if providers_file:
        try:
            now_in_file = load(providers_file)
        except UpstreamSetupError as exc:
            found.append(Problem("file_invalid", {"path": providers_file, "error": str(exc)[:500]}))
        else:
            if {n: u.type for n, u in now_in_file.items()} != {n: u.type for n, u in upstreams.items()}:
                found.append(Problem("file_changed", {"path": providers_file,
                                                      "names": ", ".join(now_in_file) or "—"}))
    for service, allowed in listed:
        for name in sorted((allowed or frozenset()) - set(upstreams)):
            found.append(Problem("unknown_upstream", {"service": service.name, "client_id": service.client_id,
                                                      "name": name}))
    accepted = accepting(upstreams, listed)
    for name, upstream in upstreams.items():
        if listed and not accepted[name]:
            found.append(Problem("unused", {"name": name}, upstream=name))
        url = upstream.issuer if upstream.type == "oidc" else getattr(upstream, "api_base", "")
        if url and _plain_http(url):
            found.append(Problem("plain_http", {"name": name, "url": url}, upstream=name))
        if upstream.type == "oidc":
            highest = max(upstream.ial_mapping.values(), key=IAL_LEVELS.index)
            if IAL_LEVELS.index(upstream.max_ial) > IAL_LEVELS.index(highest):
                found.append(Problem("max_ial_unmapped", {"name": name, "max_ial": upstream.max_ial,
                                                          "highest": highest}, upstream=name))
    return found
