"""OCMF: real signed records from the S.A.F.E. transparency software and pyocmf, records signed here
on every supported curve, and malformed input of every kind."""

from __future__ import annotations

import base64
import contextlib
import json
import re
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.errors import BadSignature, EvidenceError, MalformedEvidence, UnsupportedAlgorithm
from domain.ocmf import (
    Pagination,
    load_ocmf_public_key,
    parse_ocmf,
    parse_transparency_xml,
    verify_ocmf,
)

VERIFYING_FIXTURES = [
    "safe-test_ocmf_keba_kcp30.xml",
    "pyocmf-working_ocmf.xml",
    "pyocmf-base64_ocmf.xml",
]
FAILING_FIXTURE = "safe-test_ocmf_keba_kcp30_fail.xml"

# A pre-1.0 ABL record signed on secp256k1, with its meter's key: the transparency software's
# OCMFVerificationParserTest, as quoted in paul-ww/pyocmf test/test_core/test_lenient_parsing.py.
ABL_RECORD = (
    'OCMF|{"FV":"0.1","VI":"ABL","VV":"1.4p3","PG":"T12345","MV":"Phoenix Contact",'
    '"MM":"EEM-350-D-MCB","MS":"BQ27400330016","MF":"1.0","IS":"VERIFIED",'
    '"IF":["RFID_PLAIN","OCPP_RS_TLS"],"IT":"ISO14443","ID":"1F2D3A4F5506C7",'
    '"RD":[{"TM":"2018-07-24T13:22:04,000+0200 S","TX":"B","RV":2935.6,"RI":"1-b:1.8.e",'
    '"RU":"kWh","EI":567,"ST":"G"}]}|'
    '{"SA":"ECDSA-secp256k1-SHA256","SD":"3046022100A7F1FD39278A88432E1AB81229C34CE1066885'
    "D0EAD8810DB900018A4960888302210089004420623749BF75561F29685CD87D6853EC08E83BD1A15C5DAFF9"
    'F03F4115"}'
)
ABL_PUBLIC_KEY = (
    "3056301006072a8648ce3d020106052b8104000a034200044e4970098eeff5e0e286e3a38552679771b8"
    "9315a49dddf66ebac6f176fb02df9841091010e6850510540dad0cf967fd8de0ab25198282b39597ddce"
    "09edf459"
)

# Every SA carbonledger verifies: (SA as a meter writes it, curve, hash). The spec pairs SHA-256
# with every curve; the 384-bit curves are also tried with the SHA-384 their SA may name.
SIGNATURE_ALGORITHMS = [
    ("ECDSA-secp256r1-SHA256", ec.SECP256R1(), hashes.SHA256()),
    ("ECDSA-secp384r1-SHA256", ec.SECP384R1(), hashes.SHA256()),
    ("ECDSA-secp384r1-SHA384", ec.SECP384R1(), hashes.SHA384()),
    ("ECDSA-secp256k1-SHA256", ec.SECP256K1(), hashes.SHA256()),
    ("ECDSA-brainpool256r1-SHA256", ec.BrainpoolP256R1(), hashes.SHA256()),
    ("ECDSA-brainpoolP256r1-SHA256", ec.BrainpoolP256R1(), hashes.SHA256()),
    ("ECDSA-brainpool384r1-SHA256", ec.BrainpoolP384R1(), hashes.SHA256()),
    ("ECDSA-brainpoolP384r1-SHA384", ec.BrainpoolP384R1(), hashes.SHA384()),
]

# A payload as a gateway writes it: a number in exponent notation that a JSON round trip would
# rewrite, a "|" inside a string, and readings that inherit RI, RU, ST and TX from earlier ones.
PAYLOAD = (
    '{"FV":"1.0","GI":"carbonledger test|gateway","GS":"GW-7","PG":"F42","MS":"QZ-0815",'
    '"IS":false,"IT":"NONE","RD":['
    '{"TM":"2024-05-01T08:00:00,000+0800 S","TX":"B","RV":1.606848e7,"RI":"1-b:1.8.0",'
    '"RU":"Wh","RT":"AC","EF":"","ST":"G"},'
    '{"TM":"2024-05-01T08:15:00,000+0800 S","TX":"C","RV":"  16068500.25"},'
    '{"TM":"2024-05-01T08:30:00,000+0800 S","RV":16068600},'
    '{"TM":"2024-05-01T08:45:00,000+0800 S","TX":"E","RV":16068712.5}]}'
)


