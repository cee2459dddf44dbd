"""The thin FastAPI/Starlette adapter around Authlib's synchronous server.

Starlette reads the body asynchronously; the Authlib call, which touches the database, then runs
in a worker thread with its own ORM session, committed at the edge of that call (also when the
protocol answer is an error, because refusals such as a replayed code revoke tokens and write
audit events that must persist).
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections import defaultdict

from authlib.oauth2.rfc6749 import OAuth2Payload, OAuth2Request
from sqlalchemy.util import greenlet_spawn
from starlette.concurrency import run_in_threadpool

from idgw.httpio import parse_pairs, read_body
from idgw.oidc.context import current_db, current_ip
from idgw.storage.db import NO_WAIT, WriteLockBusy, inline_sessionmaker, loop_sessionmaker, transaction_executor

FORM = "application/x-www-form-urlencoded"
MAX_FIELDS = 64
MAX_QUERY = 8 * 1024  # a request URI longer than this is no sign-in anyone's e-service sends
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_AUTHORIZE_BODY = 16 * 1024  # a POSTed authorization request: a few short parameters


class InvalidParametersError(ValueError):
    """The request's parameters cannot be read (``invalid_request``); the message says why."""


class DuplicateParameterError(InvalidParametersError):
    """RFC 6749 §3.1/§3.2: request and response parameters MUST NOT be included more than once."""


class _Payload(OAuth2Payload):
    def __init__(self, items: list[tuple[str, str]]) -> None:
        datalist: defaultdict[str, list] = defaultdict(list)
        for k, v in items:
            datalist[k].append(v)
        self._datalist = datalist
        self._data = {k: v[0] for k, v in datalist.items()}

    @property
    def data(self):
        return self._data

    @property
    def datalist(self):
        return self._datalist


class AdaptedRequest(OAuth2Request):
    """An OAuth2Request built from already-read Starlette data (no I/O inside Authlib)."""

    def __init__(self, *, method: str, uri: str, headers, query: list[tuple[str, str]],
                 form: list[tuple[str, str]]) -> None:
        super().__init__(method=method, uri=uri, headers=headers)
        self._args = dict(query)
        self._form = dict(form)
        self.payload = _Payload(form if method == "POST" and form else query)

    @property
    def args(self):
        return self._args

    @property
    def form(self):
        return self._form


def reject_duplicates(items: list[tuple[str, str]]) -> None:
    seen: set[str] = set()
    for k, _ in items:
        if k in seen:
            raise DuplicateParameterError(f"parameter {k!r} is repeated")
        seen.add(k)


def parse_params(raw: bytes) -> list[tuple[str, str]]:
    """A query string or form body: strict UTF-8, at most ``MAX_FIELDS`` parameters, none repeated,
    no control characters (a NUL reached PostgreSQL, which refuses it: a 500; no OAuth or OIDC
    parameter has a use for any C0 control or DEL)."""
    items = parse_pairs(raw, max_fields=MAX_FIELDS, error=InvalidParametersError, what="request", unit="parameters")
    if any(_CONTROL.search(k) or _CONTROL.search(v) for k, v in items):
        raise InvalidParametersError("a parameter contains control characters")
    reject_duplicates(items)
    return items


def build_request(*, issuer: str, method: str, path: str, query_string: bytes, headers,
                  body: bytes) -> AdaptedRequest:
    """The Authlib request from what was read off the wire. The URI is built from the configured
    issuer, never from the Host header, so a forged Host cannot change audiences or redirects.
    Raises ``InvalidParametersError``."""
    if len(query_string) > MAX_QUERY:
        raise InvalidParametersError(f"the query string is longer than {MAX_QUERY} bytes")
    form: list[tuple[str, str]] = []
    if method == "POST" and headers.get("content-type", "").split(";")[0].strip().lower() == FORM:
        form = parse_params(body)
    query = parse_params(query_string) if query_string else []
    uri = issuer + path + (("?" + query_string.decode("latin-1")) if query_string else "")
    return AdaptedRequest(method=method, uri=uri, headers=headers, query=query, form=form)


