"""Errors the domain raises on purpose: one hierarchy, mapped once to problem+json in ``api/``.

Every message names what was wrong with which input, so it can be shown to the sender as it is.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base class of every error the domain raises on purpose."""


class EvidenceError(DomainError, ValueError):
    """Signed evidence (an OCMF record, a JWS reading, a meter's public key) is malformed or does
    not verify."""


class MalformedEvidence(EvidenceError):
    """The evidence does not parse: wrong structure, encoding, field type or field value."""


class BadSignature(EvidenceError):
    """The evidence parses, but its signature does not verify with the public key given (or that
    key cannot have made it: another curve, another algorithm)."""


class UnsupportedAlgorithm(EvidenceError):
    """The evidence or key uses a signature algorithm, curve, hash, signature format or extension
    that carbonledger does not verify."""


class InvalidCreditCode(DomainError, ValueError):
    """A unified social credit code (GB 32100-2015) is malformed or its check character is wrong."""


class RequestError(DomainError, ValueError):
    """A request to the domain is malformed: a missing or invalid field, an unknown kind."""


class NotFound(DomainError, LookupError):
    """The account, meter, reporter or methodology named does not exist."""


class AlreadyExists(DomainError):
    """The account, meter or reporter is already enrolled."""


class AlreadyClaimed(DomainError):
    """A claim key (an activity, or one 15-minute slot of it) is held by an earlier claim.

    ``holder`` names the entry that holds it: its stream, and its log index once integrated."""

    def __init__(self, message: str, holder: dict[str, object]) -> None:
        super().__init__(message)
        self.holder = holder


class Overdrawn(DomainError):
    """A points redemption asks for more points than the account holds."""


class Conflict(DomainError):
    """Another writer changed the same stream at the same time, more often than retries allow."""
