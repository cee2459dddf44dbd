"""The gateway's log lines: one JSON object per line (``IDGW_LOG_FORMAT=json``, for a log shipper)
or uvicorn's text lines (``text``, for a person at a terminal), each carrying the id of the request
it was written in, and all of them passed through one redaction filter first.

Redaction is a net under the rule that code never logs secrets: a message, its arguments and a
traceback's text can still carry what a citizen typed (an exception quoting a form value, a URL
with ``code=`` in it). The filter rewrites the record itself, so every handler and formatter,
including uvicorn's, sees only the redacted text.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import time

#: The id of the request being handled (set by idgw.observe.middleware, read by the formatters).
REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("idgw_request_id", default=None)

#: Fields the access line adds to its JSON object (``extra=`` of idgw.observe.middleware).
ACCESS_FIELDS = ("method", "route", "status", "duration_ms", "client_ip")

#: Set (``extra=``) on the access line only: a record of ``ACCESS_FIELDS`` made of closed sets and
#: parsed values (a method, a route template, a status, a duration, an IP address parsed as one),
#: in which nothing can need redacting. The filter passes it as it is, and the JSON formatter
#: writes it without the general encoder. A sixth of a JWKS request's CPU was its access line.
PLAIN = "idgw_plain"

# What never reaches a log line, replaced by a marker that says what was there.
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*)?")
_AUTH = re.compile(r"(?i)\b(bearer|basic|dpop)(\s+)[A-Za-z0-9._~+/=-]{6,}")
# name=value in query strings, form bodies and messages; "name": "value" in JSON. The names are
# parameters that carry a secret or a one-time value (RFC 6749, OIDC, the gateway's own forms).
_SECRET_NAMES = (r"code|refresh_token|access_token|id_token|subject_token|actor_token|logout_token|"
                 r"client_secret|client_assertion|password|new_password|passwd|secret|token|otp|totp|"
                 r"recovery_code|laser|laser_code|code_verifier|assertion|authorization|cookie|"
                 r"idgw_session|__Host-idgw_session")
_PAIR = re.compile(r"(?i)(?<![A-Za-z0-9_])(" + _SECRET_NAMES + r")=([^&\s\"',;]+)")
_JSON_PAIR = re.compile(r"(?i)([\"'](?:" + _SECRET_NAMES + r")[\"']\s*:\s*)([\"'])(?:\\.|(?!\2).)*\2")
# A Thai ID card's laser code (its back): two letters and ten digits, e.g. JT1-2345678-90.
_LASER = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{2}\d-?\d{7}-?\d{2}(?![0-9])")
# PostgreSQL's DETAIL line in an error (psycopg's message, so a traceback's too) quotes values:
# "Key (citizen_id)=(...) already exists.", "Failing row contains (...)" (the whole row). SQL
# parameters are already kept out by the engines (``hide_parameters``); the server's words are not.
_PG_DETAIL = re.compile(r"(?m)^(DETAIL:)[ \t]+\S.*$")
# A 13-digit citizen ID, bare or written 1-2345-67890-12-3: only its last four digits are kept.
_CITIZEN_ID = re.compile(r"(?<![0-9])\d-?\d{4}-?\d{5}-?\d(\d)-?(\d)(?![0-9])")


# Whether any of the above could be present at all: most lines (the access line, start-up
# messages) have none, and the substitutions cost ten times these checks. Substring tests are
# C-speed; Python's regex engine is slow on alternations, so only the digit shapes use one.
_DIGIT_SHAPES = re.compile(r"\d{10}|\d-\d{4}-|[A-Za-z]{2}\d")
_AUTH_WORDS = ("bearer", "basic", "dpop")


def _maybe_secret(text: str) -> bool:
    if "=" in text or ":" in text or "eyJ" in text:
        return True
    lowered = text.lower()
    return any(word in lowered for word in _AUTH_WORDS) or _DIGIT_SHAPES.search(text) is not None


def _mask_citizen_id(match: re.Match) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return "*********" + digits[-4:]


def redact(text: str) -> str:
    """``text`` without tokens, credentials, laser codes and full citizen IDs."""
    if not text or not _maybe_secret(text):
        return text
    text = _JWT.sub("[jwt]", text)
    text = _AUTH.sub(r"\1\2[redacted]", text)
    text = _JSON_PAIR.sub(r"\1\2[redacted]\2", text)
    text = _PAIR.sub(r"\1=[redacted]", text)
    text = _LASER.sub("[laser]", text)
    if "DETAIL:" in text:
        text = _PG_DETAIL.sub(r"\1 [redacted]", text)
    return _CITIZEN_ID.sub(_mask_citizen_id, text)


class Redact(logging.Filter):
    """On every handler: the record's message, arguments and traceback redacted in place."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.__dict__.get(PLAIN):
            return True
        if record.name == "uvicorn.access" and isinstance(record.args, tuple):
            # uvicorn's access formatter reads its arguments one by one: redact each, keep the tuple.
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
            record.msg = redact(str(record.msg))
        else:
            try:
                message = record.getMessage()
            except Exception:  # noqa: BLE001 - a bad format string: keep the raw parts, redacted
                message = f"{record.msg} {record.args!r}"
            record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
            record.exc_info = None  # formatters use exc_text, never the raw exception again
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