@cache
def private_key(curve_name: str) -> ec.EllipticCurvePrivateKey:
    curve = next(curve for _, curve, _ in SIGNATURE_ALGORITHMS if curve.name == curve_name)
    return ec.generate_private_key(curve)


def sign_record(
    payload: str,
    signature_algorithm: str,
    key: ec.EllipticCurvePrivateKey,
    hash_algorithm: hashes.HashAlgorithm,
    encoding: str = "hex",
) -> str:
    signature = key.sign(payload.encode("utf-8"), ec.ECDSA(hash_algorithm))
    fields = {"SA": signature_algorithm}
    if encoding == "hex":
        fields["SD"] = signature.hex().upper()
    else:
        fields["SE"] = "base64"
        fields["SD"] = base64.b64encode(signature).decode("ascii")
    return f"OCMF|{payload}|{json.dumps(fields, separators=(',', ':'))}"


def fixture_values(fixtures_dir: Path, name: str):
    return parse_transparency_xml((fixtures_dir / "ocmf" / name).read_bytes())


def spki_der(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def point(key: ec.EllipticCurvePrivateKey, form: serialization.PublicFormat) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.X962, form)


# --- real records ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", VERIFYING_FIXTURES)
def test_real_records_verify(fixtures_dir: Path, name: str) -> None:
    values = fixture_values(fixtures_dir, name)
    assert len(values) == 1
    record = parse_ocmf(values[0].ocmf)
    key = load_ocmf_public_key(values[0].public_key, record.signature_algorithm)
    verify_ocmf(record, key)


def test_real_record_with_changed_time_is_refused(fixtures_dir: Path) -> None:
    [value] = fixture_values(fixtures_dir, FAILING_FIXTURE)
    record = parse_ocmf(value.ocmf)
    key = load_ocmf_public_key(value.public_key, record.signature_algorithm)
    with pytest.raises(BadSignature, match="17619300"):
        verify_ocmf(record, key)


def test_keba_record_fields(fixtures_dir: Path) -> None:
    [value] = fixture_values(fixtures_dir, "safe-test_ocmf_keba_kcp30.xml")
    assert value.public_key_encoding == "hex"
    assert value.transaction_id == "1"
    assert value.context == "Transaction.Begin"
    record = parse_ocmf(value.ocmf)
    assert record.raw == value.ocmf
    # No MS in this record: the gateway serial identifies the signing component.
    assert record.meter_serial == record.gateway_serial == "17619300"
    assert record.pagination == Pagination("T", 32)
    assert record.signature_algorithm == "ECDSA-secp256r1-SHA256"
    assert record.signature_encoding == "hex"
    assert record.signature.hex().startswith("304502200e2f107c")
    begin, end = record.readings
    assert begin.time_text == "2019-08-13T10:03:15,000+0000 I"
    assert begin.time.isoformat() == "2019-08-13T10:03:15+00:00"
    assert (begin.time_status, end.time_status) == ("I", "R")
    assert (begin.transaction, end.transaction) == ("B", "E")
    assert (begin.value, end.value) == (Decimal("0.2596"), Decimal("0.2597"))
    assert (begin.unit, begin.reading_id, begin.status) == ("kWh", "1-b:1.8.0", "G")


def test_exponent_notation_is_kept_byte_exact(fixtures_dir: Path) -> None:
    [value] = fixture_values(fixtures_dir, "pyocmf-working_ocmf.xml")
    record = parse_ocmf(value.ocmf)
    assert b'"RV":1.606848e7,' in record.payload_bytes
    assert record.payload_bytes == value.ocmf.split("|")[1].encode()
    assert record.meter_serial == "000001"
    assert record.pagination == Pagination("T", 51)
    values = [reading.value for reading in record.readings]
    assert values == [Decimal(16068480), Decimal(16068480), Decimal(16086276), Decimal(16086276)]
    assert all(isinstance(v, Decimal) for v in values)
    assert str(record.readings[0].value) == "1.606848E+7"
    assert [reading.transaction for reading in record.readings] == ["B", "C", "S", "E"]
    assert isinstance(record.payload["VC"], Decimal)
    assert record.payload["VC"] == Decimal("0.400000006")
    # The exact bytes verify; the same payload written back by a JSON library does not.
    key = load_ocmf_public_key(value.public_key, record.signature_algorithm)
    verify_ocmf(record, key)
    rewritten = json.dumps(json.loads(value.ocmf.split("|")[1]), separators=(",", ":"))
    assert '"RV":16068480.0' in rewritten
    with pytest.raises(BadSignature):
        verify_ocmf(replace(record, payload_bytes=rewritten.encode()), key)


