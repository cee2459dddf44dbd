"""What delegation needs at run time, built once from the settings and hung on the gateway
(``gw.delegation``): the company registry client (None when not configured) and the Security
Event Token sender."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from idgw.delegation.events import SecurityEvents
from providers.dbd import DbdRegistry


@dataclass
class DelegationRuntime:
    registry: DbdRegistry | None
    events: SecurityEvents

    @classmethod
    def build(cls, settings, *, sessionmaker, provider, clock) -> DelegationRuntime:
        registry = (DbdRegistry(base_url=settings.company_registry_url, timeout=settings.company_registry_timeout)
                    if settings.company_registry_url else None)
        return cls(registry=registry, events=SecurityEvents(sessionmaker=sessionmaker, provider=provider, clock=clock))


def delegation_of(request: Request) -> DelegationRuntime:
    return request.app.state.gateway.delegation
