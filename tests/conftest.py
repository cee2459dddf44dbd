"""Shared fixtures: a real PostgreSQL server started by the test run, real SQLite files, and the
gateway served by uvicorn on a loopback port so flows go over real HTTP."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest

from providers.simulators.server import free_port

CHROMIUM = os.environ.get("IDGW_CHROMIUM", "/usr/bin/chromium")
# Without the background-networking flags Chromium keeps dialling out, which this network refuses.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PG_BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


def _pg_bin(name: str) -> str | None:
    for d in PG_BIN_DIRS:
        if (d / name).exists():
            return str(d / name)
    return shutil.which(name)


class PostgresServer:
    """A throw-away PostgreSQL cluster in a temp dir, on a free loopback port. As root it runs
    as the ``postgres`` system user (PostgreSQL refuses to run as root). ``durable``: commits wait
    for the disk (``fsync=on``), as in production; tests run without (``fsync=off``)."""

    def __init__(self, *, durable: bool = False) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="idgw-pg-"))
        self.port = free_port()
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.fsync = "on" if durable else "off"

    def start(self) -> None:
        data = self.dir / "data"
        if self.as_user:
            shutil.chown(self.dir, "postgres")
        subprocess.run([*self.as_user, _pg_bin("initdb"), "-D", str(data), "-U", "idgw", "--auth=trust",
                        "-E", "UTF8", "--locale=C"], check=True, capture_output=True)
        self._pg_ctl("start")

    def restart(self) -> None:
        """Stop and start the cluster with the same options (e.g. after ALTER SYSTEM)."""
        self._pg_ctl("restart")

    def _pg_ctl(self, action: str) -> None:
        subprocess.run([*self.as_user, _pg_bin("pg_ctl"), "-D", str(self.dir / "data"), "-l", str(self.dir / "log"),
                        "-w", "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync={self.fsync} "
                                    f"-c max_connections=200", action], check=True, capture_output=True)

    def stop(self, *, wait_for_removal: bool = True) -> None:
        """Stop the cluster and remove its directory; ``wait_for_removal=False`` leaves the removal
        to a detached ``rm -rf`` (after a full test run the directory holds a few hundred test
        databases: 2.7 s of unlinking measured for 60 of them, and most likely the 26-28 s
        "teardown" of each xdist worker's last test in CI)."""
        subprocess.run([*self.as_user, _pg_bin("pg_ctl"), "-D", str(self.dir / "data"), "-m", "immediate", "stop"],
                       capture_output=True)
        if wait_for_removal:
            shutil.rmtree(self.dir, ignore_errors=True)
        else:
            subprocess.Popen(["rm", "-rf", "--", str(self.dir)], start_new_session=True,  # noqa: S603,S607
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def create_database(self) -> str:
        import psycopg

        name = "idgw_" + uuid.uuid4().hex[:10]
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=idgw dbname=postgres", autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://idgw@127.0.0.1:{self.port}/{name}"


@pytest.fixture(scope="session")
def postgres():
    if _pg_bin("initdb") is None or _pg_bin("pg_ctl") is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL server binaries are missing in CI (.ci/run installs them)")
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not installed; apt-get install postgresql")
    server = PostgresServer()
    server.start()
    yield server
    server.stop(wait_for_removal=False)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/idgw.db"
    return request.getfixturevalue("postgres").create_database()


class RunningGateway:
    def __init__(self, app, url: str, server, thread) -> None:
        self.app = app
        self.url = url
        self.gw = app.state.gateway
        self.clock = self.gw.clock
        self._server = server
        self._thread = thread

    def db(self):
        return self.gw.sessionmaker()

    def stop(self) -> None:
        self._server.stop()  # a quick_stop_server(), as start_gateway and tests/observe make them
        self._thread.join(timeout=10)


@functools.cache
def quick_stop_server():
    """uvicorn's Server as the tests run it: ``stop()``, called from the test's thread, ends its
    main loop at once instead of at the loop's next 0.1 s tick (a run starts and stops about a
    thousand gateways), and its shutdown waits for what is open rather than a fixed 0.1 s: stop
    0.19 -> 0.005 s. Both are uvicorn's own (0.54) with those waits changed."""
    import asyncio
    import contextlib

    import uvicorn

    class QuickStopServer(uvicorn.Server):
        _loop = _wake = None

        async def main_loop(self) -> None:
            self._loop, self._wake = asyncio.get_running_loop(), asyncio.Event()
            counter = 0
            should_exit = await self.on_tick(counter)
            while not should_exit:
                counter = (counter + 1) % 864000
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), 0.1)
                should_exit = await self.on_tick(counter)

        async def shutdown(self, sockets=None) -> None:
            # uvicorn's Server.shutdown, whose fixed 0.1 s pause after asking the connections to
            # close is replaced by waiting for them and the requests' tasks (polled every 5 ms, at
            # most 10 s), as its _wait_tasks_to_complete then does every 0.1 s.
            for server in self.servers:
                server.close()
            for sock in sockets or []:
                sock.close()
            for connection in list(self.server_state.connections):
                connection.shutdown()
            deadline = asyncio.get_running_loop().time() + 10
            while self.server_state.connections or self.server_state.tasks:
                if asyncio.get_running_loop().time() > deadline:
                    break
                await asyncio.sleep(0.005)
            for server in self.servers:
                await server.wait_closed()
            await self.lifespan.shutdown()

        def stop(self) -> None:
            self.should_exit = True
            if self._wake is not None:
                self._loop.call_soon_threadsafe(self._wake.set)

    return QuickStopServer


