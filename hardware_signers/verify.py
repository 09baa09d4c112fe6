"""Signature verification for every algorithm carbonledger signs with, and conversions between the
encodings of public keys and ECDSA signatures.

Conventions (RFC 8032 for Ed25519; SEC 1 / X9.62 and RFC 3279 for ECDSA):

- Ed25519 public keys are 32 bytes, signatures 64 bytes. Verification is libsodium's
  ``crypto_sign_open``, which also rejects non-canonical encodings and small-order points.
- ECDSA public keys are DER SubjectPublicKeyInfo or SEC1 points (compressed or uncompressed);
  signatures are DER ``SEQUENCE { r INTEGER, s INTEGER }`` ("der") or fixed-width big-endian
  ``r || s`` ("raw", the PKCS#11 and JOSE form). DER is parsed strictly: the only encoding accepted
  is the one canonical encoding of (r, s), with 1 <= r, s < n.

Every function works only on its arguments (no caches, no shared state), so any of them may run on
many threads at once. Failures raise :class:`InvalidSignature`, :class:`InvalidKey` or
:class:`UnsupportedAlgorithm` with a message naming what was wrong.
"""

from __future__ import annotations

from typing import Literal

import nacl.bindings
import nacl.exceptions
from cryptography.exceptions import InvalidSignature as _CryptographyInvalidSignature
from cryptography.exceptions import UnsupportedAlgorithm as _CryptographyUnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from hardware_signers.base import ECDSA_BY_CURVE_NAME, ECDSA_CURVES, ECDSA_HASHES, Algorithm
from hardware_signers.errors import InvalidKey, InvalidSignature, UnsupportedAlgorithm

ED25519_PUBLIC_KEY_BYTES = 32
ED25519_SIGNATURE_BYTES = 64

# Per ECDSA algorithm: the curve, the hash, the byte length of a scalar, and the group order n.
_SCALAR_BYTES: dict[Algorithm, int] = {
    Algorithm.ECDSA_P256: 32,
    Algorithm.ECDSA_P384: 48,
}
_ORDERS: dict[Algorithm, int] = {
    Algorithm.ECDSA_P256: 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    Algorithm.ECDSA_P384: int(
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973",
        16,
    ),
}
_ALGORITHM_BY_RAW_SIGNATURE_LENGTH: dict[int, Algorithm] = {
    2 * size: algorithm for algorithm, size in _SCALAR_BYTES.items()
}

_DER_SEQUENCE = 0x30
_DER_INTEGER = 0x02


# -- verification ------------------------------------------------------------------------------


def verify_ed25519(public_key_raw: bytes, signature: bytes, message: bytes) -> None:
    """Return if ``signature`` is a valid Ed25519 signature of ``message`` under the 32-byte
    ``public_key_raw``; raise InvalidKey or InvalidSignature otherwise."""
    public_key_raw = _as_bytes(public_key_raw, "Ed25519 public key", InvalidKey)
    signature = _as_bytes(signature, "Ed25519 signature", InvalidSignature)
    message = _as_bytes(message, "message", InvalidSignature)
    if len(public_key_raw) != ED25519_PUBLIC_KEY_BYTES:
        raise InvalidKey(f"Ed25519 public key must be 32 bytes, got {len(public_key_raw)}")
    if len(signature) != ED25519_SIGNATURE_BYTES:
        raise InvalidSignature(f"Ed25519 signature must be 64 bytes, got {len(signature)}")
    try:
        nacl.bindings.crypto_sign_open(signature + message, public_key_raw)
    except nacl.exceptions.BadSignatureError:
        raise InvalidSignature(
            "Ed25519 signature does not verify for this key and message"
        ) from None
    except (nacl.exceptions.CryptoError, ValueError, TypeError) as exc:
        raise InvalidSignature(f"Ed25519 signature could not be checked: {exc}") from None


