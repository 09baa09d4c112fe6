"""Software signers: private keys held in process memory, loaded from or saved to PKCS#8 PEM files.

For development, tests and keys whose owner accepts that the private half lives on disk. Ed25519
signs through libsodium (PyNaCl), which measured about 1.6x faster than cryptography's OpenSSL
path for the same key; ECDSA signs through cryptography and returns DER signatures.

A ``SoftwareSigner`` is immutable after construction and every signing call works only on its
arguments and immutable key material, so one signer may be shared by any number of threads.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import nacl.bindings
from cryptography.exceptions import UnsupportedAlgorithm as _CryptographyUnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from hardware_signers.base import (
    ECDSA_BY_CURVE_NAME,
    ECDSA_CURVES,
    ECDSA_HASHES,
    Algorithm,
    PublicKeyInfo,
    spki_key_id,
)
from hardware_signers.errors import InvalidKey, UnsupportedAlgorithm

_ED25519_SEED_BYTES = 32


_PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey


class SoftwareSigner(PublicKeyInfo):
    """A private key in memory that signs with Ed25519, ECDSA P-256/SHA-256 or ECDSA P-384/SHA-384.

    Build one with :meth:`generate`, :meth:`from_pem` or :meth:`from_ed25519_seed`.
    """

    __slots__ = (
        "_algorithm",
        "_ecdsa",
        "_key",
        "_key_id",
        "_nacl_secret",
        "_public_key_raw",
        "_public_key_spki",
    )

    def __init__(self, key: _PrivateKey) -> None:
        """Wrap a cryptography private key; prefer the named constructors."""
        if isinstance(key, ed25519.Ed25519PrivateKey):
            algorithm = Algorithm.ED25519
            seed = key.private_bytes(
                serialization.Encoding.Raw,
                serialization.PrivateFormat.Raw,
                serialization.NoEncryption(),
            )
            public_raw, nacl_secret = nacl.bindings.crypto_sign_seed_keypair(seed)
            self._nacl_secret: bytes | None = nacl_secret
            self._ecdsa: ec.ECDSA | None = None
        elif isinstance(key, ec.EllipticCurvePrivateKey):
            found = ECDSA_BY_CURVE_NAME.get(key.curve.name)
            if found is None:
                raise UnsupportedAlgorithm(
                    f"ECDSA curve {key.curve.name!r} is not supported (use P-256 or P-384)"
                )
            algorithm = found
            public_raw = key.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
            self._nacl_secret = None
            self._ecdsa = ec.ECDSA(ECDSA_HASHES[algorithm]())
        else:
            raise UnsupportedAlgorithm(
                f"private key type {type(key).__name__} is not supported "
                "(use Ed25519, ECDSA P-256 or ECDSA P-384)"
            )
        self._key = key
        self._algorithm = algorithm
        self._public_key_raw = bytes(public_raw)
        self._public_key_spki = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self._key_id = spki_key_id(self._public_key_spki)

    # -- constructors ---------------------------------------------------------------------------

    @classmethod
    def generate(cls, algorithm: Algorithm) -> SoftwareSigner:
        """Return a signer holding a fresh random key for ``algorithm``."""
        algorithm = _as_algorithm(algorithm)
        if algorithm is Algorithm.ED25519:
            return cls(ed25519.Ed25519PrivateKey.generate())
        return cls(ec.generate_private_key(ECDSA_CURVES[algorithm]))

    @classmethod
    def from_ed25519_seed(cls, seed: bytes) -> SoftwareSigner:
        """Return the Ed25519 signer whose RFC 8032 private key is the 32-byte ``seed``."""
        if not isinstance(seed, bytes | bytearray | memoryview):
            raise InvalidKey(f"Ed25519 seed must be bytes, not {type(seed).__name__}")
        if len(seed) != _ED25519_SEED_BYTES:
            raise InvalidKey(f"Ed25519 seed must be 32 bytes, got {len(seed)}")
        return cls(ed25519.Ed25519PrivateKey.from_private_bytes(bytes(seed)))

    @classmethod
    def from_pem(cls, pem: bytes, password: bytes | None = None) -> SoftwareSigner:
        """Return the signer for a PEM private key (PKCS#8, or SEC1 for EC), decrypting it with
        ``password`` when it is encrypted.

        Raises InvalidKey when the PEM does not parse or the password is missing, superfluous or
        wrong, and UnsupportedAlgorithm for a key of another type or curve.
        """
        if isinstance(pem, str):
            pem = pem.encode("ascii", errors="replace")
        try:
            key = serialization.load_pem_private_key(pem, password=password)
        except TypeError as exc:
            # cryptography signals both "encrypted but no password" and "password given but
            # not encrypted" with TypeError.
            if password is None:
                raise InvalidKey(
                    "the PEM private key is encrypted and no password was given"
                ) from None
            raise InvalidKey(
                f"the PEM private key is not encrypted but a password was given ({exc})"
            ) from None
        except _CryptographyUnsupportedAlgorithm as exc:
            raise UnsupportedAlgorithm(
                f"the PEM private key uses an unsupported algorithm: {exc}"
            ) from None
        except ValueError as exc:
            detail = "wrong password or malformed PEM" if password is not None else "malformed PEM"
            raise InvalidKey(f"could not load the PEM private key ({detail}): {exc}") from None
        if not isinstance(key, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey):
            raise UnsupportedAlgorithm(
                f"PEM private key of type {type(key).__name__} is not supported "
                "(use Ed25519, ECDSA P-256 or ECDSA P-384)"
            )
        return cls(key)

    # -- the Signer protocol --------------------------------------------------------------------

    def sign(self, message: bytes) -> bytes:
        """Return the signature of ``message``: 64 bytes for Ed25519, DER (r, s) for ECDSA."""
        if self._nacl_secret is not None:
            # crypto_sign returns signature || message; the signature is the first 64 bytes.
            return nacl.bindings.crypto_sign(bytes(message), self._nacl_secret)[
                : nacl.bindings.crypto_sign_BYTES
            ]
        assert self._ecdsa is not None
        key = self._key
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return key.sign(bytes(message), self._ecdsa)

    # -- export ---------------------------------------------------------------------------------

    def private_pem(self, password: bytes | None = None) -> bytes:
        """Return the private key as PKCS#8 PEM, encrypted with ``password`` when one is given."""
        if password is None:
            encryption: serialization.KeySerializationEncryption = serialization.NoEncryption()
        else:
            if not password:
                raise InvalidKey("an empty password cannot encrypt a private key")
            encryption = serialization.BestAvailableEncryption(password)
        return self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )

    def save(self, path: str | os.PathLike[str], password: bytes | None = None) -> None:
        """Write the PKCS#8 PEM to ``path`` with mode 0600, atomically: a reader sees either the
        previous file or the complete new one, never a partial key."""
        write_private_file(Path(path), self.private_pem(password))

    def __repr__(self) -> str:
        return f"SoftwareSigner(algorithm={self._algorithm.value}, key_id={self._key_id[:16]}...)"


def write_private_file(path: Path, content: bytes, *, overwrite: bool = True) -> None:
    """Atomically write ``content`` to ``path``, readable and writable by the owner only: a reader
    sees the previous file (or none) or the complete new one, never a partial key. With
    ``overwrite=False`` an existing ``path`` is left alone and FileExistsError raised."""
    directory = path.parent
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        # mkstemp already creates the file 0600; fchmod states the intent and survives odd umasks.
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        if overwrite:
            os.replace(temp_name, path)
        else:
            # link(2) fails if the target exists, so no key is ever replaced by a race.
            os.link(temp_name, path)
            os.unlink(temp_name)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
    # Make the new directory entry itself durable.
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _as_algorithm(algorithm: Algorithm | str) -> Algorithm:
    try:
        return Algorithm(algorithm)
    except ValueError:
        supported = ", ".join(a.value for a in Algorithm)
        raise UnsupportedAlgorithm(
            f"algorithm {algorithm!r} is not supported (use one of: {supported})"
        ) from None
