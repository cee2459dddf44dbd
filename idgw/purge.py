"""Removing rows the gateway can no longer need: ``idgw purge``, and every ``purge_interval``
seconds inside ``idgw serve`` (``run_purge_timer``, started by the app's lifespan).

Measured before this existed: 4 sign-ins and 16 refreshes a second grew the SQLite file by 116 MB
an hour (144,000 token rows an hour) and nothing was ever removed.

The principle: a row goes only when no answer of the gateway depends on it any more. For each
rule below, a request that names a removed row gets the answer it got while the row was there
(the same refusal), and every query that reads such rows (sign-out's back-channel notices,
consent withdrawal, delegation revocation notices) finds what it needs. Where an answer does
change, the rule says so.

Margins, chosen on purpose:

* ``CLOCK_MARGIN`` (5 minutes) past every expiry that guards a credential (codes, tokens, client
  assertion ``jti``, throttle windows): several instances share the database and their clocks,
  and the ``now`` of a run, may differ; a row is removed only when no instance can still be
  within its lifetime.
* ``RECENT_MARGIN`` (1 hour) past the expiry of a sign-in's state (interactions, upstream
  attempts, WebAuthn challenges): someone who comes back to the tab within the hour is told
  their sign-in expired, not that it was never found.
* ``settings.session_retention_days`` (30) after a session ended or expired, and only once
  every session of its browser's group is that old (signing out reaches the group's tokens
  through these rows; ``idgw.account.export`` lists them).
* ``DELIVERY_RETENTION`` (30 days) after a back-channel logout notice or a Security Event Token
  was delivered or given up: kept that long for whoever investigates a delivery problem.

Rules (``RULES``; each function says why its rows are no longer needed):

* ``sessions``: over (ended, or expired when never ended) for the retention, with the whole group.
* ``tokens``: expired (+ margin); or revoked once no token of their family is still valid. A
  rotated refresh token stays until it expires (while its family lives, presenting it must
  revoke the family: RFC 9700 §4.14.2; when the family is revoked, so is it, and then it goes
  with the rest). Kept regardless: the last token of each (session, e-service) while
  the session row exists, and of each (mandate, e-service) while the mandate is open (see
  ``_tokens``). Tokens acting under a mandate follow the same rules.
* ``authorization_codes``: expired (+ margin) and either never redeemed, or redeemed and no
  token issued from them is still valid (a replay must revoke those while one is: RFC 6749
  §4.1.2); the last code of each (mandate, e-service) while the mandate is open.
* ``interactions``, ``upstream_attempts``, ``webauthn_challenges``: expired (+ 1 hour).
* ``used_assertions``: expired (the stored expiry already includes the assertion leeway) + margin.
* ``throttles``: per-IP failure windows and per-IP request budgets whose window is over (+
  margin). Never the failure counts of usernames without an account (``name:`` keys): they
  count towards a lock like an account's failures do (``idgw.login.password``).
* ``logout_deliveries``, ``security_event_deliveries``: delivered or failed 30 days ago.

Nothing else is touched here (audit log, accounts, clients, keys, consents and receipts,
mandates, proofing: ``idgw proofing purge``). The audit log's own retention
(``idgw.audit.retention``, when that module exists) runs at the end of each purge and its counts
join the report. One ``data.purged`` audit event records each run that removed anything.

Each table is walked once in primary-key order, ``batch`` rows at a time: the candidates are
read with no write lock, then deleted in a transaction of their own that checks the rule again
(on PostgreSQL under ``FOR UPDATE SKIP LOCKED``, so a purge never waits for a request's row lock
and cannot deadlock with one), so no write transaction touches more than ``batch`` rows. On
SQLite those transactions run on the engine's one transaction thread, between the requests'
(``idgw.storage.db.transaction_executor``), rather than competing for the write lock.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import logging
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Table, and_, delete, func, not_, or_, select

from idgw import audit
from idgw.delegation.model import FINAL_STATES
from idgw.settings import Settings
from idgw.storage.db import READ_ONLY, transaction_executor
from idgw.storage.delegation import Mandate, SecurityEventDelivery
from idgw.storage.models import (
    AuthorizationCode,
    Interaction,
    LoginSession,
    LogoutDelivery,
    Throttle,
    Token,
    UpstreamAttempt,
    UsedAssertion,
    WebAuthnChallenge,
)
from idgw.storage.probe import log_failure

log = logging.getLogger(__name__)

DAY = 24 * 3600
#: Past an expiry that guards a credential: instances' clocks may differ (module docstring).
CLOCK_MARGIN = 300
#: Past the expiry of a sign-in's state: a returning person is told "expired", not "not found".
RECENT_MARGIN = 3600
#: How long delivered or abandoned notices to e-services are kept.
DELIVERY_RETENTION = 30 * DAY
#: The longest window passed to ``idgw.ratelimit.spend`` that is not a setting (card checks per
#: hour, ``idgw.proofing.intake.spend_check``); the settings' windows are compared with it.
LONGEST_FIXED_WINDOW = 3600
#: ``run_purge_timer`` sleeps ``purge_interval`` times a random factor in 1 +- this, so several
#: instances (or workers) started together do not purge at the same moment.
JITTER = 0.2
DEFAULT_BATCH = 5000
#: The name of the SQLite engine's transaction thread (``idgw.storage.db.make_engine``).
_WRITER_THREAD = "idgw-sqlite"

_SESSIONS = LoginSession.__table__
_TOKENS = Token.__table__
_CODES = AuthorizationCode.__table__
_MANDATES = Mandate.__table__


# -- the rules ---------------------------------------------------------------------------------

def _last_of(table: Table, *columns: str) -> ColumnElement:
    """The row is the last of its group (same ``columns``) by (expires_at, id): of every group
    at least that row stays, whatever else is removed, also by two purges at once."""
    other = table.alias("later")
    return not_(select(other.c.id).where(
        *(other.c[name] == table.c[name] for name in columns),
        or_(other.c.expires_at > table.c.expires_at,
            and_(other.c.expires_at == table.c.expires_at, other.c.id > table.c.id))).exists())


def _open_mandate(mandate_id) -> ColumnElement:
    """The mandate is not final yet: revoking it still tells each e-service that received tokens
    or codes under it (``idgw.delegation.events.queue_revoked`` reads tokens and codes)."""
    return select(_MANDATES.c.id).where(_MANDATES.c.id == mandate_id,
                                        _MANDATES.c.status.not_in(FINAL_STATES)).exists()


def _family_alive(family_id, now: int) -> ColumnElement:
    """Some token of the family may still be used: not revoked, not expired (with the margin),
    and not a refresh token already rotated."""
    f = _TOKENS.alias("family")
    return select(f.c.id).where(
        f.c.family_id == family_id, f.c.revoked_at.is_(None), f.c.expires_at >= now - CLOCK_MARGIN,
        or_(f.c.kind != "refresh", f.c.rotated_at.is_(None))).exists()


def _sessions(now: int, settings: Settings) -> ColumnElement:
    """A session ended, or expired without being ended, ``session_retention_days`` ago, and so
    is every other session of its browser's group. The account page lists live sessions only;
    the data export lists these until they go. Signing out (``idgw.login.sessions.sign_out``)
    reaches a group's tokens through its session rows, so a group goes whole, once no session of
    it can be signed out any more (a never-ended one still can, from "sign out everywhere").
    No foreign key points at sessions (tokens, codes, notices and proofing cases keep the id as
    a plain string and treat a missing session like an ended one)."""
    s = _SESSIONS
    cutoff = now - settings.session_retention_days * DAY

    def over(t):
        return or_(and_(t.c.ended_at.is_not(None), t.c.ended_at < cutoff),
                   and_(t.c.ended_at.is_(None), t.c.expires_at < cutoff))

    member = s.alias("member")
    group = func.coalesce(s.c.group_id, s.c.id)
    still_open = select(member.c.id).where(or_(member.c.id == group, member.c.group_id == group),
                                           not_(over(member))).exists()
    return and_(over(s), not_(still_open))


def _tokens(now: int, settings: Settings) -> ColumnElement:
    """A token past its expiry (+ margin) is refused whether its row is there or not: access
    tokens are JWTs whose ``exp`` is checked and whose row userinfo, introspection and token
    exchange require; an expired refresh token, rotated or not, is refused before reuse is looked
    at. A rotated refresh token stays until it expires even when every other token of its family
    is gone: while one of them is still valid, presenting the rotated one must revoke the family
    (reuse detection). A revoked token may go before it expires once no token of its family is
    still valid (it is refused either way). That second branch is all a rotated refresh token
    would need too, but it is not asked for it: every revocation (of a family, a session, a
    consent, a mandate, an account) revokes all the rows of a family at once, since they share
    all of those, so a rotated token of a family that can no longer be used is revoked, or
    expired with the family. Asking only revoked rows spares the family lookup for each of the
    rotated refresh tokens of live families, which are most of the table (16 refreshes a second
    for ``refresh_token_ttl``).

    Two records stay regardless. The last token of each (session, e-service) while the session
    row exists: signing out reads them to know which e-services to send a back-channel logout
    notice, and consent withdrawal which sessions to name (``idgw.login.sessions``,
    ``idgw.account.consents``). The last token of each (mandate, e-service) while the mandate is
    open: its revocation tells those e-services (``_open_mandate``). Both are the row with the
    latest expiry, usually the live refresh token, so they rarely keep anything extra."""
    t = _TOKENS
    removable = or_(t.c.expires_at < now - CLOCK_MARGIN,
                    and_(t.c.revoked_at.is_not(None), not_(_family_alive(t.c.family_id, now))))
    session_record = and_(_last_of(t, "session_id", "client_id"),
                          select(_SESSIONS.c.id).where(_SESSIONS.c.id == t.c.session_id).exists())
    mandate_record = and_(t.c.mandate_id.is_not(None), _last_of(t, "mandate_id", "client_id"),
                          _open_mandate(t.c.mandate_id))
    return and_(removable, not_(session_record), not_(mandate_record))


def _authorization_codes(now: int, settings: Settings) -> ColumnElement:
    """An expired code is refused whether its row is there or not, except that presenting a
    redeemed one again revokes the tokens issued from it (RFC 6749 §4.1.2; the family id of those
    tokens is the code's id). So a redeemed code stays while any of those tokens is still valid
    (with refresh rotation that can be long after ``refresh_token_ttl``), and goes as soon as none
    is (a replay would then revoke nothing; only its ``code.replayed`` audit event is no longer
    written). Chosen over "until redeemed + refresh_token_ttl", which would drop the code of a
    family that is still being refreshed. The last code of each (mandate, e-service) stays while
    the mandate is open (``_open_mandate``)."""
    c = _CODES
    removable = and_(c.c.expires_at < now - CLOCK_MARGIN,
                     or_(c.c.redeemed_at.is_(None), not_(_family_alive(c.c.id, now))))
    mandate_record = and_(c.c.mandate_id.is_not(None), _last_of(c, "mandate_id", "client_id"),
                          _open_mandate(c.c.mandate_id))
    return and_(removable, not_(mandate_record))


def _interactions(now: int, settings: Settings) -> ColumnElement:
    """An expired interaction can neither go on nor be completed (``open_interaction``); proofing
    keeps a waiting one alive by moving its expiry, so expiry is the whole rule. Proofing cases
    and upstream attempts name it by a plain id and treat a missing one like an expired one."""
    t = Interaction.__table__
    return t.c.expires_at < now - RECENT_MARGIN


def _upstream_attempts(now: int, settings: Settings) -> ColumnElement:
    """An expired upstream attempt (finished or not) answers nothing but "no open attempt"."""
    t = UpstreamAttempt.__table__
    return t.c.expires_at < now - RECENT_MARGIN


def _webauthn_challenges(now: int, settings: Settings) -> ColumnElement:
    """An expired challenge is refused when it is signed; unused ones otherwise stay forever."""
    t = WebAuthnChallenge.__table__
    return t.c.expires_at < now - RECENT_MARGIN


def _used_assertions(now: int, settings: Settings) -> ColumnElement:
    """A client assertion's ``jti`` is remembered until the assertion expires (its ``exp`` plus
    the leeway, as stored); after that the assertion itself is refused, so a replay is too."""
    t = UsedAssertion.__table__
    return t.c.expires_at < now - CLOCK_MARGIN


def _throttles(now: int, settings: Settings) -> ColumnElement:
    """A per-IP failure window (``ip:``) or request budget (``rate:``) whose window is over: the
    next request starts a new window with the same count as a missing row would (``ratelimit.spend``,
    ``password._ip_throttle``). The window compared is the longest one in use. Username failure
    counts (``name:``) are never removed: they lock like an account's count and never expire."""
    t = Throttle.__table__
    window = max(settings.ip_window, settings.rate_window, LONGEST_FIXED_WINDOW)
    return and_(or_(t.c.key.like("ip:%"), t.c.key.like("rate:%")), t.c.window_start < now - window - CLOCK_MARGIN)


