"""Unified social credit codes (统一社会信用代码), the identifiers of Chinese enterprises and other
organisations, as specified by GB 32100-2015.

A code is 18 characters from :data:`ALPHABET` (digits and capital letters without I, O, S, V and Z):
the registration authority (position 1), the organisation category (2), the administrative division
of the registering office (3-8), the organisation code (9-17, GB 11714) and a check character (18)
computed from the first 17.
"""

from __future__ import annotations

from domain.errors import InvalidCreditCode

__all__ = ["ALPHABET", "WEIGHTS", "check_character", "make_credit_code", "validate_credit_code"]

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
LENGTH = 18

_VALUES = {character: value for value, character in enumerate(ALPHABET)}
_MODULUS = len(ALPHABET)  # 31

# GB 11714 organisation codes (positions 9-17): 8 characters and a check character whose digits and
# letters count 0-35, weighted 3, 7, 9, 10, 5, 8, 4, 2, modulus 11 ("X" for 10).
_ORGANISATION_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_ORGANISATION_VALUES = {c: v for v, c in enumerate("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")}
_DEMO_SERIALS = _MODULUS**6


def check_character(first17: str) -> str:
    """Return the GB 32100-2015 check character for the first 17 characters of a code:
    ``ALPHABET[(31 - sum(value * weight) % 31) % 31]``."""
    if not isinstance(first17, str):
        raise InvalidCreditCode(f"a credit code must be text, not {type(first17).__name__}")
    if len(first17) != LENGTH - 1:
        raise InvalidCreditCode(
            f"the check character is computed from 17 characters, got {len(first17)}"
        )
    _check_characters(first17)
    total = sum(
        _VALUES[character] * weight for character, weight in zip(first17, WEIGHTS, strict=True)
    )
    return ALPHABET[(_MODULUS - total % _MODULUS) % _MODULUS]


def validate_credit_code(code: str) -> str:
    """Return ``code`` stripped of surrounding whitespace and in upper case when it is a valid
    unified social credit code; otherwise raise InvalidCreditCode saying what is wrong (its length,
    the first invalid character and its position, or the check character it should have)."""
    if not isinstance(code, str):
        raise InvalidCreditCode(f"a credit code must be text, not {type(code).__name__}")
    stripped = code.strip()
    if len(stripped) != LENGTH:
        raise InvalidCreditCode(
            f"a unified social credit code has 18 characters, {stripped!r} has {len(stripped)}"
        )
    # Upper-case only ASCII: str.upper() can change the length of other text ("ß" -> "SS").
    normalised = "".join(c.upper() if c.isascii() else c for c in stripped)
    _check_characters(normalised)
    expected = check_character(normalised[:17])
    if normalised[17] != expected:
        raise InvalidCreditCode(
            f"credit code {normalised} has check character {normalised[17]!r}, "
            f"expected {expected!r}"
        )
    return normalised


def _check_characters(text: str) -> None:
    for position, character in enumerate(text, start=1):
        if character not in _VALUES:
            raise InvalidCreditCode(
                f"invalid character {character!r} at position {position} of credit code "
                f"{text!r} (allowed: digits and letters except I, O, S, V, Z)"
            )


def make_credit_code(
    serial: int,
    *,
    division: str = "330800",
    registration_authority: str = "9",
    category: str = "1",
) -> str:
    """Return a valid demo code: ``registration_authority``, ``category`` (default ``91``, an
    enterprise registered with market regulation), the 6-digit ``division`` (default 330800,
    Quzhou) and an organisation code ``MA`` + ``serial`` in 6 base-31 characters + its GB 11714
    check character, then the GB 32100 check character. Distinct serials (0 to 31^6 - 1) give
    distinct codes."""
    if isinstance(serial, bool) or not isinstance(serial, int) or not 0 <= serial < _DEMO_SERIALS:
        raise InvalidCreditCode(f"demo serial must be an integer in 0..{_DEMO_SERIALS - 1}")
    if len(division) != 6 or not division.isascii() or not division.isdigit():
        raise InvalidCreditCode(f"division must be a 6-digit code, not {division!r}")
    for name, value in (("registration_authority", registration_authority), ("category", category)):
        if len(value) != 1 or value not in _VALUES:
            raise InvalidCreditCode(f"{name} must be one character of the alphabet, not {value!r}")
    digits = []
    for _ in range(6):
        serial, digit = divmod(serial, _MODULUS)
        digits.append(ALPHABET[digit])
    organisation = "MA" + "".join(reversed(digits))
    organisation += _organisation_check_character(organisation)
    first17 = registration_authority + category + division + organisation
    return first17 + check_character(first17)


def _organisation_check_character(first8: str) -> str:
    total = sum(
        _ORGANISATION_VALUES[c] * w for c, w in zip(first8, _ORGANISATION_WEIGHTS, strict=True)
    )
    check = 11 - total % 11
    return "X" if check == 10 else "0" if check == 11 else str(check)
