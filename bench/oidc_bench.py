"""idgw against panva's oidc-provider (OpenID Certified), side by side in the same run.

Starts on 127.0.0.1: the peer (bench/peer/server.mjs, one Node process), a throw-away PostgreSQL,
and ``idgw serve`` once on SQLite and once on PostgreSQL. For each database it measures, in
alternating rounds (idgw, peer, idgw, peer ...) so machine noise hits both, after every server has
run every metric uncounted for a while (``warm_up``: a cold peer is a third slower):

  discovery, jwks      requests/s (wrk from Debian if installed, else the Python generator)
  token                authorization-code exchanges/s (PKCE, ID + access + refresh token); the codes
                       are made first by logins, only the token calls are timed
  refresh              refresh-token grants/s (each rotates the token, a new ID token comes back)
  login_session        full logins/s with a fresh cookie jar per login that holds only a session
                       cookie made beforehand (the password hash is excluded): authorize, consent
                       form, code, token
  login_password       the same from an empty cookie jar through the password form (argon2id on
                       both sides, m=19 MiB, t=2, p=1)

then p50/p95/p99 latency of each at a fixed moderate rate (open loop, the same rate for both), and,
in this process, idgw's ID-token signing against a raw ES256 signature of the `cryptography`
package. bench/capacity.py adds password sign-ins per core against the raw argon2id rate (each
database) and two idgw instances on one PostgreSQL against one. On PostgreSQL, idgw is also run
against a second peer keeping its state in the same PostgreSQL (``--no-durable-peer`` skips it; not a
target, for comparison: the targets are against the peer in memory). Every login uses prompt=consent
so both providers show their consent form every time.

Bounded: every loop has a count limit and a time limit, every target is a loopback address, and
every process started here is stopped at the end (also on error or Ctrl-C).
Writes bench/results/oidc.json and bench/results/oidc.md. Run: .venv/bin/python bench/oidc_bench.py
(`make bench` installs the peer first). ``--quick`` runs short rounds for a smoke test.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import platform
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import capacity  # noqa: E402
from bench.httpc import (  # noqa: E402
    Connection,
    basic_auth,
    check_loopback,
    form_body,
    path_of,
    store_cookies,
)

HOST = "127.0.0.1"
PEER_DIR = REPO / "bench" / "peer"
RESULTS = REPO / "bench" / "results"
VENV_BIN = Path(sys.executable).parent
CLIENT_ID = "bench-rp"
CLIENT_SECRET = "bench-rp-secret-" + secrets.token_hex(16)
REDIRECT_URI = "https://rp.example.test/cb"
SCOPE = "openid profile email offline_access"
PASSWORD = "correct horse battery staple"
SECRET_KEY = "bench-secret-key-" + secrets.token_hex(24)
N_USERS = 16
#: --source: benchmark the idgw package in this directory (e.g. a `git archive` of another commit)
SOURCE: str | None = None
# The editable install's import hook would win over PYTHONPATH; drop it so SOURCE is imported.
USE_SOURCE = ("import os, sys; sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in repr(f)]; "
              "sys.path.insert(0, os.environ['IDGW_BENCH_SOURCE']); ")


# -- processes ---------------------------------------------------------------------------------------
class Process:
    """A server started in its own process group, so stopping it stops its workers too."""

    def __init__(self, name: str, argv: list[str], *, env: dict, cwd: Path, log: Path) -> None:
        self.name, self.log = name, log
        self._log = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=self._log, stderr=subprocess.STDOUT,  # noqa: S603
                                     start_new_session=True)

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
            except ProcessLookupError:
                pass
        self._log.close()

    def tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-2000:]
        except OSError:
            return ""


CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_table() -> dict[int, tuple[int, float]]:
    """pid -> (parent pid, CPU seconds) for every process (Linux /proc): its own user+system time
    and that of its children that have exited (cutime+cstime). The exited children matter: a
    PostgreSQL backend whose connection the pool closes (overflow connections close when they
    come back) takes its CPU out of the table when it exits, and into its postmaster's cutime."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        table[int(entry.name)] = (int(fields[1]), sum(int(f) for f in fields[11:15]) / CLK_TCK)
    return table


def cpu_seconds(roots: list[int]) -> float:
    """CPU used so far by ``roots`` and all their descendants (server workers, database backends),
    the exited ones included."""
    table = _proc_table()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    total, todo, seen = 0.0, list(roots), set()
    while todo:
        pid = todo.pop()
        if pid in seen or pid not in table:
            continue
        seen.add(pid)
        total += table[pid][1]
        todo.extend(children.get(pid, []))
    return total


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


