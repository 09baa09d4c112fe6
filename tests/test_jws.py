"""Native readings as JWS: the RFC 7515 and RFC 8037 examples, readings signed through the Signer
protocol, and malformed, tampered and confused tokens."""

from __future__ import annotations

import base64
import contextlib
import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, x25519
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.errors import BadSignature, EvidenceError, MalformedEvidence, UnsupportedAlgorithm
from domain.jws import JwsReading, parse_jws, sign_jws, verify_jws, verify_jws_signature
from hardware_signers.base import Algorithm, Signer, spki_key_id


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class KeySigner:
    """A Signer over a cryptography private key, as the Signer protocol describes it (ECDSA
    signatures DER-encoded); hardware_signers.software is not relied on here."""

    def __init__(self, key: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey) -> None:
        self.key = key
        if isinstance(key, ed25519.Ed25519PrivateKey):
            self._algorithm = Algorithm.ED25519
        elif isinstance(key.curve, ec.SECP256R1):
            self._algorithm = Algorithm.ECDSA_P256
        else:
            self._algorithm = Algorithm.ECDSA_P384
        self._spki = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    @property
    def key_id(self) -> str:
        return spki_key_id(self._spki)

    @property
    def algorithm(self) -> Algorithm:
        return self._algorithm

    @property
    def public_key_raw(self) -> bytes:
        if isinstance(self.key, ed25519.Ed25519PrivateKey):
            return self.key.public_key().public_bytes_raw()
        return self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )

    @property
    def public_key_spki(self) -> bytes:
        return self._spki

    def sign(self, message: bytes) -> bytes:
        if isinstance(self.key, ed25519.Ed25519PrivateKey):
            return self.key.sign(message)
        hash_algorithm = (
            hashes.SHA256() if self._algorithm is Algorithm.ECDSA_P256 else hashes.SHA384()
        )
        return self.key.sign(message, ec.ECDSA(hash_algorithm))


ED25519 = KeySigner(ed25519.Ed25519PrivateKey.generate())
P256_KEY = ec.generate_private_key(ec.SECP256R1())
P256 = KeySigner(P256_KEY)
P384 = KeySigner(ec.generate_private_key(ec.SECP384R1()))
SIGNERS = {"EdDSA": ED25519, "ES256": P256}

PAYLOAD: dict[str, Any] = {
    "meter": "QZ-steam-0815",
    "seq": 41,
    "start": "2024-05-01T08:00:00+08:00",
    "end": "2024-05-01T08:15:00+08:00",
    "quantity": "1.250",
    "unit": "t_steam",
    "register": "18234.500",
}


def compact(header: dict | bytes, payload: dict | bytes, signer: KeySigner | None = None) -> str:
    """A compact JWS of exactly these header and payload bytes, signed without any checks (to make
    tokens sign_jws refuses to make)."""
    header_bytes = header if isinstance(header, bytes) else json.dumps(header).encode()
    payload_bytes = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    signing_input = f"{b64url(header_bytes)}.{b64url(payload_bytes)}"
    signature = b""
    if signer is not None:
        signature = signer.sign(signing_input.encode())
        if signer.algorithm is Algorithm.ECDSA_P256:
            r, s = decode_dss_signature(signature)
            signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return f"{signing_input}.{b64url(signature)}"


EDDSA_HEADER = b64url(b'{"alg":"EdDSA"}')
ES256_HEADER = b64url(b'{"alg":"ES256"}')
DUPLICATE_ALG = b64url(b'{"alg":"EdDSA","alg":"none"}')
NAN_SEQ = b'"seq":NaN'


def public_key(signer: KeySigner) -> ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey:
    return signer.key.public_key()


# --- the RFC examples -----------------------------------------------------------------------------

# RFC 7515 appendix A.3: ES256 over {"iss":"joe", ...} with the key of figure 21.
RFC7515_A3_SIGNING_INPUT = (
    "eyJhbGciOiJFUzI1NiJ9."
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
)
RFC7515_A3_SIGNATURE = (
    "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q"
)
RFC7515_A3_X = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"
RFC7515_A3_Y = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
# RFC 8037 appendix A.4: EdDSA over "Example of Ed25519 signing" with the key of A.2.
RFC8037_A4_SIGNING_INPUT = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"
RFC8037_A4_SIGNATURE = (
    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
)
RFC8037_A4_X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"


