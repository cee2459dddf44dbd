"""Request size and time limits of the gateway as `idgw serve` serves it (security review items 16
and 19), over real HTTP with raw sockets: bodies are refused while they stream in (413) without the
server's memory growing by their size, request heads are capped (431) and timed, a stalled upload
gets 408, SIGTERM completes while a client stalls, a client that goes away is one INFO line and
not an ERROR traceback, and a wrong IDGW_SECRET_KEY stops start-up with one line.

The gateway runs as a subprocess of ``python -m idgw serve`` on SQLite in a temporary directory
(the fixtures are parametrized ``sqlite`` so that ``-k sqlite`` selects them)."""

from __future__ import annotations

import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port

SECRET = "limits-test-secret-0123456789abcdef0123456789"
MB = 1024 * 1024


class Served:
    def __init__(self, proc: subprocess.Popen, port: int, log: Path, env: dict) -> None:
        self.proc, self.port, self.log, self.env = proc, port, log, env

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def memory(self, field: str = "VmRSS") -> int:
        """Resident memory of the server process (VmRSS), or its peak (VmHWM), bytes."""
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        return int(re.search(field + r":\s+(\d+) kB", status).group(1)) * 1024

    def reset_peak(self) -> None:
        """Start VmHWM again from the current resident size (Linux clear_refs)."""
        Path(f"/proc/{self.proc.pid}/clear_refs").write_text("5")

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def serve(tmp: Path, **settings: str) -> Served:
    port = free_port()
    env = {**os.environ, "IDGW_DEV": "1", "IDGW_ISSUER": f"http://127.0.0.1:{port}",
           "IDGW_DATABASE_URL": f"sqlite:///{tmp}/idgw.db", "IDGW_SECRET_KEY": SECRET,
           **{"IDGW_" + k.upper(): v for k, v in settings.items()}}
    log = tmp / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "idgw", "serve", "--port", str(port)], env=env,
                                stdout=out, stderr=subprocess.STDOUT, cwd=tmp)
    served = Served(proc, port, log, env)
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(served.url + "/healthz", timeout=1).status_code == 200:
                return served
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise RuntimeError("idgw serve did not start: " + served.log_text())
        time.sleep(0.1)


def stop(served: Served) -> None:
    if served.proc.poll() is None:
        served.proc.terminate()
        try:
            served.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            served.proc.kill()
            served.proc.wait()


@pytest.fixture(scope="module", params=["sqlite"])
def gateway_served(request, tmp_path_factory):
    """One `idgw serve` for the module, with 1-second body and head deadlines."""
    served = serve(tmp_path_factory.mktemp("limits"), body_timeout="1", header_timeout="1")
    yield served
    stop(served)


# -- a raw HTTP/1.1 client -------------------------------------------------------------------------

def connect(served: Served) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", served.port), timeout=10)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
    return s


def head(method: str, path: str, *headers: str) -> bytes:
    return (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n" + "".join(h + "\r\n" for h in headers)
            + "\r\n").encode()


def read_response(s: socket.socket, *, timeout: float = 10.0) -> tuple[int | None, bytes]:
    """(status, raw bytes) of whatever the server answered; status None when it closed without answering."""
    s.settimeout(timeout)
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
            if b"\r\n\r\n" in data and _complete(data):
                break
    except (ConnectionResetError, BrokenPipeError):
        pass
    m = re.match(rb"HTTP/1\.[01] (\d{3}) ", data)
    return (int(m.group(1)) if m else None), data


def _complete(data: bytes) -> bool:
    top, _, body = data.partition(b"\r\n\r\n")
    m = re.search(rb"(?im)^content-length:\s*(\d+)", top)
    if m:
        return len(body) >= int(m.group(1))
    return b"transfer-encoding: chunked" not in top.lower() or body.endswith(b"0\r\n\r\n")


def post_chunked(served: Served, path: str, *headers: str, total: int, chunk: int = 64 * 1024,
                 first: bytes = b"") -> tuple[int | None, int]:
    """POST ``first`` then 'a' bytes up to ``total``, chunked (no Content-Length), stopping as soon as
    the server answers, closes or stops reading. Returns (status, body bytes the client got out)."""
    s = connect(served)
    try:
        s.sendall(head("POST", path, "Transfer-Encoding: chunked", *headers))
        sent = 0
        s.settimeout(5)
        try:
            while sent < total:
                readable, _, _ = select.select([s], [], [], 0)
                if readable:
                    break
                data = (first if sent == 0 and first else b"") or b"a" * chunk
                s.sendall(b"%x\r\n" % len(data) + data + b"\r\n")
                sent += len(data)
            else:
                s.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass
        status, _ = read_response(s)
        return status, sent
    finally:
        s.close()


def csrf_headers() -> tuple[str, str]:
    from idgw.settings import Settings
    from idgw.web.pages import Pages

    pages = Pages(Settings.from_env({}, dev=True, secret_key=SECRET))
    browser = pages.browser_ids.new()  # only gateway-issued browser ids count (idgw.web.cookies)
    token = pages.csrf_token(browser, "webauthn")
    return f"Cookie: idgw_browser={browser}", f"X-CSRF-Token: {token}"


