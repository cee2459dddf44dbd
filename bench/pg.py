"""The throw-away PostgreSQL cluster of the benchmark: the same code the tests start
(tests/conftest.py:PostgresServer), imported rather than copied."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.conftest import PostgresServer, _pg_bin  # noqa: E402


def postmaster_pid(server: PostgresServer) -> int | None:
    """The cluster's postmaster (every backend is its child), for CPU accounting."""
    try:
        return int((server.dir / "data" / "postmaster.pid").read_text().split("\n")[0])
    except (OSError, ValueError):
        return None


def available() -> bool:
    return _pg_bin("initdb") is not None and _pg_bin("pg_ctl") is not None


__all__ = ["PostgresServer", "available", "postmaster_pid"]