def rfc7515_a3_key() -> ec.EllipticCurvePublicKey:
    return ec.EllipticCurvePublicNumbers(
        int.from_bytes(b64url_decode(RFC7515_A3_X), "big"),
        int.from_bytes(b64url_decode(RFC7515_A3_Y), "big"),
        ec.SECP256R1(),
    ).public_key()


def test_rfc7515_es256_example_verifies() -> None:
    signature = b64url_decode(RFC7515_A3_SIGNATURE)
    signing_input = RFC7515_A3_SIGNING_INPUT.encode()
    verify_jws_signature("ES256", signing_input, signature, rfc7515_a3_key())
    with pytest.raises(BadSignature):
        verify_jws_signature("ES256", signing_input + b" ", signature, rfc7515_a3_key())
    # The same signature in DER (what OpenSSL emits) is not a JWS signature.
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:], "big")
    with pytest.raises(BadSignature, match="64 bytes"):
        verify_jws_signature("ES256", signing_input, encode_dss_signature(r, s), rfc7515_a3_key())


def test_rfc8037_eddsa_example_verifies() -> None:
    key = ed25519.Ed25519PublicKey.from_public_bytes(b64url_decode(RFC8037_A4_X))
    signature = b64url_decode(RFC8037_A4_SIGNATURE)
    verify_jws_signature("EdDSA", RFC8037_A4_SIGNING_INPUT.encode(), signature, key)
    with pytest.raises(BadSignature):
        verify_jws_signature("EdDSA", RFC8037_A4_SIGNING_INPUT.encode()[:-1], signature, key)


def test_rfc_examples_are_not_readings() -> None:
    # Their payloads are not readings: parse_jws says which field is missing.
    with pytest.raises(MalformedEvidence, match="field meter is missing"):
        parse_jws(f"{RFC7515_A3_SIGNING_INPUT}.{RFC7515_A3_SIGNATURE}")
    with pytest.raises(MalformedEvidence, match="JWS payload is not valid JSON"):
        parse_jws(f"{RFC8037_A4_SIGNING_INPUT}.{RFC8037_A4_SIGNATURE}")


# --- signing and verifying ------------------------------------------------------------------------


