"""Reading request bodies: the one way every handler does it.

A body is read as it streams in and refused as soon as it passes its cap: a valid
``Content-Length`` above the cap is refused before a byte is read (so no ``100 Continue`` goes
out), and otherwise (chunked uploads) the bytes are counted as they arrive. The whole body must
arrive within ``timeout`` seconds and each piece within ``chunk_timeout``. Nothing is parsed
before the whole body is in. (Security review items 16 and 19: bodies were read whole into memory
before any size check, with no deadline.)

Refusals are typed, each carrying the HTTP status to answer with and a reason ``code``:

* ``BodyTooLargeError`` 413, ``BodyTimeoutError`` 408, ``InvalidContentLengthError`` 400,
  ``UnsupportedMediaTypeError`` 415, ``InvalidFormError`` 400 (not UTF-8, too many fields);
* ``ClientDisconnectedError`` (``status`` None): the client went away mid-body, nothing is to be
  answered. It is logged here, at INFO, in one line.

In the FastAPI app one exception handler (``Pages.body_refused``, registered in ``idgw.app``)
answers them for every route, with the error page, the refusal's status and ``Connection:
close``, so a route may simply let them propagate; a route that answers in its own format
(``/webauthn/options``: JSON) catches ``BodyError`` itself. Raw ASGI code
(``idgw.oidc.endpoints``) uses ``receive_body`` and answers them itself.

Use, in a Starlette/FastAPI route (this is also how ``idgw.web.ndid_pages`` reads the NDID
callback's JSON)::

    from idgw.httpio import BodyError, read_body

    body = await read_body(request, limit=64 * 1024, timeout=gw.settings.body_timeout)
    # or, to answer a refusal yourself:
    try:
        body = await read_body(request, limit=64 * 1024, timeout=gw.settings.body_timeout)
    except BodyError as exc:
        if exc.status is None:
            raise                      # the client is gone; the app's handler ends it quietly
        return Response(status_code=exc.status, headers={"Connection": "close"})

For page forms use ``read_form`` (through ``Pages.read_form``). Never call ``request.body()``,
``request.form()`` or ``request.json()`` in the gateway: they read without a cap or a deadline.

The limits on the request head (size, time) are the server's: ``idgw.server``.
"""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import parse_qsl

from starlette.responses import JSONResponse

from idgw import jsontext

log = logging.getLogger("idgw.http")

CHUNK_TIMEOUT = 5.0  # seconds one piece of a body may take to arrive (capped by the whole-body timeout)
MAX_FORM_FIELDS = 100
# Caps of two JSON/form bodies that people's pages take and the OpenAPI document states (idgw.oidc.openapi):
NDID_CALLBACK_MAX = 64 * 1024  # an NDID platform callback (sign-in and delegation approvals)
PASSKEY_OPTIONS_MAX = 2048  # {"purpose": "register|login|stepup|enrol", "context": ...}
FORM = "application/x-www-form-urlencoded"


class BodyError(Exception):
    """A request body that is not read to the end. ``status``: the HTTP answer (None: answer
    nothing, the client is gone); ``code``: a snake_case reason for logs and error pages."""

    status: int | None = 400
    code = "invalid_body"


class InvalidJSONError(BodyError):
    """A body read to the end that is not acceptable JSON (``idgw.jsontext.loads``: not UTF-8, not
    JSON, or nested too deep); the message says why (safe to show)."""

    code = "invalid_json"


class BodyTooLargeError(BodyError):
    status = 413
    code = "body_too_large"


class BodyTimeoutError(BodyError):
    status = 408
    code = "body_timeout"


class InvalidContentLengthError(BodyError):
    status = 400
    code = "invalid_content_length"


class UnsupportedMediaTypeError(BodyError):
    status = 415
    code = "unsupported_media_type"


class InvalidFormError(BodyError):
    status = 400
    code = "invalid_form"


class ClientDisconnectedError(BodyError):
    status = None
    code = "client_disconnected"


def _client(scope) -> str:
    client = scope.get("client")
    return f"{client[0]}:{client[1]}" if client else "unknown"