FORM = "Content-Type: application/x-www-form-urlencoded"
BODY_PATHS = {  # path -> headers that get past everything before the body is read
    "/authorize": (FORM,),
    "/signin": (FORM,),
    "/token": (FORM,),
    "/webauthn/options": ("Content-Type: application/json", *csrf_headers()),
}


# -- bodies ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/authorize", "/webauthn/options", "/signin", "/token"])
def test_a_body_over_the_cap_is_refused_while_it_streams(gateway_served, path):
    total = 64 * MB
    first = b"purpose=" if path == "/webauthn/options" else b"client_id="
    gateway_served.reset_peak()
    before = gateway_served.memory()
    status, sent = post_chunked(gateway_served, path, *BODY_PATHS[path], total=total, first=first)
    assert status == 413
    # The server stopped reading long before the end: what got out fits in the sockets' buffers...
    assert sent < total // 4, sent
    # ...and its memory never grew by anything like the body (the peak, not what is left after).
    grown = gateway_served.memory("VmHWM") - before
    assert grown < 16 * MB, grown
    assert httpx.get(gateway_served.url + "/healthz").status_code == 200


def test_a_declared_length_over_the_cap_is_refused_before_the_body(gateway_served):
    s = connect(gateway_served)
    try:
        s.sendall(head("POST", "/authorize", FORM, f"Content-Length: {400 * MB}", "Expect: 100-continue"))
        status, raw = read_response(s)
    finally:
        s.close()
    assert status == 413 and b"100 Continue" not in raw


def test_pages_take_url_encoded_forms_only(gateway_served):
    r = httpx.post(gateway_served.url + "/signin", files={"username": (None, "somchai")})
    assert r.status_code == 415
    r = httpx.post(gateway_served.url + "/signin", content=b"username=%ff%fe", headers={"Content-Type": FORM[14:]})
    assert r.status_code == 400


@pytest.mark.parametrize("path", ["/authorize", "/signin", "/token"])
def test_a_stalled_upload_gets_408_within_the_body_timeout(gateway_served, path):
    s = connect(gateway_served)
    try:
        s.sendall(head("POST", path, *BODY_PATHS[path], "Content-Length: 1000") + b"client_id=x&scope=")
        started = time.monotonic()
        status, _ = read_response(s, timeout=8)
        waited = time.monotonic() - started
    finally:
        s.close()
    assert status == 408 or (status is None and waited < 8), (status, waited)


# -- request heads -----------------------------------------------------------------------------------

def test_a_one_megabyte_header_gets_431_or_a_closed_connection(gateway_served):
    s = connect(gateway_served)
    try:
        try:
            s.sendall(head("GET", "/healthz", "X-Filler: " + "a" * MB))
        except (BrokenPipeError, ConnectionResetError):
            pass
        status, raw = read_response(s)
    finally:
        s.close()
    assert status in (431, None) and b'"ok"' not in raw, raw[:200]
    assert httpx.get(gateway_served.url + "/healthz").status_code == 200


def test_a_request_head_that_never_completes_is_closed(gateway_served):
    s = connect(gateway_served)
    try:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        started = time.monotonic()
        status, raw = read_response(s, timeout=8)
        waited = time.monotonic() - started
    finally:
        s.close()
    assert status is None and raw == b"" and waited < 6, (status, raw, waited)


# -- clients that go away ------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/authorize", "/signin", "/token"])
def test_a_client_that_goes_away_mid_body_is_one_info_line(gateway_served, path):
    mark = len(gateway_served.log_text())
    s = connect(gateway_served)
    s.sendall(head("POST", path, *BODY_PATHS[path], "Content-Length: 5000") + b"client_id=x&")
    time.sleep(0.3)
    s.close()
    deadline = time.monotonic() + 5
    while "went away" not in gateway_served.log_text()[mark:] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert httpx.get(gateway_served.url + "/healthz").status_code == 200
    logged = gateway_served.log_text()[mark:]
    assert "ERROR" not in logged and "Traceback" not in logged, logged
    lines = [line for line in logged.splitlines() if "went away" in line]
    assert len(lines) == 1 and json.loads(lines[0])["level"] == "INFO", logged  # IDGW_LOG_FORMAT=json


# -- shutdown -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("database", ["sqlite"])
def test_sigterm_completes_within_the_graceful_timeout_while_a_client_stalls(tmp_path, database):
    """A body deadline longer than the shutdown's: the stalled request is cancelled at the deadline."""
    served = serve(tmp_path, body_timeout="60", shutdown_timeout="2")
    s = connect(served)
    try:
        s.sendall(head("POST", "/authorize", FORM, "Content-Length: 1000") + b"client_id=x")
        time.sleep(0.3)
        started = time.monotonic()
        served.proc.send_signal(signal.SIGTERM)
        try:
            served.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pytest.fail("idgw serve still running 10 s after SIGTERM with a stalled upload")
        assert time.monotonic() - started < 2 + 3
    finally:
        s.close()
        stop(served)