def _deliveries(table: Table) -> Callable[[int, Settings], ColumnElement]:
    def rule(now: int, settings: Settings) -> ColumnElement:
        """A notice delivered or given up ``DELIVERY_RETENTION`` ago: it is never sent again
        (only rows with neither time are due); pending ones always stay."""
        cutoff = now - DELIVERY_RETENTION
        return or_(table.c.delivered_at < cutoff, table.c.failed_at < cutoff)

    return rule


@dataclass(frozen=True)
class Rule:
    table: Table
    removable: Callable[[int, Settings], ColumnElement]  # (now, settings) -> WHERE clause

    @property
    def name(self) -> str:
        return self.table.name


#: In this order: sessions first, so the tokens kept as a session's record go in the same run.
RULES = (
    Rule(_SESSIONS, _sessions),
    Rule(_TOKENS, _tokens),
    Rule(_CODES, _authorization_codes),
    Rule(Interaction.__table__, _interactions),
    Rule(UpstreamAttempt.__table__, _upstream_attempts),
    Rule(WebAuthnChallenge.__table__, _webauthn_challenges),
    Rule(UsedAssertion.__table__, _used_assertions),
    Rule(Throttle.__table__, _throttles),
    Rule(LogoutDelivery.__table__, _deliveries(LogoutDelivery.__table__)),
    Rule(SecurityEventDelivery.__table__, _deliveries(SecurityEventDelivery.__table__)),
)