_SCHEMA_AT_HEAD: dict[str, Path] = {}  # the SQLite file migrated once per test run


def migrated(database_url: str) -> None:
    """Bring ``database_url`` to the schema's head. A new SQLite file is a copy (SQLite's backup API)
    of one migrated once per test run, a fifth of the time of running every migration again; an
    empty PostgreSQL database is made again from a template database migrated once per cluster
    (``_from_template``). The migrations themselves are run from scratch, on both databases, by
    tests/test_migrations.py, tests/test_cli_newcomer.py (``idgw db upgrade``) and by the first
    call here; anything else (a database a test brought to an older revision) is upgraded."""
    import sqlite3

    from idgw.storage.db import upgrade

    prefix = "sqlite:///"
    target = Path(database_url[len(prefix):]) if database_url.startswith(prefix) else None
    if target is not None and not target.exists():
        if "sqlite" not in _SCHEMA_AT_HEAD:
            head = Path(tempfile.mkdtemp(prefix="idgw-schema-")) / "head.db"
            upgrade(prefix + str(head))
            _SCHEMA_AT_HEAD["sqlite"] = head
        with sqlite3.connect(_SCHEMA_AT_HEAD["sqlite"]) as source, sqlite3.connect(target) as copy:
            source.backup(copy)
        source.close()
        copy.close()
    elif database_url in _BROUGHT_TO_HEAD:
        pass  # alembic's check at head alone takes 0.1-0.2 s: once per database
    elif target is not None or not _from_template(database_url):
        upgrade(database_url)
    _BROUGHT_TO_HEAD.add(database_url)


#: Databases ``migrated`` copied or upgraded in this process, whose schema no test moves again (a test
#: that downgrades one calls ``upgrade`` itself): a second call (``sessions`` then ``gateway``) is free.
_BROUGHT_TO_HEAD: set[str] = set()


_TEMPLATE = "idgw_schema_at_head"


