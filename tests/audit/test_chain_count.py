"""How many chains the audit appends are spread over (IDGW_AUDIT_CHAINS): each chain takes its
writers one at a time, so the count caps how many audited transactions a second the database
takes (bench/audit_chains.py). The gateway's engine gets the configured count; an engine nobody
configured (tests, tools) uses ``chain.CHAINS``; the log verifies whatever the count was."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bench import audit_chains
from idgw import audit
from idgw.audit import chain
from idgw.settings import Settings, SettingsError
from idgw.storage.console import AuditHead
from idgw.storage.db import make_engine, make_sessionmaker
from idgw.storage.models import AuditEvent
from tests.audit.world import idgw, make_world, report_of
from tests.conftest import start_gateway


def _append(sm, n: int) -> None:
    for i in range(n):
        with sm() as db:
            audit.record(db, "token.issued", at=1_800_000_000 + i, actor="a", client_id="svc")
            db.commit()


def _chains_used(sm) -> set[str]:
    with sm() as db:
        return set(db.scalars(select(AuditEvent.chain).where(AuditEvent.name == "token.issued").distinct()))


def test_a_configured_engine_spreads_appends_over_exactly_that_many_chains(database_url):
    make_world(database_url)
    engine = make_engine(database_url)
    chain.configure(engine, 3)
    assert chain.chains_of(engine) == 3
    sm = make_sessionmaker(engine)
    _append(sm, 60)  # P(a chain of three unused in 60 random picks) = 3 * (2/3)^60, about 1e-10
    assert _chains_used(sm) == {"0", "1", "2"}
    engine.dispose()
    result = idgw(database_url, "audit", "verify", "--json")
    assert result.exit_code == 0 and report_of(result)["ok"], result.output


def test_an_engine_nobody_configured_uses_the_default(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/x.db")
    assert chain.chains_of(engine) == chain.CHAINS == 16
    # ...and the gateway's setting defaults to the same count, so tools and the server agree.
    settings = Settings.from_env({}, dev=True, issuer="http://127.0.0.1:9",
                                 secret_key="test-secret-key-0123456789abcdef0123456789")
    assert settings.audit_chains == chain.CHAINS


def test_lowering_the_count_keeps_the_old_chains_verifiable(database_url):
    make_world(database_url)
    engine = make_engine(database_url)
    sm = make_sessionmaker(engine)
    chain.configure(engine, 4)
    _append(sm, 40)
    chain.configure(engine, 1)
    _append(sm, 5)
    with sm() as db:
        heads = {h.chain: h.seq for h in db.scalars(select(AuditHead))}
        zero = db.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.chain == "0",
                                                                 AuditEvent.name == "token.issued"))
    assert len([c for c in heads if c in {"1", "2", "3"}]) >= 2  # the first 40 went to several chains
    assert zero >= 5  # the last five all went to chain "0"
    engine.dispose()
    result = idgw(database_url, "audit", "verify", "--json")
    assert result.exit_code == 0 and report_of(result)["ok"], result.output


@pytest.mark.parametrize("count", [0, -1, 257])
def test_a_count_out_of_range_is_refused(tmp_path, count):
    engine = make_engine(f"sqlite:///{tmp_path}/x.db")
    with pytest.raises(ValueError, match="between 1 and 256"):
        chain.configure(engine, count)
    with pytest.raises(SettingsError, match="IDGW_AUDIT_CHAINS must be"):
        Settings.from_env({"IDGW_AUDIT_CHAINS": str(count)}, dev=True, issuer="http://127.0.0.1:9",
                          secret_key="test-secret-key-0123456789abcdef0123456789")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_gateway_spreads_its_appends_over_the_configured_chains(database_url):
    gateway = start_gateway(database_url, audit_chains=2)
    try:
        assert chain.chains_of(gateway.gw.engine) == 2
        _append(gateway.gw.sessionmaker, 40)
        assert _chains_used(gateway.gw.sessionmaker) == {"0", "1"}
    finally:
        gateway.stop()
        gateway.gw.engine.dispose()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_the_benchmark_counts_transactions_and_the_time_a_head_is_held(database_url):
    make_world(database_url)
    got = audit_chains.measure(database_url, chains=2, processes=1, threads=2, seconds=0.5)
    assert got["chains"] == 2 and got["rate"] > 0
    assert 0 < got["commit_ms"] <= got["commit_p95_ms"]
    sm = make_sessionmaker(make_engine(database_url))
    assert _chains_used(sm) <= {"0", "1"}
