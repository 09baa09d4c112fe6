"""Unified social credit codes (GB 32100-2015): real published codes, refusals that say what is
wrong, and the properties of the check character."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.credit_code import (
    ALPHABET,
    WEIGHTS,
    check_character,
    make_credit_code,
    validate_credit_code,
)
from domain.errors import InvalidCreditCode

# Codes of real organisations as they appear on business licences and in public registers.
REAL_CODES = {
    "91330100716105852F": "阿里巴巴（中国）网络技术有限公司 (Hangzhou)",
    "91440300708461136T": "深圳市腾讯计算机系统有限公司 (Shenzhen)",
    "914403001922038216": "华为技术有限公司 (Shenzhen)",
    "91110000802100433B": "北京百度网讯科技有限公司 (Beijing)",
    "91310000132260250X": "上海汽车集团股份有限公司 (SAIC Motor, Shanghai)",
    "91440300192317458F": "比亚迪股份有限公司 (BYD, Shenzhen)",
    "12100000425006133D": "华东师范大学 (a public institution, registered by 机构编制)",
    "91330800MA28F14U3Q": "an enterprise registered in Quzhou (330800), new-style MA code",
}


@pytest.mark.parametrize("code", sorted(REAL_CODES))
def test_real_codes_are_valid(code: str) -> None:
    assert validate_credit_code(code) == code
    assert check_character(code[:17]) == code[17]


def test_weights_and_alphabet_are_the_standard_ones() -> None:
    assert len(ALPHABET) == 31
    assert not set("IOSVZ") & set(ALPHABET)
    # GB 32100-2015 weights are 3^i mod 31.
    assert tuple(pow(3, i, 31) for i in range(17)) == WEIGHTS


def test_codes_are_normalised() -> None:
    assert validate_credit_code("  91330100716105852f\n") == "91330100716105852F"
    assert validate_credit_code("91330800ma28f14u3q") == "91330800MA28F14U3Q"


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("", "has 18 characters, '' has 0"),
        ("9133010071610585", "has 18 characters, '9133010071610585' has 16"),
        ("91330100716105852FF", "has 19"),
        ("91330100 716105852F", "has 19"),
        ("91330100716105852I", "invalid character 'I' at position 18"),
        ("9133O100716105852F", "invalid character 'O' at position 5"),
        ("913301007161O5852F", "invalid character 'O' at position 13"),
        ("91330100716105852-", "invalid character '-' at position 18"),
        ("９1330100716105852F", "invalid character '９' at position 1"),
        ("91330100716105852G", "check character 'G', expected 'F'"),
        ("914403001922038215", "check character '5', expected '6'"),
        ("91330100716105825F", "check character 'F', expected 'M'"),
    ],
)
def test_invalid_codes_say_what_is_wrong(code: str, message: str) -> None:
    with pytest.raises(InvalidCreditCode) as raised:
        validate_credit_code(code)
    assert message in str(raised.value)


def test_non_text_is_refused() -> None:
    with pytest.raises(InvalidCreditCode, match="must be text"):
        validate_credit_code(91330100716105852)  # type: ignore[arg-type]
    with pytest.raises(InvalidCreditCode, match="17 characters"):
        check_character("9133010071610585")


def test_demo_codes() -> None:
    assert make_credit_code(0) == "91330800MA00000076"
    first = make_credit_code(1, division="330802")
    assert first.startswith("91330802MA")
    assert validate_credit_code(first) == first
    with pytest.raises(InvalidCreditCode):
        make_credit_code(-1)
    with pytest.raises(InvalidCreditCode):
        make_credit_code(31**6)
    with pytest.raises(InvalidCreditCode, match="6-digit"):
        make_credit_code(1, division="33080")
    with pytest.raises(InvalidCreditCode, match="category"):
        make_credit_code(1, category="I")


def test_demo_codes_carry_a_valid_organisation_code() -> None:
    # Positions 9-17 follow GB 11714 as in real codes: Alibaba's 71610585-2, MA28F14U-3 in Quzhou.
    def organisation_check(first8: str) -> str:
        values = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
        total = sum(
            values.index(c) * w for c, w in zip(first8, (3, 7, 9, 10, 5, 8, 4, 2), strict=True)
        )
        return {10: "X", 11: "0"}.get(11 - total % 11, str(11 - total % 11))

    for code in ("91330100716105852F", "91330800MA28F14U3Q", make_credit_code(123_456)):
        assert organisation_check(code[8:16]) == code[16]


SERIALS = st.integers(min_value=0, max_value=31**6 - 1)
DIVISIONS = st.from_regex(r"[1-6][0-9]{5}", fullmatch=True)
FIRST17 = st.text(alphabet=ALPHABET, min_size=17, max_size=17)


@settings(max_examples=200)
@given(SERIALS, DIVISIONS, st.sampled_from(ALPHABET), st.sampled_from(ALPHABET))
def test_every_made_code_is_valid(
    serial: int, division: str, authority: str, category: str
) -> None:
    code = make_credit_code(
        serial, division=division, registration_authority=authority, category=category
    )
    assert validate_credit_code(code) == code
    assert code[:2] == authority + category and code[2:8] == division


@settings(max_examples=200)
@given(SERIALS, SERIALS)
def test_distinct_serials_give_distinct_codes(a: int, b: int) -> None:
    assert (make_credit_code(a) == make_credit_code(b)) == (a == b)


@settings(max_examples=200)
@given(FIRST17, st.integers(min_value=0, max_value=17), st.data())
def test_any_single_character_change_is_refused(
    first17: str, position: int, data: st.DataObject
) -> None:
    code = first17 + check_character(first17)
    assert validate_credit_code(code) == code
    replacement = data.draw(
        st.characters(codec="utf-8").filter(
            lambda c: c != code[position] and c.upper() != code[position]
        )
    )
    changed = code[:position] + replacement + code[position + 1 :]
    with pytest.raises(InvalidCreditCode):
        validate_credit_code(changed)


@settings(max_examples=200)
@given(FIRST17, st.integers(min_value=0, max_value=16), st.integers(min_value=0, max_value=16))
def test_any_swap_of_two_different_characters_is_refused(first17: str, i: int, j: int) -> None:
    code = first17 + check_character(first17)
    if code[i] == code[j]:
        return
    swapped = list(code)
    swapped[i], swapped[j] = swapped[j], swapped[i]
    with pytest.raises(InvalidCreditCode, match="check character"):
        validate_credit_code("".join(swapped))


@given(st.text(max_size=30))
def test_random_text_raises_only_invalid_credit_code(text: str) -> None:
    try:
        code = validate_credit_code(text)
    except InvalidCreditCode:
        return
    assert len(code) == 18 and set(code) <= set(ALPHABET)
