"""Prometheus metrics of one gateway process, or of all the workers of ``idgw serve --workers N``.

Request metrics are counted by idgw.observe.middleware; the domain counters (sign-ins, step-ups,
tokens, upstream errors, lockouts) from the audit events a commit wrote (``idgw.audit.sinks.listen``),
so they count what happened, never what was attempted and rolled back. The proofing queue is read
from the database when Prometheus scrapes, so every instance reports the same shared queue.

Every label value comes from a closed set (route templates, HTTP methods, the known sign-in
methods, upstream names from the configuration and the connectors' error codes); anything else is
``other``, so no request can add a series.

Several workers: prometheus_client's multiprocess mode. ``PROMETHEUS_MULTIPROC_DIR`` must name a
private directory before the workers start (``idgw serve`` makes one); each worker writes its
values there and a scrape at any worker sums them. uvicorn tells no one when a worker dies, so the
in-flight gauge of a dead worker is removed at the next scrape, by checking which pids still live.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import shutil
import tempfile

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from idgw import __version__

# No *_created series: a third of the scrape, and Prometheus has no use for them.
disable_created_metrics()

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
#: Request latency buckets, 1 ms .. 10 s.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
METHODS = {m: m for m in ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")}
# How a session was created, from its first factor (``factor``: the kinds of policies' AAL rules
# that create_session records: pwd, otp, hwk, hwk_uv, hwk_uv_attested, upstream:<name>) or, failing
# that, its amr; and which authenticator failed (authenticator.failed's ``factor``: an
# authenticator's kind, totp, recovery, webauthn).
FACTOR_METHODS = {"pwd": "password", "password": "password", "otp": "totp", "hwk": "passkey", "hwk_uv": "passkey",
                  "hwk_uv_attested": "passkey", "webauthn": "passkey", "passkey": "passkey",
                  "totp": "totp", "recovery": "recovery_code", "recovery_code": "recovery_code"}
AMR_METHODS = (("hwk", "passkey"), ("swk", "passkey"), ("pwd", "password"), ("otp", "totp"))
UNMET_ERRORS = frozenset({"access_denied", "login_required", "interaction_required",
                          "unmet_authentication_requirements"})
_AAL = re.compile(r"[1-3](\.[0-9])?")
# Gateway-side codes of upstream.failed besides the connectors' own (providers.base.MESSAGES).
GATEWAY_UPSTREAM_CODES = frozenset({"link_needs_sign_in", "account_disabled", "cancelled", "state_mismatch"})


def _upstream_codes() -> frozenset[str]:
    from providers.base import MESSAGES

    return frozenset(MESSAGES) | GATEWAY_UPSTREAM_CODES


def signin_method(detail: dict) -> str:
    factor = detail.get("factor")
    if isinstance(factor, str):
        return "upstream" if factor.startswith("upstream:") else FACTOR_METHODS.get(factor, "other")
    amr = detail.get("amr") or ()
    for value, method in AMR_METHODS:
        if value in amr:
            return method
    return "other"


class Metrics:
    """The metrics of one app. ``multiprocess_dir``: the directory of multiprocess mode (None:
    this process alone, in a registry of its own, so several apps in one process never clash)."""

    def __init__(self, *, upstreams=(), proofing=None, multiprocess_dir: str | None = None) -> None:
        self.multiprocess_dir = multiprocess_dir
        own = None if multiprocess_dir else CollectorRegistry(auto_describe=True)
        self.requests = Counter("idgw_http_requests_total", "HTTP requests answered, by route template, method "
                                "and status", ["route", "method", "status"], registry=own)
        self.latency = Histogram("idgw_http_request_duration_seconds", "Time to answer an HTTP request, by route "
                                 "template and method", ["route", "method"], buckets=BUCKETS, registry=own)
        self.in_flight = Gauge("idgw_http_requests_in_flight", "HTTP requests being answered",
                               registry=own, multiprocess_mode="livesum")
        self.signins = Counter("idgw_signins_total", "Sign-in attempts settled, by method and outcome",
                               ["method", "outcome"], registry=own)
        self.stepups = Counter("idgw_stepups_total", "Step-ups: a session raised to an AAL (reason aalN), or a "
                               "service's requirement not met (the OAuth error)", ["reason"], registry=own)
        self.tokens = Counter("idgw_tokens_issued_total", "Tokens issued, by grant", ["grant"], registry=own)
        self.upstream_errors = Counter("idgw_upstream_errors_total", "Upstream sign-in failures, by provider and "
                                       "code", ["provider", "code"], registry=own)
        self.lockouts = Counter("idgw_lockouts_total", "Accounts locked after too many failures", registry=own)
        self.db_in_use = Gauge("idgw_db_connections_in_use", "Database connections checked out of the "
                               "process's pools, by pool (threads, loop)", ["pool"], registry=own,
                               multiprocess_mode="livesum")
        self.db_capacity = Gauge("idgw_db_connections_capacity", "Connections the process's pools may hold "
                                 "(kept and burst), by pool", ["pool"], registry=own, multiprocess_mode="livesum")
        self.upstream_names = frozenset(upstreams)
        self.upstream_codes = _upstream_codes()
        self._request_children: dict = {}
        self._latency_children: dict = {}
        self.registry = own or CollectorRegistry()
        if multiprocess_dir:
            from prometheus_client import multiprocess

            multiprocess.MultiProcessCollector(self.registry, path=multiprocess_dir)
        self.registry.register(BuildInfo())
        if proofing is not None:
            self.registry.register(proofing)

    # -- database pools -------------------------------------------------------------------------------
    def watch_pools(self, named_engines) -> None:
        """Count the connections checked out of each ``(name, engine)``'s pool (its checkout and
        checkin events; a checkout a pool check refused is not counted) and state its capacity."""
        from sqlalchemy import event

        for name, engine in named_engines:
            in_use = self.db_in_use.labels(name)
            size, overflow = getattr(engine.pool, "size", None), getattr(engine.pool, "_max_overflow", None)
            if callable(size) and isinstance(overflow, int):
                self.db_capacity.labels(name).set(size() + max(overflow, 0))
            event.listen(engine, "checkout", lambda *_args, gauge=in_use: gauge.inc())
            event.listen(engine, "checkin", lambda *_args, gauge=in_use: gauge.dec())

    # -- requests (idgw.observe.middleware) ----------------------------------------------------------
    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        child = self._request_children.get(key)
        if child is None:
            child = self._request_children[key] = self.requests.labels(route, method, str(status))
        child.inc()
        latency = self._latency_children.get(key[:2])
        if latency is None:
            latency = self._latency_children[key[:2]] = self.latency.labels(route, method)
        latency.observe(seconds)

    # -- committed audit events (idgw.audit.sinks.listen) -----------------------------------------
    def on_audit(self, rows: list[dict]) -> None:
        for row in rows:
            handle = self._EVENTS.get(row["name"])
            if handle is not None:
                handle(self, row.get("detail") or {})

    def _session_created(self, detail: dict) -> None:
        self.signins.labels(signin_method(detail), "success").inc()

    def _login_failed(self, detail: dict) -> None:
        self.signins.labels("password", "failure").inc()

    def _authenticator_failed(self, detail: dict) -> None:
        if detail.get("reason") in ("enrolment_code_rejected", "registration_rejected"):
            return  # adding a factor failed, not a sign-in
        kind = detail.get("factor") or detail.get("kind") or ("passkey" if detail.get("reason") == "passkey_rejected"
                                                               else None)
        self.signins.labels(FACTOR_METHODS.get(kind, "other"), "failure").inc()

    def _upstream_failed(self, detail: dict) -> None:
        provider = detail.get("provider")
        code = detail.get("code")
        self.upstream_errors.labels(provider if provider in self.upstream_names else "other",
                                    code if code in self.upstream_codes else "other").inc()
        self.signins.labels("upstream", "failure").inc()

    def _stepped_up(self, detail: dict) -> None:
        after = str(detail.get("after"))
        self.stepups.labels("aal" + after if _AAL.fullmatch(after) else "other").inc()

    def _unmet(self, detail: dict) -> None:
        error = detail.get("error")
        self.stepups.labels(error if error in UNMET_ERRORS else "other").inc()

    def _locked(self, detail: dict) -> None:
        self.lockouts.inc()

    _EVENTS = {
        "session.created": _session_created,
        "login.failed": _login_failed,
        "authenticator.failed": _authenticator_failed,
        "upstream.failed": _upstream_failed,
        "session.stepped_up": _stepped_up,
        "authorization.unmet": _unmet,
        "token.issued": lambda self, _detail: self.tokens.labels("authorization_code").inc(),
        "token.refreshed": lambda self, _detail: self.tokens.labels("refresh_token").inc(),
        "token.exchanged": lambda self, _detail: self.tokens.labels("token_exchange").inc(),
        "account.locked": _locked,
    }

    # -- scrape -----------------------------------------------------------------------------------------
    def scrape(self) -> tuple[bytes, str]:
        """The exposition text of every metric (blocking: the proofing queue is read from the database)."""
        if self.multiprocess_dir:
            forget_dead_workers(self.multiprocess_dir)
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class BuildInfo:
    """``idgw_build_info{version}`` 1: which release each instance runs."""

    def collect(self):
        family = GaugeMetricFamily("idgw_build_info", "The gateway's release", labels=["version"])
        family.add_metric([__version__], 1)
        yield family


class ProofingQueue:
    """Cases waiting for an officer (``queued``) and for a second officer (``awaiting_second``), and
    how long the oldest has waited, read at scrape time (one indexed query on state, queued_at).
    While the database is unreachable the two families are left out of the scrape (the request
    metrics still answer)."""

    def __init__(self, sessionmaker, clock) -> None:
        self.sessionmaker = sessionmaker
        self.clock = clock

    def collect(self):
        from sqlalchemy import func, select
        from sqlalchemy.exc import SQLAlchemyError

        from idgw.storage.proofing import ProofingCase

        query = (select(ProofingCase.state, func.count(), func.min(ProofingCase.queued_at))
                 .where(ProofingCase.state.in_(("queued", "awaiting_second"))).group_by(ProofingCase.state))
        try:
            with self.sessionmaker() as db:
                rows = {state: (count, oldest) for state, count, oldest in db.execute(query)}
        except SQLAlchemyError:
            return
        now = self.clock.now()
        length = GaugeMetricFamily("idgw_proofing_queue_length", "Proofing cases waiting, by state", labels=["state"])
        wait = GaugeMetricFamily("idgw_proofing_queue_oldest_wait_seconds", "How long the oldest case waiting for an "
                                 "officer has waited (0: none waiting)")
        for state in ("queued", "awaiting_second"):
            length.add_metric([state], rows.get(state, (0, None))[0])
        oldest = rows.get("queued", (0, None))[1]
        wait.add_metric([], max(0, now - oldest) if oldest is not None else 0)
        yield length
        yield wait


# -- multiprocess mode (idgw serve --workers N) ------------------------------------------------------------
def private_dir() -> str:
    """A fresh directory (mode 0700) for the workers' metric files, under ``$PROMETHEUS_MULTIPROC_DIR``
    when set, else under the system's temporary directory."""
    parent = os.environ.get(MULTIPROC_ENV) or None
    if parent:
        os.makedirs(parent, exist_ok=True)
    return tempfile.mkdtemp(prefix="idgw-metrics-", dir=parent)  # mkdtemp: mode 0700


def remove_dir(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)


def forget_dead_workers(path: str) -> None:
    """Drop the live gauges of workers that are gone (their counters stay: they were counted)."""
    from prometheus_client import multiprocess

    for name in glob.glob(os.path.join(path, "gauge_live*_*.db")):
        pid = name.rsplit("_", 1)[-1][:-3]
        if pid.isdigit() and not _alive(int(pid)):
            multiprocess.mark_process_dead(int(pid), path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):  # a zombie child of the supervisor counts as gone
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[-1].split()[0] != "Z"
    return True