def verify_ecdsa(
    public_key: bytes,
    signature: bytes,
    message: bytes,
    *,
    algorithm: Algorithm,
    encoding: Literal["der", "raw"] = "der",
) -> None:
    """Return if ``signature`` is a valid ECDSA signature over the algorithm's hash of ``message``
    under ``public_key`` (DER SPKI or SEC1 point on the algorithm's curve); raise otherwise.

    ``encoding`` says whether ``signature`` is DER (strict) or fixed-width raw ``r || s``.
    """
    algorithm = _ecdsa_algorithm(algorithm)
    signature = _as_bytes(signature, "ECDSA signature", InvalidSignature)
    message = _as_bytes(message, "message", InvalidSignature)
    key = _ecdsa_public_key(public_key, algorithm)
    if encoding == "der":
        r, s = _parse_der_signature(signature, algorithm)
    elif encoding == "raw":
        r, s = _parse_raw_signature(signature, algorithm)
    else:
        raise ValueError(f"encoding must be 'der' or 'raw', not {encoding!r}")
    try:
        key.verify(encode_dss_signature(r, s), message, ec.ECDSA(ECDSA_HASHES[algorithm]()))
    except _CryptographyInvalidSignature:
        raise InvalidSignature(
            f"{algorithm.value} signature does not verify for this key and message"
        ) from None


def verify(algorithm: Algorithm, public_key: bytes, signature: bytes, message: bytes) -> None:
    """Return if ``signature`` is a valid ``algorithm`` signature of ``message`` under
    ``public_key``; raise otherwise.

    ``public_key`` is a raw key (Ed25519: 32 bytes; ECDSA: SEC1 point) or DER SPKI of that
    algorithm; ECDSA signatures are DER, as every carbonledger signer produces them.
    """
    algorithm = _algorithm(algorithm)
    if algorithm is Algorithm.ED25519:
        public_key = _as_bytes(public_key, "Ed25519 public key", InvalidKey)
        if len(public_key) != ED25519_PUBLIC_KEY_BYTES:
            found, public_key = load_public_key(public_key)
            if found is not Algorithm.ED25519:
                raise InvalidKey(f"expected an Ed25519 public key, got a {found.value} key")
        verify_ed25519(public_key, signature, message)
        return
    verify_ecdsa(public_key, signature, message, algorithm=algorithm, encoding="der")


# -- public keys -------------------------------------------------------------------------------


def load_public_key(data: bytes) -> tuple[Algorithm, bytes]:
    """Return the algorithm and raw public key (Ed25519: 32 bytes; ECDSA: uncompressed SEC1 point)
    of a DER SubjectPublicKeyInfo or a PEM "PUBLIC KEY" block."""
    data = _as_bytes(data, "public key", InvalidKey)
    stripped = data.strip()
    try:
        if stripped.startswith(b"-----BEGIN"):
            if not stripped.startswith(b"-----BEGIN PUBLIC KEY-----"):
                label = stripped.split(b"\n", 1)[0].decode("ascii", "replace")
                raise InvalidKey(f"expected a PEM 'PUBLIC KEY' block, got {label!r}")
            key = serialization.load_pem_public_key(stripped)
        else:
            key = serialization.load_der_public_key(data)
    except _CryptographyUnsupportedAlgorithm as exc:
        raise UnsupportedAlgorithm(f"public key uses an unsupported algorithm: {exc}") from None
    except ValueError as exc:
        raise InvalidKey(f"not a DER SubjectPublicKeyInfo or PEM public key: {exc}") from None
    return _algorithm_and_raw(key)


def _algorithm_and_raw(key: object) -> tuple[Algorithm, bytes]:
    if isinstance(key, ed25519.Ed25519PublicKey):
        raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return Algorithm.ED25519, raw
    if isinstance(key, ec.EllipticCurvePublicKey):
        algorithm = ECDSA_BY_CURVE_NAME.get(key.curve.name)
        if algorithm is None:
            raise UnsupportedAlgorithm(
                f"ECDSA curve {key.curve.name!r} is not supported (use P-256 or P-384)"
            )
        raw = key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return algorithm, raw
    raise UnsupportedAlgorithm(
        f"public key type {type(key).__name__} is not supported "
        "(use Ed25519, ECDSA P-256 or ECDSA P-384)"
    )