# -- running them --------------------------------------------------------------------------------

def purge(sessionmaker, *, now: int, settings: Settings, batch: int = DEFAULT_BATCH,
          stop: threading.Event | None = None) -> dict[str, int]:
    """Remove what ``RULES`` allow as of ``now``; returns the rows removed per table (every table
    named, 0 included, then the audit retention's counts). ``stop``: set it to end the run between
    two batches (a shutdown)."""
    removed: dict[str, int] = {}
    for rule in RULES:
        if stop is not None and stop.is_set():
            break
        removed[rule.name] = _purge_table(sessionmaker, rule.table, rule.removable(now, settings), batch=batch,
                                          stop=stop)
    failure = None
    if stop is None or not stop.is_set():
        try:
            for name, count in _audit_retention(sessionmaker, now=now, settings=settings).items():
                removed[name] = removed.get(name, 0) + count
        except Exception as exc:  # noqa: BLE001 - recorded below, then raised
            failure = exc
    counts = {name: count for name, count in removed.items() if count}
    if counts:
        def record() -> None:
            with sessionmaker() as db:
                audit.record(db, "data.purged", at=now, actor="system", removed=counts)
                db.commit()

        _as_writer(sessionmaker, record)
    if failure is not None:
        raise failure
    return removed


def _audit_retention(sessionmaker, *, now: int, settings: Settings) -> dict[str, int]:
    """The audit log's own retention rule, when that module is installed."""
    if importlib.util.find_spec("idgw.audit.retention") is None:
        return {}
    retention = importlib.import_module("idgw.audit.retention")
    return dict(retention.apply(sessionmaker, now=now, settings=settings) or {})


