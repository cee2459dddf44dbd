"""Statements of the hottest paths (token, refresh, the audit append) run on the driver's cursor.

SQLAlchemy Core costs about 23 µs of Python per statement on top of the driver's 5 (cache key,
parameter and result processing; measured on SQLite with the client lookup), and a refresh runs
eight statements; on one worker that was an eighth of the CPU per request. These statements
are written once as SQL, with ``:name`` parameters (sqlite3) turned into ``%(name)s`` (psycopg)
or ``$1``, ``$2``... (asyncpg, the event loop's pool: ``idgw.storage.db.loop_driver``), and run
on the connection SQLAlchemy has open, so they are inside the request's transaction (SQLite's
``BEGIN IMMEDIATE``, PostgreSQL's transaction) and committed or rolled back with it.

What SQLAlchemy did for them is done here: JSON columns are encoded with ``json.dumps`` (as its
JSON type stores them, ``None`` as ``null``) and decoded on SQLite (psycopg decodes ``json``
itself, and so does asyncpg with the codec SQLAlchemy's dialect gives each connection); and a
driver error is raised as SQLAlchemy's ``DBAPIError`` wrapping it, with the connection
invalidated when the error means it is gone, so the pool replaces it and
``idgw.storage.probe.unavailable`` recognises an outage as it does for every other statement,
and, as every engine of the gateway does (``hide_parameters``), without the statement's values in
its message: these statements write tokens' hashes, codes and audit events.
"""

from __future__ import annotations

import json
import re
from collections import namedtuple

from sqlalchemy import exc

_NAMED = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)")


class Statement:
    """One SQL statement for both databases; ``columns``: what it returns (in order), of which
    ``json_columns`` hold JSON."""

    __slots__ = ("sqlite", "postgresql", "asyncpg", "names", "record", "json_at")

    def __init__(self, sql: str, *, columns: tuple[str, ...] = (), json_columns: frozenset[str] = frozenset()):
        self.sqlite = sql
        self.postgresql = _NAMED.sub(r"%(\1)s", sql)
        names: dict[str, int] = {}  # asyncpg's parameters are positional: $n is the n-th name
        self.asyncpg = _NAMED.sub(lambda m: f"${names.setdefault(m[1], len(names) + 1)}", sql)
        self.names = tuple(names)
        self.record = namedtuple("Record", columns) if columns else None  # noqa: PYI024 - built per statement
        self.json_at = tuple(i for i, c in enumerate(columns) if c in json_columns)


def cursor_for(conn, stmt: Statement, params):
    """Run ``stmt`` with ``params`` (a dict, or a list of dicts for executemany) on ``conn``'s
    driver connection; returns the cursor."""
    dialect = conn.dialect
    if dialect.name == "sqlite":
        sql = stmt.sqlite
    elif dialect.driver == "asyncpg":
        sql, names = stmt.asyncpg, stmt.names
        params = ([tuple(p[n] for n in names) for p in params] if isinstance(params, list)
                  else tuple(params[n] for n in names))
    else:
        sql = stmt.postgresql
    dbapi_conn = conn.connection.dbapi_connection
    cursor = dbapi_conn.cursor()
    try:
        if isinstance(params, list):
            cursor.executemany(sql, params)
        else:
            cursor.execute(sql, params)
    except conn.dialect.loaded_dbapi.Error as error:
        gone = conn.dialect.is_disconnect(error, dbapi_conn, cursor)
        if gone:
            conn.invalidate(error)
        raise exc.DBAPIError.instance(sql, params, error, conn.dialect.loaded_dbapi.Error, hide_parameters=True,
                                      connection_invalidated=gone, dialect=conn.dialect) from error
    return cursor


def execute(conn, stmt: Statement, params) -> int:
    """Run a statement that returns nothing; the number of rows it changed (-1 for a list of
    parameters on asyncpg, whose executemany does not count them)."""
    cursor = cursor_for(conn, stmt, params)
    count = cursor.rowcount
    cursor.close()
    return count


def first(conn, stmt: Statement, params):
    """The first row ``stmt`` returns as a record (attribute access by column name), or None."""
    cursor = cursor_for(conn, stmt, params)
    try:
        row = cursor.fetchone()
    finally:
        cursor.close()
    if row is None:
        return None
    if stmt.json_at and conn.dialect.name != "postgresql":
        row = list(row)
        for i in stmt.json_at:
            if row[i] is not None:
                row[i] = json.loads(row[i])
    return stmt.record._make(row)


def _columns(table) -> tuple[tuple[str, ...], frozenset[str], str]:
    """A table's column names in order, those holding JSON, and the quoted list for a SELECT or
    RETURNING (quoted: ``release``, ``key``, ``scope`` are keywords somewhere)."""
    from sqlalchemy import JSON

    names = tuple(table.c.keys())
    json_names = frozenset(c.name for c in table.c if isinstance(c.type, JSON))
    return names, json_names, ", ".join(f'"{n}"' for n in names)


# The statements below are built from the model's table and column names and the caller's
# literal SQL; every value is a parameter (S608 does not see that).

def select_from(table, where: str) -> Statement:
    """``SELECT`` every column of ``table`` ``WHERE`` ``where``."""
    names, json_names, listed = _columns(table)
    return Statement(f"SELECT {listed} FROM {table.name} WHERE {where}",  # noqa: S608
                     columns=names, json_columns=json_names)


def update_returning(table, assignments: str, where: str) -> Statement:
    """``UPDATE table SET assignments WHERE where RETURNING`` every column."""
    names, json_names, listed = _columns(table)
    return Statement(f"UPDATE {table.name} SET {assignments} WHERE {where} RETURNING {listed}",  # noqa: S608
                     columns=names, json_columns=json_names)


def insert_into(table) -> Statement:
    """``INSERT`` a row given every column as a parameter of its name (JSON ones ``json_param``)."""
    names, _json, listed = _columns(table)
    return Statement(f"INSERT INTO {table.name} ({listed}) VALUES ({', '.join(':' + n for n in names)})")  # noqa: S608


def insert_rows(table, count: int) -> Statement:
    """``INSERT`` of ``count`` rows in one statement, row ``i``'s columns as parameters
    ``<column>_<i>`` (``row_params``). One statement instead of psycopg's ``executemany``, which
    runs a pipeline for it: 6x the Python cost of a single statement, measured on /token."""
    names, _json, listed = _columns(table)
    values = ", ".join("(" + ", ".join(f":{n}_{i}" for n in names) + ")" for i in range(count))
    return Statement(f"INSERT INTO {table.name} ({listed}) VALUES {values}")  # noqa: S608


def row_params(rows: list[dict]) -> dict:
    """The parameters of ``insert_rows`` for ``rows``."""
    return {f"{name}_{i}": value for i, row in enumerate(rows) for name, value in row.items()}


def json_columns(table) -> frozenset[str]:
    return _columns(table)[1]


def json_param(value) -> str:
    """A JSON column's parameter, as SQLAlchemy's JSON type writes it (``None`` is ``null``)."""
    return json.dumps(value)