async def wait_ready(proc: Process, port: int, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.proc.poll() is not None:
            raise RuntimeError(f"{proc.name} exited:\n{proc.tail()}")
        try:
            conn = Connection(HOST, port, timeout=2)
            r = await conn.request("GET", "/.well-known/openid-configuration")
            conn.close()
            if r.status == 200:
                return json.loads(r.body)
        except (TimeoutError, OSError):
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{proc.name} did not start:\n{proc.tail()}")


@dataclass
class Target:
    name: str
    port: int
    process: Process
    discovery: dict = field(default_factory=dict)
    session_cookie_names: tuple = ()
    sessions: list = field(default_factory=list)  # cookie dicts of pre-authenticated sessions
    cpu_roots: list = field(default_factory=list)  # processes whose CPU is the server's cost
    refresh_tokens: list = field(default_factory=list)

    def path(self, key: str) -> str:
        url = self.discovery[key]
        parts = urlsplit(url)
        check_loopback(parts.hostname)
        return parts.path


def set_low_assurance_policy(db, now: int) -> None:
    """The service's assurance policy: a risk assessment with no impact (IAL 1.1 / AAL 1), so a
    password alone signs in, as on the peer. Sources from before policies existed need none."""
    try:
        from idgw.assurance import PolicyInput, set_policy
    except ImportError:
        return
    impacts = {c: "none" for c in ("reputation", "financial", "programmes", "sensitive_information",
                                   "personal_safety", "civil_criminal")}
    set_policy(db, client_id=CLIENT_ID, data=PolicyInput(needs_verified_identity=True, proofing_impacts=impacts),
               actor="bench", now=now)


def prepare_idgw_database(url: str) -> None:
    """Migrate and register the bench client and users (as `idgw client add` / `idgw user add` do)."""
    from idgw.admin import add_client, add_user
    from idgw.storage.db import make_engine, make_sessionmaker, upgrade

    upgrade(url)
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as db:
            now = int(time.time())
            add_client(db, name="Bench e-service", client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                       redirect_uris=[REDIRECT_URI], scope=SCOPE, now=now, dev=True)
            set_low_assurance_policy(db, now)
            for i in range(N_USERS):
                add_user(db, username=f"user{i}", password=PASSWORD, now=now, email=f"user{i}@example.test",
                         given_name="Somsri", family_name="Rakthai", given_name_th="สมศรี", family_name_th="รักไทย")
            db.commit()
    finally:
        engine.dispose()


async def start_idgw(name: str, database_url: str, *, workers: int, logdir: Path, source: str | None = None,
                     db_pid: int | None = None, issuer: str | None = None, prepare: bool = True) -> Target:
    """``db_pid``: the database server, whose CPU counts as the gateway's (PostgreSQL's postmaster).
    ``issuer``: another instance's, for a second instance of one deployment on the same database
    (``prepare=False`` then: the first one registered the client and users)."""
    source = source or SOURCE
    if prepare:
        prepare_idgw_database(database_url)
    port = free_port()
    env = {**os.environ, "IDGW_DEV": "1", "IDGW_ISSUER": issuer or f"http://{HOST}:{port}",
           "IDGW_DATABASE_URL": database_url,
           "IDGW_SECRET_KEY": SECRET_KEY, "IDGW_CODE_TTL": "600",
           # one load generator on one IP: the per-IP budget for anonymous writes must not apply
           "IDGW_RATE_PER_IP": "1000000000"}
    if source:
        # Serve the idgw package in ``source`` (uvicorn's worker processes import it too: PYTHONPATH).
        argv = [sys.executable, "-c", USE_SOURCE + "from idgw.cli import app; app()"]
        env["PYTHONPATH"] = source
        env["IDGW_BENCH_SOURCE"] = source
    else:
        argv = [str(VENV_BIN / "idgw")]
    proc = Process(name, [*argv, "serve", "--host", HOST, "--port", str(port), "--workers", str(workers)],
                   env=env, cwd=REPO, log=logdir / f"{name}.log")
    target = Target(name, port, proc, session_cookie_names=("idgw_session",),
                    cpu_roots=[proc.proc.pid, *([db_pid] if db_pid else [])])
    target.discovery = await wait_ready(proc, port)
    return target


async def start_peer(logdir: Path, *, database_url: str | None = None, db_pid: int | None = None) -> Target:
    """The peer, its state in memory, or with ``database_url`` (a SQLAlchemy PostgreSQL URL) in that
    database (its CPU then counts the database server's, as idgw's does)."""
    port = free_port()
    name = "peer-postgresql" if database_url else "peer"
    env = {**os.environ, "PORT": str(port), "CLIENT_ID": CLIENT_ID, "CLIENT_SECRET": CLIENT_SECRET,
           "REDIRECT_URI": REDIRECT_URI, "USERS": str(N_USERS), "PASSWORD": PASSWORD, "NODE_ENV": "production"}
    if database_url:
        env["DATABASE_URL"] = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    proc = Process(name, [shutil.which("node") or "node", "server.mjs"], env=env, cwd=PEER_DIR,
                   log=logdir / f"{name}.log")
    target = Target(name, port, proc, session_cookie_names=("_session", "_session.sig"),
                    cpu_roots=[proc.proc.pid, *([db_pid] if db_pid else [])])
    target.discovery = await wait_ready(proc, port)
    return target


# -- the browser and the relying party ----------------------------------------------------------------
FORM_RE = re.compile(r"<form[^>]*action=\"([^\"]+)\"[^>]*>(.*?)</form>", re.S)
HIDDEN_RE = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')


class FlowError(Exception):
    pass


def visible_text(body: str, limit: int = 300) -> str:
    """An error page as one short line (tags, styles and scripts dropped)."""
    body = re.sub(r"(?is)<(style|script|head)[^>]*>.*?</\1>", " ", body)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", body))).strip()[:limit]


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


async def browser_login(t: Target, *, session: dict | None, password: bool, keep_jar: bool = False):
    """authorize -> (password form) -> consent form -> code, over a fresh connection and a fresh cookie
    jar (holding only ``session`` if given). Returns (code, verifier[, jar])."""
    conn = Connection(HOST, t.port)
    jar = dict(session or {})
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(16)
    query = urlencode({"client_id": CLIENT_ID, "response_type": "code", "redirect_uri": REDIRECT_URI,
                       "scope": SCOPE, "state": state, "nonce": secrets.token_urlsafe(16),
                       "code_challenge": challenge, "code_challenge_method": "S256", "prompt": "consent"})
    try:
        r = await conn.request("GET", t.path("authorization_endpoint") + "?" + query, cookies=jar)
        for _ in range(16):
            store_cookies(jar, r)
            if r.status in (302, 303):
                location = r.header("location")
                if location.startswith(REDIRECT_URI):
                    params = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
                    if params.get("state") != state or "code" not in params:
                        raise FlowError(f"{t.name}: bad callback {location[:200]}")
                    return (params["code"], verifier, jar) if keep_jar else (params["code"], verifier)
                r = await conn.request("GET", path_of(location), cookies=jar)
                continue
            if r.status != 200:
                raise FlowError(f"{t.name}: HTTP {r.status}: {visible_text(r.text)}")
            page = r.text
            form = FORM_RE.search(page)
            if not form:
                raise FlowError(f"{t.name}: no form: {page[:300]}")
            fields = {k: unescape(v) for k, v in HIDDEN_RE.findall(form.group(2))}
            if 'name="password"' in page:
                if not password:
                    raise FlowError(f"{t.name}: asked for a password although a session was given")
                fields.update(username=f"user{secrets.randbelow(N_USERS)}", password=PASSWORD)
            elif 'value="allow"' in page:
                fields["decision"] = "allow"
            else:
                raise FlowError(f"{t.name}: unknown page: {page[:300]}")
            headers, body = form_body(fields)
            r = await conn.request("POST", unescape(path_of(form.group(1))), headers=headers, body=body, cookies=jar)
        raise FlowError(f"{t.name}: too many steps")
    finally:
        conn.close()


def check_tokens(t: Target, r, *, refresh: bool = True) -> dict:
    if r.status != 200:
        raise FlowError(f"{t.name}: token endpoint HTTP {r.status}: {r.text[:300]}")
    body = json.loads(r.body)
    for key in ("id_token", "access_token", *(("refresh_token",) if refresh else ())):
        if key not in body:
            raise FlowError(f"{t.name}: token response without {key}: {body}")
    return body


async def exchange(t: Target, conn: Connection, code: str, verifier: str) -> dict:
    headers, body = form_body({"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI,
                               "code_verifier": verifier})
    headers["Authorization"] = basic_auth(CLIENT_ID, CLIENT_SECRET)
    return check_tokens(t, await conn.request("POST", t.path("token_endpoint"), headers=headers, body=body))


async def refresh(t: Target, conn: Connection, refresh_token: str) -> dict:
    headers, body = form_body({"grant_type": "refresh_token", "refresh_token": refresh_token})
    headers["Authorization"] = basic_auth(CLIENT_ID, CLIENT_SECRET)
    return check_tokens(t, await conn.request("POST", t.path("token_endpoint"), headers=headers, body=body))


async def make_sessions(t: Target, n: int) -> None:
    """Pre-authenticated sessions: one password login each; only the session cookies are kept."""
    t.sessions = []
    for _ in range(n):
        code, verifier, jar = await browser_login(t, session=None, password=True, keep_jar=True)
        t.sessions.append({k: v for k, v in jar.items() if k in t.session_cookie_names})
        if not t.sessions[-1]:
            raise FlowError(f"{t.name}: no session cookie among {sorted(jar)}")


async def session_login(t: Target) -> tuple[str, str]:
    """A login with a pre-authenticated session. Each session serves one login at a time: the peer
    gives the session a new identifier (cookie) at the end of every authorization, so the newest
    cookies go back into the pool."""
    if not t.sessions:
        raise FlowError(f"{t.name}: no free pre-authenticated session")
    session = t.sessions.pop()
    try:
        code, verifier, jar = await browser_login(t, session=session, password=False, keep_jar=True)
        session = {k: v for k, v in jar.items() if k in t.session_cookie_names} or session
        return code, verifier
    finally:
        t.sessions.append(session)


async def make_codes(t: Target, n: int, *, workers: int, seconds: float) -> list[tuple[str, str]]:
    codes: list[tuple[str, str]] = []

    async def one(_conn, _i):
        codes.append(await session_login(t))

    await closed_loop(one, workers=workers, max_count=n, seconds=seconds, connect=None)
    return codes


# -- load shapes -------------------------------------------------------------------------------------
@dataclass
class Outcome:
    count: int
    seconds: float
    errors: int
    latencies_ms: list
    first_error: str | None = None
    cpu_ms: float | None = None  # server CPU per completed operation


    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0


async def closed_loop(fn, *, workers: int, max_count: int, seconds: float, connect, cpu_roots=None) -> Outcome:
    """``workers`` tasks call ``fn(conn, i)`` back to back until ``max_count`` calls or ``seconds``."""
    issued = 0
    done = errors = 0
    first_error = None
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def worker():
        nonlocal issued, done, errors, first_error
        conn = connect() if connect else None
        try:
            # Stops early when nearly everything fails (a broken round is reported, not hammered).
            while issued < max_count and time.perf_counter() < deadline and not (errors > 50 and errors > 10 * done):
                i = issued
                issued += 1
                t0 = time.perf_counter()
                try:
                    await fn(conn, i)
                except Exception as exc:  # noqa: BLE001 - counted and reported
                    errors += 1
                    first_error = first_error or f"{type(exc).__name__}: {exc}"[:400]
                    if conn is not None:
                        conn.close()
                    continue
                latencies.append((time.perf_counter() - t0) * 1000)
                done += 1
        finally:
            if conn is not None:
                conn.close()

    cpu0 = cpu_seconds(cpu_roots) if cpu_roots else None
    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    out = Outcome(done, time.perf_counter() - start, errors, latencies, first_error)
    if cpu_roots and done:
        out.cpu_ms = (cpu_seconds(cpu_roots) - cpu0) * 1000 / done
    return out


async def fixed_rate(fn, *, rate: float, seconds: float, connect) -> Outcome:
    """Open loop: one call every 1/rate seconds whatever the answers; latency counts from the
    scheduled start. Connections come from a pool that grows only when all are busy."""
    n = int(rate * seconds)
    pool: list = []
    latencies: list[float] = []
    errors = 0
    first_error = None

    async def one(i, scheduled):
        nonlocal errors, first_error
        conn = pool.pop() if pool else (connect() if connect else None)
        try:
            await fn(conn, i)
            latencies.append((time.perf_counter() - scheduled) * 1000)
            if conn is not None:
                pool.append(conn)
        except Exception as exc:  # noqa: BLE001 - counted and reported
            errors += 1
            first_error = first_error or f"{type(exc).__name__}: {exc}"[:400]
            if conn is not None:
                conn.close()

    start = time.perf_counter()
    tasks = []
    for i in range(n):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, scheduled)))
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=60)
    for conn in pool:
        conn.close()
    return Outcome(len(latencies), time.perf_counter() - start, errors, latencies, first_error)