def _purge_table(sessionmaker, table: Table, removable: ColumnElement, *, batch: int,
                 stop: threading.Event | None) -> int:
    """Batches of removable rows in no particular order, so that the rule's own index finds them
    (ordered by key, PostgreSQL walked the primary key and filtered: the whole table per batch).
    A row read but not deleted (a request held it, or it stopped being removable) is left out of
    the later batches of this run, so every batch makes progress; the run stops once a batch's
    worth is left out (the list stays within a statement's parameter limit)."""
    (pk,) = table.primary_key.columns
    removed = 0
    kept: list = []
    while stop is None or not stop.is_set():
        query = select(pk).where(removable).limit(batch)
        if kept:
            query = query.where(pk.not_in(kept))
        with sessionmaker() as db:
            ids = list(db.connection(execution_options=READ_ONLY).execute(query).scalars())
        if not ids:
            break
        deleted = _as_writer(sessionmaker, lambda ids=ids: _delete(sessionmaker, table, pk, ids, removable))
        removed += len(deleted)
        kept.extend(set(ids) - set(deleted))
        if len(ids) < batch or len(kept) >= batch:
            break  # all read, or a batch's worth held by requests: the next run tries those again
    return removed


def _delete(sessionmaker, table: Table, pk, ids: list, removable: ColumnElement) -> list:
    """One short transaction: the rule checked again for ``ids`` (another purge or a request may
    have changed them since they were read), rows a request holds skipped, the rest deleted.
    Returns the ids deleted."""
    with sessionmaker() as db:
        conn = db.connection()
        held = list(conn.execute(select(pk).where(pk.in_(ids), removable)
                                 .with_for_update(skip_locked=True)).scalars())
        if held:
            conn.execute(delete(table).where(pk.in_(held)))
        db.commit()
    return held


