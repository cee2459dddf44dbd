"""Routing by the path's first segment, ahead of FastAPI's route-by-route matching.

FastAPI (0.16x) finds a request's route by trying every included router in order, and each
router tries its routes one by one (a regular expression each), twice: once to pick the router,
once to pick the route inside it. With the ~190 routes of the gateway that walk was most of a
late route's cost: ``/healthz``, included last, answered 2,600 requests/s against 12,600/s for
discovery, which is answered ahead of routing (measured with wrk, one process).

``install`` gives the application's router a dispatcher that first looks up the request path's
first segment (``authorize``, ``interaction``, ``admin`` ...) and lets FastAPI's own matching
run over only the top-level routes that have a path beginning with it, in their original order.
A route whose first segment is not a plain word (a parameter, a mount at the root) is a
candidate for every path. The order, the 404/405 answers and the trailing-slash redirects are
FastAPI's own, over that list: a route left out could not have matched the path.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable

from starlette.routing import Mount

WILD = object()  # a route that may match any first segment


def first_segment(path: str) -> str:
    """'/interaction/abc/login' -> 'interaction'; '/' and '' -> ''."""
    return path[1:].partition("/")[0] if path.startswith("/") else path.partition("/")[0]


def route_segments(route) -> set:
    """The first segments a top-level route can match, or {WILD}."""
    if isinstance(route, Mount):
        paths: Iterable[str | None] = [route.path]
    elif hasattr(route, "effective_route_contexts"):  # an included router (fastapi._IncludedRouter)
        paths = [getattr(c.starlette_route, "path_format", None) or getattr(c, "path_format", None)
                 for c in route.effective_route_contexts()]
    else:
        paths = [getattr(route, "path_format", None)]
    out: set = set()
    for path in paths:
        segment = first_segment(path) if path else None  # '/' -> '' (the home page); a root mount: None
        if segment is None or (not segment and path != "/") or "{" in segment or ":" in segment:
            return {WILD}
        out.add(segment)
    return out or {WILD}


def build_index(routes: list) -> tuple[dict[str, list], list]:
    """segment -> the ordered top-level routes that may match a path beginning with it; and the
    list for a segment no route names (only the wildcard routes)."""
    sets = [route_segments(r) for r in routes]
    named = {s for segs in sets for s in segs if s is not WILD}
    index = {seg: [r for r, segs in zip(routes, sets, strict=True) if seg in segs or WILD in segs] for seg in named}
    return index, [r for r, segs in zip(routes, sets, strict=True) if WILD in segs]


class RouteIndex:
    """The router's dispatcher (``router.middleware_stack``): FastAPI's router ``app`` run on a
    shallow copy of the router that holds only the candidate routes for the path's first segment.
    The real router stays ``scope["router"]`` (url_for sees every route). The index is rebuilt if
    a route is added after it was made."""

    def __init__(self, router) -> None:
        self.router = router
        self._built_for: int = -1
        self._views: dict[str, object] = {}
        self._rest = router

    def _build(self) -> None:
        routes = list(self.router.routes)
        index, rest = build_index(routes)
        self._views = {seg: self._view(rs) for seg, rs in index.items()}
        self._rest = self._view(rest)
        self._built_for = len(routes)

    def _view(self, routes: list):
        view = copy.copy(self.router)
        view.routes = routes
        return view

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan" or scope.get("root_path"):
            return await self.router.app(scope, receive, send)
        if self._built_for != len(self.router.routes):
            self._build()
        scope.setdefault("router", self.router)
        view = self._views.get(first_segment(scope["path"]), self._rest)
        return await view.app(scope, receive, send)


def install(app) -> bool:
    """Give ``app``'s router the first-segment dispatcher; False (FastAPI's own walk kept) when
    the router's stack is not its plain ``app`` (a body limit layer, a later FastAPI)."""
    router = app.router
    if getattr(router, "middleware_stack", None) != router.app:
        return False
    router.middleware_stack = RouteIndex(router)
    return True