@pytest.mark.parametrize("database", ["sqlite"])
def test_sigterm_with_the_default_order_of_deadlines_answers_the_stalled_client(tmp_path, database):
    """The body deadline shorter than the shutdown's (as the defaults are): the stalled upload gets
    its 408 and the server exits cleanly, nothing cancelled, no ERROR."""
    served = serve(tmp_path, body_timeout="1", shutdown_timeout="10")
    s = connect(served)
    try:
        s.sendall(head("POST", "/signin", FORM, "Content-Length: 1000") + b"username=x")
        time.sleep(0.2)
        started = time.monotonic()
        served.proc.send_signal(signal.SIGTERM)
        status, _ = read_response(s, timeout=8)
        assert status == 408
        # uvicorn re-raises the SIGTERM it handled once it has shut down
        assert served.proc.wait(timeout=10) in (0, -signal.SIGTERM) and time.monotonic() - started < 5
        assert "ERROR" not in served.log_text(), served.log_text()
    finally:
        s.close()
        stop(served)


# -- the secret key ----------------------------------------------------------------------------------

def _cli(tmp: Path, secret: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {**os.environ, "IDGW_DEV": "1", "IDGW_DATABASE_URL": f"sqlite:///{tmp}/idgw.db", "IDGW_SECRET_KEY": secret}
    return subprocess.run([sys.executable, "-m", "idgw", *args], env=env, capture_output=True, text=True,
                          timeout=timeout, cwd=tmp)


@pytest.mark.parametrize("database", ["sqlite"])
def test_a_wrong_secret_key_stops_serve_and_rotate_with_one_line(tmp_path, database):
    assert _cli(tmp_path, SECRET, "db", "upgrade").returncode == 0
    made = _cli(tmp_path, SECRET, "keys", "rotate")
    assert made.returncode == 0, made.stderr
    other = "another-secret-0123456789abcdef0123456789"
    for args in (("serve", "--port", str(free_port())), ("keys", "rotate")):
        out = _cli(tmp_path, other, *args)
        assert out.returncode == 2, (args, out.stdout, out.stderr)
        errors = [line for line in out.stderr.splitlines() if line.strip()]
        assert "Traceback" not in out.stderr and len(errors) == 1, out.stderr
        assert errors[0].startswith("configuration error: IDGW_SECRET_KEY does not open the stored signing keys")
    # nothing was rotated with the wrong key: the right one still serves
    assert _cli(tmp_path, SECRET, "keys", "rotate").returncode == 0


# -- the reader on its own (what httptools would not let through over HTTP) ---------------------------

def _receive_body(headers, messages, **kw):
    import asyncio

    from idgw.httpio import receive_body

    queue = list(messages)

    async def receive():
        return queue.pop(0) if queue else {"type": "http.disconnect"}

    scope = {"type": "http", "method": "POST", "path": "/x", "headers": headers}
    return asyncio.run(receive_body(scope, receive, **{"limit": 100, "timeout": 1, **kw}))


@pytest.mark.parametrize(("length", "status"), [(b"12a", 400), (b"-1", 400), (b"0x10", 400), (b"1" * 5000, 413),
                                                (b"101", 413)])
def test_content_length_is_checked_before_the_body(length, status):
    from idgw.httpio import BodyError

    with pytest.raises(BodyError) as refused:
        _receive_body([(b"content-length", length)], [{"type": "http.request", "body": b"never read"}])
    assert refused.value.status == status


def test_a_disconnect_and_a_form_with_too_many_fields_are_typed():
    from idgw.httpio import ClientDisconnectedError, InvalidFormError, parse_form

    with pytest.raises(ClientDisconnectedError):
        _receive_body([], [{"type": "http.request", "body": b"a=1", "more_body": True}])
    assert parse_form(b"a=1&b=&a=2&c=%E0%B8%81") == {"a": "2", "b": "", "c": "ก"}
    with pytest.raises(InvalidFormError):
        parse_form(b"&".join(b"f%d=1" % i for i in range(101)))


@pytest.mark.parametrize(("body", "refusal"), [
    (b'{"a": [1, {"b": null}]}', None),
    (b"\xff\xfe not utf-8", "invalid_json"),
    (b'{"a": ', "invalid_json"),
    (b"[" * 40 + b"]" * 40, "invalid_json"),  # deeper than the default 32 levels
    (b"x" * 101, "body_too_large"),
])
def test_read_json_types_every_refusal(body, refusal):
    import asyncio

    from starlette.requests import Request

    from idgw.httpio import BodyError, InvalidJSONError, read_json

    messages = [{"type": "http.request", "body": body}]

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    request = Request({"type": "http", "method": "POST", "path": "/x", "headers": []}, receive)
    if refusal is None:
        assert asyncio.run(read_json(request, limit=100, timeout=1)) == {"a": [1, {"b": None}]}
        return
    with pytest.raises(BodyError) as refused:
        asyncio.run(read_json(request, limit=100, timeout=1))
    assert refused.value.code == refusal and refused.value.status == (413 if refusal == "body_too_large" else 400)
    assert isinstance(refused.value, InvalidJSONError) == (refusal == "invalid_json")