def percentiles(values: list[float]) -> dict:
    if not values:
        return {}
    v = sorted(values)

    def q(p):
        return v[min(len(v) - 1, max(0, round(p * len(v)) - 1))]

    return {"p50": round(q(0.50), 2), "p95": round(q(0.95), 2), "p99": round(q(0.99), 2), "n": len(v)}


async def wrk(t: Target, path: str, *, seconds: float, connections: int) -> Outcome | None:
    exe = shutil.which("wrk")
    if exe is None:
        return None
    proc = await asyncio.create_subprocess_exec(
        exe, "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", f"http://{HOST}:{t.port}{path}",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    cpu0 = cpu_seconds(t.cpu_roots)
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=seconds + 30)
    cpu = cpu_seconds(t.cpu_roots) - cpu0
    text = out.decode()
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    total = re.search(r"(\d+) requests in ([\d.]+)(m?s)", text)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    errs = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if not (m and total):
        raise RuntimeError(f"wrk output not understood: {text}")
    secs = float(total.group(2)) / (1000 if total.group(3) == "ms" else 1)
    n_err = (int(bad.group(1)) if bad else 0) + (sum(map(int, errs.groups())) if errs else 0)
    count = int(total.group(1))
    return Outcome(count, secs, n_err, [], None if not n_err else text[-400:], cpu_ms=cpu * 1000 / max(count, 1))


