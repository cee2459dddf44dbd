"""Routing by the path's first segment (idgw.route_index): every request reaches the route, the
404, the 405 or the trailing-slash redirect that FastAPI's own walk over every route gives."""

import re

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from starlette.routing import Mount

from idgw import route_index
from idgw.route_index import WILD, RouteIndex, build_index, first_segment, route_segments
from tests.conftest import start_gateway


@pytest.fixture
def running(tmp_path):
    gw = start_gateway(f"sqlite:///{tmp_path}/routes.db", rate_per_ip=10**9)
    yield gw
    gw.stop()
    gw.gw.engine.dispose()


def _paths(app) -> list[str]:
    """Every registered path with its parameters filled in, a trailing-slash variant of each, and
    paths no route has."""
    found = set()
    for route in app.router.routes:
        contexts = route.effective_route_contexts() if hasattr(route, "effective_route_contexts") else [route]
        for c in contexts:
            inner = getattr(c, "starlette_route", None)
            path = getattr(inner, "path_format", None) or getattr(c, "path_format", None) or getattr(c, "path", None)
            if path:
                found.add(re.sub(r"\{[^}]+\}", "x1", path))
    paths = sorted(found)
    paths += [p + "/" for p in paths if not p.endswith("/")]
    paths += [p.rstrip("/") for p in paths if p.endswith("/") and p != "/"]
    return paths + ["/nothing-here", "/admin/nothing", "/interaction/x1/nothing", "/Authorize", "/static/nothing.css",
                    "/%2e%2e/admin", "//authorize"]


def _answers(url: str, paths: list[str]) -> dict:
    out = {}
    with httpx.Client(base_url=url, follow_redirects=False, timeout=10) as client:
        for path in paths:
            for method in ("GET", "HEAD", "PUT", "DELETE"):
                r = client.request(method, path)
                out[method, path] = (r.status_code, r.headers.get("location"), r.headers.get("allow"),
                                     r.headers.get("content-type", "").split(";")[0])
    return out


def test_every_path_is_answered_as_by_fastapis_own_routing(running):
    """The same status, redirect and Allow header for every route (GET, HEAD and two methods no
    page takes), with the index and with FastAPI's walk over every route."""
    router = running.app.router
    assert isinstance(router.middleware_stack, RouteIndex)
    paths = _paths(running.app)
    assert len(paths) > 200
    indexed = _answers(running.url, paths)
    router.middleware_stack = router.app  # FastAPI's own walk
    walked = _answers(running.url, paths)
    assert indexed == walked
    statuses = {v[0] for v in indexed.values()}
    assert {200, 404, 405} <= statuses  # the comparison covered pages, missing paths and wrong methods
    assert any(v[0] in (307, 308) for v in indexed.values())  # and a trailing-slash redirect


def test_a_route_added_later_is_found(running):
    app = running.app
    httpx.get(running.url + "/healthz")  # the index is built
    app.add_api_route("/added-later", lambda: PlainTextResponse("here"), methods=["GET"])
    r = httpx.get(running.url + "/added-later")
    assert (r.status_code, r.text) == (200, "here")


def test_segments_of_routes():
    assert first_segment("/interaction/abc/login") == "interaction"
    assert first_segment("/") == "" and first_segment("/healthz") == "healthz"
    app = FastAPI()
    app.add_api_route("/a/{x}", lambda x: x)
    app.add_api_route("/{anything}", lambda anything: anything)
    app.add_api_route("/", lambda: "home")
    assert [route_segments(r) for r in app.router.routes[-3:]] == [{"a"}, {WILD}, {""}]
    assert route_segments(Mount("/static", app=FastAPI())) == {"static"}
    assert route_segments(Mount("", app=FastAPI())) == {WILD}


def test_the_index_keeps_the_order_and_the_wildcards():
    app = FastAPI()
    for path in ("/b/one", "/{p}", "/a/one", "/b/two"):
        app.add_api_route(path, lambda: "x")
    routes = app.router.routes[-4:]
    index, rest = build_index(routes)
    assert [r.path for r in index["b"]] == ["/b/one", "/{p}", "/b/two"]
    assert [r.path for r in index["a"]] == ["/{p}", "/a/one"]
    assert [r.path for r in rest] == ["/{p}"]


def test_not_installed_over_another_layer():
    """A router whose stack is not its plain app (a body limit layer) keeps FastAPI's walk."""
    app = FastAPI()
    app.router.middleware_stack = lambda scope, receive, send: None
    assert route_index.install(app) is False
    assert route_index.install(FastAPI()) is True
