"""idgw.jsontext: the nesting depth of untrusted JSON, counted without parsing it, agrees with the
parsed document's depth for any JSON text, strings full of brackets, quotes and escapes included;
and ``compact`` (JSON going out) writes the standard library's bytes for any JSON value."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from idgw.jsontext import JSONTextError, compact, depth, loads

documents = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ab\\u005b', max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(alphabet='[]{}"\\ab', max_size=4), inner,
                                                                max_size=3),
    max_leaves=20)


def nesting(value) -> int:
    if isinstance(value, dict):
        return 1 + max((nesting(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((nesting(v) for v in value), default=0)
    return 0


@settings(max_examples=300, derandomize=True, database=None)
@given(documents)
def test_depth_agrees_with_the_parsed_document(value):
    text = json.dumps(value)
    assert depth(text) == nesting(value)


def test_deep_or_pathological_input_is_refused_or_measured_in_one_pass():
    assert depth('"' + '\\"' * 32768) == 0  # an unterminated string of escaped quotes (was quadratic)
    for bad in ("[" * 40 + "]" * 40, b"\xff", "{", "x" * 100):
        try:
            loads(bad, max_bytes=50)
        except JSONTextError:
            continue
        raise AssertionError(bad)


# Claims as we issue them: names in Thai and other scripts, released claims with nested objects
# (address, delegation, act), integers up to 64 bits, booleans, null, and the strings JSON escapes.
TRICKY = ["สมชาย ใจดี", "emoji 🙂", "quote \" and \\ backslash", "slash / kept", "line\nbreak\ttab",
          "control \x00\x01\x1f", "separators \u2028\u2029", "del \x7f", "", "a" * 1000, "\ud7ff\ue000"]


@pytest.mark.parametrize("value", [
    *TRICKY,
    0, -1, 2**63 - 1, -(2**63), True, False, None,
    ["pwd", "otp"], [], {},
    {"address": {"formatted": "99 ถนนแจ้งวัฒนะ", "postal_code": "10210"}},
    {"act": {"sub": "x" * 64, "act": {"sub": "y"}}, "delegation": {"id": "d", "scope": ["a", "b"], "until": 1}},
])
def test_compact_is_the_standard_librarys_compact_utf8(value):
    claims = {"iss": "https://idgw.example", "v": value, "sub": "s"}
    assert compact(claims) == json.dumps(claims, separators=(",", ":"), ensure_ascii=False).encode()



@pytest.mark.parametrize("value", [2**64, -(2**63) - 1, 10**40, {1: "a", "b": [2**70]}, [{True: None}]])
def test_compact_writes_what_orjson_refuses_as_the_standard_library_does(value):
    claims = {"iss": "https://idgw.example", "v": value}
    assert compact(claims) == json.dumps(claims, separators=(",", ":"), ensure_ascii=False).encode()


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**80), max_value=2**80)
    | st.text(st.characters(blacklist_categories=("Cs",))),  # no lone surrogates: not encodable anyway
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(_JSON_VALUES)
def test_compact_equals_the_standard_library_for_any_json_value(value):
    assert compact(value) == json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
