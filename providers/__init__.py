"""Upstream identity sources (ThaiD-style OIDC, NDID) and their protocol-faithful simulators.

A leaf package: imports nothing from idgw, policies or face_check. The contract lives in
``providers.base``; ``providers.registry.load_providers`` builds the configured upstreams;
``providers.simulators`` holds the ThaiD-style and NDID-style simulators. Importing this package
loads nothing else (the names below are resolved on first use).
"""

from __future__ import annotations

from typing import Any

_LAZY = {
    "UpstreamIdentity": "providers.base", "Redirect": "providers.base", "Pending": "providers.base",
    "UpstreamError": "providers.base", "ProviderConfigError": "providers.base",
    "UpstreamProvider": "providers.base", "valid_citizen_id": "providers.base",
    "PROVIDER_TYPES": "providers.registry", "load_providers": "providers.registry",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'providers' has no attribute {name!r}")