def test_meter_serial_comes_from_ms(fixtures_dir: Path) -> None:
    [value] = fixture_values(fixtures_dir, "pyocmf-base64_ocmf.xml")
    record = parse_ocmf(value.ocmf)
    assert record.meter_serial == "1ESY1162641121"
    assert record.gateway_serial == "000001"
    assert record.pagination == Pagination("T", 17)


def test_real_secp256k1_record_verifies() -> None:
    record = parse_ocmf(ABL_RECORD)
    verify_ocmf(record, load_ocmf_public_key(ABL_PUBLIC_KEY, record.signature_algorithm))
    assert record.meter_serial == "BQ27400330016"
    assert record.readings[0].value == Decimal("2935.6")
    tampered = parse_ocmf(ABL_RECORD.replace('"RV":2935.6', '"RV":2935.7'))
    with pytest.raises(BadSignature):
        verify_ocmf(tampered, load_ocmf_public_key(ABL_PUBLIC_KEY))


def test_every_truncation_of_a_real_record_is_refused(fixtures_dir: Path) -> None:
    [value] = fixture_values(fixtures_dir, "safe-test_ocmf_keba_kcp30.xml")
    for length in range(len(value.ocmf)):
        with pytest.raises(MalformedEvidence):
            parse_ocmf(value.ocmf[:length])


def test_every_bit_flip_of_a_real_record_is_refused(fixtures_dir: Path) -> None:
    [value] = fixture_values(fixtures_dir, "safe-test_ocmf_keba_kcp30.xml")
    original = parse_ocmf(value.ocmf)
    key = load_ocmf_public_key(value.public_key)
    accepted = 0
    for index, character in enumerate(value.ocmf):
        for bit in range(7):
            flipped = (
                value.ocmf[:index] + chr(ord(character) ^ (1 << bit)) + value.ocmf[index + 1 :]
            )
            try:
                record = parse_ocmf(flipped)
                verify_ocmf(record, key)
            except EvidenceError:
                continue
            # Only a change that leaves the signed bytes and the signature as they were may
            # pass: the case of a hex digit in SD ("E" and "e" are the same nibble).
            assert record.payload_bytes == original.payload_bytes
            assert record.signature == original.signature
            accepted += 1
    assert accepted == sum(c in "ABCDEF" for c in json.loads(value.ocmf.split("|")[2])["SD"])


# --- records signed here --------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["hex", "base64"])
@pytest.mark.parametrize(
    ("signature_algorithm", "curve", "hash_algorithm"),
    SIGNATURE_ALGORITHMS,
    ids=[sa for sa, _, _ in SIGNATURE_ALGORITHMS],
)
def test_records_signed_on_every_curve_verify(
    signature_algorithm: str,
    curve: ec.EllipticCurve,
    hash_algorithm: hashes.HashAlgorithm,
    encoding: str,
) -> None:
    key = private_key(curve.name)
    raw = sign_record(PAYLOAD, signature_algorithm, key, hash_algorithm, encoding)
    record = parse_ocmf(raw)
    assert record.signature_encoding == encoding
    assert record.payload_bytes == PAYLOAD.encode()
    public_key = load_ocmf_public_key(spki_der(key).hex(), signature_algorithm)
    verify_ocmf(record, public_key)

    tampered = parse_ocmf(raw.replace('"RV":16068600', '"RV":16068601'))
    with pytest.raises(BadSignature):
        verify_ocmf(tampered, public_key)
    other_key = ec.generate_private_key(curve).public_key()
    with pytest.raises(BadSignature):
        verify_ocmf(record, other_key)
    # A signature over another hash of the same bytes does not pass either.
    wrong_hash = hashes.SHA512() if hash_algorithm.name != "sha512" else hashes.SHA256()
    with pytest.raises(BadSignature):
        verify_ocmf(
            parse_ocmf(sign_record(PAYLOAD, signature_algorithm, key, wrong_hash)), public_key
        )


