"""JSON as signed evidence needs it: exact decimals, no NaN or Infinity, no key given twice.

Two values for one key make signed evidence ambiguous (parsers disagree on which one counts), and a
float would change the quantity it carries, so both are refused or avoided here, for OCMF and JWS
alike.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import orjson

from domain.errors import MalformedEvidence


class JsonRefused(ValueError):
    """A JSON text that parses but that evidence may not contain."""


def quoted(value: object, limit: int = 60) -> str:
    """``repr(value)``, shortened: error messages echo input, and input can be long."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def _refuse_constant(name: str) -> Any:
    raise JsonRefused(f"{name} is not a JSON number")


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise JsonRefused(f"key {quoted(key)} appears twice")
        result[key] = value
    return result


STRICT_DECODER = json.JSONDecoder(
    parse_float=Decimal,
    parse_constant=_refuse_constant,
    object_pairs_hook=_refuse_duplicate_keys,
)

_KEY = re.compile(r'"\s*:')
_FLAT_VALUES = (str, int, bool, type(None))


def loads(text: str) -> Any:
    """Parse ``text`` strictly; raise ValueError (JsonRefused or json.JSONDecodeError) or
    RecursionError as :data:`STRICT_DECODER` does.

    A flat object whose values are strings, integers, booleans or null, with exactly one ``":``
    per key (so no key can be there twice), is parsed with orjson, several times faster; anything
    else takes the strict decoder, which gives the same result or the precise refusal.
    """
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return STRICT_DECODER.decode(text)
    if (
        isinstance(value, dict)
        and all(type(v) in _FLAT_VALUES for v in value.values())
        and len(_KEY.findall(text)) == len(value)
    ):
        return value
    return STRICT_DECODER.decode(text)


def json_type(value: object) -> str:
    """How a JSON value's type reads in an error message ("a string", "an array", ...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float | Decimal):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def load_object(text: str, what: str) -> dict[str, Any]:
    """Parse ``text`` strictly as a JSON object; raise MalformedEvidence naming ``what``."""
    try:
        value = loads(text)
    except RecursionError:
        raise MalformedEvidence(f"{what} is not valid JSON: nested too deeply") from None
    except ValueError as exc:
        raise MalformedEvidence(f"{what} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise MalformedEvidence(f"{what} must be a JSON object, not {json_type(value)}")
    return value
