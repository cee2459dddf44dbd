"""The thin FastAPI/Starlette adapter around Authlib's synchronous server.

Starlette reads the body asynchronously; the Authlib call, which touches the database, then runs
in a worker thread with its own ORM session, committed at the edge of that call (also when the
protocol answer is an error, because refusals such as a replayed code revoke tokens and write
audit events that must persist).
"""

from __future__ import annotations

import asyncio
import functools
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

from authlib.oauth2.rfc6749 import OAuth2Payload, OAuth2Request
from starlette.concurrency import run_in_threadpool

from idgw.oidc.provider import current_db, current_ip
from idgw.storage.db import write_lock


class DuplicateParameterError(ValueError):
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


async def adapt(request, *, issuer: str) -> AdaptedRequest:
    """Build the Authlib request. The URI is built from the configured issuer, never from the
    Host header, so a forged Host cannot change audiences or redirects."""
    form: list[tuple[str, str]] = []
    if request.method == "POST":
        ctype = request.headers.get("content-type", "")
        if ctype.split(";")[0].strip().lower() == "application/x-www-form-urlencoded":
            form = list((await request.form()).multi_items())
    query = list(request.query_params.multi_items())
    reject_duplicates(form)
    reject_duplicates(query)
    uri = issuer + request.url.path + (("?" + request.url.query) if request.url.query else "")
    return AdaptedRequest(method=request.method, uri=uri, headers=request.headers, query=query, form=form)


def _call_with_db(sessionmaker, ip, fn, args, kwargs):
    with write_lock(sessionmaker.kw.get("bind")):
        db = sessionmaker()
        db_token = current_db.set(db)
        ip_token = current_ip.set(ip)
        try:
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


def _sqlite_executor(engine):
    """SQLite runs one write transaction at a time, so its request transactions run on one thread
    of their own: they queue in order with no thread waking only to wait on the write lock."""
    executor = getattr(engine, "_idgw_executor", None)
    if executor is None and getattr(engine, "_idgw_write_lock", None) is not None:
        executor = engine._idgw_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="idgw-sqlite")
    return executor


async def in_transaction(sessionmaker, ip, fn, *args, **kwargs):
    """Run ``fn`` in a worker thread inside one committed transaction with ``current_db`` set."""
    executor = _sqlite_executor(sessionmaker.kw.get("bind"))
    if executor is not None:
        call = functools.partial(_call_with_db, sessionmaker, ip, fn, args, kwargs)
        return await asyncio.get_running_loop().run_in_executor(executor, call)
    return await run_in_threadpool(_call_with_db, sessionmaker, ip, fn, args, kwargs)
