from __future__ import annotations

import pytest

from tests.observe.serving import start_observed

#: Failures that lock an account here (the default, 100, is too many to drive in a test).
MAX_FAILED = 3


@pytest.fixture(scope="package")
def observed(tmp_path_factory):
    """One gateway for the package's in-process tests (SQLite), served as ``idgw serve`` serves it."""
    path = tmp_path_factory.mktemp("observe") / "idgw.db"
    running = start_observed(f"sqlite:///{path}", max_failed_logins=MAX_FAILED)
    yield running
    running.stop()
    running.gw.engine.dispose()
