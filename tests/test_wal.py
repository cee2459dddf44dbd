"""SQLite's WAL is checkpointed by the serving process in the background (idgw.storage.wal), never
inside a request's commit: that copy and its fsync were the token endpoint's p99 on SQLite."""

import asyncio
import os
import sqlite3
import time

from idgw.admin import add_user
from idgw.storage import wal
from idgw.storage.db import make_engine, make_sessionmaker
from tests.conftest import migrated, start_gateway


def _autocheckpoint(engine) -> int:
    conn = engine.raw_connection()
    try:
        return conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
    finally:
        conn.close()


def test_only_the_serving_engine_leaves_checkpoints_to_the_background(tmp_path):
    url = f"sqlite:///{tmp_path}/a.db"
    migrated(url)
    serving, tool = make_engine(url, background_checkpoints=True), make_engine(url)
    try:
        assert _autocheckpoint(serving) == 0
        assert _autocheckpoint(tool) == 1000  # command-line tools keep SQLite's own
        with make_sessionmaker(serving)() as db:
            add_user(db, username="somsri", password="correct horse battery staple", now=1)
            db.commit()
        busy, in_log, done = wal.checkpoint(serving)
        assert busy == 0 and in_log > 0 and done == in_log
        assert asyncio.run(asyncio.wait_for(wal.run(tool), 1)) is None  # nothing to do for it
    finally:
        serving.dispose()
        tool.dispose()


def test_the_gateway_checkpoints_what_requests_wrote(tmp_path):
    path = tmp_path / "g.db"
    running = start_gateway(f"sqlite:///{path}")
    try:
        engine = running.gw.engine
        assert _autocheckpoint(engine) == 0
        time.sleep(2 * wal.INTERVAL)  # the start-up's own writes checkpointed
        before = os.stat(path).st_mtime_ns
        with running.db() as db:
            for i in range(20):
                add_user(db, username=f"user{i}", password="correct horse battery staple", now=1)
            db.commit()
        assert os.stat(path).st_mtime_ns == before  # in the log only: the commit did not checkpoint
        deadline = time.monotonic() + 10 * wal.INTERVAL
        while os.stat(path).st_mtime_ns == before and time.monotonic() < deadline:
            time.sleep(0.05)
        assert os.stat(path).st_mtime_ns != before, "the background checkpoint did not run"
    finally:
        running.stop()
        running.gw.engine.dispose()


def test_a_failing_checkpoint_is_said_once_and_tried_again(tmp_path, monkeypatch, caplog):
    url = f"sqlite:///{tmp_path}/f.db"
    migrated(url)
    engine = make_engine(url, background_checkpoints=True)
    calls = []

    def failing(_engine):
        calls.append(1)
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(wal, "checkpoint", failing)

    async def for_a_while():
        task = asyncio.create_task(wal.run(engine, interval=0.02))
        await asyncio.sleep(0.5)
        assert not task.done()  # still running after the failures
        task.cancel()

    try:
        with caplog.at_level("ERROR", logger="idgw.storage.wal"):
            asyncio.run(for_a_while())
        assert len(calls) >= 5
        lines = [r for r in caplog.records if r.name == "idgw.storage.wal"]
        assert len(lines) == 1 and "disk I/O error" in (lines[0].exc_text or str(lines[0].exc_info))
    finally:
        engine.dispose()
