"""Strict JSON for signed evidence: the fast path never accepts what the strict decoder refuses."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain import strict_json

SCALARS = st.one_of(
    st.text(max_size=20),
    st.integers(-(2**70), 2**70),
    st.booleans(),
    st.none(),
    st.decimals(allow_nan=False, allow_infinity=False, places=3),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


def dumps(value: object, separators: tuple[str, str]) -> str:
    return json.dumps(value, separators=separators, default=str)


@given(
    st.dictionaries(st.text(max_size=8), VALUES, max_size=6),
    st.sampled_from([(",", ":"), (", ", ": "), (" ,", " : ")]),
)
def test_same_result_as_the_strict_decoder(document: dict, separators: tuple[str, str]) -> None:
    text = dumps(document, separators)
    assert strict_json.loads(text) == strict_json.STRICT_DECODER.decode(text)


@pytest.mark.parametrize(
    "text",
    [
        '{"a":1,"a":2}',
        '{"a" : 1, "a":2, "b":3}',
        '{"a":"x","b":{"c":1,"c":2}}',
        '{"k":"v",\n"k"\t:\n"w"}',
        '{"a":"\\":","a":1}',
    ],
)
def test_duplicate_keys_are_refused(text: str) -> None:
    with pytest.raises(strict_json.JsonRefused, match="appears twice"):
        strict_json.loads(text)


def test_numbers_stay_exact_and_constants_are_refused() -> None:
    assert strict_json.loads('{"RV":1.606848e7}')["RV"] == Decimal("1.606848e7")
    assert strict_json.loads('{"q":"12.5","n":3}') == {"q": "12.5", "n": 3}
    for text in ('{"x":NaN}', '{"x":Infinity}', '{"x":-Infinity}'):
        with pytest.raises(ValueError):
            strict_json.loads(text)