def test_pipe_in_a_string_and_inherited_fields() -> None:
    key = private_key("secp256r1")
    record = parse_ocmf(sign_record(PAYLOAD, "ECDSA-secp256r1-SHA256", key, hashes.SHA256()))
    assert record.payload["GI"] == "carbonledger test|gateway"
    assert record.meter_serial == "QZ-0815"
    assert record.pagination == Pagination("F", 42)
    first, second, third, fourth = record.readings
    assert [r.value for r in record.readings] == [
        Decimal("1.606848e7"),
        Decimal("16068500.25"),
        Decimal(16068600),
        Decimal("16068712.5"),
    ]
    # Omitted fields carry over from the reading before (spec, "Readings").
    assert {r.unit for r in record.readings} == {"Wh"}
    assert {r.reading_id for r in record.readings} == {"1-b:1.8.0"}
    assert {r.status for r in record.readings} == {"G"}
    assert [r.transaction for r in record.readings] == ["B", "C", "C", "E"]
    assert fourth.current_type == "AC"
    assert second.time.utcoffset() == timedelta(hours=8)
    assert third.time_text == "2024-05-01T08:30:00,000+0800 S"
    assert first.time < second.time < third.time < fourth.time


def test_pipe_inside_the_signature_section() -> None:
    key = private_key("secp256r1")
    raw = sign_record(PAYLOAD, "ECDSA-secp256r1-SHA256", key, hashes.SHA256())
    raw = raw[:-1] + ',"XV":"vendor|note"}'
    verify_ocmf(parse_ocmf(raw), key.public_key())


def test_whitespace_around_sections_is_part_of_the_signed_payload() -> None:
    key = private_key("secp256r1")
    payload = "\n  " + PAYLOAD.replace('","', '", "').replace("},{", "},\n {") + "\n"
    record = parse_ocmf(sign_record(payload, "ECDSA-secp256r1-SHA256", key, hashes.SHA256()))
    assert record.payload_bytes == payload.encode()
    verify_ocmf(record, key.public_key())


def test_default_signature_algorithm_and_encoding() -> None:
    key = private_key("secp256r1")
    signature = key.sign(PAYLOAD.encode(), ec.ECDSA(hashes.SHA256())).hex()
    record = parse_ocmf(f'OCMF|{PAYLOAD}|{{"SD":"{signature}"}}')
    assert record.signature_algorithm == "ECDSA-secp256r1-SHA256"
    assert record.signature_encoding == "hex"
    assert record.signature_mime_type == "application/x-der"
    verify_ocmf(record, key.public_key())


def test_key_on_another_curve_than_sa_names_is_refused() -> None:
    raw = sign_record(PAYLOAD, "ECDSA-secp256r1-SHA256", private_key("secp256r1"), hashes.SHA256())
    with pytest.raises(BadSignature, match="brainpoolP256r1"):
        verify_ocmf(parse_ocmf(raw), private_key("brainpoolP256r1").public_key())


@pytest.mark.parametrize(
    ("signature_fields", "match"),
    [
        ({"SA": "ECDSA-secp192r1-SHA256"}, "secp192r1"),
        ({"SA": "ECDSA-secp256r1-SHA1"}, "SHA1"),
        ({"SA": "RSA-2048-SHA256"}, "ECDSA-<curve>-<hash>"),
        ({"SA": "ECDSA-secp256r1"}, "ECDSA-<curve>-<hash>"),
        ({"SM": "application/x-raw"}, "application/x-raw"),
    ],
)
def test_unsupported_algorithms_are_refused(signature_fields: dict[str, str], match: str) -> None:
    key = private_key("secp256r1")
    fields = {"SD": key.sign(PAYLOAD.encode(), ec.ECDSA(hashes.SHA256())).hex(), **signature_fields}
    record = parse_ocmf(f"OCMF|{PAYLOAD}|{json.dumps(fields)}")
    with pytest.raises(UnsupportedAlgorithm, match=re.escape(match)):
        verify_ocmf(record, key.public_key())


def test_non_ec_key_is_refused() -> None:
    raw = sign_record(PAYLOAD, "ECDSA-secp256r1-SHA256", private_key("secp256r1"), hashes.SHA256())
    with pytest.raises(UnsupportedAlgorithm, match="Ed25519"):
        verify_ocmf(parse_ocmf(raw), ed25519.Ed25519PrivateKey.generate().public_key())  # type: ignore[arg-type]


# --- public keys ----------------------------------------------------------------------------------