def _ecdsa_public_key(public_key: bytes, algorithm: Algorithm) -> ec.EllipticCurvePublicKey:
    """Load an ECDSA public key given as DER SPKI or SEC1 point and check it is on the curve of
    ``algorithm``."""
    public_key = _as_bytes(public_key, "ECDSA public key", InvalidKey)
    if not public_key:
        raise InvalidKey("ECDSA public key is empty")
    if public_key[0] == _DER_SEQUENCE:
        try:
            key = serialization.load_der_public_key(public_key)
        except (ValueError, _CryptographyUnsupportedAlgorithm) as exc:
            raise InvalidKey(f"ECDSA public key is not a valid DER SPKI: {exc}") from None
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise InvalidKey(f"expected an ECDSA public key, got {type(key).__name__}")
        found = ECDSA_BY_CURVE_NAME.get(key.curve.name)
        if found is not algorithm:
            curve = found.value if found is not None else key.curve.name
            raise InvalidKey(f"public key is for {curve}, not {algorithm.value}")
        return key
    size = _SCALAR_BYTES[algorithm]
    if len(public_key) not in (1 + size, 1 + 2 * size):
        raise InvalidKey(
            f"{algorithm.value} SEC1 point must be {1 + size} (compressed) or {1 + 2 * size} "
            f"(uncompressed) bytes, got {len(public_key)}"
        )
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(ECDSA_CURVES[algorithm], public_key)
    except ValueError as exc:
        raise InvalidKey(
            f"{algorithm.value} public key is not a point on the curve: {exc}"
        ) from None


# -- ECDSA signature encodings -----------------------------------------------------------------


def ecdsa_der_to_raw(signature: bytes, algorithm: Algorithm) -> bytes:
    """Return the fixed-width ``r || s`` form of a strictly DER-encoded ECDSA signature for
    ``algorithm`` (64 bytes for P-256, 96 for P-384)."""
    algorithm = _ecdsa_algorithm(algorithm)
    signature = _as_bytes(signature, "ECDSA signature", InvalidSignature)
    r, s = _parse_der_signature(signature, algorithm)
    size = _SCALAR_BYTES[algorithm]
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


def ecdsa_raw_to_der(signature: bytes) -> bytes:
    """Return the DER encoding of a fixed-width ``r || s`` ECDSA signature; the curve follows
    from the length (64 bytes: P-256, 96 bytes: P-384)."""
    signature = _as_bytes(signature, "ECDSA signature", InvalidSignature)
    algorithm = _ALGORITHM_BY_RAW_SIGNATURE_LENGTH.get(len(signature))
    if algorithm is None:
        raise InvalidSignature(
            f"raw ECDSA signature must be 64 (P-256) or 96 (P-384) bytes, got {len(signature)}"
        )
    r, s = _parse_raw_signature(signature, algorithm)
    return _der_sequence(_der_integer(r) + _der_integer(s))


def _parse_raw_signature(signature: bytes, algorithm: Algorithm) -> tuple[int, int]:
    size = _SCALAR_BYTES[algorithm]
    if len(signature) != 2 * size:
        raise InvalidSignature(
            f"raw {algorithm.value} signature must be {2 * size} bytes, got {len(signature)}"
        )
    r = int.from_bytes(signature[:size], "big")
    s = int.from_bytes(signature[size:], "big")
    _check_scalars(r, s, algorithm)
    return r, s


def _parse_der_signature(signature: bytes, algorithm: Algorithm) -> tuple[int, int]:
    """Parse ``SEQUENCE { r INTEGER, s INTEGER }`` accepting only its canonical DER encoding."""
    body, rest = _der_element(signature, 0, _DER_SEQUENCE, "signature SEQUENCE")
    if rest != len(signature):
        raise InvalidSignature(
            f"DER ECDSA signature has {len(signature) - rest} trailing bytes after the SEQUENCE"
        )
    start, end = body
    r_span, position = _der_element(signature, start, _DER_INTEGER, "r INTEGER", limit=end)
    s_span, position = _der_element(signature, position, _DER_INTEGER, "s INTEGER", limit=end)
    if position != end:
        raise InvalidSignature("DER ECDSA signature SEQUENCE holds more than two INTEGERs")
    r = _der_integer_value(signature[r_span[0] : r_span[1]], "r")
    s = _der_integer_value(signature[s_span[0] : s_span[1]], "s")
    _check_scalars(r, s, algorithm)
    return r, s


