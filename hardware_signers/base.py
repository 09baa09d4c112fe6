"""The Signer protocol: what every key that signs in carbonledger offers, whatever holds it."""

from __future__ import annotations

import hashlib
from enum import StrEnum
from typing import Protocol, runtime_checkable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec


class Algorithm(StrEnum):
    """Signature algorithms carbonledger signs with. ECDSA signatures are DER-encoded."""

    ED25519 = "ed25519"
    ECDSA_P256 = "ecdsa-p256-sha256"
    ECDSA_P384 = "ecdsa-p384-sha384"


@runtime_checkable
class Signer(Protocol):
    """A private key that signs messages; the private half may never leave its holder (an HSM).

    - ``key_id``: hex SHA-256 of ``public_key_spki`` (see :func:`spki_key_id`), stable across
      backends, so the same key gets the same id wherever it is held.
    - ``public_key_raw``: Ed25519: the 32-byte key; ECDSA: the uncompressed SEC1 point (0x04||X||Y).
    - ``public_key_spki``: DER SubjectPublicKeyInfo.
    - ``sign(message)``: Ed25519: the 64-byte signature of ``message``; ECDSA: the DER signature
      over the algorithm's hash of ``message``.
    """

    @property
    def key_id(self) -> str: ...

    @property
    def algorithm(self) -> Algorithm: ...

    @property
    def public_key_raw(self) -> bytes: ...

    @property
    def public_key_spki(self) -> bytes: ...

    def sign(self, message: bytes) -> bytes: ...


def spki_key_id(spki_der: bytes) -> str:
    """Return the key id of a public key: lowercase hex SHA-256 of its DER SubjectPublicKeyInfo."""
    return hashlib.sha256(spki_der).hexdigest()


# ECDSA algorithms: their curve, their hash, and the algorithm of a curve by its name.
ECDSA_CURVES: dict[Algorithm, ec.EllipticCurve] = {
    Algorithm.ECDSA_P256: ec.SECP256R1(),
    Algorithm.ECDSA_P384: ec.SECP384R1(),
}
ECDSA_HASHES: dict[Algorithm, type[hashes.HashAlgorithm]] = {
    Algorithm.ECDSA_P256: hashes.SHA256,
    Algorithm.ECDSA_P384: hashes.SHA384,
}
ECDSA_BY_CURVE_NAME: dict[str, Algorithm] = {
    "secp256r1": Algorithm.ECDSA_P256,
    "secp384r1": Algorithm.ECDSA_P384,
}


class PublicKeyInfo:
    """The public half of the Signer protocol, for signer classes that set ``_algorithm``,
    ``_public_key_raw``, ``_public_key_spki`` and ``_key_id``."""

    _algorithm: Algorithm
    _public_key_raw: bytes
    _public_key_spki: bytes
    _key_id: str

    @property
    def key_id(self) -> str:
        """Lowercase hex SHA-256 of the DER SubjectPublicKeyInfo."""
        return self._key_id

    @property
    def algorithm(self) -> Algorithm:
        return self._algorithm

    @property
    def public_key_raw(self) -> bytes:
        """Ed25519: the 32-byte public key; ECDSA: the uncompressed SEC1 point 0x04||X||Y."""
        return self._public_key_raw

    @property
    def public_key_spki(self) -> bytes:
        """The public key as DER SubjectPublicKeyInfo."""
        return self._public_key_spki