def _spaced(data: bytes) -> str:
    return " ".join(f"{byte:02X}" for byte in data)


KEY_WRITINGS = {
    "DER hex upper": lambda k: spki_der(k).hex().upper(),
    "DER hex spaced": lambda k: _spaced(spki_der(k)),
    "DER hex colons": lambda k: ":".join(f"{b:02x}" for b in spki_der(k)),
    "DER base64": lambda k: base64.b64encode(spki_der(k)).decode(),
    "DER base64 wrapped": lambda k: "\n".join(
        re.findall(".{1,40}", base64.b64encode(spki_der(k)).decode())
    ),
    "DER base64url": lambda k: base64.urlsafe_b64encode(spki_der(k)).decode().rstrip("="),
    "PEM": lambda k: (
        k.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    ),
    "point hex": lambda k: point(k, serialization.PublicFormat.UncompressedPoint).hex(),
    "point base64": lambda k: base64.b64encode(
        point(k, serialization.PublicFormat.UncompressedPoint)
    ).decode(),
    "compressed point hex": lambda k: point(k, serialization.PublicFormat.CompressedPoint).hex(),
    "X||Y hex": lambda k: point(k, serialization.PublicFormat.UncompressedPoint)[1:].hex(),
}


@pytest.mark.parametrize("writing", list(KEY_WRITINGS))
@pytest.mark.parametrize(
    ("signature_algorithm", "curve"),
    [(sa, curve) for sa, curve, _ in SIGNATURE_ALGORITHMS if sa.endswith("SHA256")],
    ids=lambda value: value if isinstance(value, str) else value.name,
)
def test_public_key_writings(
    signature_algorithm: str, curve: ec.EllipticCurve, writing: str
) -> None:
    key = private_key(curve.name)
    loaded = load_ocmf_public_key(KEY_WRITINGS[writing](key), signature_algorithm)
    assert loaded == key.public_key()


def test_public_key_hint_may_be_a_curve_name() -> None:
    key = private_key("brainpoolP384r1")
    raw_point = point(key, serialization.PublicFormat.UncompressedPoint).hex()
    assert load_ocmf_public_key(raw_point, "brainpool384r1") == key.public_key()
    assert load_ocmf_public_key(raw_point, "brainpoolP384r1") == key.public_key()


def test_stated_encoding_is_not_trusted(fixtures_dir: Path) -> None:
    # The pyocmf exports say base64 and are; the KEBA one says hex and is. Either text loads the
    # same key whatever the export claims, because the text itself is tried both ways.
    [keba] = fixture_values(fixtures_dir, "safe-test_ocmf_keba_kcp30.xml")
    key = load_ocmf_public_key(keba.public_key)
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert load_ocmf_public_key(base64.b64encode(der).decode()) == key
    assert load_ocmf_public_key(_spaced(der)) == key


@pytest.mark.parametrize(
    ("text", "hint", "match"),
    [
        ("", None, "empty"),
        ("   \n", None, "empty"),
        ("not a key!", None, "neither hex nor base64"),
        ("3059301306072A8648CE3D0201", None, "does not load"),
        ("04" + "11" * 64, None, "curve_hint"),
        ("04" + "11" * 64, "ECDSA-secp256r1-SHA256", "point on secp256r1"),
        ("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----", None, "PEM"),
    ],
)
def test_malformed_public_keys(text: str, hint: str | None, match: str) -> None:
    with pytest.raises(MalformedEvidence, match=re.escape(match)):
        load_ocmf_public_key(text, hint)


def test_keys_of_unsupported_curves_and_types_are_refused() -> None:
    p521 = ec.generate_private_key(ec.SECP521R1()).public_key()
    ed = ed25519.Ed25519PrivateKey.generate().public_key()
    for key in (p521, ed):
        der = key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        with pytest.raises(UnsupportedAlgorithm):
            load_ocmf_public_key(der.hex())
    with pytest.raises(UnsupportedAlgorithm, match="secp192k1"):
        load_ocmf_public_key("04" + "11" * 48, "ECDSA-secp192k1-SHA256")


# --- transparency XML -----------------------------------------------------------------------------


def _xml(*values: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<values>' + "".join(values) + "</values>"
    ).encode()


