"""Native meter readings as JSON Web Signatures in compact serialization (RFC 7515).

A reading is ``base64url(header) "." base64url(payload) "." base64url(signature)``, base64url
without padding, signed with ``ES256`` (ECDSA on P-256 with SHA-256, the signature being the raw
32-byte ``r`` and ``s`` one after the other, RFC 7518 §3.4) or ``EdDSA`` (Ed25519, RFC 8037).
The signature covers the header and payload exactly as they were sent, so a reading is kept as
received and never re-encoded. The payload is a JSON object:

- ``meter``: the meter's id (text);
- ``seq``: the meter's sequence number, an integer from 0 that only goes up;
- ``start``, ``end``: the interval, RFC 3339 times with an offset, ``end`` after ``start``;
- ``quantity``: the amount in the interval, a decimal number written as a string (never a JSON
  number, which parsers round through binary floating point);
- ``unit``: one of :data:`UNITS`;
- ``register`` (optional): the cumulative register after the interval, a decimal string.

Other payload fields are kept (they are signed) but not interpreted. Tested against the ES256 and
EdDSA examples of RFC 7515 appendix A.3 and RFC 8037 appendix A.4.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from domain.errors import BadSignature, MalformedEvidence, UnsupportedAlgorithm
from domain.strict_json import json_type, load_object, quoted
from hardware_signers.base import Algorithm, Signer

__all__ = [
    "ALGORITHMS",
    "UNITS",
    "JwsReading",
    "parse_jws",
    "sign_jws",
    "verify_jws",
    "verify_jws_signature",
]

ES256 = "ES256"
EDDSA = "EdDSA"
ALGORITHMS = frozenset({ES256, EDDSA})
UNITS = frozenset({"kWh", "MWh", "m3", "GJ", "t_steam", "t_coal", "kg"})
MAX_SEQ = 2**63 - 1

_SIGNATURE_BYTES = {ES256: 64, EDDSA: 64}
_P256_COORDINATE_BYTES = 32
_SIGNER_ALGORITHMS = {Algorithm.ED25519: EDDSA, Algorithm.ECDSA_P256: ES256}

_BASE64URL_RE = re.compile(r"[A-Za-z0-9_-]*", re.ASCII)
_BASE64URL_VALUE = {
    c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
}
# Low bits of the last character that carry no data, by the part's length modulo 4.
_UNUSED_BITS = {0: 0, 2: 0b1111, 3: 0b11}
# Plain decimals, one way of writing each: no sign, exponent or leading zeros ("1.50" and "1.5"
# differ only in the precision they state).
_DECIMAL_RE = re.compile(r"(?:0|[1-9][0-9]*)(?:\.[0-9]+)?", re.ASCII)
_RFC3339_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?([Zz]|[+-]\d{2}:\d{2})",
    re.ASCII,
)


@dataclass(frozen=True)
class JwsReading:
    """A parsed native meter reading. ``raw`` is the compact JWS exactly as received,
    ``signing_input`` the ASCII bytes its signature covers (``header "." payload`` as sent), and
    ``header`` and ``payload`` the decoded JSON objects (non-integer numbers as ``Decimal``)."""

    raw: str
    header: dict[str, Any] = field(hash=False)
    payload: dict[str, Any] = field(hash=False)
    signing_input: bytes
    signature: bytes
    alg: str
    key_id: str | None
    meter: str
    seq: int
    start: datetime
    end: datetime
    quantity: Decimal
    unit: str
    register: Decimal | None


# --- parsing -------------------------------------------------------------------------------------


def parse_jws(compact: str) -> JwsReading:
    """Parse the compact JWS ``compact`` into a reading, checking its header and payload fields
    (not its signature: see :func:`verify_jws`); raise MalformedEvidence naming the first thing
    that is wrong, or UnsupportedAlgorithm for an algorithm or extension carbonledger refuses."""
    document = parse_jws_document(compact)
    fields = reading_fields(document.payload)
    return JwsReading(
        raw=compact,
        header=document.header,
        payload=document.payload,
        signing_input=document.signing_input,
        signature=document.signature,
        alg=document.alg,
        key_id=document.key_id,
        **fields,
    )


@dataclass(frozen=True)
class JwsDocument:
    """Any compact JWS with a JSON object payload (signed reports, not only readings)."""

    raw: str
    header: dict[str, Any] = field(hash=False)
    payload: dict[str, Any] = field(hash=False)
    signing_input: bytes
    signature: bytes
    alg: str
    key_id: str | None


def parse_jws_document(compact: str) -> JwsDocument:
    """Parse a compact JWS whose payload is a JSON object, checking the header as
    :func:`parse_jws` does but not the payload's fields; raise MalformedEvidence or
    UnsupportedAlgorithm naming what is wrong."""
    if not isinstance(compact, str):
        raise MalformedEvidence(f"a JWS must be text, not {type(compact).__name__}")
    if not compact.isascii():
        raise MalformedEvidence("a JWS in compact serialization is ASCII; this one is not")
    parts = compact.split(".")
    if len(parts) != 3:
        raise MalformedEvidence(
            f"a compact JWS has 3 parts separated by '.', this one has {len(parts)}"
        )
    return _parse_parts(compact, parts)


def _parse_parts(compact: str, parts: list[str]) -> JwsDocument:
    header_part, payload_part, signature_part = parts
    header = _json_object(_base64url_decode(header_part, "header"), "JWS header")
    alg = _checked_alg(header)
    key_id = header.get("kid")
    if key_id is not None and not isinstance(key_id, str):
        raise MalformedEvidence(f"JWS header kid must be a string, not {json_type(key_id)}")
    payload = _json_object(_base64url_decode(payload_part, "payload"), "JWS payload")
    signature = _base64url_decode(signature_part, "signature")
    if len(signature) != _SIGNATURE_BYTES[alg]:
        raise MalformedEvidence(
            f"an {alg} signature is {_SIGNATURE_BYTES[alg]} bytes, this one {len(signature)}"
        )
    return JwsDocument(
        raw=compact,
        header=header,
        payload=payload,
        signing_input=f"{header_part}.{payload_part}".encode("ascii"),
        signature=signature,
        alg=alg,
        key_id=key_id,
    )


def _base64url_decode(part: str, what: str) -> bytes:
    if not _BASE64URL_RE.fullmatch(part):
        raise MalformedEvidence(f"JWS {what} is not base64url without padding")
    if len(part) % 4 == 1:
        raise MalformedEvidence(
            f"JWS {what} has {len(part)} base64url characters, an impossible length"
        )
    # Unused low bits of the last character must be zero, so that each value has one encoding.
    unused = _UNUSED_BITS[len(part) % 4]
    if unused and _BASE64URL_VALUE[part[-1]] & unused:
        raise MalformedEvidence(f"JWS {what} is not canonical base64url (stray bits at the end)")
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _base64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _json_object(data: bytes, what: str) -> dict[str, Any]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedEvidence(f"{what} is not UTF-8") from None
    return load_object(text, what)


def _checked_alg(header: dict[str, Any]) -> str:
    """Return the header's ``alg`` when carbonledger verifies it and the header asks for nothing
    more; raise UnsupportedAlgorithm otherwise."""
    alg = header.get("alg")
    if alg is None:
        raise MalformedEvidence("JWS header has no alg")
    if not isinstance(alg, str):
        raise MalformedEvidence(f"JWS header alg must be a string, not {json_type(alg)}")
    if alg.lower() == "none":
        raise UnsupportedAlgorithm("JWS alg 'none' (an unsigned reading) is refused")
    if alg not in ALGORITHMS:
        raise UnsupportedAlgorithm(f"JWS alg {quoted(alg)} is not supported (use ES256 or EdDSA)")
    if "crit" in header:
        # RFC 7515 §4.1.11: a recipient that does not understand a listed extension must reject.
        raise UnsupportedAlgorithm(
            f"JWS header crit {quoted(header['crit'])} names extensions carbonledger lacks"
        )
    if "b64" in header:
        raise UnsupportedAlgorithm("JWS header b64 (RFC 7797 unencoded payload) is not supported")
    return alg


def reading_fields(payload: dict[str, Any]) -> dict[str, Any]:
    """Check the reading fields of ``payload`` and return them typed, as JwsReading arguments."""
    meter = _required(payload, "meter", str)
    if not meter:
        raise MalformedEvidence("JWS payload meter is empty")
    seq = _required(payload, "seq", int)
    if not 0 <= seq <= MAX_SEQ:
        raise MalformedEvidence(f"JWS payload seq {seq} is outside 0..2^63-1")
    start = _rfc3339(_required(payload, "start", str), "start")
    end = _rfc3339(_required(payload, "end", str), "end")
    if end <= start:
        raise MalformedEvidence(
            f"JWS payload end {quoted(payload['end'])} is not after "
            f"start {quoted(payload['start'])}"
        )
    quantity = _decimal(_required(payload, "quantity", str), "quantity")
    unit = _required(payload, "unit", str)
    if unit not in UNITS:
        raise MalformedEvidence(
            f"JWS payload unit {quoted(unit)} is not one of {', '.join(sorted(UNITS))}"
        )
    register = None
    if payload.get("register") is not None:
        register = _decimal(_required(payload, "register", str), "register")
    return {
        "meter": meter,
        "seq": seq,
        "start": start,
        "end": end,
        "quantity": quantity,
        "unit": unit,
        "register": register,
    }


def _required(payload: dict[str, Any], key: str, kind: type) -> Any:
    if key not in payload:
        raise MalformedEvidence(f"JWS payload field {key} is missing")
    value = payload[key]
    # bool is an int in Python, never in JSON.
    if isinstance(value, bool) or not isinstance(value, kind):
        expected = "an integer" if kind is int else "a string"
        raise MalformedEvidence(
            f"JWS payload field {key} must be {expected}, not {json_type(value)}"
        )
    return value


def _decimal(text: str, key: str) -> Decimal:
    if not _DECIMAL_RE.fullmatch(text):
        raise MalformedEvidence(
            f"JWS payload {key} {quoted(text)} is not a non-negative decimal such as '12.5'"
        )
    return Decimal(text)


def _rfc3339(text: str, key: str) -> datetime:
    match = _RFC3339_RE.fullmatch(text)
    if match is None:
        raise MalformedEvidence(
            f"JWS payload {key} {quoted(text)} is not an RFC 3339 time with an offset "
            "(e.g. '2024-05-01T08:15:00+08:00')"
        )
    offset = match.group(8)
    try:
        if len(offset) == 6 and int(offset[4:6]) >= 60:
            raise ValueError(f"offset minutes {offset[4:6]} out of range")
        # The pattern fixed the shape; fromisoformat checks the calendar and the offset range.
        return datetime.fromisoformat(text.upper())
    except ValueError as exc:
        raise MalformedEvidence(
            f"JWS payload {key} {quoted(text)} is not a valid time: {exc}"
        ) from None


# --- verification --------------------------------------------------------------------------------

PublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey


def verify_jws(reading: JwsReading, public_key: PublicKey) -> None:
    """Check that ``reading`` was signed by ``public_key`` with the algorithm its header names.

    Raises UnsupportedAlgorithm for ``alg: none``, an unknown alg, a ``crit`` header or a key type
    carbonledger does not verify with; BadSignature when the key does not fit the alg (an Ed25519
    key for ES256, a P-384 key, ...) or the signature does not verify.
    """
    alg = _checked_alg(reading.header)
    if alg != reading.alg:
        raise MalformedEvidence(
            f"JWS reading says alg {quoted(reading.alg)} but its header {quoted(alg)}"
        )
    verify_jws_signature(alg, reading.signing_input, reading.signature, public_key)


def verify_jws_signature(
    alg: str, signing_input: bytes, signature: bytes, public_key: PublicKey
) -> None:
    """Check that ``signature`` is a valid JWS signature of ``signing_input`` by ``public_key``
    under ``alg`` (``ES256``: raw ``r||s``; ``EdDSA``: Ed25519); raise UnsupportedAlgorithm or
    BadSignature as :func:`verify_jws` does."""
    if alg not in ALGORITHMS:
        raise UnsupportedAlgorithm(f"JWS alg {quoted(alg)} is not supported (use ES256 or EdDSA)")
    if not isinstance(public_key, ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey):
        raise UnsupportedAlgorithm(
            f"JWS readings verify with Ed25519 or P-256 keys, not {type(public_key).__name__}"
        )
    if alg == EDDSA:
        if not isinstance(public_key, ed25519.Ed25519PublicKey):
            raise BadSignature(f"JWS alg EdDSA needs an Ed25519 key, not {_key_name(public_key)}")
        try:
            public_key.verify(signature, signing_input)
        except InvalidSignature:
            raise BadSignature("JWS EdDSA signature does not verify with the key given") from None
        return
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or not isinstance(
        public_key.curve, ec.SECP256R1
    ):
        raise BadSignature(f"JWS alg ES256 needs a P-256 key, not {_key_name(public_key)}")
    if len(signature) != 2 * _P256_COORDINATE_BYTES:
        raise BadSignature(f"an ES256 signature is 64 bytes, this one {len(signature)}")
    r = int.from_bytes(signature[:_P256_COORDINATE_BYTES], "big")
    s = int.from_bytes(signature[_P256_COORDINATE_BYTES:], "big")
    try:
        public_key.verify(encode_dss_signature(r, s), signing_input, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        raise BadSignature("JWS ES256 signature does not verify with the key given") from None


def _key_name(public_key: object) -> str:
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return f"an EC key on {public_key.curve.name}"
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return "an Ed25519 key"
    return type(public_key).__name__


# --- signing -------------------------------------------------------------------------------------


def sign_jws(payload: dict[str, Any], signer: Signer) -> str:
    """Return the compact JWS of ``payload`` signed by ``signer`` (Ed25519 as EdDSA, ECDSA P-256
    as ES256), with the signer's key id as ``kid``.

    The payload must already be a valid reading (quantities as decimal strings, not numbers):
    MalformedEvidence says what is wrong before anything is signed. UnsupportedAlgorithm for a
    signer of another algorithm.
    """
    if not isinstance(payload, dict):
        raise MalformedEvidence(f"a JWS payload must be a dict, not {type(payload).__name__}")
    reading_fields(payload)
    compact = sign_jws_document(payload, signer)
    verify_jws(parse_jws(compact), _public_key(signer))
    return compact


def _public_key(signer: Signer) -> PublicKey:
    public_key = serialization.load_der_public_key(signer.public_key_spki)
    if not isinstance(public_key, ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey):
        raise UnsupportedAlgorithm(f"signer public key is {type(public_key).__name__}")
    return public_key


def sign_jws_document(payload: dict[str, Any], signer: Signer) -> str:
    """Return the compact JWS of any JSON object ``payload`` signed by ``signer`` (Ed25519 as
    EdDSA, ECDSA P-256 as ES256), with the signer's key id as ``kid``; the result is parsed and
    verified before it is returned."""
    if not isinstance(payload, dict):
        raise MalformedEvidence(f"a JWS payload must be a dict, not {type(payload).__name__}")
    alg = _SIGNER_ALGORITHMS.get(signer.algorithm)
    if alg is None:
        raise UnsupportedAlgorithm(
            f"signer algorithm {signer.algorithm!s} has no JWS alg here (use Ed25519 or P-256)"
        )
    header = {"alg": alg, "kid": signer.key_id}
    try:
        payload_json = json.dumps(
            payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    except (TypeError, ValueError) as exc:
        raise MalformedEvidence(f"JWS payload cannot be written as JSON: {exc}") from None
    header_part = _base64url_encode(json.dumps(header, separators=(",", ":")).encode("utf-8"))
    payload_part = _base64url_encode(payload_json.encode("utf-8"))
    signing_input = f"{header_part}.{payload_part}".encode("ascii")

    signature = signer.sign(signing_input)
    if alg == ES256:
        # The Signer returns DER; JWS wants the two 32-byte integers (RFC 7518 §3.4).
        r, s = decode_dss_signature(signature)
        signature = r.to_bytes(_P256_COORDINATE_BYTES, "big") + s.to_bytes(
            _P256_COORDINATE_BYTES, "big"
        )
    compact = f"{header_part}.{payload_part}.{_base64url_encode(signature)}"

    # What we hand out must be what we accept: parse it back and check the signature.
    document = parse_jws_document(compact)
    verify_jws_signature(
        document.alg, document.signing_input, document.signature, _public_key(signer)
    )
    return compact
