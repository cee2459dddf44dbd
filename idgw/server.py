"""How `idgw serve` (one process or ``--workers N``) and `idgw demo` run the gateway under uvicorn.

uvicorn caps the request head only on its h11 protocol (``h11_max_incomplete_event_size``); on
httptools, the faster one it picks by default, a head of any size is buffered (the security review
sent a 300 MB header), and a connection that sends its head slowly, or nothing at all, stays open
(slowloris: uvicorn's keep-alive timer runs only between requests and stops at the first byte).
``GatewayHttpProtocol`` adds both limits to the httptools protocol; ``server_options`` is the one
set of uvicorn options every way of serving uses. Limits on bodies live in ``idgw.httpio``.
"""

from __future__ import annotations

import functools
import logging

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEAD_BYTES = 16 * 1024  # request line and headers together (nginx's large buffers: 4 x 8 KiB)

log = logging.getLogger("idgw.http")


class HeadWithBody:
    """The transport as one response sees it: the response head (its first write) is held until
    the body's first write and both go out in one ``send``: one system call and one packet instead
    of two, for every response (measured: JWKS and discovery about 8% more requests per second).
    A head with no body in the same turn of the event loop (a HEAD request, a stream whose first
    chunk is not ready) goes out at the end of that turn; closing sends it first."""

    __slots__ = ("_transport", "_loop", "_held")

    def __init__(self, transport, loop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = b""  # b"": nothing written yet; None: the head went out

    def write(self, data: bytes) -> None:
        held = self._held
        if held is None:
            self._transport.write(data)
        elif held:
            self._held = None
            self._transport.write(held + data)
        else:
            self._held = bytes(data)
            self._loop.call_soon(self.flush)

    def flush(self) -> None:
        held, self._held = self._held, None
        if held and not self._transport.is_closing():
            self._transport.write(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name):
        return getattr(self._transport, name)


class GatewayHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a cap on the size of each request head (431 and close
    beyond ``max_head_bytes``) and a deadline for it (close when a head has not arrived whole
    ``head_timeout`` seconds after the connection opened or after its first byte; the idle time
    between requests is uvicorn's keep-alive timeout).

    It also closes the connection when a response is sent before the request's body has arrived
    in full (a refusal such as 413 or 408): uvicorn would otherwise go on reading and discarding
    the rest, with no limit on its size or time.

    The head is counted on the raw bytes before the parser buffers them: data is fed to the parser
    in pieces no larger than the room left under the cap while a head is being read. (A pipelined
    head that arrives in the same read as the end of the previous body is counted from the next
    read on; one read is at most 256 KiB.)"""

    def __init__(self, config, server_state, app_state, _loop=None, *, max_head_bytes: int = MAX_HEAD_BYTES,
                 head_timeout: float = 10.0) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.max_head_bytes = max_head_bytes
        self.head_timeout = head_timeout
        self._reading_head = True
        self._head_bytes = 0
        self._head_timer = None

    # -- connection ------------------------------------------------------------------------------
    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._reading_head and self._head_timer is None:  # the first bytes of a new head
            self._arm_head_timer()
        while data:
            if self._reading_head:
                room = self.max_head_bytes - self._head_bytes
                if room <= 0:
                    self._refuse_head()
                    return
                piece, data = data[:room], data[room:]
                self._head_bytes += len(piece)
            else:
                piece, data = data, b""
            super().data_received(piece)
            if self.parser is None or self.transport.is_closing():
                return

    # -- parser callbacks --------------------------------------------------------------------------
    def on_headers_complete(self) -> None:
        self._reading_head = False
        self._cancel_head_timer()
        before = self.cycle
        super().on_headers_complete()
        if self.cycle is not None and self.cycle is not before:  # a new request (not an upgrade)
            self.cycle.transport = HeadWithBody(self.transport, self.loop)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._reading_head = True
        self._head_bytes = 0

    def on_response_complete(self) -> None:
        cycle = self.cycle
        if cycle is not None and cycle.response_complete and cycle.more_body and not self.transport.is_closing():
            # Answered before the body came in full: do not read the rest (RFC 9112 §9.6 allows closing).
            self.transport.close()
        super().on_response_complete()  # arms uvicorn's keep-alive timer for the idle time until the next head

    # -- limits ------------------------------------------------------------------------------------
    def _refuse_head(self) -> None:
        log.info("request head from %s refused with 431: larger than %d bytes", self._peer(), self.max_head_bytes)
        if self.cycle is None or self.cycle.response_complete:  # never inside another response
            self.transport.write(b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain\r\n"
                                 b"content-length: 32\r\nconnection: close\r\n\r\nRequest header fields too large\n")
        self.transport.close()

    def _arm_head_timer(self) -> None:
        self._cancel_head_timer()
        self._head_timer = self.loop.call_later(self.head_timeout, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        busy = self.cycle is not None and not self.cycle.response_complete
        if self._reading_head and not busy and not self.transport.is_closing():
            if self._head_bytes:
                log.info("request head from %s not complete after %s s: connection closed", self._peer(),
                         self.head_timeout)
            self.transport.close()

    def _peer(self) -> str:
        return f"{self.client[0]}:{self.client[1]}" if self.client else "unknown"


def log_config(log_format: str = "text") -> dict:
    """uvicorn's logging configuration: uvicorn's and the gateway's own ``idgw.*`` loggers at INFO
    (one access line per request, refused or abandoned requests, back-channel retries), as JSON
    objects or text lines, redacted (idgw.observe.logs)."""
    from idgw.observe.logs import log_config as observed

    return observed(log_format)


def server_options(settings) -> dict:
    """The uvicorn options of every way the gateway is served (besides host, port, workers and the
    proxy options). The protocol is given as a partial of a module-level class, so it survives
    the trip to ``--workers`` processes (pickled)."""
    return {
        "http": functools.partial(GatewayHttpProtocol, max_head_bytes=MAX_HEAD_BYTES,
                                  head_timeout=float(settings.header_timeout)),
        "h11_max_incomplete_event_size": MAX_HEAD_BYTES,  # the same cap if h11 is ever chosen
        "ws_max_size": 128 * 1024,  # WebSocket messages (idgw.proofing.signalling refuses over 64 KiB itself)
        "timeout_keep_alive": settings.keep_alive_timeout,
        "timeout_graceful_shutdown": settings.shutdown_timeout,
        "log_config": log_config(getattr(settings, "log_format", "text")),
    }
