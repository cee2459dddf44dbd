"""Two gateway instances writing audit events at once into one database (two processes, each
with its own engine and connection pool, several threads each) leave every chain valid: no fork,
no gap, no duplicate sequence number. On PostgreSQL the writers really interleave (row lock on
the chain head); on SQLite they take turns (one writer at a time)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import func, select

from idgw.storage.console import AuditHead
from idgw.storage.models import AuditEvent
from tests.audit.world import idgw, make_world, report_of

WRITER = textwrap.dedent("""
    import sys, threading
    from idgw import audit
    from idgw.audit import chain
    from idgw.storage.db import make_engine, make_sessionmaker

    url, instance, chains = sys.argv[1], sys.argv[2], int(sys.argv[3])
    chain.CHAINS = chains
    sm = make_sessionmaker(make_engine(url))

    def work(thread):
        for i in range(100):
            with sm() as db:
                for j in range(1 + i % 2):  # one or two events per transaction
                    audit.record(db, "token.issued", at=1_800_000_000 + i, actor=f"{instance}-{thread}",
                                 client_id="svc", n=i, j=j)
                db.commit()

    threads = [threading.Thread(target=work, args=(t,)) for t in range(3)]
    for t in threads: t.start()
    for t in threads: t.join()
""")


@pytest.mark.parametrize("chains", [1, 4])
def test_two_instances_writing_at_once_keep_every_chain_valid(database_url, chains):
    world = make_world(database_url)
    root = Path(__file__).resolve().parents[2]
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, database_url, name, str(chains)], cwd=root)
             for name in ("a", "b")]
    assert [p.wait(timeout=240) for p in procs] == [0, 0]
    with world.db() as db:
        total = db.scalar(select(func.count(AuditEvent.id)))
        assert total == 2 + 2 * 3 * 150  # keys.generated x2, then 2 instances x 3 threads x 150 events
        for head in db.scalars(select(AuditHead)):
            seqs = list(db.scalars(select(AuditEvent.seq).where(AuditEvent.chain == head.chain)
                                   .order_by(AuditEvent.seq)))
            assert seqs == list(range(1, head.seq + 1))
        if chains == 4 and database_url.startswith("postgresql"):
            assert db.scalar(select(func.count(AuditHead.chain)).where(AuditHead.seq > 0)) > 1
    result = idgw(database_url, "audit", "verify", "--json")
    assert result.exit_code == 0, result.output
    assert sum(c["events"] for c in report_of(result)["chains"].values()) == total