@pytest.mark.parametrize("alg", sorted(SIGNERS))
def test_signed_readings_verify(alg: str) -> None:
    signer = SIGNERS[alg]
    assert isinstance(signer, Signer)
    token = sign_jws(PAYLOAD, signer)
    assert re.fullmatch(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+", token)
    reading = parse_jws(token)
    verify_jws(reading, public_key(signer))
    assert reading.raw == token
    assert reading.alg == alg
    assert reading.header == {"alg": alg, "kid": signer.key_id}
    assert reading.key_id == signer.key_id
    assert reading.signing_input == token.rsplit(".", 1)[0].encode()
    assert len(reading.signature) == 64
    assert reading.meter == "QZ-steam-0815"
    assert reading.seq == 41
    assert reading.start == datetime(2024, 5, 1, 0, 0, tzinfo=UTC)
    assert reading.end - reading.start == timedelta(minutes=15)
    assert reading.start.utcoffset() == timedelta(hours=8)
    assert reading.quantity == Decimal("1.250") and str(reading.quantity) == "1.250"
    assert reading.unit == "t_steam"
    assert reading.register == Decimal("18234.500")
    assert json.loads(b64url_decode(token.split(".")[1])) == PAYLOAD


def test_es256_signature_is_raw_r_and_s() -> None:
    reading = parse_jws(sign_jws(PAYLOAD, P256))
    r = int.from_bytes(reading.signature[:32], "big")
    s = int.from_bytes(reading.signature[32:], "big")
    P256_KEY.public_key().verify(
        encode_dss_signature(r, s), reading.signing_input, ec.ECDSA(hashes.SHA256())
    )


def test_software_signer_signs_readings() -> None:
    software = pytest.importorskip("hardware_signers.software")
    for algorithm in (Algorithm.ED25519, Algorithm.ECDSA_P256):
        signer = software.SoftwareSigner.generate(algorithm)
        reading = parse_jws(sign_jws(PAYLOAD, signer))
        key = serialization.load_der_public_key(signer.public_key_spki)
        assert isinstance(key, ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey)
        verify_jws(reading, key)


def test_optional_register_and_extra_fields() -> None:
    payload = {k: v for k, v in PAYLOAD.items() if k != "register"} | {"note": "kept, not read"}
    reading = parse_jws(sign_jws(payload, ED25519))
    assert reading.register is None
    assert reading.payload["note"] == "kept, not read"
    reading = parse_jws(sign_jws(payload | {"register": None}, ED25519))
    assert reading.register is None


@pytest.mark.parametrize(
    ("start", "end", "expected_start"),
    [
        ("2024-05-01T00:00:00Z", "2024-05-01T00:15:00Z", datetime(2024, 5, 1, tzinfo=UTC)),
        ("2024-05-01t00:00:00z", "2024-05-01T00:00:00.000001Z", datetime(2024, 5, 1, tzinfo=UTC)),
        (
            "2024-05-01T00:00:00.5-03:30",
            "2024-05-01T00:15:00-03:30",
            datetime(2024, 5, 1, 0, 0, 0, 500000, tzinfo=timezone(-timedelta(hours=3, minutes=30))),
        ),
    ],
)
def test_rfc3339_times(start: str, end: str, expected_start: datetime) -> None:
    reading = parse_jws(sign_jws(PAYLOAD | {"start": start, "end": end}, ED25519))
    assert reading.start == expected_start
    assert reading.start.utcoffset() == expected_start.utcoffset()


def test_p384_signer_is_refused() -> None:
    with pytest.raises(UnsupportedAlgorithm, match="Ed25519 or P-256"):
        sign_jws(PAYLOAD, P384)


# --- refusals -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"meter": None}, "meter must be a string, not null"),
        ({"meter": ""}, "meter is empty"),
        ({"meter": 7}, "meter must be a string, not a number"),
        ({"seq": -1}, "seq -1 is outside"),
        ({"seq": 2**63}, "is outside 0..2^63-1"),
        ({"seq": True}, "seq must be an integer, not a boolean"),
        ({"seq": "41"}, "seq must be an integer, not a string"),
        ({"seq": 41.0}, "seq must be an integer, not a number"),
        ({"start": "2024-05-01T08:00:00"}, "start '2024-05-01T08:00:00' is not an RFC 3339 time"),
        ({"start": "2024-05-01 08:00:00+08:00"}, "not an RFC 3339 time"),
        ({"start": "2024-05-01T08:00:00+0800"}, "not an RFC 3339 time"),
        ({"start": "2024-05-01T08:00:00.1234567+08:00"}, "not an RFC 3339 time"),
        ({"start": "2024-13-01T08:00:00+08:00"}, "not a valid time"),
        ({"start": "2024-05-01T08:00:60+08:00"}, "not a valid time"),
        ({"start": "2024-05-01T08:00:00+08:60"}, "not a valid time"),
        ({"start": "2024-05-01T08:00:00+24:00"}, "not a valid time"),
        ({"start": 1714521600}, "start must be a string"),
        ({"end": "2024-05-01T08:00:00+08:00"}, "is not after start"),
        ({"end": "2024-05-01T00:00:00Z"}, "is not after start"),
        ({"quantity": 1.25}, "quantity must be a string, not a number"),
        ({"quantity": 1}, "quantity must be a string, not a number"),
        ({"quantity": "1e3"}, "quantity '1e3' is not a non-negative decimal"),
        ({"quantity": "-1.25"}, "not a non-negative decimal"),
        ({"quantity": "1."}, "not a non-negative decimal"),
        ({"quantity": ".5"}, "not a non-negative decimal"),
        ({"quantity": " 1"}, "not a non-negative decimal"),
        ({"quantity": "01.5"}, "not a non-negative decimal"),
        ({"quantity": "NaN"}, "not a non-negative decimal"),
        ({"quantity": "١٢"}, "not a non-negative decimal"),
        ({"unit": "kwh"}, "unit 'kwh' is not one of"),
        ({"unit": "m³"}, "is not one of"),
        ({"register": 18234.5}, "register must be a string, not a number"),
        ({"register": "-3"}, "not a non-negative decimal"),
    ],
)
def test_invalid_readings_are_refused_when_signing_and_parsing(
    changes: dict[str, Any], match: str
) -> None:
    payload = PAYLOAD | changes
    with pytest.raises(MalformedEvidence, match=re.escape(match)):
        sign_jws(payload, ED25519)
    token = compact({"alg": "EdDSA"}, json.dumps(payload).encode(), ED25519)
    with pytest.raises(MalformedEvidence, match=re.escape(match)):
        parse_jws(token)


