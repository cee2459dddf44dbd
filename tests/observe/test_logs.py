"""The redaction every log handler applies, and the JSON line format (unit level; the lines of a real
`idgw serve` are checked in test_workers.py)."""

from __future__ import annotations

import io
import json
import logging

import pytest

from idgw.observe.logs import PLAIN, REQUEST_ID, JsonFormatter, Redact, TextFormatter, log_config, redact

JWT = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJlLXZhbHVl"


@pytest.mark.parametrize(("text", "gone", "kept"), [
    (f"issued {JWT} to rp", JWT, "issued [jwt] to rp"),
    ("Authorization: Bearer abcDEF123456789._-~+/=", "abcDEF123456789", "Bearer [redacted]"),
    ("GET /cb?code=SplxlOBeZQQYbYS6WxSbIA&state=af0ifjsldkj", "SplxlOBeZQQYbYS6WxSbIA", "state=af0ifjsldkj"),
    ("grant_type=refresh_token&refresh_token=tGzv3JOkF0XG5Qx2TlKWIA", "tGzv3JOkF0XG5Qx2TlKWIA",
     "grant_type=refresh_token"),
    ("client_id=svc&client_secret=7Fjfp0ZBr1KtDRbnfVdmIw", "7Fjfp0ZBr1KtDRbnfVdmIw", "client_id=svc"),
    ("username=somsri&password=correct horse", "correct", "username=somsri&password=[redacted]"),
    ('{"password": "s3cr\\"et", "username": "somsri"}', 's3cr', '"username": "somsri"'),
    ("card JT1-2345678-90 checked", "2345678", "card [laser] checked"),
    ("card jt1234567890 checked", "1234567890", "card [laser] checked"),
    ("citizen 1101700123456 found", "1101700123456", "citizen *********3456 found"),
    ("citizen 1-1017-00123-45-6 found", "00123", "citizen *********3456 found"),
    ("error_code=timeout after 5 s", None, "error_code=timeout after 5 s"),  # not a secret's name
    ("12 digits 110170012345 stay", None, "12 digits 110170012345 stay"),
    ('violates unique constraint "ux"\nDETAIL:  Key (email)=(somsri@example.org) already exists.\n[SQL: x]',
     "somsri@example.org", 'violates unique constraint "ux"\nDETAIL: [redacted]\n[SQL: x]'),
    ("null value\nDETAIL:  Failing row contains (7, somsri, $argon2id$v=19$m=19456).", "argon2id",
     "null value\nDETAIL: [redacted]"),
    ("the DETAIL: of a sentence stays", None, "the DETAIL: of a sentence stays"),
])
def test_redact(text, gone, kept):
    out = redact(text)
    assert kept in out
    if gone:
        assert gone not in out


def _logger(formatter: logging.Formatter) -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(Redact())
    handler.setFormatter(formatter)
    logger = logging.getLogger(f"idgw.test.observe.{id(stream)}")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, stream


def test_a_json_line_carries_the_request_id_and_a_redacted_traceback():
    logger, stream = _logger(JsonFormatter())
    context = REQUEST_ID.set("rid-42")
    try:
        try:
            raise ValueError("password=hunter2hunter2 for 1101700123456")
        except ValueError:
            logger.exception("sign-in for %s failed with code=%s", "1101700123456", "abcdefghij")
    finally:
        REQUEST_ID.reset(context)
    logger.info("outside a request")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["level"] == "ERROR" and first["logger"] == logger.name and first["request_id"] == "rid-42"
    assert first["message"] == "sign-in for *********3456 failed with code=[redacted]"
    assert first["ts"].endswith("Z") and first["ts"][10] == "T"
    assert "Traceback" in first["exc"] and "ValueError" in first["exc"]
    assert "hunter2" not in stream.getvalue() and "1101700123456" not in stream.getvalue()
    assert second["request_id"] is None and "exc" not in second


def test_a_database_error_in_a_log_line_names_its_sql_but_no_value(database_url):
    # A real constraint violation from each database, logged as a failed request's would be: the
    # engines hide the statement's parameters, the filter hides PostgreSQL's DETAIL (the key's value,
    # or a whole failing row), and the line still says what failed and where.
    from sqlalchemy import text

    from idgw.storage import raw
    from idgw.storage.db import make_engine

    engine = make_engine(database_url)
    row = {"email": "somsri.secret@example.org", "hash": "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ"}
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE people (email TEXT UNIQUE, hash TEXT NOT NULL)"))
            conn.execute(text("INSERT INTO people VALUES (:email, :hash)"), row)
        logger, stream = _logger(JsonFormatter())
        for statement, values in (("INSERT INTO people VALUES (:email, :hash)", row),
                                  ("INSERT INTO people VALUES (:email, NULL)", {"email": "other." + row["email"]})):
            with pytest.raises(Exception) as failed:
                with engine.begin() as conn:
                    conn.execute(text(statement), values)
            if not database_url.startswith("sqlite"):
                assert "somsri" in str(failed.value.orig)  # PostgreSQL's own words quote the value
            try:
                raise failed.value
            except Exception:
                logger.exception("request failed")
        # the hot path's statements run on the driver's cursor (idgw.storage.raw), wrapped the same way
        with pytest.raises(Exception) as failed, engine.begin() as conn:
            raw.execute(conn, raw.Statement("INSERT INTO people VALUES (:email, :hash)"), row)
        try:
            raise failed.value
        except Exception:
            logger.exception("request failed")
    finally:
        engine.dispose()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert len(lines) == 3
    for line in lines:
        assert "INSERT INTO people" in line["exc"] and "hidden due to hide_parameters" in line["exc"]
        assert "somsri" not in line["exc"] and "argon2id" not in line["exc"]


