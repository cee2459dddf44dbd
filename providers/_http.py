"""Transport failures as typed upstream errors (shared by the connectors)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from providers.base import UpstreamError


@contextmanager
def http_errors(what: str) -> Iterator[None]:
    """Map httpx failures met while doing ``what`` to ``UpstreamError``: timeouts → upstream_timeout,
    other transport failures (refused, reset, DNS) → upstream_unreachable, HTTP error statuses and
    undecodable bodies (a Content-Encoding that does not decode, malformed or too deeply nested
    JSON) → upstream_error. The detail names the step, never a secret."""
    try:
        yield
    except httpx.TimeoutException as exc:
        raise UpstreamError("upstream_timeout", f"{what}: {type(exc).__name__}") from exc
    except httpx.TransportError as exc:
        raise UpstreamError("upstream_unreachable", f"{what}: {type(exc).__name__}") from exc
    except httpx.HTTPStatusError as exc:
        raise UpstreamError("upstream_error", f"{what}: HTTP {exc.response.status_code}") from exc
    except httpx.DecodingError as exc:  # a RequestError but not a TransportError: the answer came, garbled
        raise UpstreamError("upstream_error", f"{what}: body does not decode ({type(exc).__name__})") from exc
    # json.JSONDecodeError, Authlib's "not a JSON object", and JSON nested deeper than the decoder recurses
    except (ValueError, RecursionError) as exc:
        raise UpstreamError("upstream_error", f"{what}: malformed response") from exc