def test_xml_with_several_meters_and_encodings() -> None:
    p256, k1 = private_key("secp256r1"), private_key("secp256k1")
    first = sign_record(PAYLOAD, "ECDSA-secp256r1-SHA256", p256, hashes.SHA256())
    second = sign_record(
        PAYLOAD.replace("QZ-0815", "QZ-0816"),
        "ECDSA-secp256k1-SHA256",
        k1,
        hashes.SHA256(),
        "base64",
    )
    data = _xml(
        f'<value transactionId="1" context="Transaction.Begin"><signedData format="OCMF" '
        f'encoding="plain">\n  {first.replace("&", "&amp;").replace("<", "&lt;")}\n</signedData>'
        f'<publicKey encoding="hex">{base64.b64encode(spki_der(p256)).decode()}</publicKey>'
        "</value>",
        f'<value><signedData format="ocmf" encoding="base64">'
        f"{base64.b64encode(second.encode()).decode()}</signedData>"
        f"<publicKey>{_spaced(spki_der(k1))}</publicKey></value>",
        f'<value><signedData encoding="hex">{first.encode().hex()}</signedData></value>',
    )
    values = parse_transparency_xml(data)
    assert [v.ocmf for v in values] == [first, second, first]
    assert [v.public_key_encoding for v in values] == ["hex", None, None]
    assert values[2].public_key is None
    assert values[0].transaction_id == "1" and values[1].transaction_id is None
    for value, signer in zip(values[:2], (p256, k1), strict=True):
        assert value.public_key is not None
        record = parse_ocmf(value.ocmf)
        verify_ocmf(record, load_ocmf_public_key(value.public_key, record.signature_algorithm))
        assert load_ocmf_public_key(value.public_key) == signer.public_key()


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (
            b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 '
            b'"&lol;&lol;&lol;">]><values><value><signedData>&lol2;</signedData></value></values>',
            "DOCTYPE",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE values SYSTEM "file:///etc/passwd"><values/>',
            "DOCTYPE",
        ),
        (b"<values><value><signedData>&xxe;</signedData></value></values>", "undefined entity"),
        (b"", "does not parse"),
        (b"\xff\xfe garbage", "does not parse"),
        (b"<values><value>", "does not parse"),
        (b"<values/>", "no <value>"),
        (b"<value><signedData>OCMF|{}|{}</signedData></value>", "root element is <value>"),
        (b"<values><meter/></values>", "<meter>"),
        (b"<values><value><publicKey>00</publicKey></value></values>", "no <signedData>"),
        (
            b"<values><value><signedData>a</signedData><signedData>b</signedData></value></values>",
            "repeated <signedData>",
        ),
        (b'<values><value><signedData format="SML">00</signedData></value></values>', "SML"),
        (
            b'<values><value><signedData encoding="base64">@@@</signedData></value></values>',
            "not base64",
        ),
        (b'<values><value><signedData encoding="hex">0g</signedData></value></values>', "not hex"),
        (
            b'<values><value><signedData encoding="base64">//8=</signedData></value></values>',
            "UTF-8",
        ),
        (b'<values><value><signedData encoding="rot13">x</signedData></value></values>', "rot13"),
        (b"<values><value><signedData>  </signedData></value></values>", "empty"),
        (b"<values><value><signedData><b/></signedData></value></values>", "holds elements"),
    ],
)
def test_malformed_xml_is_refused(data: bytes, match: str) -> None:
    with pytest.raises(MalformedEvidence, match=re.escape(match)):
        parse_transparency_xml(data)


# --- malformed records ----------------------------------------------------------------------------


def _record(payload: dict | None = None, signature: dict | None = None) -> str:
    payload = json.loads(PAYLOAD) if payload is None else payload
    signature = {"SD": "3006020101020101"} if signature is None else signature
    return f"OCMF|{json.dumps(payload)}|{json.dumps(signature)}"


def _payload_with(path: tuple, value: object) -> dict:
    payload = json.loads(PAYLOAD)
    target = payload
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return payload