def log_disconnect(scope, *, received: int | None = None) -> None:
    """One INFO line for a client that went away before its body was read (not an error)."""
    got = f" after {received} bytes" if received is not None else ""
    log.info("client %s went away while sending %s %s%s", _client(scope), scope.get("method"), scope.get("path"), got)


def _log_refusal(scope, exc: BodyError, detail: str) -> None:
    log.info("%s %s from %s refused with %s: %s", scope.get("method"), scope.get("path"), _client(scope), exc.status,
             detail)


def declared_length(headers, *, limit: int) -> int | None:
    """The ``Content-Length`` of raw ASGI headers, or None without one. Raises
    ``InvalidContentLengthError`` when it is not a decimal number (or two disagree) and
    ``BodyTooLargeError`` when it is above ``limit``."""
    length = None
    for name, value in headers:
        if name == b"content-length":
            value = value.strip()
            if not value.isdigit():  # ASCII digits only: no sign, no spaces inside, no '0x'
                raise InvalidContentLengthError("invalid Content-Length")
            n = int(value) if len(value) <= 18 else limit + 1  # never convert a huge digit string
            if length is not None and n != length:
                raise InvalidContentLengthError("conflicting Content-Length headers")
            length = n
    if length is not None and length > limit:
        raise BodyTooLargeError(f"the request body is larger than {limit} bytes")
    return length


def has_body(headers) -> bool:
    """Whether the request head announces a body (RFC 9112 §6.3: Transfer-Encoding or a
    non-zero Content-Length)."""
    for name, value in headers:
        if name == b"transfer-encoding" or (name == b"content-length" and value.strip() not in (b"0", b"")):
            return True
    return False


async def receive_body(scope, receive, *, limit: int, timeout: float, chunk_timeout: float = CHUNK_TIMEOUT) -> bytes:
    """The whole body of a raw ASGI request, at most ``limit`` bytes, within ``timeout`` seconds
    (each piece within ``chunk_timeout``). Raises a ``BodyError``."""
    try:
        declared_length(scope["headers"], limit=limit)
    except BodyError as exc:
        _log_refusal(scope, exc, str(exc))
        raise
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    chunk_timeout = min(chunk_timeout, timeout)
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout_at(loop.time() + chunk_timeout) as pending:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    log_disconnect(scope, received=size)
                    raise ClientDisconnectedError("the client went away")
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    exc = BodyTooLargeError(f"the request body is larger than {limit} bytes")
                    _log_refusal(scope, exc, str(exc))
                    raise exc
                if chunk:
                    chunks.append(chunk)
                if not message.get("more_body", False):
                    break
                pending.reschedule(min(deadline, loop.time() + chunk_timeout))
    except TimeoutError:
        exc = BodyTimeoutError("the request body did not arrive in time")
        _log_refusal(scope, exc, f"{exc} ({size} bytes came)")
        raise exc from None
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def read_body(request, *, limit: int, timeout: float, chunk_timeout: float = CHUNK_TIMEOUT) -> bytes:
    """``receive_body`` for a Starlette ``Request``; the body is kept on the request as
    ``request.body()`` would keep it, so reading it twice returns the same bytes."""
    body = getattr(request, "_body", None)
    if body is not None:
        if len(body) > limit:
            raise BodyTooLargeError(f"the request body is larger than {limit} bytes")
        return body
    if getattr(request, "_stream_consumed", False):
        raise RuntimeError("the request body was already read as a stream")
    body = await receive_body(request.scope, request.receive, limit=limit, timeout=timeout,
                              chunk_timeout=chunk_timeout)
    request._body = body  # Starlette's own cache (Request.body / Request.stream read it)
    request._stream_consumed = True
    return body


async def read_json(request, *, limit: int, timeout: float, max_depth: int = jsontext.MAX_DEPTH):
    """The body of a JSON request (a callback, an API call): ``read_body`` within ``limit`` bytes
    and ``timeout`` seconds, then ``jsontext.loads`` within ``limit`` and ``max_depth``. Raises
    ``BodyError`` for a body not read to the end, ``InvalidJSONError`` (one, 400) for one that is
    not JSON."""
    body = await read_body(request, limit=limit, timeout=timeout)
    try:
        return jsontext.loads(body, max_bytes=limit, max_depth=max_depth)
    except jsontext.JSONTextError as exc:
        raise InvalidJSONError(str(exc)) from None


