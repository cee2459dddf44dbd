"""A small HTTP/1.1 client for the load generator: keep-alive connections over asyncio streams,
Content-Length and chunked bodies, and a plain cookie jar. It costs the client a few tens of
microseconds per request (httpx costs several hundred), so the servers, not the generator, are
what the numbers measure. Loopback only: it refuses any other host."""

from __future__ import annotations

import asyncio
import base64
import ipaddress
from urllib.parse import urlencode, urlsplit


class HTTPError(Exception):
    pass


def check_loopback(host: str) -> None:
    if host != "localhost" and not ipaddress.ip_address(host).is_loopback:
        raise ValueError(f"the load generator targets loopback only, not {host!r}")


class Response:
    __slots__ = ("status", "headers", "body")

    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name: str) -> str | None:
        name = name.lower()
        for k, v in self.headers:
            if k == name:
                return v
        return None

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class Connection:
    """One keep-alive connection to ``host:port``; reconnects when the server closes it."""

    def __init__(self, host: str, port: int, timeout: float = 30.0) -> None:
        check_loopback(host)
        self.host, self.port, self.timeout = host, port, timeout
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _connect(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def request(self, method: str, target: str, *, headers: dict | None = None, body: bytes = b"",
                      cookies: dict | None = None) -> Response:
        return await asyncio.wait_for(self._request(method, target, headers, body, cookies), self.timeout)

    async def _request(self, method, target, headers, body, cookies) -> Response:
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        for k, v in (headers or {}).items():
            lines.append(f"{k}: {v}")
        if cookies:
            lines.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in cookies.items()))
        if body or method == "POST":
            lines.append(f"Content-Length: {len(body)}")
        raw = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
        for attempt in (0, 1):
            if self.writer is None:
                await self._connect()
            try:
                self.writer.write(raw)
                return await self._read_response()
            except (ConnectionError, asyncio.IncompleteReadError):
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    async def _read_response(self) -> Response:
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head[:-4].decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        headers = []
        length = None
        chunked, keep_alive = False, True
        for line in header_lines:
            k, _, v = line.partition(":")
            k, v = k.strip().lower(), v.strip()
            headers.append((k, v))
            if k == "content-length":
                length = int(v)
            elif k == "transfer-encoding" and "chunked" in v.lower():
                chunked = True
            elif k == "connection" and v.lower() == "close":
                keep_alive = False
        if chunked:
            parts = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    await self.reader.readuntil(b"\r\n")
                    break
                parts.append(await self.reader.readexactly(size))
                await self.reader.readexactly(2)
            body = b"".join(parts)
        elif length is not None:
            body = await self.reader.readexactly(length) if length else b""
        else:
            body = await self.reader.read()
            keep_alive = False
        if not keep_alive:
            self.close()
        return Response(status, headers, body)


def basic_auth(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def form_body(fields: dict) -> tuple[dict, bytes]:
    return {"Content-Type": "application/x-www-form-urlencoded"}, urlencode(fields).encode()


def store_cookies(jar: dict, response: Response) -> None:
    """Keep name=value of every Set-Cookie (one host, so path and domain do not matter here);
    an expired or emptied cookie is dropped."""
    for k, v in response.headers:
        if k != "set-cookie":
            continue
        pair, _, attrs = v.partition(";")
        name, _, value = pair.strip().partition("=")
        low = attrs.lower()
        if not value or "max-age=0" in low or "expires=thu, 01 jan 1970" in low:
            jar.pop(name, None)
        else:
            jar[name] = value


def path_of(location: str) -> str:
    parts = urlsplit(location)
    return parts.path + (("?" + parts.query) if parts.query else "")
