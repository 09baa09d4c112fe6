"""Strict query and path parameter parsing: a bad value is a 400 that names the parameter."""

from __future__ import annotations

import base64
import binascii

from starlette.requests import Request

from api.problems import bad_request

MAX_INT = 2**63 - 1


def parse_int(name: str, raw: str | None, *, minimum: int = 0) -> int:
    """Parse a decimal parameter; refuse missing values, signs, leading zeros, and huge numbers."""
    if raw is None or raw == "":
        raise bad_request(f"parameter {name!r} is required", "missing-parameter")
    if not raw.isascii() or not raw.isdigit() or (len(raw) > 1 and raw[0] == "0"):
        raise bad_request(
            f"parameter {name!r} must be a non-negative decimal integer, got {raw!r}",
            "invalid-parameter",
        )
    value = int(raw)
    if value > MAX_INT:
        raise bad_request(f"parameter {name!r} is too large", "invalid-parameter")
    if value < minimum:
        raise bad_request(f"parameter {name!r} must be at least {minimum}", "invalid-parameter")
    return value


def query_int(request: Request, name: str, *, minimum: int = 0) -> int:
    return parse_int(name, request.query_params.get(name), minimum=minimum)


def parse_hash(name: str, raw: str | None) -> bytes:
    """Parse a SHA-256 hash given in standard or URL-safe base64 (padding optional) or hex."""
    if not raw:
        raise bad_request(f"parameter {name!r} is required", "missing-parameter")
    text = raw.strip()
    if len(text) == 64:
        try:
            return bytes.fromhex(text)
        except ValueError:
            pass
    try:
        padded = text + "=" * (-len(text) % 4)
        value = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise bad_request(
            f"parameter {name!r} is not base64 or hex: {raw!r}", "invalid-hash"
        ) from exc
    if len(value) != 32:
        raise bad_request(
            f"parameter {name!r} must be a 32-byte hash, got {len(value)} bytes", "invalid-hash"
        )
    return value
