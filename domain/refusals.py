"""Why a submitted reading is refused: one vocabulary for the answers, metrics, OpenAPI and docs."""

from __future__ import annotations

from enum import StrEnum


class Refusal(StrEnum):
    """The reason a reading is refused, as sent in an ingest answer and counted in metrics."""

    MALFORMED = "malformed"
    TOO_LARGE = "too-large"
    UNSUPPORTED_ALGORITHM = "unsupported-algorithm"
    UNKNOWN_METER = "unknown-meter"
    BAD_SIGNATURE = "bad-signature"
    KEY_NOT_VALID = "key-not-valid"
    REVOKED_KEY = "revoked-key"
    REPLAY = "replay"
    REGISTER_BACKWARDS = "register-backwards"
    WRONG_UNIT = "wrong-unit"

    @property
    def description(self) -> str:
        """One line saying what the reason means, for OpenAPI and the README."""
        return _DESCRIPTIONS[self]


_DESCRIPTIONS = {
    Refusal.MALFORMED: "the record does not parse as OCMF or JWS, or a field is invalid",
    Refusal.TOO_LARGE: "the evidence cannot fit in one log entry",
    Refusal.UNSUPPORTED_ALGORITHM: "signed with an algorithm or curve the platform cannot verify",
    Refusal.UNKNOWN_METER: "no meter with this serial is enrolled",
    Refusal.BAD_SIGNATURE: "the signature does not verify with the meter's keys",
    Refusal.KEY_NOT_VALID: "the signing key was not valid at the reading's time",
    Refusal.REVOKED_KEY: "the signing key was revoked before the reading's time",
    Refusal.REPLAY: "the meter already reported this sequence number or a later one",
    Refusal.REGISTER_BACKWARDS: "a cumulative register ran backwards",
    Refusal.WRONG_UNIT: "the unit does not fit the meter's energy carrier",
}

__all__ = ["Refusal"]