@pytest.mark.parametrize("field", ["meter", "seq", "start", "end", "quantity", "unit"])
def test_missing_fields_are_refused(field: str) -> None:
    payload = {k: v for k, v in PAYLOAD.items() if k != field}
    with pytest.raises(MalformedEvidence, match=f"field {field} is missing"):
        parse_jws(compact({"alg": "EdDSA"}, payload, ED25519))


def test_quantity_as_json_number_is_refused_even_with_exact_digits() -> None:
    payload = json.dumps(PAYLOAD).replace('"quantity": "1.250"', '"quantity": 1.250').encode()
    with pytest.raises(MalformedEvidence, match="quantity must be a string, not a number"):
        parse_jws(compact({"alg": "ES256"}, payload, P256))


def test_payloads_that_are_not_json_dicts_are_refused() -> None:
    with pytest.raises(MalformedEvidence, match="must be a dict"):
        sign_jws([("meter", "x")], ED25519)  # type: ignore[arg-type]
    with pytest.raises(MalformedEvidence, match="cannot be written as JSON"):
        sign_jws(PAYLOAD | {"extra": Decimal("1.5")}, ED25519)


@pytest.mark.parametrize(
    ("header", "error", "match"),
    [
        ({"alg": "none"}, UnsupportedAlgorithm, "alg 'none'"),
        ({"alg": "None"}, UnsupportedAlgorithm, "alg 'none'"),
        ({"alg": "HS256"}, UnsupportedAlgorithm, "alg 'HS256' is not supported"),
        ({"alg": "ES384"}, UnsupportedAlgorithm, "alg 'ES384' is not supported"),
        ({"alg": "Ed25519"}, UnsupportedAlgorithm, "alg 'Ed25519' is not supported"),
        ({"alg": "EdDSA", "crit": ["exp"], "exp": 1}, UnsupportedAlgorithm, "crit"),
        ({"alg": "EdDSA", "crit": []}, UnsupportedAlgorithm, "crit"),
        ({"alg": "EdDSA", "b64": False, "crit": ["b64"]}, UnsupportedAlgorithm, "crit"),
        ({"alg": "EdDSA", "b64": True}, UnsupportedAlgorithm, "b64"),
        ({}, MalformedEvidence, "no alg"),
        ({"alg": ["EdDSA"]}, MalformedEvidence, "alg must be a string"),
        ({"alg": "EdDSA", "kid": 7}, MalformedEvidence, "kid must be a string"),
    ],
)
def test_refused_headers(header: dict, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=re.escape(match)):
        parse_jws(compact(header, PAYLOAD, ED25519))


def test_verify_rechecks_the_header() -> None:
    # A JwsReading built by hand (not by parse_jws) still cannot smuggle in alg none or crit.
    reading = parse_jws(sign_jws(PAYLOAD, ED25519))
    key = public_key(ED25519)
    with pytest.raises(UnsupportedAlgorithm, match="alg 'none'"):
        verify_jws(replace(reading, header={"alg": "none"}, alg="none"), key)
    with pytest.raises(UnsupportedAlgorithm, match="crit"):
        verify_jws(replace(reading, header=reading.header | {"crit": ["x"]}), key)
    with pytest.raises(MalformedEvidence, match="says alg 'ES256'"):
        verify_jws(replace(reading, alg="ES256"), key)


@pytest.mark.parametrize(
    ("alg", "key", "error", "match"),
    [
        ("ES256", public_key(ED25519), BadSignature, "ES256 needs a P-256 key, not an Ed25519 key"),
        ("ES256", public_key(P384), BadSignature, "not an EC key on secp384r1"),
        ("EdDSA", public_key(P256), BadSignature, "EdDSA needs an Ed25519 key"),
        ("ES256", x25519.X25519PrivateKey.generate().public_key(), UnsupportedAlgorithm, "X25519"),
    ],
)
def test_key_that_does_not_fit_the_alg_is_refused(
    alg: str, key: Any, error: type[Exception], match: str
) -> None:
    reading = parse_jws(sign_jws(PAYLOAD, SIGNERS[alg]))
    with pytest.raises(error, match=re.escape(match)):
        verify_jws(reading, key)