async def adapt(request, *, issuer: str, timeout: float) -> AdaptedRequest:
    """``build_request`` for a Starlette request (/authorize). A POST body is read with
    ``idgw.httpio.read_body``: at most ``MAX_AUTHORIZE_BODY`` bytes within ``timeout`` seconds,
    or an ``idgw.httpio.BodyError`` (413, 408, ...) is raised."""
    body = await read_body(request, limit=MAX_AUTHORIZE_BODY, timeout=timeout) if request.method == "POST" else b""
    return build_request(issuer=issuer, method=request.method, path=request.url.path,
                         query_string=request.scope.get("query_string", b""), headers=request.headers, body=body)


def _call_with_db(sessionmaker, ip, fn, args, kwargs, *, no_wait: bool = False):
    db = sessionmaker()
    db_token = current_db.set(db)
    ip_token = current_ip.set(ip)
    try:
        if no_wait:
            db.connection(execution_options=NO_WAIT)  # BEGIN now, before fn: WriteLockBusy or the lock
        result = fn(*args, **kwargs)
        db.commit()
        return result
    except BaseException:
        db.rollback()
        raise
    finally:
        current_ip.reset(ip_token)
        current_db.reset(db_token)
        db.close()


async def in_transaction(sessionmaker, ip, fn, *args, **kwargs):
    """Run ``fn`` in a worker thread inside one committed transaction with ``current_db`` set:
    on SQLite the engine's one transaction thread (``transaction_executor``), otherwise the
    shared thread pool."""
    executor = transaction_executor(sessionmaker.kw.get("bind"))
    if executor is not None:
        call = functools.partial(_call_with_db, sessionmaker, ip, fn, args, kwargs)
        return await asyncio.get_running_loop().run_in_executor(executor, call)
    return await run_in_threadpool(_call_with_db, sessionmaker, ip, fn, args, kwargs)


async def in_short_transaction(sessionmaker, ip, fn, *args, **kwargs):
    """``in_transaction`` for the sign-in and token hot path: ``fn`` must be short (statements and
    a signature; no network I/O, no heavy computing, nothing that waits for the event loop).

    On SQLite it runs right here, on the event loop's thread, when the write lock is free at once:
    handing a transaction to the transaction thread and its answer back cost more than the
    transaction itself (two GIL hand-overs and a wake-up; measured with 16 requests in flight:
    token +30%, session sign-in +10-30%, context switches per token 11 -> 0.8). When another
    connection holds the lock (another worker, a command-line tool, a transaction on the thread),
    nothing has run yet and it goes to the thread as ``in_transaction`` does, to wait there and
    not stall the loop.

    On PostgreSQL, with the event loop's pool (``idgw.storage.db.loop_sessionmaker``), it runs
    here too, in a greenlet: each statement's round trip is awaited on the loop, other requests
    going on meanwhile (measured against the threads, ``bench/ab.py`` on PostgreSQL: token 1.17x,
    refresh 1.11x, session sign-ins 1.22x). Without that pool, on the engine's threads."""
    bind = sessionmaker.kw.get("bind")
    on_loop = loop_sessionmaker(bind)
    if on_loop is not None:
        return await greenlet_spawn(_call_with_db, on_loop, ip, fn, args, kwargs)
    if transaction_executor(bind) is not None and bind.dialect.name == "sqlite":
        inline = inline_sessionmaker(bind)
        for pause in _LOCK_RETRIES:
            if pause:
                await asyncio.sleep(pause)
            try:
                return _call_with_db(inline, ip, fn, args, kwargs, no_wait=True)
            except WriteLockBusy:
                continue
        SHORT_FALLBACKS[0] += 1
    return await in_transaction(sessionmaker, ip, fn, *args, **kwargs)


#: Pauses (seconds, on the loop, other requests going on) before the inline attempts: most holders
#: of the write lock are another short transaction (a background loop's, one queued on the thread),
#: and queueing behind them on the thread would keep every following request there too.
_LOCK_RETRIES = (0, 0.001, 0.002, 0.005, 0.01)
#: Transactions that went to the thread after every attempt found the lock held (tests read it).
SHORT_FALLBACKS = [0]
