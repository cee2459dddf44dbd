"""What the audit viewer (``idgw.console.audit_pages``) asks the database: the filters read from
a page's query parameters, the SQL conditions they make, one page of events newest first (keyset:
``id < before``) and the export's batches oldest first (keyset: ``after < id <= upto``).

Filters (all optional, all GET parameters so a filtered view can be bookmarked):

- ``from`` / ``to``: days (``YYYY-MM-DD`` as a date input sends it; a year of 2400 or more is read
  as a Buddhist-era year), in Bangkok time, both inclusive; or ``last``: ``24h``, ``7d``, ``30d``
  back from now (not together with days).
- ``event``: one name of ``idgw.audit.EVENTS``.
- ``actor``: the event's actor exactly (a staff username, an account id, ``system`` ...).
- ``service``: the event's ``client_id`` exactly.
- ``account``: an account's id or username (case-insensitively, as sign-in compares it). Events
  name accounts in three ways (``grep audit.record( idgw``): a person acting on their own account
  is the actor by account id (sessions, sign-ins, tokens, factors); staff acting are the actor by
  username (``account.unlocked``, ``policy.changed``, the console's changes); the account acted
  upon is ``on_behalf_of`` (``account.created``, ``account.unlocked``, delegations) or a detail
  value (four-eyes ``target``, ``requested_by``). So ``account`` matches an event whose actor is
  the account's id or username, whose ``on_behalf_of`` is its id, or, for the events that name
  accounts in their detail (``idgw.audit.ACCOUNT_IN_DETAIL``), whose detail holds its id anywhere
  or its username as a whole JSON string value. A value that is no account's id or username (a
  deleted account, ``juristic:<13 digits>``) matches actor or ``on_behalf_of`` exactly. Each
  part is read through an index (migration 0016), so the filter costs the matching rows, not
  the log's size.

Refusals are ``(field, code)`` pairs worded by ``idgw.console.audit_texts``."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Text, and_, cast, func, or_, select

from idgw.admin import find_user
from idgw.audit import ACCOUNT_IN_DETAIL, EVENTS
from idgw.audit.chain import event_hash
from idgw.storage.db import READ_ONLY
from idgw.storage.models import Account, AuditEvent

PAGE_SIZE = 50
BATCH = 1000
MAX_TEXT = 200
BANGKOK = timedelta(hours=7)
BE_OFFSET = 543
LAST = {"24h": 24 * 3600, "7d": 7 * 24 * 3600, "30d": 30 * 24 * 3600}
FORM_FIELDS = ("from", "to", "last", "event", "actor", "service", "account")
FORMATS = ("jsonl", "csv")
#: The exported columns, in this order (JSON lines keys, CSV header).
COLUMNS = ("id", "chain", "seq", "at", "name", "actor", "on_behalf_of", "client_id", "session_id", "ip", "detail",
           "prev_hash", "hash")


@dataclass(frozen=True)
class Filters:
    since: int | None = None  # epoch seconds, inclusive
    until: int | None = None  # epoch seconds, exclusive
    event: str | None = None
    actor: str | None = None
    service: str | None = None
    account: str | None = None


@dataclass
class Asked:
    """A request's filters: ``form`` as typed (kept on the page and in links), ``filters`` as
    understood, ``errors`` as ``(field, code)``, and the page cursor ``before``."""

    form: dict[str, str]
    filters: Filters = field(default_factory=Filters)
    errors: list[tuple[str, str]] = field(default_factory=list)
    before: int | None = None
    days: tuple[date | None, date | None] = (None, None)

    def query(self) -> dict[str, str]:
        """The filters as query parameters (only those given), for links and the audit record."""
        return {k: v for k, v in self.form.items() if v}


def parse_day(value: str) -> date:
    """``YYYY-MM-DD``; a year of 2400 or more is Buddhist era (พ.ศ.), else Gregorian."""
    parts = value.split("-")
    if len(parts) != 3 or not all(p.isascii() and p.isdigit() for p in parts) or len(parts[0]) != 4:
        raise ValueError(value)
    year, month, day = (int(p) for p in parts)
    if year >= 2400:
        year -= BE_OFFSET
    return date(year, month, day)


def day_start(day: date) -> int:
    """The epoch second at which ``day`` begins in Bangkok."""
    return int((datetime(day.year, day.month, day.day, tzinfo=UTC) - BANGKOK).timestamp())


def read_filters(params: Mapping[str, str], *, now: int) -> Asked:
    """The filters of a request's query parameters, checked."""
    form = {k: (params.get(k) or "").strip() for k in FORM_FIELDS}
    asked = Asked(form=form)
    errors = asked.errors
    for name in FORM_FIELDS:
        if len(form[name]) > MAX_TEXT:
            errors.append((name, "too_long"))
            form[name] = form[name][:MAX_TEXT]
    days: dict[str, date | None] = {"from": None, "to": None}
    for name in ("from", "to"):
        if form[name]:
            try:
                days[name] = parse_day(form[name])
            except ValueError:
                errors.append((name, "bad_date"))
    asked.days = (days["from"], days["to"])
    if days["from"] and days["to"] and days["from"] > days["to"]:
        errors.append(("to", "from_after_to"))
    if form["last"] and form["last"] not in LAST:
        errors.append(("last", "bad_last"))
    elif form["last"] and (form["from"] or form["to"]):
        errors.append(("last", "last_and_days"))
    if form["event"] and form["event"] not in EVENTS:
        errors.append(("event", "unknown_event"))
    before = (params.get("before") or "").strip()
    if before:
        # ASCII digits only: "²" is a digit to str.isdigit but not to int()
        if before.isascii() and before.isdigit() and 0 < int(before) < 2**63:
            asked.before = int(before)
        else:
            errors.append(("before", "bad_cursor"))
    if errors:
        return asked
    since = day_start(days["from"]) if days["from"] else None
    until = day_start(days["to"] + timedelta(days=1)) if days["to"] else None
    if form["last"]:
        since = now - LAST[form["last"]]
    asked.filters = Filters(since=since, until=until, event=form["event"] or None, actor=form["actor"] or None,
                            service=form["service"] or None, account=form["account"] or None)
    return asked


