"""The running gateway copies its audit events to the configured file as they are committed and
signs its chains' heads on a timer; its log verifies."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import select

from idgw.audit import sinks
from idgw.storage.console import AuditCheckpoint
from tests.audit.world import idgw, report_of
from tests.conftest import start_gateway
from tests.flow import exchange, login_flow, register

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def test_a_sign_in_reaches_the_file_and_the_heads_get_signed(database_url, tmp_path):
    path = tmp_path / "audit.jsonl"
    gateway = start_gateway(database_url, audit_file=str(path), audit_checkpoint_interval=1)
    try:
        reg = register(gateway)
        params, _state, _nonce, verifier, rp, _browser = login_flow(gateway, reg)
        assert "access_token" in exchange(gateway, rp, params["code"], verifier)
        deadline = time.time() + 10
        while time.time() < deadline:
            with gateway.db() as db:
                if db.scalar(select(AuditCheckpoint).limit(1)) is not None:
                    break
            time.sleep(0.1)
        else:
            pytest.fail("no checkpoint was signed within 10 s")
        sinks.attached(gateway.gw.engine).flush()
        names = [json.loads(line)["name"] for line in path.read_text().splitlines()]
        assert {"session.created", "code.redeemed", "token.issued"} <= set(names)
    finally:
        gateway.stop()
        gateway.gw.engine.dispose()
    result = idgw(database_url, "audit", "verify", "--json")
    report = report_of(result)
    assert result.exit_code == 0 and report["ok"], report
    assert any(c["anchored_to"] for c in report["chains"].values())