def _as_writer(sessionmaker, fn):
    """Run a write transaction on the SQLite engine's transaction thread (between the requests'
    transactions, instead of polling for the write lock against them); elsewhere here."""
    executor = transaction_executor(sessionmaker.kw.get("bind"))
    if executor is None or threading.current_thread().name.startswith(_WRITER_THREAD):
        return fn()
    return executor.submit(fn).result()


async def run_purge_timer(sessionmaker, settings: Settings, clock) -> None:
    """Until cancelled (a task of the app's lifespan): every ``purge_interval`` seconds (with
    jitter) purge in a worker thread and log one line of what went. A failed run is logged and
    the next one comes as usual. ``purge_interval`` 0 turns it off."""
    interval = settings.purge_interval
    if interval <= 0:
        return
    jitter = secrets.SystemRandom()
    while True:
        await asyncio.sleep(interval * jitter.uniform(1 - JITTER, 1 + JITTER))
        stop = threading.Event()
        try:
            removed = await asyncio.to_thread(purge, sessionmaker, now=clock.now(), settings=settings, stop=stop)
        except asyncio.CancelledError:
            stop.set()  # the thread ends after its current batch
            raise
        except Exception as error:  # noqa: BLE001 - a database hiccup must not end the timer
            log_failure(log, f"purge failed; the next one in about {interval} s", error)
            continue
        log.info("purge removed %d rows%s", sum(removed.values()), summary(removed, prefix=": "))


def summary(removed: dict[str, int], *, prefix: str = "") -> str:
    """``tokens 3400, interactions 12`` (the tables that lost rows), or an empty string."""
    parts = [f"{name} {count}" for name, count in removed.items() if count]
    return prefix + ", ".join(parts) if parts else ""