_second: tuple[int, str] = (-1, "")


def _timestamp(created: float) -> str:
    """ISO-8601 UTC with milliseconds; the part up to the second is formatted once per second."""
    global _second
    whole = int(created)
    if _second[0] != whole:
        _second = (whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)))
    return f"{_second[1]}.{int((created - whole) * 1000):03d}Z"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts (ISO-8601 UTC), level, logger, message, request_id, pid (which
    worker of ``--workers N``); the access line's fields; ``exc`` with the (redacted) traceback."""

    def format(self, record: logging.LogRecord) -> str:
        if record.__dict__.get(PLAIN) and not record.exc_info and not record.stack_info:
            return _plain_line(record)
        line = {"ts": _timestamp(record.created), "level": record.levelname, "logger": record.name,
                "message": record.getMessage(),
                "request_id": getattr(record, "request_id", None) or REQUEST_ID.get(), "pid": record.process}
        fields = record.__dict__
        for name in ACCESS_FIELDS:
            if name in fields:
                line[name] = fields[name]
        if record.exc_info and not record.exc_text:  # a handler without the Redact filter
            record.exc_text = redact(self.formatException(record.exc_info))
        if record.exc_text:
            line["exc"] = record.exc_text
        if record.stack_info:
            line["stack"] = record.stack_info
        return json.dumps(line, ensure_ascii=False, default=str)


_quote = json.encoder.encode_basestring  # json.dumps(str, ensure_ascii=False), in C


def _plain_line(record: logging.LogRecord) -> str:
    """What ``JsonFormatter.format`` writes for an access record (``PLAIN``: every field of
    ``ACCESS_FIELDS`` set, of the types idgw.observe.middleware gives them), without building a
    dict for the general encoder: same keys, order and values (tests/observe/test_units.py)."""
    fields = record.__dict__
    request_id = fields.get("request_id") or REQUEST_ID.get()
    ip = fields["client_ip"]
    return (f'{{"ts": "{_timestamp(record.created)}", "level": "{record.levelname}", "logger": "{record.name}", '
            f'"message": {_quote(record.getMessage())}, '
            f'"request_id": {"null" if request_id is None else _quote(request_id)}, "pid": {record.process}, '
            f'"method": {_quote(fields["method"])}, "route": {_quote(fields["route"])}, '
            f'"status": {fields["status"]:d}, "duration_ms": {fields["duration_ms"]!r}, '
            f'"client_ip": {"null" if ip is None else _quote(ip)}}}')


class TextFormatter(logging.Formatter):
    """uvicorn's coloured ``LEVEL: message`` lines with the request id appended when there is one."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        from uvicorn.logging import DefaultFormatter

        self._inner = DefaultFormatter("%(levelprefix)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = self._inner.format(record)
        request_id = getattr(record, "request_id", None) or REQUEST_ID.get()
        return f"{text} [{request_id}]" if request_id and "\n" not in text else text


def log_config(log_format: str = "json") -> dict:
    """The ``logging.config`` dictionary of a gateway process (uvicorn's ``log_config``): uvicorn's
    loggers and the gateway's ``idgw.*`` loggers at INFO, on handlers that redact and format as
    ``log_format`` says (json or text). uvicorn's own access log is off (``access_log=False``):
    ``idgw.access`` writes one line per request, with the route template and the request id."""
    formatter = "json" if log_format == "json" else "text"
    handler = {"formatter": formatter, "filters": ["redact"], "class": "logging.StreamHandler"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact": {"()": "idgw.observe.logs.Redact"}},
        "formatters": {
            "json": {"()": "idgw.observe.logs.JsonFormatter"},
            "text": {"()": "idgw.observe.logs.TextFormatter"},
        },
        "handlers": {
            "default": {**handler, "stream": "ext://sys.stderr"},
            "access": {**handler, "stream": "ext://sys.stdout"},
        },
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": "INFO", "propagate": False},
            "uvicorn.error": {"level": "INFO"},
            "uvicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
            "idgw": {"handlers": ["default"], "level": "INFO", "propagate": False},
        },
    }