# -- the measurements ----------------------------------------------------------------------------------
@dataclass
class Plan:
    rounds: int = 3
    warm_seconds: float = 12.0  # per metric, uncounted, on each server before its first round (warm_up)
    get_seconds: float = 2.0
    token_codes: int = 300
    refresh_seconds: float = 2.5
    login_seconds: float = 3.0
    workers: int = 16          # concurrent clients (closed loop)
    latency_seconds: float = 3.0
    login_latency_seconds: float = 5.0
    rates: dict = field(default_factory=lambda: {"discovery": 200, "jwks": 200, "token": 50, "refresh": 50,
                                                 "login_session": 10, "login_password": 5})


def conn_factory(t: Target):
    return lambda: Connection(HOST, t.port)


async def measure_throughput(metric: str, t: Target, plan: Plan) -> Outcome:
    if metric in ("discovery", "jwks"):
        path = t.path("jwks_uri") if metric == "jwks" else "/.well-known/openid-configuration"
        out = await wrk(t, path, seconds=plan.get_seconds, connections=plan.workers)
        if out is not None:
            return out

        async def get(conn, _i):
            r = await conn.request("GET", path)
            if r.status != 200:
                raise FlowError(f"HTTP {r.status}")

        return await closed_loop(get, workers=plan.workers, max_count=200_000, seconds=plan.get_seconds,
                                 connect=conn_factory(t), cpu_roots=t.cpu_roots)
    if metric == "token":
        codes = await make_codes(t, plan.token_codes, workers=plan.workers, seconds=60)
        t.refresh_tokens = []

        async def tok(conn, i):
            t.refresh_tokens.append((await exchange(t, conn, *codes[i]))["refresh_token"])

        return await closed_loop(tok, workers=plan.workers, max_count=len(codes), seconds=60,
                                 connect=conn_factory(t), cpu_roots=t.cpu_roots)
    if metric == "refresh":
        pool = list(getattr(t, "refresh_tokens", []))
        if len(pool) < plan.workers:
            await measure_throughput("token", t, Plan(token_codes=plan.workers * 2, workers=plan.workers))
            pool = list(t.refresh_tokens)

        async def ref(conn, _i):
            if not pool:
                raise FlowError("no refresh token left")
            rt = pool.pop()
            try:
                rt = (await refresh(t, conn, rt))["refresh_token"]
            finally:
                pool.append(rt)  # the newest one (rotation), or the old one if the call failed

        out = await closed_loop(ref, workers=plan.workers, max_count=100_000, seconds=plan.refresh_seconds,
                                connect=conn_factory(t), cpu_roots=t.cpu_roots)
        t.refresh_tokens = pool
        return out
    if metric in ("login_session", "login_password"):
        with_password = metric == "login_password"

        async def login(_conn, _i):
            if with_password:
                code, verifier = await browser_login(t, session=None, password=True)
            else:
                code, verifier = await session_login(t)
            conn = Connection(HOST, t.port)
            try:
                await exchange(t, conn, code, verifier)
            finally:
                conn.close()

        return await closed_loop(login, workers=plan.workers, max_count=100_000, seconds=plan.login_seconds,
                                 connect=None, cpu_roots=t.cpu_roots)
    raise ValueError(metric)


async def measure_latency(metric: str, t: Target, plan: Plan) -> Outcome:
    rate = plan.rates[metric]
    seconds = plan.login_latency_seconds if metric.startswith("login") else plan.latency_seconds
    if metric in ("discovery", "jwks"):
        path = t.path("jwks_uri") if metric == "jwks" else "/.well-known/openid-configuration"

        async def get(conn, _i):
            r = await conn.request("GET", path)
            if r.status != 200:
                raise FlowError(f"HTTP {r.status}")

        return await fixed_rate(get, rate=rate, seconds=seconds, connect=conn_factory(t))
    if metric == "token":
        codes = await make_codes(t, int(rate * seconds), workers=plan.workers, seconds=60)

        async def tok(conn, i):
            await exchange(t, conn, *codes[i])

        return await fixed_rate(tok, rate=rate, seconds=len(codes) / rate, connect=conn_factory(t))
    if metric == "refresh":
        pool = list(t.refresh_tokens)

        async def ref(conn, _i):
            if not pool:
                raise FlowError("no refresh token left")
            rt = pool.pop()
            try:
                rt = (await refresh(t, conn, rt))["refresh_token"]
            finally:
                pool.append(rt)

        out = await fixed_rate(ref, rate=rate, seconds=seconds, connect=conn_factory(t))
        t.refresh_tokens = pool
        return out
    with_password = metric == "login_password"

    async def login(_conn, _i):
        if with_password:
            code, verifier = await browser_login(t, session=None, password=True)
        else:
            code, verifier = await session_login(t)
        conn = Connection(HOST, t.port)
        try:
            await exchange(t, conn, code, verifier)
        finally:
            conn.close()

    return await fixed_rate(login, rate=rate, seconds=seconds, connect=None)


