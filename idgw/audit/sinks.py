"""Copies of audit events sent out as they happen, for a SIEM: a JSON-lines file and/or syslog
(RFC 5424, over UDP or TCP with octet-counting framing, RFC 6587 §3.4.1).

Events are handed over after their transaction committed (never a rolled-back event) and written
by one background thread per gateway process, so a slow or absent collector never holds up a
sign-in: the queue is bounded, and when it is full events are dropped and counted (``dropped``);
the database chain stays complete either way. A copy outside the database is what catches a
rewrite of the chain's tail done by someone with write access to the database.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import socket
import threading
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from idgw.storage.db import home_engine

log = logging.getLogger("idgw.audit")

FIELDS = ("chain", "seq", "at", "name", "actor", "on_behalf_of", "client_id", "session_id", "ip", "detail",
          "prev_hash", "hash")
FACILITY_LOG_AUDIT = 13
SEVERITY_INFO = 6
SD_ID = "idgw@32473"  # 32473: the private enterprise number reserved for examples (RFC 5612)


def event_json(row: dict) -> dict:
    return {f: row.get(f) for f in FIELDS}


def _sd_value(value) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def rfc5424(row: dict, *, hostname: str, app: str = "idgw", procid: int | None = None) -> bytes:
    """One syslog message: facility log audit (13), severity informational; MSGID the event name;
    structured data the chain position; MSG the event as JSON (UTF-8 with a BOM)."""
    stamp = datetime.fromtimestamp(row["at"], UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    msgid = "".join(c for c in row["name"] if 33 <= ord(c) <= 126)[:32] or "-"
    sd = f'[{SD_ID} chain="{_sd_value(row["chain"])}" seq="{row["seq"]}" hash="{row["hash"]}"]'
    body = json.dumps(event_json(row), ensure_ascii=False, separators=(",", ":"))
    pri = FACILITY_LOG_AUDIT * 8 + SEVERITY_INFO
    head = f"<{pri}>1 {stamp} {hostname[:255] or '-'} {app} {procid or os.getpid()} {msgid} {sd} "
    return head.encode() + b"\xef\xbb\xbf" + body.encode()


class JsonLinesFile:
    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, rows: list[dict]) -> None:
        data = "".join(json.dumps(event_json(r), ensure_ascii=False, separators=(",", ":")) + "\n" for r in rows)
        # O_APPEND: several processes appending to one file never overwrite each other's lines.
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, data.encode())
        finally:
            os.close(fd)

    def close(self) -> None:
        pass


class Syslog:
    """``udp://host:port`` or ``tcp://host:port`` (default port 514 for UDP, 601 for TCP)."""

    def __init__(self, url: str, *, hostname: str | None = None) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("udp", "tcp") or not parts.hostname:
            raise ValueError(f"audit syslog must be udp://host:port or tcp://host:port, got {url!r}")
        self.scheme = parts.scheme
        self.address = (parts.hostname, parts.port or (514 if parts.scheme == "udp" else 601))
        self.hostname = hostname or socket.gethostname()
        self._sock: socket.socket | None = None

    def _socket(self) -> socket.socket:
        if self._sock is None:
            if self.scheme == "udp":
                self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                self._sock.connect(self.address)
            else:
                self._sock = socket.create_connection(self.address, timeout=5)
        return self._sock

    def write(self, rows: list[dict]) -> None:
        for row in rows:
            message = rfc5424(row, hostname=self.hostname)
            try:
                if self.scheme == "udp":
                    self._socket().send(message)
                else:
                    self._socket().sendall(b"%d " % len(message) + message)
            except OSError:
                self.close()  # reconnect at the next event
                raise

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


class Dispatcher:
    """Hands events to the sinks on one background thread."""

    def __init__(self, sinks: list, *, capacity: int = 10_000) -> None:
        self.sinks = sinks
        self.dropped = 0
        self.failed = 0
        self._queue: queue.Queue = queue.Queue(maxsize=capacity)
        self._thread = threading.Thread(target=self._run, name="idgw-audit-sinks", daemon=True)
        self._thread.start()

    def send(self, rows: list[dict]) -> None:
        try:
            self._queue.put_nowait(rows)
        except queue.Full:
            self.dropped += len(rows)

    def _run(self) -> None:
        while True:
            rows = self._queue.get()
            if rows is None:
                return
            if isinstance(rows, threading.Event):  # flush(): everything before it is written
                rows.set()
                continue
            for sink in self.sinks:
                try:
                    sink.write(rows)
                except Exception as exc:  # noqa: BLE001 - a collector that is down must not stop the others
                    self.failed += len(rows)
                    log.warning("audit sink %s failed: %s", type(sink).__name__, exc)

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until the events queued so far are written (tests, shutdown)."""
        done = threading.Event()
        self._queue.put(done)
        done.wait(timeout)

    def close(self) -> None:
        self.flush()
        self._queue.put(None)
        self._thread.join(timeout=5)
        for sink in self.sinks:
            sink.close()


def build(settings) -> Dispatcher | None:
    """The sinks the settings name (``audit_file``, ``audit_syslog``), or None."""
    chosen = []
    if getattr(settings, "audit_file", None):
        chosen.append(JsonLinesFile(settings.audit_file))
    if getattr(settings, "audit_syslog", None):
        chosen.append(Syslog(settings.audit_syslog))
    return Dispatcher(chosen) if chosen else None


def attach(engine, dispatcher: Dispatcher | None) -> None:
    """Send the events committed through ``engine`` to ``dispatcher``."""
    engine._idgw_audit_sinks = dispatcher


def attached(engine) -> Dispatcher | None:
    return getattr(home_engine(engine), "_idgw_audit_sinks", None)


def listen(engine, callback) -> None:
    """Also hand the events committed through ``engine`` to ``callback(rows)``: in the committing
    thread, right after the commit (idgw.observe counts sign-ins and tokens from them). It must be
    quick and must not block; an exception in it is logged, never raised into the request."""
    engine._idgw_audit_listeners = (*getattr(engine, "_idgw_audit_listeners", ()), callback)


def send(engine, rows: list[dict]) -> None:
    dispatcher = attached(engine)
    if dispatcher is not None and rows:
        dispatcher.send(rows)
    for callback in getattr(home_engine(engine), "_idgw_audit_listeners", ()):
        try:
            callback(rows)
        except Exception:  # noqa: BLE001 - counting must never fail a committed request
            log.exception("audit listener %r failed", callback)