def test_algorithm_substitution_is_refused() -> None:
    # Relabel an EdDSA reading as ES256 (both have 64-byte signatures): the header is signed.
    token = sign_jws(PAYLOAD, ED25519)
    _, payload_part, signature_part = token.split(".")
    relabelled = f"{b64url(json.dumps({'alg': 'ES256'}).encode())}.{payload_part}.{signature_part}"
    with pytest.raises(BadSignature):
        verify_jws(parse_jws(relabelled), public_key(P256))


@pytest.mark.parametrize("alg", sorted(SIGNERS))
def test_tampering_is_refused(alg: str) -> None:
    signer = SIGNERS[alg]
    header_part, _, signature_part = sign_jws(PAYLOAD, signer).split(".")
    for changes in ({"quantity": "1.251"}, {"seq": 42}, {"meter": "QZ-steam-0816"}):
        tampered_payload = b64url(json.dumps(PAYLOAD | changes, separators=(",", ":")).encode())
        with pytest.raises(BadSignature, match="does not verify"):
            verify_jws(
                parse_jws(f"{header_part}.{tampered_payload}.{signature_part}"), public_key(signer)
            )
    other = KeySigner(
        ed25519.Ed25519PrivateKey.generate()
        if alg == "EdDSA"
        else ec.generate_private_key(ec.SECP256R1())
    )
    with pytest.raises(BadSignature):
        verify_jws(parse_jws(sign_jws(PAYLOAD, signer)), public_key(other))


@pytest.mark.parametrize(
    ("token", "match"),
    [
        ("", "3 parts"),
        ("a.b", "3 parts"),
        ("a.b.c.d", "3 parts"),
        ("é.b.c", "ASCII"),
        ("eyJhbGciOiJFZERTQSJ9=.e30.AA", "not base64url without padding"),
        ("eyJhbGciOiJFZERTQSJ9.e30=.AA", "not base64url without padding"),
        ("eyJhbGc+OiJFZERTQSJ9.e30.AA", "not base64url"),
        ("eyJhbGciOiJFZERTQSJ9a.e30.AA", "impossible length"),
        # "e31" decodes to the same byte as "e30", with a stray low bit set.
        ("eyJhbGciOiJFZERTQSJ9.e31.AA", "not canonical base64url"),
        (f"{b64url(b'[]')}.e30.AA", "JWS header must be a JSON object, not an array"),
        (f"{b64url(b'{')}.e30.AA", "JWS header is not valid JSON"),
        (f"{b64url(bytes([0xFF]))}.e30.AA", "JWS header is not UTF-8"),
        (f"{DUPLICATE_ALG}.e30.AA", "'alg' appears twice"),
        (f"{EDDSA_HEADER}.{b64url(b'{' + NAN_SEQ + b'}')}.AA", "NaN"),
        (f"{EDDSA_HEADER}.e30.", "EdDSA signature is 64 bytes, this one 0"),
        (f"{ES256_HEADER}.e30.{b64url(bytes(63))}", "64 bytes, this one 63"),
    ],
)
def test_malformed_tokens_name_the_problem(token: str, match: str) -> None:
    with pytest.raises(MalformedEvidence, match=re.escape(match)):
        parse_jws(token)


def test_non_text_token_is_refused() -> None:
    with pytest.raises(MalformedEvidence, match="must be text"):
        parse_jws(sign_jws(PAYLOAD, ED25519).encode())  # type: ignore[arg-type]


@pytest.mark.parametrize("alg", sorted(SIGNERS))
def test_every_truncation_is_refused(alg: str) -> None:
    token = sign_jws(PAYLOAD, SIGNERS[alg])
    for length in range(len(token)):
        with pytest.raises(MalformedEvidence):
            parse_jws(token[:length])


