"""The route label of a request: the template it matched (``/interaction/{iid}/password``), never
the raw path, so that a metric has one series per route whatever ids or garbage are requested.

Names come from the app's own routes, so the set is closed: a path that matches none is ``other``.
Computed from the path alone (not from what routing put in the scope: a middleware inside may
copy the scope, and the token, introspection and discovery answers never reach routing). Paths
without parameters are one dictionary look-up; the others are matched against the templates that
share their first segment only.
"""

from __future__ import annotations

import re

from starlette.routing import compile_path

OTHER = "other"


class RouteNames:
    def __init__(self, routes=(), *, extra_paths=()) -> None:
        self.exact: dict[str, str] = {path: path for path in extra_paths}
        self.by_segment: dict[str, list[tuple[re.Pattern, str]]] = {}
        for template, pattern in templates(routes):
            if "{" not in template:
                self.exact.setdefault(template, template)
                continue
            self.by_segment.setdefault(_segment(template), []).append((compile_path(pattern)[0], template))
        self.names = frozenset(self.exact) | {name for group in self.by_segment.values() for _, name in group} | {OTHER}

    def name(self, path: str) -> str:
        found = self.exact.get(path)
        if found is not None:
            return found
        for group in (self.by_segment.get(_segment(path), ()), self.by_segment.get("{", ())):
            for regex, template in group:
                if regex.match(path):
                    return template
        return OTHER


def _segment(path: str) -> str:
    """The first segment of a path (``interaction`` of ``/interaction/{iid}``; a parameter: ``{``)."""
    head = path[1:].split("/", 1)[0]
    return "{" if head.startswith("{") else head


def templates(routes, prefix: str = ""):
    """(label, pattern) of every route, routers included through FastAPI (which keeps them as
    included routers with a prefix) flattened; a mount (static files) is one label for all below it."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from templates(included.routes, prefix + getattr(route.include_context, "prefix", ""))
            continue
        path = getattr(route, "path", None)
        if path is None:
            continue
        path = prefix + path
        if getattr(route, "endpoint", None) is None and getattr(route, "app", None) is not None:
            yield path.rstrip("/") + "/{path}", path.rstrip("/") + "/{path:path}"
        else:
            yield path, path
