"""Small helpers for the attacks-that-held modules: the same request fired in parallel, and what
a protected resource answers a bearer token."""

from __future__ import annotations

import threading

import httpx


def in_parallel(n: int, send) -> list[httpx.Response]:
    """``send(http)`` from ``n`` threads, each on its own connection, released together."""
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def run(i: int) -> None:
        with httpx.Client(timeout=30) as http:
            barrier.wait()
            try:
                results[i] = send(http)
            except Exception as exc:  # noqa: BLE001 - reported by the caller's assertion
                results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def statuses(results) -> list:
    return sorted(r.status_code if isinstance(r, httpx.Response) else repr(r) for r in results)


def assert_bearer_refused(gateway, token: str, what: object = "") -> None:
    """RFC 6750 §3.1: 401, error invalid_token in the body and in WWW-Authenticate, not cached."""
    r = httpx.get(gateway.url + "/userinfo", headers={"Authorization": f"Bearer {token}"}, timeout=20)
    assert r.status_code == 401, (what, r.status_code, r.text[:300])
    assert r.json()["error"] == "invalid_token", (what, r.text)
    challenge = r.headers["www-authenticate"]
    assert challenge.startswith("Bearer ") and 'error="invalid_token"' in challenge, (what, challenge)
    assert r.headers["cache-control"] == "no-store", what


def introspect(gateway, reg, token: str) -> dict:
    r = httpx.post(gateway.url + "/introspect", auth=(reg.client_id, reg.client_secret), data={"token": token},
                   timeout=20)
    assert r.status_code == 200, r.text
    return r.json()