THROUGHPUT = ["discovery", "jwks", "token", "refresh", "login_session", "login_password"]
#: What the peer keeps in its database when it has one (discovery and JWKS read nothing).
DURABLE_METRICS = ("token", "refresh", "login_session", "login_password")
UNITS = {"discovery": "req/s", "jwks": "req/s", "token": "req/s", "refresh": "req/s", "login_session": "logins/s",
         "login_password": "logins/s"}


def log(msg: str) -> None:
    print(msg, flush=True)


async def warm_up(t: Target, plan: Plan, metrics, report: dict) -> None:
    """Run every metric on a server just started, uncounted, for ``plan.warm_seconds`` each (the
    two GETs a fifth of it), so that rounds compare servers in their steady state. The peer needs
    it: V8 compiles its paths only after thousands of calls (measured on a fresh peer, 12 token
    rounds: 436, 585, 635, 782 ... 957/s, CPU per token 3.1 -> 1.2 ms; session sign-ins 123 -> 204/s
    over five rounds), and measured cold, in the first database's rounds, it made that database's
    ratios look a third better than they were. idgw moves less (session sign-ins 86, then ~100/s).
    The rates seen go in the report (``warm_up``)."""
    seen: dict[str, list[int]] = {}
    for metric in metrics:
        budget = plan.warm_seconds / (5 if metric in ("discovery", "jwks") else 1)
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < budget:
            seen.setdefault(metric, []).append(round((await measure_throughput(metric, t, plan)).rate))
    if seen:
        report.setdefault("warm_up", {})[t.name] = seen
        log(f"  {t.name} warmed up (uncounted rounds): " + "; ".join(f"{m} {r}" for m, r in seen.items()))


async def compare(idgw: Target, peer: Target, plan: Plan, metrics=THROUGHPUT) -> dict:
    """Alternating rounds of every throughput metric, then the fixed-rate latencies."""
    result: dict = {"throughput": {}, "latency": {}}
    for metric in metrics:
        rates: dict[str, list[float]] = {idgw.name: [], peer.name: []}
        cpu: dict[str, list[float]] = {idgw.name: [], peer.name: []}
        errors: dict[str, int] = {idgw.name: 0, peer.name: 0}
        first_errors: dict[str, str] = {}
        for rnd in range(plan.rounds):
            order = (idgw, peer) if rnd % 2 == 0 else (peer, idgw)
            for t in order:
                out = await measure_throughput(metric, t, plan)
                rates[t.name].append(out.rate)
                if out.cpu_ms is not None:
                    cpu[t.name].append(out.cpu_ms)
                errors[t.name] += out.errors
                if out.first_error:
                    first_errors.setdefault(t.name, out.first_error)
        med = {k: statistics.median(v) for k, v in rates.items()}
        cpu_med = {k: round(statistics.median(v), 3) if v else None for k, v in cpu.items()}
        ratio = med[idgw.name] / med[peer.name] if med[peer.name] else float("nan")
        result["throughput"][metric] = {"idgw": round(med[idgw.name], 1), "peer": round(med[peer.name], 1),
                                        "ratio": round(ratio, 3),
                                        "cpu_ms_per_op": {"idgw": cpu_med[idgw.name], "peer": cpu_med[peer.name]},
                                        "rounds": {k: [round(x, 1) for x in v] for k, v in rates.items()},
                                        "errors": errors, **({"first_errors": first_errors} if first_errors else {})}
        log(f"  {metric:15s} idgw {med[idgw.name]:9.1f}  peer {med[peer.name]:9.1f} {UNITS[metric]:9s} "
            f"ratio {ratio:5.2f}  cpu/op idgw {cpu_med[idgw.name]} ms peer {cpu_med[peer.name]} ms  "
            f"rounds idgw {[round(x) for x in rates[idgw.name]]} "
            f"peer {[round(x) for x in rates[peer.name]]}" + (f"  ERRORS {errors} {first_errors}" if any(
                errors.values()) else ""))
    for metric in metrics:
        entry = {"rate_per_s": plan.rates[metric]}
        for t in (idgw, peer):
            out = await measure_latency(metric, t, plan)
            entry["peer" if t is peer else "idgw"] = {**percentiles(out.latencies_ms), "errors": out.errors}
        result["latency"][metric] = entry
        i, p = entry["idgw"], entry["peer"]
        log(f"  {metric:15s} @{plan.rates[metric]:>4}/s  idgw p50 {i.get('p50')} p95 {i.get('p95')} p99 {i.get('p99')}"
            f"  |  peer p50 {p.get('p50')} p95 {p.get('p95')} p99 {p.get('p99')} ms")
    return result