def _from_template(database_url: str) -> bool:
    """An empty PostgreSQL database that nobody is connected to: dropped and created again as a
    copy of ``_TEMPLATE`` (``CREATE DATABASE ... TEMPLATE``: 0.1 s, against 0.5-1.7 s for every
    migration), the template first migrated in the same cluster if it has none. False (nothing
    done) for any other database: one that has tables, or that a test holds a connection to."""
    import psycopg
    from sqlalchemy.engine import make_url

    from idgw.storage.db import normalise_url, upgrade

    url = make_url(normalise_url(database_url))
    server = f"host={url.host} port={url.port} user={url.username}"
    with psycopg.connect(f"{server} dbname={url.database}", autocommit=True) as conn:
        if conn.execute("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE n.nspname = 'public'").fetchone()[0]:
            return False
    with psycopg.connect(f"{server} dbname=postgres", autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (_TEMPLATE,)).fetchone() is None:
            # built under another name and renamed when complete: never a half-migrated template
            building = _TEMPLATE + "_building"
            conn.execute(f'DROP DATABASE IF EXISTS "{building}"')
            conn.execute(f'CREATE DATABASE "{building}"')
            upgrade(url.set(database=building).render_as_string(hide_password=False))
            conn.execute(f'ALTER DATABASE "{building}" RENAME TO "{_TEMPLATE}"')
        try:
            conn.execute(f'DROP DATABASE "{url.database}"')
        except psycopg.errors.ObjectInUse:  # the test has an engine on it: migrate it in place
            return False
        conn.execute(f'CREATE DATABASE "{url.database}" TEMPLATE "{_TEMPLATE}"')
    return True


@pytest.fixture
def sessions(database_url):
    """A sessionmaker on ``database_url`` at the schema's head (no gateway running)."""
    from idgw.storage.db import make_engine, make_sessionmaker

    migrated(database_url)
    engine = make_engine(database_url)
    yield make_sessionmaker(engine)
    engine.dispose()


def start_gateway(database_url: str, *, host: str = "127.0.0.1", port: int | None = None,
                  **overrides) -> RunningGateway:
    from idgw.app import create_app
    from idgw.settings import Settings

    port = port or free_port()
    # WebAuthn needs a domain for the RP ID (not an IP address): browser tests use host="localhost".
    issuer = overrides.pop("issuer", f"http://{host}:{port}")
    settings = Settings.from_env({}, dev=True, issuer=issuer, database_url=database_url,
                                 secret_key="test-secret-key-0123456789abcdef0123456789", **overrides)
    migrated(settings.database_url)
    return serve_app(create_app(settings), port, settings.issuer)


def serve_app(app, port: int, url: str) -> RunningGateway:
    """Serve ``app`` (a gateway made by create_app) on 127.0.0.1:``port`` in a thread, once it has
    started; ``url`` is the issuer it answers as."""
    import uvicorn

    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False,
                            proxy_headers=False)  # trust is idgw.observe's (IDGW_TRUSTED_PROXIES), never uvicorn's
    server = quick_stop_server()(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started:
        if time.time() > deadline:
            raise RuntimeError("gateway did not start")
        time.sleep(0.02)
    return RunningGateway(app, url, server, thread)


@pytest.fixture
def gateway(database_url):
    running = start_gateway(database_url)
    yield running
    running.stop()
    running.gw.engine.dispose()


@pytest.fixture
def demo_rp(gateway):
    import uvicorn

    from idgw.admin import add_client
    from idgw.demo_rp import create_demo_app
    from tests.flow import set_policy

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with gateway.db() as db:
        new = add_client(db, name="บริการตัวอย่าง Demo e-service", redirect_uris=[base + "/callback"],
                         post_logout_redirect_uris=[base + "/"], backchannel_logout_uri=base + "/backchannel-logout",
                         now=gateway.clock.now())
        db.commit()
    set_policy(gateway, new.client_id)
    app = create_demo_app(issuer=gateway.url, client_id=new.client_id, client_secret=new.client_secret, base_url=base)
    server = quick_stop_server()(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    yield base
    server.stop()
    thread.join(timeout=10)


@pytest.fixture
def browser():
    """Debian's Chromium driven by Playwright (no browser downloads here)."""
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail("Chromium is missing in CI (.ci/run installs Debian's chromium)")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()