def test_the_access_line_fields():
    logger, stream = _logger(JsonFormatter())
    logger.info("GET /token 200", extra={"method": "GET", "route": "/token", "status": 200, "duration_ms": 1.25,
                                         "client_ip": "203.0.113.9"})
    line = json.loads(stream.getvalue())
    assert {k: line[k] for k in ("method", "route", "status", "duration_ms", "client_ip")} == {
        "method": "GET", "route": "/token", "status": 200, "duration_ms": 1.25, "client_ip": "203.0.113.9"}


@pytest.mark.parametrize(("ip", "request_id", "route"), [
    ("203.0.113.9", "rid-1", "/token"), (None, None, "/interaction/{iid}"), ("2001:db8::1", "r" * 128, "other"),
    ("198.51.100.7", None, "/เส้นทาง"),  # non-ASCII kept as it is, like ensure_ascii=False
])
def test_the_access_line_written_directly_is_the_general_formatters_line(ip, request_id, route):
    """The access line skips the redaction filter and the general encoder (``PLAIN``): it must be
    byte for byte what the formatter writes for the same record without the flag."""
    fields = {"method": "POST", "route": route, "status": 303, "duration_ms": 12.34, "client_ip": ip}
    args = ("POST", route, 303, 12.34, ip)
    lines = {}
    context = REQUEST_ID.set(request_id)
    try:
        for plain in (False, True):
            record = logging.getLogger("idgw.access").makeRecord(
                "idgw.access", logging.INFO, __file__, 0, "%s %s %d %.2f ms %s", args, None,
                extra={**fields, **({PLAIN: True} if plain else {})})
            record.created = 1_780_000_000.125
            assert Redact().filter(record)
            lines[plain] = JsonFormatter().format(record)
    finally:
        REQUEST_ID.reset(context)
    assert lines[True] == lines[False] and json.loads(lines[True])["route"] == route


def test_only_the_access_record_passes_the_filter_unredacted():
    """PLAIN is the middleware's promise that nothing in the record needs redacting; any other
    record, the same text included, is redacted."""
    logger, stream = _logger(JsonFormatter())
    logger.info("GET /cb?code=%s", "SplxlOBeZQQYbYS6WxSbIA")
    assert "SplxlOBeZQQYbYS6WxSbIA" not in stream.getvalue()
    from idgw.observe import middleware

    assert "PLAIN: True" in open(middleware.__file__, encoding="utf-8").read()
    assert sum(open(f, encoding="utf-8").read().count("PLAIN: True")
               for f in _python_files()) == 1, "PLAIN set somewhere other than the access line"


def _python_files():
    from pathlib import Path

    import idgw

    return list(Path(idgw.__file__).parent.rglob("*.py"))


def test_text_lines_for_people_are_redacted_too():
    logger, stream = _logger(TextFormatter())
    context = REQUEST_ID.set("rid-7")
    try:
        logger.warning("token %s refused", JWT)
    finally:
        REQUEST_ID.reset(context)
    assert stream.getvalue().strip().endswith("token [jwt] refused [rid-7]")


def test_log_config_redacts_on_every_handler():
    for log_format in ("json", "text"):
        config = log_config(log_format)
        assert all(h["filters"] == ["redact"] for h in config["handlers"].values())
        assert {h["formatter"] for h in config["handlers"].values()} == {log_format}
        assert config["loggers"]["idgw"]["level"] == "INFO"


def test_the_access_record_is_the_record_makerecord_would_make():
    """idgw.observe.middleware.access_record copies what is the same on every line from a record
    made once: every attribute must still be what ``makeRecord`` gives (formatters and handlers
    anywhere may read any of them), the times aside."""
    import threading

    from idgw.observe import middleware

    args = ("GET", "/jwks", 200, 1.23, "127.0.0.1")
    made = middleware.access_record(*args)
    expected = logging.getLogger("idgw.access").makeRecord(
        "idgw.access", logging.INFO, middleware.__file__, 0, "%s %s %d %.2f ms %s", args, None,
        extra={"method": "GET", "route": "/jwks", "status": 200, "duration_ms": 1.23, "client_ip": "127.0.0.1",
               PLAIN: True})
    times = {"created", "msecs", "relativeCreated"}
    assert {k: v for k, v in vars(made).items() if k not in times} == \
        {k: v for k, v in vars(expected).items() if k not in times}
    assert abs(made.created - expected.created) < 5 and made.getMessage() == "GET /jwks 200 1.23 ms 127.0.0.1"
    seen = []
    worker = threading.Thread(target=lambda: seen.append(middleware.access_record(*args)), name="another")
    worker.start()
    worker.join()
    assert seen[0].threadName == "another" and seen[0].thread == worker.ident