def json_text(value) -> str:
    """How the database holds a JSON value (SQLAlchemy's default serializer)."""
    return json.dumps(value)


def account_condition(db, value: str):
    """(the condition for ``account``, whether ``value`` is an account's id or username): see
    the module docstring."""
    row = find_user(db, value)
    if row is None and len(value) <= 36:
        row = db.get(Account, value)
    if row is None:
        return or_(AuditEvent.actor == value, AuditEvent.on_behalf_of == value), False
    detail = cast(AuditEvent.detail, Text)
    in_detail = and_(AuditEvent.name.in_(sorted(ACCOUNT_IN_DETAIL)),
                     or_(detail.contains(row.id, autoescape=True),
                         detail.contains(json_text(row.username), autoescape=True)))
    return or_(AuditEvent.actor.in_((row.id, row.username)), AuditEvent.on_behalf_of == row.id, in_detail), True


@dataclass(frozen=True)
class Criteria:
    where: list
    unknown_account: bool = False  # ``account`` named no account: matched as actor/on_behalf_of only


def criteria(db, filters: Filters) -> Criteria:
    """SQL conditions for ``filters`` (the account looked up in ``db`` once); they hold no
    session, so the export's batches reuse them in their own transactions."""
    where: list = []
    known = True
    if filters.since is not None:
        where.append(AuditEvent.at >= filters.since)
    if filters.until is not None:
        where.append(AuditEvent.at < filters.until)
    if filters.event:
        where.append(AuditEvent.name == filters.event)
    if filters.actor:
        where.append(AuditEvent.actor == filters.actor)
    if filters.service:
        where.append(AuditEvent.client_id == filters.service)
    if filters.account:
        condition, known = account_condition(db, filters.account)
        where.append(condition)
    return Criteria(where, unknown_account=not known)


@dataclass(frozen=True)
class Found:
    events: list[AuditEvent]
    next_before: int | None  # the cursor of the next (older) page, None on the last page


def page_statement(where: list, *, before: int | None = None, size: int = PAGE_SIZE):
    """The statement of ``page``: ``size + 1`` matching events, newest first (the extra one says
    whether there is a next page)."""
    stmt = select(AuditEvent).where(*where)
    if before is not None:
        stmt = stmt.where(AuditEvent.id < before)
    return stmt.order_by(AuditEvent.id.desc()).limit(size + 1)


def page(db, where: list, *, before: int | None = None, size: int = PAGE_SIZE) -> Found:
    """One page of matching events, newest first, older than ``before`` (an event id)."""
    rows = list(db.scalars(page_statement(where, before=before, size=size)))
    return Found(rows[:size], rows[size - 1].id if len(rows) > size else None)


def newest_id(db) -> int:
    """The id of the newest event now (0: none): the export's upper bound, so that events written
    while it streams are not in it."""
    return db.scalar(select(func.max(AuditEvent.id))) or 0


def batches(sessionmaker, where: list, *, upto: int, size: int = BATCH) -> Iterator[list[dict]]:
    """Every matching event with ``id <= upto``, oldest first, as column dicts, ``size`` at a time,
    each batch read in its own short read-only transaction (nothing is held between batches)."""
    table = AuditEvent.__table__
    after = 0
    while True:
        stmt = (select(table).where(*where, table.c.id > after, table.c.id <= upto)
                .order_by(table.c.id).limit(size))
        with sessionmaker() as db:
            rows = [dict(r) for r in db.connection(execution_options=READ_ONLY).execute(stmt).mappings()]
        if rows:
            yield rows
        if len(rows) < size:
            return
        after = rows[-1]["id"]


def content_intact(event: AuditEvent) -> bool:
    """Whether the event's hash is the hash of its content and ``prev_hash`` (an edited row's is
    not). Whether the links between rows hold is ``idgw audit verify``'s to say."""
    row = {c.name: getattr(event, c.name) for c in AuditEvent.__table__.columns}
    return event_hash(row, event.prev_hash) == event.hash


# -- export ----------------------------------------------------------------------------------------
#: A spreadsheet runs a cell starting with one of these as a formula (CSV injection): such a value
#: is written with a leading apostrophe, which spreadsheets show as text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def jsonl(rows: list[dict]) -> str:
    """JSON lines: one event a line, every column (the chain fields let a verifier recompute it)."""
    return "".join(json.dumps({c: r[c] for c in COLUMNS}, ensure_ascii=False, separators=(",", ":")) + "\n"
                   for r in rows)


def csv_cell(value) -> str | int:
    if value is None:
        return ""
    if isinstance(value, int):
        return value
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_header() -> str:
    """The CSV's first line, after a byte order mark so that spreadsheets read Thai as UTF-8."""
    return "\ufeff" + ",".join(COLUMNS) + "\r\n"


def csv_rows(rows: list[dict]) -> str:
    """CSV records (RFC 4180), the columns of ``COLUMNS``; ``detail`` as JSON text."""
    out = io.StringIO()
    writer = csv.writer(out)
    for r in rows:
        writer.writerow([csv_cell(r[c]) for c in COLUMNS])
    return out.getvalue()
