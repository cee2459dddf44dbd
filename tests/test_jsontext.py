"""idgw.jsontext: the nesting depth of untrusted JSON, counted without parsing it, agrees with the
parsed document's depth for any JSON text, strings full of brackets, quotes and escapes included."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from idgw.jsontext import JSONTextError, depth, loads

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