def json_error(status: int, error: str, description: str | None = None, *, headers: dict | None = None,
               **fields):
    """An API's refusal as JSON, never cached: ``{**fields, "error": error, "error_description":
    description}`` (the description only when given), with ``headers`` added."""
    body = {**fields, "error": error, **({"error_description": description} if description else {})}
    return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store", **(headers or {})})


def media_type(headers) -> tuple[str, dict[str, str]]:
    """The Content-Type of raw ASGI headers: lower-cased media type and its parameters."""
    for name, value in headers:
        if name == b"content-type":
            kind, *params = value.decode("latin-1").split(";")
            options = {}
            for p in params:
                key, _, val = p.partition("=")
                options[key.strip().lower()] = val.strip().strip('"').lower()
            return kind.strip().lower(), options
    return "", {}


def parse_pairs(raw: bytes, *, max_fields: int, error: type[ValueError], what: str = "form",
                unit: str = "fields") -> list[tuple[str, str]]:
    """A query string or ``application/x-www-form-urlencoded`` body as (name, value) pairs: strict
    UTF-8 (also inside percent-escapes), at most ``max_fields`` of them; otherwise ``error``
    saying what (``what``, ``unit``) was wrong."""
    try:
        return parse_qsl(raw.decode("utf-8"), keep_blank_values=True, max_num_fields=max_fields,
                         encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        raise error(f"the {what} is not valid UTF-8") from None
    except ValueError:
        raise error(f"the {what} has more than {max_fields} {unit}") from None


def parse_form(body: bytes, *, max_fields: int = MAX_FORM_FIELDS) -> dict[str, str]:
    """A form body as text fields (``parse_pairs``); a repeated field keeps its last value (as
    Starlette's form did). Raises ``InvalidFormError``."""
    items = parse_pairs(body, max_fields=max_fields, error=InvalidFormError)
    if any("\x00" in k or "\x00" in v for k, v in items):
        # No field of ours takes a NUL, and PostgreSQL refuses it in text (it was a 500).
        raise InvalidFormError("the form contains a NUL character")
    return dict(items)


async def read_form(request, *, limit: int, timeout: float, max_fields: int = MAX_FORM_FIELDS) -> dict[str, str]:
    """The text fields of a posted ``application/x-www-form-urlencoded`` form, read with
    ``read_body``. Any other media type, or a charset other than UTF-8, is refused with 415
    before the body is read; a request with no body and no Content-Type is an empty form.
    Raises a ``BodyError``."""
    headers = request.scope["headers"]
    kind, options = media_type(headers)
    if kind != FORM or options.get("charset", "utf-8") not in ("utf-8", "utf8"):
        if not kind and not has_body(headers):
            return {}
        sent = kind + (f"; charset={options['charset']}" if "charset" in options else "")
        exc = UnsupportedMediaTypeError(f"forms must be {FORM} in UTF-8, not {sent!r}")
        _log_refusal(request.scope, exc, str(exc))
        raise exc
    return parse_form(await read_body(request, limit=limit, timeout=timeout), max_fields=max_fields)


class RejectNul:
    """ASGI middleware: a NUL in the path or the query string is refused with 400 before any
    handler runs (no URL of the gateway takes one, and PostgreSQL refuses it in text: a path
    parameter or query value carrying it was a 500). ``answer(scope)`` renders the refusal in the
    endpoint's own format (a page for people, JSON for machines)."""

    def __init__(self, app, *, answer) -> None:
        self.app = app
        self.answer = answer

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            raw = scope.get("query_string", b"") + scope.get("raw_path", b"")
            if b"\x00" in raw or b"%00" in raw or "\x00" in scope.get("path", ""):
                response = await self.answer(scope)
                return await response(scope, receive, send)
        return await self.app(scope, receive, send)
