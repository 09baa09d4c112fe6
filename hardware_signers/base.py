"""The Signer protocol: what every key that signs in carbonledger offers, whatever holds it."""

from __future__ import annotations

import hashlib
from enum import StrEnum
from typing import Protocol, runtime_checkable


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
