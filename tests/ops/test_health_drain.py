"""SIGTERM drains a real ``idgw serve`` process: a request already inside finishes normally, new
connections are refused at once (so a proxy's readiness probe fails and it sends traffic
elsewhere), the process exits 0; and a sign-in started before the restart finishes on the
process that replaces it."""

from __future__ import annotations

import base64
import json
import signal
import socket
import time

import httpx

from idgw.storage.db import upgrade
from tests import flow
from tests.ops.procs import Site


def _refused(port: int, within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except ConnectionRefusedError:
            return True
        time.sleep(0.02)
    return False


def test_sigterm_drains_and_a_restart_keeps_the_sign_in(tmp_path):
    url = f"sqlite:///{tmp_path}/idgw.db"
    upgrade(url)
    site = Site(url, tmp_path, settings={"shutdown_timeout": "10", "body_timeout": "8"})
    try:
        first = site.serve()
        reg = flow.register(site)
        rp = flow.rp_client(site, reg)
        browser = flow.Browser(site)
        authorize, state, _nonce, verifier = flow.authorize_url(site, rp)
        page = browser.follow(browser.get(authorize))
        assert 'name="password"' in page.text  # a sign-in in progress

        # A token request in flight: its body is still arriving when SIGTERM comes.
        body = f"grant_type=authorization_code&code=not-a-code&redirect_uri={flow.REDIRECT_URI}".encode()
        basic = base64.b64encode(f"{reg.client_id}:{reg.client_secret}".encode())
        conn = socket.create_connection(("127.0.0.1", site.port), timeout=15)
        conn.sendall(b"POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                     b"Authorization: Basic " + basic + b"\r\nContent-Length: " + str(len(body)).encode()
                     + b"\r\n\r\n" + body[:20])
        time.sleep(0.2)  # the head is parsed: the request is inside the process
        sent_at = time.monotonic()
        first.proc.send_signal(signal.SIGTERM)
        assert _refused(site.port), "a new connection was still accepted after SIGTERM"
        conn.sendall(body[20:])
        answer = b""
        while b"\r\n\r\n" not in answer or len(answer.split(b"\r\n\r\n", 1)[1]) < _length(answer):
            chunk = conn.recv(65536)
            if not chunk:
                break
            answer += chunk
        conn.close()
        head, payload = answer.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 400"), answer[:300]  # answered in full, as without a shutdown
        assert json.loads(payload)["error"] == "invalid_grant"
        # uvicorn ends a graceful shutdown by raising the signal it caught again, so the status
        # is "terminated by SIGTERM" (143 in a shell, what container runtimes expect), not a crash.
        assert first.proc.wait(timeout=10) in (0, -signal.SIGTERM)
        print(f"drained and exited {time.monotonic() - sent_at:.2f} s after SIGTERM")
        out = first.output()
        assert "Application shutdown complete" in out and "Finished server process" in out, out[-3000:]
        assert "Traceback" not in out and "Cancel" not in out, out[-3000:]

        # The replacement process, on the same database and address, finishes the sign-in.
        second = site.serve()
        done = browser.submit(page, username=reg.username, password=flow.PASSWORD)
        if 'value="allow"' in done.text:
            done = browser.consent(done)
        params = flow.callback_params(done)
        assert params["state"] == state
        assert "access_token" in flow.exchange(site, rp, params["code"], verifier)
        assert httpx.get(second.url + "/readyz").status_code == 200
        assert second.terminate() in (0, -signal.SIGTERM)
    finally:
        site.close()


def _length(answer: bytes) -> int:
    for line in answer.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0
