"""idgw.server.HeadWithBody: a response's head goes out with the start of its body in one write,
and a head with no body ready (HEAD, a stream whose first chunk comes later, a closing
connection) still goes out at once. Over real HTTP through uvicorn with the gateway's protocol."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import httpx
import pytest
import uvicorn

from idgw.server import GatewayHttpProtocol, HeadWithBody
from tests.conftest import free_port


class FakeTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name):
        return ("127.0.0.1", 1) if name == "peername" else None


@pytest.fixture
def loop():
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def test_head_and_body_leave_in_one_write_and_later_chunks_as_they_come(loop):
    raw = FakeTransport()
    t = HeadWithBody(raw, loop)
    t.write(b"HTTP/1.1 200 OK\r\n\r\n")
    assert raw.writes == []
    t.write(b"body")
    t.write(b"more")
    assert raw.writes == [b"HTTP/1.1 200 OK\r\n\r\nbody", b"more"]
    loop.run_until_complete(asyncio.sleep(0))  # the end-of-turn flush finds nothing held
    assert raw.writes == [b"HTTP/1.1 200 OK\r\n\r\nbody", b"more"]
    assert t.get_extra_info("peername") == ("127.0.0.1", 1)  # everything else is the transport's


def test_a_head_alone_leaves_at_the_end_of_the_turn_or_when_the_connection_closes(loop):
    raw = FakeTransport()
    t = HeadWithBody(raw, loop)
    t.write(b"HTTP/1.1 204 No Content\r\n\r\n")
    loop.run_until_complete(asyncio.sleep(0))
    assert raw.writes == [b"HTTP/1.1 204 No Content\r\n\r\n"]
    raw2 = FakeTransport()
    t2 = HeadWithBody(raw2, loop)
    t2.write(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n")
    t2.close()
    assert raw2.writes == [b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n"] and raw2.closed
    loop.run_until_complete(asyncio.sleep(0))
    assert len(raw2.writes) == 1  # sent once


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    if scope["path"] == "/slow":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await asyncio.sleep(1.5)
        await send({"type": "http.response.body", "body": b"late", "more_body": False})
        return
    body = b"hello"
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def served():
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, http=GatewayHttpProtocol, log_level="warning",
                            access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 10
    while not server.started:
        assert time.time() < deadline
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}", port
    server.should_exit = True
    thread.join(timeout=10)


def test_answers_arrive_whole_for_get_head_and_keep_alive(served):
    url, _ = served
    with httpx.Client(timeout=5) as client:
        for _ in range(3):  # one connection, several requests
            r = client.get(url + "/")
            assert r.status_code == 200 and r.text == "hello"
        r = client.head(url + "/")
        assert r.status_code == 200 and r.headers["content-length"] == "5" and r.content == b""
        assert client.get(url + "/").text == "hello"  # the connection is still in step after HEAD


def test_a_stream_shows_its_head_before_its_first_chunk(served):
    url, _ = served
    with httpx.Client(timeout=5) as client:
        t0 = time.monotonic()
        with client.stream("GET", url + "/slow") as r:
            assert r.status_code == 200  # the head has arrived...
            assert time.monotonic() - t0 < 1.0  # ...before the body's 1.5 s
            assert r.read() == b"late"


def test_a_head_request_on_a_closing_connection_gets_its_head(served):
    _, port = served
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := s.recv(4096):
            data += chunk
    assert data.startswith(b"HTTP/1.1 200 OK\r\n") and data.endswith(b"\r\n\r\n")