def _payload_without(path: tuple) -> dict:
    payload = json.loads(PAYLOAD)
    target = payload
    for step in path[:-1]:
        target = target[step]
    del target[path[-1]]
    return payload


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        ("", "starts with 'OCMF|'"),
        ("OCMA|{}|{}", "starts with 'OCMF|'"),
        ("ocmf|{}|{}", "starts with 'OCMF|'"),
        ("OCMF|", "not valid JSON"),
        ("OCMF|{}", "signature section is missing"),
        ("OCMF|{} {}|{}", "followed by '{'"),
        ('OCMF|{"PG":"T1"}|', "signature section is not valid JSON"),
        ('OCMF|{"PG":"T1"}|[]', "must be a JSON object"),
        ("OCMF|[]|{}", "must be a JSON object"),
        ('OCMF|{"PG":"T1","PG":"T2"}|{}', "'PG' appears twice"),
        ('OCMF|{"PG":NaN}|{}', "NaN"),
        ("OCMF|" + "[" * 100_000 + "|{}", "not valid JSON"),
        (
            _record(_payload_without(("MS",)) | {"GS": ""}),
            "neither a meter serial MS nor a gateway GS",
        ),
        (_record(_payload_without(("PG",))), "PG is missing"),
        (_record(_payload_with(("PG",), "T012")), "without leading zeros"),
        (_record(_payload_with(("PG",), "X12")), "context X"),
        (_record(_payload_with(("PG",), "T" + "9" * 20)), "too large"),
        (_record(_payload_without(("RD",))), "RD (readings) is missing"),
        (_record(_payload_with(("RD",), [])), "no readings"),
        (_record(_payload_with(("RD",), {"TM": "x"})), "must be an array"),
        (_record(_payload_with(("RD", 1), "reading")), "RD[1] must be an object"),
        (_record(_payload_without(("RD", 0, "TM"))), "RD[0] field TM is missing"),
        (_record(_payload_with(("RD", 0, "TM"), "2024-05-01 08:00:00")), "RD[0] time TM"),
        (_record(_payload_with(("RD", 0, "TM"), "2024-05-01T08:00:00,000+0800")), "RD[0] time TM"),
        (_record(_payload_with(("RD", 0, "TM"), "2024-05-01T08:00:00,000+0800 Q")), "status 'Q'"),
        (
            _record(_payload_with(("RD", 0, "TM"), "2024-02-30T08:00:00,000+0800 S")),
            "not a valid time",
        ),
        (
            _record(_payload_with(("RD", 0, "TM"), "2024-05-01T08:00:00,000+0860 S")),
            "not a valid time",
        ),
        (
            _record(_payload_with(("RD", 0, "TM"), "2024-05-01T08:00:00,000+2400 S")),
            "not a valid time",
        ),
        (_record(_payload_with(("RD", 2, "TX"), "Q")), "RD[2] transaction code TX 'Q'"),
        (_record(_payload_with(("RD", 0, "ST"), "H")), "RD[0] meter status ST 'H'"),
        (_record(_payload_without(("RD", 0, "ST"))), "RD[0] field ST is missing"),
        (_record(_payload_with(("RD", 1, "RV"), "16,5")), "RD[1] field RV '16,5' is not a decimal"),
        (_record(_payload_with(("RD", 1, "RV"), True)), "RD[1] field RV must be a number"),
        (_record(_payload_without(("RD", 0, "RU"))), "RD[0] has a value RV but no unit RU"),
        (_record(signature={}), "SD is missing"),
        (_record(signature={"SD": "30 06"}), "SD is not hex"),
        (_record(signature={"SD": "3006F"}), "SD is not hex"),
        (_record(signature={"SD": ""}), "SD is not hex"),
        (_record(signature={"SD": "*", "SE": "base64"}), "SD is not base64"),
        (_record(signature={"SD": "00", "SE": "base32"}), "'base32' is neither hex nor base64"),
        (_record(signature={"SD": "00", "SA": 7}), "SA must be a string, not a number"),
        ("OCMF|" + PAYLOAD.replace("QZ-0815", "\ud800") + '|{"SD":"00"}', "not valid Unicode"),
    ],
)
def test_malformed_records_name_the_problem(raw: str, match: str) -> None:
    with pytest.raises(MalformedEvidence, match=re.escape(match)):
        parse_ocmf(raw)


def test_non_text_record_is_refused() -> None:
    with pytest.raises(MalformedEvidence, match="must be text"):
        parse_ocmf(b"OCMF|{}|{}")  # type: ignore[arg-type]


