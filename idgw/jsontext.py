"""JSON from outside, parsed within limits: a size cap and a nesting cap checked before the parser
runs (Python's json module recurses per level and raises RecursionError, not ValueError, on deep
input: a request of a few kilobytes of brackets would otherwise be an HTTP 500). And JSON going out
on the hot path (``compact``)."""

from __future__ import annotations

import json
import re

import orjson

#: Deeper than any document the gateway accepts (claims requests, callbacks, WebAuthn responses).
MAX_DEPTH = 32
#: The characters that matter for nesting: brackets, quotes and the backslash that escapes a quote.
_SIGNIFICANT = re.compile(r'[\[\]{}"\\]')


class JSONTextError(ValueError):
    """Not acceptable JSON; the message says why (safe to show)."""


def depth(text: str) -> int:
    """The deepest nesting of arrays and objects, brackets inside strings not counted. One pass over
    the significant characters (a pattern that matched whole strings restarted at every quote of
    an unterminated one: quadratic, 14 s for 64 KiB of escaped quotes)."""
    level = deepest = 0
    in_string = escaped = False
    last = -2
    for match in _SIGNIFICANT.finditer(text):
        char, at = match.group(), match.start()
        if escaped and at == last + 1:
            escaped = False  # this character is escaped
            last = at
            continue
        escaped = False
        last = at
        if in_string:
            if char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            level += 1
            deepest = max(deepest, level)
        elif char in "]}":
            level -= 1
    return deepest


def loads(raw: str | bytes, *, max_bytes: int, max_depth: int = MAX_DEPTH):
    """``json.loads`` for untrusted input: ``JSONTextError`` when larger than ``max_bytes``, nested
    deeper than ``max_depth``, not UTF-8, or not JSON."""
    if len(raw) > max_bytes:
        raise JSONTextError(f"larger than {max_bytes} bytes")
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise JSONTextError("not UTF-8") from None
    if depth(raw) > max_depth:
        raise JSONTextError(f"nested deeper than {max_depth} levels")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        raise JSONTextError("not valid JSON") from None


def compact(value) -> bytes:
    """``value`` as compact JSON in UTF-8, keys in insertion order: the same bytes as
    ``json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()`` for what we send
    (strings, 64-bit integers, booleans, null, lists and objects of them; tests/test_jsontext.py
    holds it), in a tenth of the time. Signed tokens' claims and the back-channel endpoints' answers
    go through it. What orjson refuses and the standard library writes (an integer beyond 64 bits,
    say from an upstream's claims; a key that is not a string) is written by the standard library:
    the same bytes, never an error."""
    try:
        return orjson.dumps(value)
    except TypeError:  # orjson.JSONEncodeError
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
