"""The benchmark's second peer (bench/peer/server.mjs with DATABASE_URL) keeps its state in
PostgreSQL and behaves as the in-memory one does: a sign-in, its code exchange and a refresh work,
the rows are in its table (the code and the rotated refresh token marked consumed there), a rotated
refresh token presented again is refused and revokes the grant's rows, and a used code is refused.
The comparison `make bench` prints against it is only worth something if this holds."""

from __future__ import annotations

import asyncio
import shutil

import psycopg
import pytest

from bench import oidc_bench as ob

pytestmark = [
    pytest.mark.skipif(shutil.which("node") is None, reason="node is needed for the peer"),
    pytest.mark.skipif(not (ob.PEER_DIR / "node_modules" / "pg").exists(), reason="bench/peer is not installed"),
]


def _consumed(url: str, kind: str) -> int:
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://", 1)) as conn:
        return conn.execute("SELECT count(*) FROM oidc_payloads WHERE type = %s AND consumed_at IS NOT NULL",
                            (kind,)).fetchone()[0]


def _rows(url: str) -> dict[str, int]:
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://", 1)) as conn:
        return dict(conn.execute("SELECT type, count(*) FROM oidc_payloads GROUP BY type").fetchall())


async def _flow(peer: ob.Target, url: str) -> None:
    await ob.make_sessions(peer, 1)
    code, verifier = await ob.session_login(peer)
    conn = ob.conn_factory(peer)()
    try:
        first = await ob.exchange(peer, conn, code, verifier)
        second = await ob.refresh(peer, conn, first["refresh_token"])
        assert second["refresh_token"] != first["refresh_token"]
        rows = _rows(url)
        assert {"Session", "Grant", "AuthorizationCode", "RefreshToken"} <= set(rows), rows
        assert rows["RefreshToken"] == 2  # the first (consumed) and the second
        assert _consumed(url, "AuthorizationCode") == 1 and _consumed(url, "RefreshToken") == 1
        with pytest.raises(ob.FlowError, match="HTTP 400"):  # rotated: the old one is spent
            await ob.refresh(peer, conn, first["refresh_token"])
        assert "RefreshToken" not in _rows(url)
        # Reuse of the old one revoked the grant (revokeByGrantId deleted its rows, above): the newer
        # refresh token went with it.
        with pytest.raises(ob.FlowError, match="HTTP 400"):
            await ob.refresh(peer, conn, second["refresh_token"])
        with pytest.raises(ob.FlowError, match="HTTP 400"):  # the code was consumed
            await ob.exchange(peer, conn, code, verifier)
    finally:
        conn.close()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_the_durable_peer_keeps_its_state_in_postgresql(database_url, tmp_path):
    async def run():
        peer = await ob.start_peer(tmp_path, database_url=database_url)
        try:
            assert peer.name == "peer-postgresql"
            await _flow(peer, database_url)
        finally:
            peer.process.stop()

    asyncio.run(run())