def _der_element(
    data: bytes, position: int, tag: int, what: str, *, limit: int | None = None
) -> tuple[tuple[int, int], int]:
    """Read one DER TLV with the expected ``tag`` at ``position``; return the content span and the
    position after it. Only minimal definite lengths are accepted."""
    end_of_data = len(data) if limit is None else limit
    if position >= end_of_data:
        raise InvalidSignature(f"DER ECDSA signature is truncated before the {what}")
    if data[position] != tag:
        raise InvalidSignature(
            f"DER ECDSA signature: expected tag 0x{tag:02x} for the {what}, "
            f"got 0x{data[position]:02x}"
        )
    position += 1
    if position >= end_of_data:
        raise InvalidSignature(f"DER ECDSA signature is truncated in the {what} length")
    first = data[position]
    position += 1
    if first < 0x80:
        length = first
    elif first == 0x80:
        raise InvalidSignature(f"DER ECDSA signature uses an indefinite length for the {what}")
    else:
        count = first & 0x7F
        if count > 2 or position + count > end_of_data:
            raise InvalidSignature(f"DER ECDSA signature has a bad length for the {what}")
        length = int.from_bytes(data[position : position + count], "big")
        position += count
        if length < 0x80 or length.bit_length() <= 8 * (count - 1):
            raise InvalidSignature(f"DER ECDSA signature uses a non-minimal length for the {what}")
    if position + length > end_of_data:
        raise InvalidSignature(f"DER ECDSA signature is truncated in the {what}")
    return (position, position + length), position + length


def _der_integer_value(content: bytes, name: str) -> int:
    if not content:
        raise InvalidSignature(f"DER ECDSA signature: {name} is an empty INTEGER")
    if content[0] & 0x80:
        raise InvalidSignature(f"DER ECDSA signature: {name} is negative")
    if len(content) > 1 and content[0] == 0 and not content[1] & 0x80:
        raise InvalidSignature(f"DER ECDSA signature: {name} has a non-minimal encoding")
    return int.from_bytes(content, "big")


def _check_scalars(r: int, s: int, algorithm: Algorithm) -> None:
    order = _ORDERS[algorithm]
    for name, value in (("r", r), ("s", s)):
        if not 1 <= value < order:
            raise InvalidSignature(
                f"{algorithm.value} signature: {name} is out of range (must be 1 <= {name} < n)"
            )


def _der_integer(value: int) -> bytes:
    # One extra byte when the top bit is set keeps the INTEGER positive.
    content = value.to_bytes(value.bit_length() // 8 + 1, "big")
    return bytes([_DER_INTEGER]) + _der_length(len(content)) + content


def _der_sequence(content: bytes) -> bytes:
    return bytes([_DER_SEQUENCE]) + _der_length(len(content)) + content


def _der_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    encoded = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(encoded)]) + encoded


# -- argument checks ---------------------------------------------------------------------------


def _as_bytes(value: object, what: str, error: type[Exception]) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    raise error(f"{what} must be bytes, not {type(value).__name__}")


def _algorithm(algorithm: Algorithm | str) -> Algorithm:
    try:
        return Algorithm(algorithm)
    except ValueError:
        supported = ", ".join(a.value for a in Algorithm)
        raise UnsupportedAlgorithm(
            f"algorithm {algorithm!r} is not supported (use one of: {supported})"
        ) from None


def _ecdsa_algorithm(algorithm: Algorithm | str) -> Algorithm:
    algorithm = _algorithm(algorithm)
    if algorithm not in ECDSA_CURVES:
        raise UnsupportedAlgorithm(f"{algorithm.value} is not an ECDSA algorithm")
    return algorithm