# --- properties -----------------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=4), children, max_size=4)
    ),
    max_leaves=12,
)
NOT_STRINGS = (
    st.integers()
    | st.booleans()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.lists(st.integers(), max_size=2)
    | st.dictionaries(st.text(max_size=2), st.integers(), max_size=2)
)
NOT_NUMBERS = (
    st.booleans()
    | st.lists(st.integers(), max_size=2)
    | st.dictionaries(st.text(max_size=2), st.integers(), max_size=2)
    | st.text(max_size=8).filter(
        lambda t: not re.fullmatch(r"\s*[+-]?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?\s*", t)
    )
)
# Fields whose value must be a string, and where a null counts as missing.
REQUIRED_STRINGS = [("PG",), ("RD", 0, "TM"), ("RD", 0, "ST")]
OPTIONAL_STRINGS = [("MS",), ("GS",), ("RD", 0, "TX"), ("RD", 0, "RU"), ("RD", 0, "RI")]
SIGNATURE_STRINGS = ["SA", "SE", "SM"]

_SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _parse_and_verify(raw: str) -> None:
    """Parse and verify ``raw``: any refusal must be an EvidenceError."""
    try:
        record = parse_ocmf(raw)
        verify_ocmf(record, private_key("secp256r1").public_key())
    except EvidenceError:
        pass


@_SETTINGS
@given(st.text())
def test_random_text_raises_only_evidence_errors(text: str) -> None:
    _parse_and_verify(text)
    _parse_and_verify("OCMF|" + text)
    _parse_and_verify(f"OCMF|{PAYLOAD}|" + text)


@_SETTINGS
@given(JSON_VALUES, JSON_VALUES)
def test_any_json_sections_raise_only_evidence_errors(payload: object, signature: object) -> None:
    _parse_and_verify(f"OCMF|{json.dumps(payload)}|{json.dumps(signature)}")


@_SETTINGS
@given(st.dictionaries(st.sampled_from(["PG", "MS", "GS", "RD", "FV"]), JSON_VALUES, max_size=5))
def test_random_payload_fields_raise_only_evidence_errors(fields: dict) -> None:
    _parse_and_verify(_record(json.loads(PAYLOAD) | fields))


@_SETTINGS
@given(st.sampled_from(REQUIRED_STRINGS + OPTIONAL_STRINGS), NOT_STRINGS)
def test_payload_string_fields_of_wrong_type_are_refused(path: tuple, value: object) -> None:
    with pytest.raises(MalformedEvidence, match="must be a string"):
        parse_ocmf(_record(_payload_with(path, value)))


@_SETTINGS
@given(st.sampled_from(REQUIRED_STRINGS))
def test_required_fields_that_are_null_are_refused(path: tuple) -> None:
    with pytest.raises(MalformedEvidence, match="is missing"):
        parse_ocmf(_record(_payload_with(path, None)))


@_SETTINGS
@given(st.sampled_from([("RD", 0, "RV"), ("RD", 3, "RV"), ("RD", 1, "CL")]), NOT_NUMBERS)
def test_reading_numbers_of_wrong_type_are_refused(path: tuple, value: object) -> None:
    with pytest.raises(MalformedEvidence, match=f"field {path[-1]}"):
        parse_ocmf(_record(_payload_with(path, value)))


@_SETTINGS
@given(st.sampled_from(["SD", *SIGNATURE_STRINGS]), NOT_STRINGS)
def test_signature_fields_of_wrong_type_are_refused(key: str, value: object) -> None:
    with pytest.raises(MalformedEvidence, match=f"{key} must be a string"):
        parse_ocmf(_record(signature={"SD": "3006020101020101", key: value}))


@_SETTINGS
@given(st.text(max_size=40))
def test_random_times_and_paginations_raise_only_evidence_errors(text: str) -> None:
    _parse_and_verify(_record(_payload_with(("RD", 2, "TM"), text)))
    _parse_and_verify(_record(_payload_with(("PG",), text)))
    _parse_and_verify(_record(signature={"SD": text, "SE": "base64"}))


@_SETTINGS
@given(st.binary(max_size=200))
def test_random_xml_raises_only_evidence_errors(data: bytes) -> None:
    for candidate in (
        data,
        b"<values><value><signedData>" + data + b"</signedData></value></values>",
    ):
        try:
            for value in parse_transparency_xml(candidate):
                parse_ocmf(value.ocmf)
        except EvidenceError:
            pass


@_SETTINGS
@given(st.text(max_size=120), st.sampled_from([None, "ECDSA-secp256r1-SHA256", "secp256k1", "x"]))
def test_random_public_keys_raise_only_evidence_errors(text: str, hint: str | None) -> None:
    with contextlib.suppress(EvidenceError):
        load_ocmf_public_key(text, hint)