# -- ID token signing, in this process -------------------------------------------------------------------
def signing_bench(database_url: str, *, seconds_per_block: float = 0.5, blocks: int = 6) -> dict:
    """idgw's Provider.encode_id_token (claims, at_hash, compact JWS) against a bare ES256 signature
    (cryptography, same curve, over the same signing input), in alternating blocks."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from joserfc import jwt
    from sqlalchemy import select

    from idgw.app import build_gateway
    from idgw.oidc.models import ClientModel, GrantSubject
    from idgw.settings import Settings
    from idgw.storage.models import Client

    settings = Settings.from_env({}, dev=True, issuer="http://127.0.0.1:8000", database_url=database_url,
                                 secret_key=SECRET_KEY)
    gw = build_gateway(settings)
    try:
        from idgw.app import settle_heap
    except ImportError:  # sources from before it existed
        settle_heap = None
    if settle_heap is not None:
        settle_heap()  # as `idgw serve` does once the app is built: this process's heap is not idgw's
    with gw.sessionmaker() as db:
        client = ClientModel(db.scalar(select(Client).where(Client.client_id == CLIENT_ID)))
    subject = GrantSubject(account_id="0b7c7d3e-2f57-4a1c-9f4e-7f1b0e0b2a11", session_id="s" * 36,
                           auth_time=int(time.time()), acr="urn:idgw:aal:1", amr=["pwd"])
    access_token = "a" * 600
    kid, key = gw.keys.signing_key("ES256")
    private = key.private_key  # the cryptography key joserfc holds (and idgw's signer signs with)
    sample = gw.provider.encode_id_token(client=client, subject=subject, access_token=access_token, nonce="n" * 22,
                                          scope=SCOPE)
    signing_input = sample.rsplit(".", 1)[0].encode()
    claims = jwt.decode(sample, gw.keys.public_keyset).claims

    def raw():
        private.sign(signing_input, ec.ECDSA(hashes.SHA256()))

    def joserfc_encode():
        jwt.encode({"alg": "ES256", "typ": "JWT", "kid": kid}, claims, key, algorithms=["ES256"])

    def idgw_encode():
        gw.provider.encode_id_token(client=client, subject=subject, access_token=access_token, nonce="n" * 22,
                                          scope=SCOPE)

    fns = {"raw_es256": raw, "joserfc_jwt_encode": joserfc_encode, "idgw_encode_id_token": idgw_encode}
    per_sec: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(blocks):
        for name, fn in fns.items():
            n, t0 = 0, time.perf_counter()
            while True:
                for _ in range(50):
                    fn()
                n += 50
                if time.perf_counter() - t0 >= seconds_per_block:
                    break
            per_sec[name].append(n / (time.perf_counter() - t0))
    gw.engine.dispose()
    med = {k: statistics.median(v) for k, v in per_sec.items()}
    return {
        "per_second": {k: round(v) for k, v in med.items()},
        "microseconds": {k: round(1e6 / v, 1) for k, v in med.items()},
        "ratio_idgw_to_raw": round(med["idgw_encode_id_token"] / med["raw_es256"], 3),
        "ratio_joserfc_to_raw": round(med["joserfc_jwt_encode"] / med["raw_es256"], 3),
    }


# -- reporting ----------------------------------------------------------------------------------------
TARGETS = {"discovery": 0.8, "jwks": 0.8, "token": 0.8, "refresh": 0.8, "login_session": 0.5}
P99_TARGET_MS = {"discovery": 10, "jwks": 10, "token": 10}


def versions() -> dict:
    import authlib
    import fastapi
    import joserfc
    import sqlalchemy
    import uvicorn

    import idgw

    def node_pkg(name):
        try:
            return json.loads((PEER_DIR / "node_modules" / name / "package.json").read_text())["version"]
        except OSError:
            return None

    wrk_version = None
    if wrk_exe := shutil.which("wrk"):
        out = subprocess.run([wrk_exe, "-v"], capture_output=True, text=True)  # noqa: S603
        wrk_version = (out.stdout + out.stderr).split("\n")[0].split(" [")[0].replace("wrk ", "").strip()
    return {"idgw": idgw.__version__, "python": platform.python_version(), "fastapi": fastapi.__version__,
            "uvicorn": uvicorn.__version__, "authlib": authlib.__version__, "joserfc": joserfc.__version__,
            "sqlalchemy": sqlalchemy.__version__,
            "node": subprocess.run([shutil.which("node") or "node", "--version"],  # noqa: S603
                                   capture_output=True, text=True).stdout.strip(),
            "oidc-provider": node_pkg("oidc-provider"), "argon2 (node)": node_pkg("argon2"), "wrk": wrk_version,
            "postgresql": _pg_version()}


def _pg_version() -> str | None:
    from bench.pg import _pg_bin

    exe = _pg_bin("postgres")
    if not exe:
        return None
    return subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.strip()  # noqa: S603


def markdown(report: dict) -> str:
    lines = [f"Machine: {report['machine']['cores']} cores, {report['machine']['platform']}; "
             f"idgw `serve --workers {report['workers']}`, peer one Node process; "
             f"{report['plan']['workers']} concurrent clients; median of {report['plan']['rounds']} alternating "
             f"rounds, each server first warmed up by {report['plan']['warm_seconds']:g} s of uncounted rounds "
             f"per metric; {report['started']}.", ""]
    dbs = list(report["databases"])
    head = "| figure | " + " | ".join(f"idgw {d} | ratio" for d in dbs) + " | peer | target |"
    lines += [head, "|---" * (2 + 2 * len(dbs) + 1) + "|"]
    metrics = [m for m in THROUGHPUT if all(m in report["databases"][d]["throughput"] for d in dbs)]
    for metric in metrics:
        cells = []
        peers = []
        for d in dbs:
            m = report["databases"][d]["throughput"][metric]
            cells += [f"{m['idgw']:.0f}", f"{m['ratio']:.2f}×"]
            peers.append(f"{m['peer']:.0f}")
        target = f"≥ {TARGETS[metric]}×" if metric in TARGETS else "—"
        lines.append(f"| {metric} ({UNITS[metric]}) | " + " | ".join(cells) + f" | {' / '.join(peers)} | {target} |")
    if all(report["databases"][d].get("password_per_core") for d in dbs):
        # Not against the peer: against the raw argon2id rate at the same parameters (bench/capacity.py).
        per_core = [report["databases"][d]["password_per_core"] for d in dbs]
        lines.append("| password sign-ins per core (/s/core; ratio and last column: raw argon2id) | "
                     + " | ".join(f"{f['logins_per_s_per_core']:.1f} | {f['ratio']:.2f}×" for f in per_core)
                     + " | raw " + " / ".join(f"{f['raw_verifies_per_s_per_core']:.0f}" for f in per_core)
                     + f" | ≥ {capacity.PASSWORD_PER_CORE_TARGET}× |")
    lines += ["", "Latency at a fixed rate (open loop), milliseconds p50 / p95 / p99:", "",
              "| figure | rate | " + " | ".join(f"idgw {d}" for d in dbs) + " | peer | p99 target |",
              "|---" * (3 + len(dbs) + 1) + "|"]
    for metric in metrics:
        cells = []
        peer_cell = None
        for d in dbs:
            e = report["databases"][d]["latency"][metric]
            cells.append(f"{e['idgw'].get('p50')} / {e['idgw'].get('p95')} / {e['idgw'].get('p99')}")
            peer_cell = peer_cell or f"{e['peer'].get('p50')} / {e['peer'].get('p95')} / {e['peer'].get('p99')}"
        rate = report["databases"][dbs[0]]["latency"][metric]["rate_per_s"]
        target = f"≤ {P99_TARGET_MS[metric]} ms" if metric in P99_TARGET_MS else "—"
        lines.append(f"| {metric} | {rate}/s | " + " | ".join(cells) + f" | {peer_cell} | {target} |")
    s = report.get("signing")
    if s:
        lines += ["", f"ID-token signing (one core, in process): idgw `encode_id_token` "
                      f"{s['microseconds']['idgw_encode_id_token']} µs, joserfc `jwt.encode` "
                      f"{s['microseconds']['joserfc_jwt_encode']} µs, raw ES256 (`cryptography`) "
                      f"{s['microseconds']['raw_es256']} µs: idgw/raw = {s['ratio_idgw_to_raw']}× "
                      f"(target ≥ 0.5×)."]
    lines += durable_peer_lines(report)
    lines += capacity.markdown_lines(report)
    extra = report.get("workers_check")
    if extra:
        lines += ["", f"`idgw serve --workers {extra['workers']}` (same load, one round):"]
        for d, figs in extra["databases"].items():
            lines.append(f"- {d}: " + ", ".join(f"{k} {v['rate']:.0f}/s ({v['errors']} errors)"
                                                for k, v in figs.items()))
    lines += ["", "Versions: " + ", ".join(f"{k} {v}" for k, v in report["versions"].items() if v)]
    return "\n".join(lines) + "\n"


def durable_peer_lines(report: dict) -> list[str]:
    """idgw on PostgreSQL against the peer keeping its state in the same PostgreSQL (not a target:
    the targets are against the peer in memory)."""
    dp = report.get("durable_peer")
    if not dp:
        return []
    lines = ["", "idgw on PostgreSQL against the peer with its state in the same PostgreSQL (its adapter: one "
                 "statement per call, autocommitted; not a target, for comparison with the table above):", "",
             "| figure | idgw | peer (PostgreSQL) | ratio | CPU per op idgw / peer (ms) |", "|---|---|---|---|---|"]
    for metric, m in dp["throughput"].items():
        cpu = m["cpu_ms_per_op"]
        lines.append(f"| {metric} ({UNITS[metric]}) | {m['idgw']:.0f} | {m['peer']:.0f} | {m['ratio']:.2f}× | "
                     f"{cpu['idgw']} / {cpu['peer']} |")
    return lines


def verdicts(report: dict) -> list[str]:
    out = []
    for d, res in report["databases"].items():
        for metric, target in TARGETS.items():
            if metric not in res["throughput"]:
                continue
            r = res["throughput"][metric]["ratio"]
            out.append(f"{'met ' if r >= target else 'MISS'}  {d:10s} {metric:15s} {r:.2f}× (target ≥ {target}×)")
        for metric, ms in P99_TARGET_MS.items():
            if metric not in res["latency"]:
                continue
            p99 = res["latency"][metric]["idgw"].get("p99")
            out.append(f"{'met ' if p99 is not None and p99 <= ms else 'MISS'}  {d:10s} {metric + ' p99':15s} "
                       f"{p99} ms (target ≤ {ms} ms)")
    out += capacity.verdicts(report)
    s = report.get("signing")
    if s:
        out.append(f"{'met ' if s['ratio_idgw_to_raw'] >= 0.5 else 'MISS'}  ID-token signing "
                   f"{s['ratio_idgw_to_raw']}× raw "
                   "ES256 (target ≥ 0.5×)")
    return out


# -- main --------------------------------------------------------------------------------------------
async def workers_check(name: str, url: str, workers: int, plan: Plan, logdir: Path, db_pid: int | None) -> dict:
    t = await start_idgw(f"{name}-w{workers}", url, workers=workers, logdir=logdir, db_pid=db_pid)
    try:
        await make_sessions(t, max(N_USERS, plan.workers))
        figs = {}
        for metric in ("discovery", "token", "refresh", "login_session"):
            out = await measure_throughput(metric, t, plan)
            figs[metric] = {"rate": round(out.rate, 1), "errors": out.errors, "cpu_ms_per_op": out.cpu_ms,
                            **({"first_error": out.first_error} if out.first_error else {})}
        log(f"  --workers {workers} on {name}: " + ", ".join(f"{k} {v['rate']:.0f}/s ({v['errors']} err)"
                                                         for k, v in figs.items()))
        return figs
    finally:
        t.process.stop()


async def run(args) -> dict:
    plan = Plan()
    if args.quick:
        plan = Plan(rounds=1, get_seconds=1, token_codes=60, refresh_seconds=1, login_seconds=1.5, latency_seconds=1,
                    login_latency_seconds=2, warm_seconds=0)
    work = Path(tempfile.mkdtemp(prefix="idgw-bench-"))
    started: list = []
    report = {"started": time.strftime("%Y-%m-%d %H:%M:%S %z"), "workers": args.workers,
              "machine": {"cores": os.cpu_count(), "platform": platform.platform(), "load_generator": (
                  "wrk (discovery, jwks throughput)" if shutil.which("wrk") else "python") + " + bench/httpc.py"},
              "plan": {k: v for k, v in plan.__dict__.items()}, "databases": {}}
    pg = None
    from bench.pg import postmaster_pid

    try:
        log(f"peer: starting oidc-provider ({N_USERS} users, argon2id hashes made at start)")
        peer = await start_peer(work)
        started.append(peer.process)
        await make_sessions(peer, N_USERS)
        await warm_up(peer, plan, args.metrics, report)
        for db in args.databases:
            if db == "postgresql":
                from bench.pg import PostgresServer, available

                if not available():
                    log("postgresql: server binaries not installed, skipped")
                    continue
                pg = PostgresServer()
                pg.start()
                url = pg.create_database()
            else:
                url = f"sqlite:///{work}/idgw.db"
            name = f"idgw-{db}"
            log(f"{name}: starting idgw serve --workers {args.workers}")
            idgw_t = await start_idgw(name, url, workers=args.workers, logdir=work,
                                      db_pid=postmaster_pid(pg) if db == "postgresql" else None)
            started.append(idgw_t.process)
            await make_sessions(idgw_t, N_USERS)
            await warm_up(idgw_t, plan, args.metrics, report)
            t0 = time.perf_counter()
            report["databases"][db] = await compare(idgw_t, peer, plan, args.metrics)
            report["databases"][db]["seconds"] = round(time.perf_counter() - t0, 1)
            durable = [m for m in args.metrics if m in DURABLE_METRICS]
            if db == "postgresql" and args.durable_peer and durable:
                log("peer-postgresql: starting oidc-provider with its state in the same PostgreSQL")
                peer_pg = await start_peer(work, database_url=pg.create_database(), db_pid=postmaster_pid(pg))
                started.append(peer_pg.process)
                await make_sessions(peer_pg, N_USERS)
                await warm_up(peer_pg, plan, durable, report)
                report["durable_peer"] = await compare(idgw_t, peer_pg, plan, durable)
                peer_pg.process.stop()
            idgw_t.process.stop()
            if "login_password" in report["databases"][db]["throughput"]:
                # Measured now, with the servers stopped, so the raw rate has the core to itself.
                raw = capacity.raw_argon2id(PASSWORD)
                per_core = capacity.password_per_core(report["databases"][db]["throughput"]["login_password"], raw,
                                                      report["databases"][db]["throughput"].get("login_session"))
                if per_core:
                    report["databases"][db]["password_per_core"] = {**per_core, "argon2id_raw": raw}
                    log(f"  password/core   {per_core['logins_per_s_per_core']:.1f} sign-ins/s/core against raw "
                        f"argon2id {raw['verifies_per_s_per_core']:.1f}/s/core ({raw['cpu_ms_per_verify']} ms): "
                        f"ratio {per_core['ratio']:.2f} (target {capacity.PASSWORD_PER_CORE_TARGET}), "
                        f"{per_core['cpu_ms_beyond_the_hash']} ms of CPU beyond the hash"
                        + (f", password step {per_core['password_step_cpu_ms']} ms (the hash "
                           f"{per_core['password_step_ratio']:.0%} of it)" if "password_step_cpu_ms" in per_core
                           else ""))
            if db == "postgresql" and args.two_instances:
                log("idgw-postgresql: two instances on one database against one")
                t0 = time.perf_counter()
                report["two_instances"] = await capacity.two_instances(
                    ob=sys.modules[__name__], url=pg.create_database(), plan=plan, logdir=work,
                    db_pid=postmaster_pid(pg))
                report["two_instances_seconds"] = round(time.perf_counter() - t0, 1)
            if db == args.databases[0] and not args.no_sign:
                try:
                    s = report["signing"] = signing_bench(url)
                    log(f"  ID-token signing: idgw {s['microseconds']['idgw_encode_id_token']} µs, joserfc "
                        f"{s['microseconds']['joserfc_jwt_encode']} µs, raw ES256 {s['microseconds']['raw_es256']} "
                        f"µs -> {s['ratio_idgw_to_raw']}× raw")
                except Exception as exc:  # noqa: BLE001 - the HTTP figures above still count
                    log(f"  ID-token signing benchmark failed: {type(exc).__name__}: {exc}")
                    report["signing_error"] = f"{type(exc).__name__}: {exc}"
            if args.check_workers:
                check_url = url if db == "postgresql" else f"sqlite:///{work}/idgw-w.db"
                if db == "postgresql":
                    check_url = pg.create_database()
                wc = report.setdefault("workers_check", {"workers": args.check_workers, "databases": {}})
                wc["databases"][db] = await workers_check(name, check_url, args.check_workers,
                                                          Plan(rounds=1, get_seconds=2, token_codes=200,
                                                               refresh_seconds=2, login_seconds=2), work,
                                                          postmaster_pid(pg) if db == "postgresql" else None)
    except BaseException:
        for p in started:
            sys.stderr.write(f"--- {p.name} log tail ---\n{p.tail()}\n")
        raise
    finally:
        for p in started:
            p.stop()
        if pg is not None:
            pg.stop()
        shutil.rmtree(work, ignore_errors=True)
    report["versions"] = versions()
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--workers", type=int, default=1, help="idgw serve --workers (default 1: see README)")
    parser.add_argument("--check-workers", type=int, default=2,
                        help="also run a short round with this many idgw workers (0: skip)")
    parser.add_argument("--quick", action="store_true", help="short rounds (smoke test)")
    parser.add_argument("--no-sign", action="store_true")
    parser.add_argument("--no-two-instances", dest="two_instances", action="store_false",
                        help="skip two idgw instances on one PostgreSQL against one")
    parser.add_argument("--no-durable-peer", dest="durable_peer", action="store_false",
                        help="skip idgw on PostgreSQL against the peer with its state in the same PostgreSQL")
    parser.add_argument("--metrics", default=",".join(THROUGHPUT),
                        help="comma-separated subset of: " + ", ".join(THROUGHPUT))
    parser.add_argument("--source", help="benchmark the idgw package in this directory instead of the working tree")
    args = parser.parse_args()
    if args.source:
        global SOURCE
        SOURCE = str(Path(args.source).resolve())
        os.environ["IDGW_BENCH_SOURCE"] = SOURCE
        exec(USE_SOURCE)  # noqa: S102 - the same two statements the served process runs
    args.databases = [d.strip() for d in args.databases.split(",") if d.strip()]
    args.metrics = tuple(m.strip() for m in args.metrics.split(",") if m.strip())
    if unknown := set(args.metrics) - set(THROUGHPUT):
        parser.error(f"unknown metrics: {', '.join(sorted(unknown))}")
    if not (PEER_DIR / "node_modules" / "oidc-provider").exists():
        sys.exit("the peer is not installed: run `make bench` (npm ci in bench/peer)")
    t0 = time.perf_counter()
    report = asyncio.run(run(args))
    report["total_seconds"] = round(time.perf_counter() - t0, 1)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "oidc.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    md = markdown(report)
    (RESULTS / "oidc.md").write_text(md)
    print()
    print(md)
    print("\n".join(verdicts(report)))
    print(f"\nwrote {RESULTS / 'oidc.json'} and {RESULTS / 'oidc.md'} in {report['total_seconds']} s")


if __name__ == "__main__":
    main()
