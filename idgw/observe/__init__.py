"""Observability of a running gateway: Prometheus metrics, structured logs with a request id, and
the trusted-proxy headers they depend on (docs/operations.md). ``install(app, gw)`` adds what a
process needs to the app, as its outermost middleware.

- ``forwarded``: which proxies are believed (IDGW_TRUSTED_PROXIES) and what is taken from them;
- ``routes``: a request's route template, the one label metrics and access lines use for a path;
- ``metrics``: the metrics, counted from requests and from committed audit events;
- ``logs``: JSON or text log lines, the request id in each, everything redacted;
- ``middleware``: the ASGI middleware that ties them together and answers ``/metrics``.
"""

from __future__ import annotations

import os


def install(app, gw) -> None:
    """Count ``app``'s requests and ``gw``'s committed audit events, and wrap ``app`` in the
    middleware, outside FastAPI's own layers (``idgw.outer``; idgw.app adds it first of those, so
    it is the outermost one).

    Imported here, not at the package's import: ``idgw serve`` reads idgw.observe.logs before it
    decides on multiprocess mode, and prometheus_client fixes its mode when first imported."""
    from idgw.audit import sinks as audit_sinks
    from idgw.observe.forwarded import TrustedProxies
    from idgw.observe.metrics import MULTIPROC_ENV, Metrics, ProofingQueue, forget_dead_workers
    from idgw.observe.middleware import METRICS_PATH, Observe
    from idgw.observe.routes import RouteNames
    from idgw.oidc.provider import ENDPOINT_PATHS
    from idgw.outer import outermost
    from idgw.storage.db import pools

    settings = gw.settings
    multiprocess_dir = os.environ.get(MULTIPROC_ENV) or None
    if multiprocess_dir:
        forget_dead_workers(multiprocess_dir)  # live gauges of workers that died before this one started
    metrics = Metrics(upstreams=gw.upstreams, proofing=ProofingQueue(gw.sessionmaker, gw.clock),
                      multiprocess_dir=multiprocess_dir)
    audit_sinks.listen(gw.engine, metrics.on_audit)
    metrics.watch_pools(pools(gw.engine))
    routes = RouteNames(app.routes, extra_paths=(*ENDPOINT_PATHS.values(), "/.well-known/openid-configuration",
                                                 METRICS_PATH))
    app.state.metrics = metrics
    app.state.route_names = routes  # the closed set of route labels (tests, dashboards)
    outermost(app, Observe, trusted=TrustedProxies(settings.trusted_proxies), metrics=metrics, routes=routes,
                       metrics_token=settings.metrics_token)