@pytest.mark.parametrize("alg", sorted(SIGNERS))
def test_every_bit_flip_is_refused(alg: str) -> None:
    token = sign_jws(PAYLOAD, SIGNERS[alg])
    key = public_key(SIGNERS[alg])
    for index, character in enumerate(token):
        for bit in range(7):
            flipped = token[:index] + chr(ord(character) ^ (1 << bit)) + token[index + 1 :]
            with pytest.raises(EvidenceError):
                verify_jws(parse_jws(flipped), key)


# --- properties -----------------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3)
    ),
    max_leaves=10,
)
_SETTINGS = settings(max_examples=100, deadline=None)


def _parse_and_verify(token: object) -> None:
    with contextlib.suppress(EvidenceError):
        verify_jws(parse_jws(token), public_key(ED25519))  # type: ignore[arg-type]


@_SETTINGS
@given(st.text())
def test_random_text_raises_only_evidence_errors(text: str) -> None:
    _parse_and_verify(text)
    _parse_and_verify(f"{text}.{text}.{text}")


@_SETTINGS
@given(st.binary(max_size=80), st.binary(max_size=200), st.binary(max_size=70))
def test_random_parts_raise_only_evidence_errors(
    header: bytes, payload: bytes, signature: bytes
) -> None:
    _parse_and_verify(f"{b64url(header)}.{b64url(payload)}.{b64url(signature)}")
    _parse_and_verify(f"{EDDSA_HEADER}.{b64url(payload)}.{b64url(signature)}")


@_SETTINGS
@given(JSON_VALUES, JSON_VALUES)
def test_random_json_raises_only_evidence_errors(header: object, payload: object) -> None:
    _parse_and_verify(compact(json.dumps(header).encode(), json.dumps(payload).encode(), ED25519))


@_SETTINGS
@given(
    st.sampled_from(["meter", "seq", "start", "end", "quantity", "unit", "register"]),
    JSON_VALUES,
)
def test_fields_of_any_value_raise_only_evidence_errors(field: str, value: object) -> None:
    token = compact({"alg": "EdDSA"}, PAYLOAD | {field: value}, ED25519)
    try:
        reading = parse_jws(token)
    except MalformedEvidence:
        return
    verify_jws(reading, public_key(ED25519))
    assert isinstance(reading.quantity, Decimal) and isinstance(reading.seq, int)


WRONG_TYPES = {
    "meter": st.integers() | st.booleans() | st.lists(st.text(), max_size=2) | st.none(),
    "seq": st.text() | st.booleans() | st.floats(allow_nan=False, allow_infinity=False) | st.none(),
    "start": st.integers() | st.booleans() | st.dictionaries(st.text(), st.text(), max_size=2),
    "end": st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.none(),
    "quantity": st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.none(),
    "unit": st.integers() | st.lists(st.sampled_from(["kWh"]), max_size=2) | st.none(),
    "register": st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.booleans(),
}


@_SETTINGS
@given(
    st.sampled_from(sorted(WRONG_TYPES)).flatmap(lambda f: st.tuples(st.just(f), WRONG_TYPES[f]))
)
def test_fields_of_wrong_type_are_refused(field_and_value: tuple[str, object]) -> None:
    field, value = field_and_value
    with pytest.raises(MalformedEvidence, match=field):
        sign_jws(PAYLOAD | {field: value}, ED25519)
    with pytest.raises(MalformedEvidence, match=field):
        parse_jws(compact({"alg": "EdDSA"}, PAYLOAD | {field: value}, ED25519))


@_SETTINGS
@given(
    st.from_regex(r"0|[1-9][0-9]{0,29}", fullmatch=True),
    st.text(alphabet="0123456789", max_size=30),
    st.integers(min_value=0, max_value=2**63 - 1),
)
def test_quantities_and_sequence_numbers_are_exact(whole: str, fraction: str, seq: int) -> None:
    quantity = whole + ("." + fraction if fraction else "")
    reading = parse_jws(sign_jws(PAYLOAD | {"quantity": quantity, "seq": seq}, ED25519))
    assert reading.quantity == Decimal(quantity)
    assert format(reading.quantity, "f") == quantity
    assert reading.seq == seq


def test_reading_is_hashable_and_frozen() -> None:
    reading = parse_jws(sign_jws(PAYLOAD, ED25519))
    assert hash(reading) == hash(parse_jws(reading.raw))
    with pytest.raises(AttributeError):
        reading.seq = 1  # type: ignore[misc]
    assert isinstance(reading, JwsReading)
