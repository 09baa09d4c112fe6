"""Errors raised by signers and verification helpers."""

from __future__ import annotations


class SignerError(Exception):
    """Base class of every error a signer raises on purpose."""


class UnsupportedAlgorithm(SignerError, ValueError):
    """The key type, curve or mechanism is not one carbonledger signs or verifies with."""


class InvalidKey(SignerError, ValueError):
    """Key material could not be parsed (wrong encoding, wrong length, not a key of that type)."""


class InvalidSignature(SignerError, ValueError):
    """A signature does not verify for the message and public key given."""


class TokenNotFound(SignerError):
    """No PKCS#11 token with the requested label is present."""


class WrongPin(SignerError):
    """The PKCS#11 token refused the PIN."""


class KeyNotFound(SignerError):
    """The token holds no key with the requested label."""


class ModuleNotFound(SignerError):
    """The PKCS#11 module (shared library) could not be loaded."""
