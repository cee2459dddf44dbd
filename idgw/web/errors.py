"""Answers for requests no handler should see, in each endpoint's own format: a Thai/English page
for people, JSON for machines (security review item 17: the back-channel endpoints never answer
HTML, and nothing a client sends is answered with a bare 500)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

#: Paths called by e-services, platforms and scripts rather than people.
MACHINE_PREFIXES = ("/token", "/introspect", "/revoke", "/userinfo", "/jwks.json", "/.well-known/",
                    "/webauthn/", "/openapi.json")


def machine_path(path: str) -> bool:
    return path.startswith(MACHINE_PREFIXES) or ("/ndid-callback/" in path and path.startswith("/upstream/"))


def _json(status: int, error: str, description: str) -> Response:
    return JSONResponse({"error": error, "error_description": description}, status_code=status,
                        headers={"Cache-Control": "no-store"})


def nul_refused(pages):
    """For ``idgw.httpio.RejectNul``: 400 invalid_request."""

    async def answer(scope) -> Response:
        if machine_path(scope.get("path", "")):
            return _json(400, "invalid_request", "the request contains a NUL character")
        return pages.error(Request(scope), "err_invalid_request", code="invalid_request: NUL character",
                           status=400)

    return answer


def http_error(pages):
    """Starlette's own refusals (404: no route; 405: a route without this method), which FastAPI
    answers with ``{"detail": ...}`` JSON everywhere, in the endpoint's own format: a page for
    people, the OAuth error JSON for machines; their headers (``Allow``) are kept. Found by
    tests/security/test_fuzz.py (e.g. POST /interaction//login)."""

    async def handler(request: Request, exc: StarletteHTTPException) -> Response:
        status = exc.status_code
        if machine_path(request.url.path):
            response = _json(status, "not_found" if status == 404 else "invalid_request", str(exc.detail))
        else:
            response = pages.error(request, "err_not_found" if status == 404 else "err_invalid_request",
                                   code=str(exc.detail), status=status)
        response.headers.update(exc.headers or {})
        return response

    return handler


def unexpected(pages):
    """The last resort for an exception no handler expected: answered 500 without detail (a page
    or JSON), so the client learns nothing of the internals. (Starlette's server-error layer still
    re-raises it afterwards, so the server logs the traceback once.)"""

    async def handler(request: Request, exc: Exception) -> Response:
        if machine_path(request.url.path):
            return _json(500, "server_error", "an unexpected error occurred")
        return pages.error(request, "err_unexpected", code="server_error", status=500)

    return handler
