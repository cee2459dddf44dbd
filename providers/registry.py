"""The explicit registry of upstream types, and start-up loading of the configured providers."""

from __future__ import annotations

from providers.base import ProviderConfigError, UpstreamProvider
from providers.ndid import NDIDUpstream
from providers.oidc import OIDCUpstream

# Issue 5: an explicit map from type name to class; nothing is discovered dynamically.
PROVIDER_TYPES: dict[str, type] = {"oidc": OIDCUpstream, "ndid": NDIDUpstream}


def load_providers(*, config: list[dict]) -> dict[str, UpstreamProvider]:
    """Build every configured upstream, keyed by its ``name``, in configuration order.

    Refuses (``ProviderConfigError`` naming the field, e.g. ``providers[1].client_secret: missing``)
    an unknown ``type``, a duplicate ``name`` or any invalid field. Does no network I/O.
    """
    if not isinstance(config, list):
        raise ProviderConfigError("providers: must be a list")
    loaded: dict[str, UpstreamProvider] = {}
    for index, entry in enumerate(config):
        where = f"providers[{index}]"
        if not isinstance(entry, dict):
            raise ProviderConfigError(f"{where}: must be a mapping")
        kind = entry.get("type")
        if kind is None:
            raise ProviderConfigError(f"{where}.type: missing")
        cls = PROVIDER_TYPES.get(kind) if isinstance(kind, str) else None
        if cls is None:
            raise ProviderConfigError(f"{where}.type: unknown provider type {kind!r}; "
                                      f"expected one of {', '.join(sorted(PROVIDER_TYPES))}")
        provider = cls(config=entry, where=where)
        if provider.name in loaded:
            raise ProviderConfigError(f"{where}.name: duplicate provider name {provider.name!r}")
        loaded[provider.name] = provider
    return loaded
