"""Layers outside FastAPI's own.

FastAPI (0.16x) wraps the application's middleware in three layers of its own: Starlette's
``ServerErrorMiddleware``, ``ExceptionTelemetryMiddleware`` and ``AppBodyLimitMiddleware``, each a
coroutine and a wrapped ``send`` on every request. For the documents answered from memory
(discovery, JWKS: ``idgw.app.WellKnownDocuments``) those layers were a tenth of the request's CPU,
and the layer that gives every request its id and access line (``idgw.observe``) belongs outside
them anyway: a 500 that ``ServerErrorMiddleware`` sends then carries the request id too, and is
counted with its status.

``outermost`` puts a middleware there. The layers added by ``add_middleware`` stay where they
were, inside FastAPI's; the outer ones run in the order they were added, the first outermost.
"""

from __future__ import annotations


def outermost(app, cls, **options) -> None:
    """Wrap ``app``'s whole middleware stack, FastAPI's own layers included, in ``cls(**options)``
    (inside the outer layers added before it). Before the first request, as ``add_middleware``."""
    if app.middleware_stack is not None:
        raise RuntimeError("cannot add a middleware after the application has started")
    layers = getattr(app, "_idgw_outer", None)
    if layers is None:
        layers = app._idgw_outer = []
        build = app.build_middleware_stack

        def build_with_outer():
            stack = build()
            for outer_cls, outer_options in reversed(layers):
                stack = outer_cls(stack, **outer_options)
            return stack

        app.build_middleware_stack = build_with_outer
    layers.append((cls, options))
