"""Software signers, the verification helpers and ECDSA encodings, and pem: signer specs.

Independent checks use `cryptography` directly and published test vectors (RFC 8032 §7.1)."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from hypothesis import given
from hypothesis import strategies as st

from hardware_signers.base import Algorithm, Signer, spki_key_id
from hardware_signers.errors import (
    InvalidKey,
    InvalidSignature,
    SignerError,
    UnsupportedAlgorithm,
)
from hardware_signers.software import SoftwareSigner, write_private_file
from hardware_signers.spec import (
    InvalidSignerSpec,
    PemKeySpec,
    generate_signer,
    open_signer,
    parse_spec,
)
from hardware_signers.verify import (
    ecdsa_der_to_raw,
    ecdsa_raw_to_der,
    load_public_key,
    verify,
    verify_ecdsa,
    verify_ed25519,
)

ECDSA = [Algorithm.ECDSA_P256, Algorithm.ECDSA_P384]
HASHES = {Algorithm.ECDSA_P256: hashes.SHA256(), Algorithm.ECDSA_P384: hashes.SHA384()}
CURVES = {Algorithm.ECDSA_P256: ec.SECP256R1(), Algorithm.ECDSA_P384: ec.SECP384R1()}
ORDERS = {
    Algorithm.ECDSA_P256: 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    Algorithm.ECDSA_P384: 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973,  # noqa: E501
}
SIZES = {Algorithm.ECDSA_P256: 32, Algorithm.ECDSA_P384: 48}

# RFC 8032 §7.1, TEST 1 and TEST 2: (secret key, public key, message, signature).
RFC8032_VECTORS = [
    pytest.param(
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
        "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
        id="TEST1",
    ),
    pytest.param(
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
        "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
        id="TEST2",
    ),
]


def verify_independently(algorithm: Algorithm, spki: bytes, signature: bytes, message: bytes):
    """Verify with cryptography alone, not with our helpers."""
    key = serialization.load_der_public_key(spki)
    if algorithm is Algorithm.ED25519:
        assert isinstance(key, ed25519.Ed25519PublicKey)
        key.verify(signature, message)
    else:
        assert isinstance(key, ec.EllipticCurvePublicKey)
        key.verify(signature, message, ec.ECDSA(HASHES[algorithm]))


def flip_bit(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


# -- SoftwareSigner ----------------------------------------------------------------------------


@pytest.mark.parametrize("secret, public, message, signature", RFC8032_VECTORS)
def test_ed25519_rfc8032_vectors(secret: str, public: str, message: str, signature: str) -> None:
    signer = SoftwareSigner.from_ed25519_seed(bytes.fromhex(secret))
    assert signer.algorithm is Algorithm.ED25519
    assert signer.public_key_raw.hex() == public
    assert signer.sign(bytes.fromhex(message)).hex() == signature
    verify_ed25519(bytes.fromhex(public), bytes.fromhex(signature), bytes.fromhex(message))


@pytest.mark.parametrize("algorithm", list(Algorithm))
def test_sign_verify_round_trip(algorithm: Algorithm) -> None:
    signer = SoftwareSigner.generate(algorithm)
    assert isinstance(signer, Signer)
    assert signer.algorithm is algorithm
    for message in (b"", b"reading 42 kWh", os.urandom(10_000)):
        signature = signer.sign(message)
        verify(algorithm, signer.public_key_raw, signature, message)
        verify(algorithm, signer.public_key_spki, signature, message)
        verify_independently(algorithm, signer.public_key_spki, signature, message)


@pytest.mark.parametrize("algorithm", list(Algorithm))
def test_tampered_signature_or_message_is_refused(algorithm: Algorithm) -> None:
    signer = SoftwareSigner.generate(algorithm)
    message = b"meter 17: 12.5 kWh"
    signature = signer.sign(message)
    with pytest.raises(InvalidSignature):
        verify(algorithm, signer.public_key_raw, signature, message + b"0")
    # Flip a bit in the last byte: for DER that is inside s, so the encoding stays valid and the
    # refusal comes from the signature check itself.
    with pytest.raises(InvalidSignature, match="does not verify"):
        verify(algorithm, signer.public_key_raw, flip_bit(signature, len(signature) - 1), message)
    other = SoftwareSigner.generate(algorithm)
    with pytest.raises(InvalidSignature, match="does not verify"):
        verify(algorithm, other.public_key_raw, signature, message)


@pytest.mark.parametrize("algorithm", list(Algorithm))
def test_key_id_is_spki_hash_and_public_forms_agree(algorithm: Algorithm) -> None:
    signer = SoftwareSigner.generate(algorithm)
    assert signer.key_id == spki_key_id(signer.public_key_spki)
    assert len(signer.key_id) == 64 and signer.key_id == signer.key_id.lower()
    assert load_public_key(signer.public_key_spki) == (algorithm, signer.public_key_raw)
    key = serialization.load_der_public_key(signer.public_key_spki)
    if algorithm is Algorithm.ED25519:
        expected_raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        assert len(signer.public_key_raw) == 32
    else:
        expected_raw = key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        assert signer.public_key_raw[0] == 0x04
    assert signer.public_key_raw == expected_raw


@pytest.mark.parametrize("algorithm", list(Algorithm))
@pytest.mark.parametrize("password", [None, b"correct horse"])
def test_pem_round_trip(algorithm: Algorithm, password: bytes | None) -> None:
    signer = SoftwareSigner.generate(algorithm)
    pem = signer.private_pem(password)
    marker = b"ENCRYPTED PRIVATE KEY" if password else b"-----BEGIN PRIVATE KEY-----"
    assert marker in pem
    loaded = SoftwareSigner.from_pem(pem, password)
    assert loaded.key_id == signer.key_id
    verify(algorithm, signer.public_key_raw, loaded.sign(b"m"), b"m")


def test_from_pem_accepts_sec1_ec_keys() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    assert b"EC PRIVATE KEY" in pem
    assert SoftwareSigner.from_pem(pem).algorithm is Algorithm.ECDSA_P256


def test_from_pem_errors_name_the_problem() -> None:
    signer = SoftwareSigner.generate(Algorithm.ED25519)
    encrypted = signer.private_pem(b"secret")
    with pytest.raises(InvalidKey, match="wrong password"):
        SoftwareSigner.from_pem(encrypted, b"not the secret")
    with pytest.raises(InvalidKey, match="encrypted and no password"):
        SoftwareSigner.from_pem(encrypted)
    with pytest.raises(InvalidKey, match="not encrypted"):
        SoftwareSigner.from_pem(signer.private_pem(), b"secret")
    with pytest.raises(InvalidKey, match="malformed"):
        SoftwareSigner.from_pem(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")


@pytest.mark.parametrize(
    "key",
    [
        pytest.param(lambda: rsa.generate_private_key(65537, 1024), id="rsa"),
        pytest.param(lambda: ec.generate_private_key(ec.SECP521R1()), id="p521"),
        pytest.param(lambda: ec.generate_private_key(ec.SECP256K1()), id="secp256k1"),
    ],
)
def test_from_pem_refuses_other_key_types(key) -> None:
    pem = key().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(UnsupportedAlgorithm):
        SoftwareSigner.from_pem(pem)


def test_seed_and_algorithm_are_checked() -> None:
    with pytest.raises(InvalidKey, match="32 bytes, got 31"):
        SoftwareSigner.from_ed25519_seed(bytes(31))
    with pytest.raises(UnsupportedAlgorithm, match="rsa-2048"):
        SoftwareSigner.generate("rsa-2048")  # type: ignore[arg-type]


def test_save_is_owner_only_atomic_and_loadable(tmp_path: Path) -> None:
    signer = SoftwareSigner.generate(Algorithm.ECDSA_P256)
    path = tmp_path / "meter.pem"
    signer.save(path, password=b"pw")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["meter.pem"]  # no temp file left
    assert SoftwareSigner.from_pem(path.read_bytes(), b"pw").key_id == signer.key_id

    replacement = SoftwareSigner.generate(Algorithm.ED25519)
    replacement.save(str(path))
    assert SoftwareSigner.from_pem(path.read_bytes()).key_id == replacement.key_id
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_write_private_file_without_overwrite_keeps_existing_key(tmp_path: Path) -> None:
    path = tmp_path / "key.pem"
    path.write_bytes(b"original")
    with pytest.raises(FileExistsError):
        write_private_file(path, b"new", overwrite=False)
    assert path.read_bytes() == b"original"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["key.pem"]


@pytest.mark.parametrize("algorithm", list(Algorithm))
def test_one_signer_shared_by_threads(algorithm: Algorithm) -> None:
    signer = SoftwareSigner.generate(algorithm)
    results: list[tuple[bytes, bytes]] = []
    lock = threading.Lock()

    def work(worker: int) -> None:
        for i in range(50):
            message = f"{worker}:{i}".encode()
            signature = signer.sign(message)
            with lock:
                results.append((message, signature))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 200
    for message, signature in results:
        verify_independently(algorithm, signer.public_key_spki, signature, message)


# -- verify helpers: keys ----------------------------------------------------------------------


def test_load_public_key_from_pem_and_der() -> None:
    signer = SoftwareSigner.generate(Algorithm.ECDSA_P384)
    key = serialization.load_der_public_key(signer.public_key_spki)
    pem = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert load_public_key(pem) == (Algorithm.ECDSA_P384, signer.public_key_raw)
    assert load_public_key(signer.public_key_spki) == (Algorithm.ECDSA_P384, signer.public_key_raw)


def test_load_public_key_errors() -> None:
    rsa_spki = (
        rsa.generate_private_key(65537, 1024)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(UnsupportedAlgorithm, match="RSA"):
        load_public_key(rsa_spki)
    with pytest.raises(InvalidKey):
        load_public_key(b"\x30\x03\x02\x01\x01")
    with pytest.raises(InvalidKey, match="PUBLIC KEY"):
        load_public_key(SoftwareSigner.generate(Algorithm.ED25519).private_pem())
    spki = SoftwareSigner.generate(Algorithm.ED25519).public_key_spki
    with pytest.raises(InvalidKey):
        load_public_key(spki + b"\x00")  # trailing garbage


def test_verify_refuses_malformed_keys_with_our_errors() -> None:
    signer = SoftwareSigner.generate(Algorithm.ECDSA_P256)
    signature = signer.sign(b"m")
    with pytest.raises(InvalidKey, match="32 bytes"):
        verify_ed25519(bytes(31), bytes(64), b"m")
    with pytest.raises(InvalidSignature, match="64 bytes"):
        verify_ed25519(bytes(32), bytes(63), b"m")
    with pytest.raises(InvalidKey, match="65 \\(uncompressed\\)"):
        verify_ecdsa(signer.public_key_raw[:-1], signature, b"m", algorithm=Algorithm.ECDSA_P256)
    off_curve = b"\x04" + bytes(31) + b"\x01" + bytes(31) + b"\x01"
    with pytest.raises(InvalidKey, match="not a point on the curve"):
        verify_ecdsa(off_curve, signature, b"m", algorithm=Algorithm.ECDSA_P256)
    p384 = SoftwareSigner.generate(Algorithm.ECDSA_P384)
    with pytest.raises(InvalidKey, match="ecdsa-p384-sha384, not ecdsa-p256-sha256"):
        verify_ecdsa(p384.public_key_spki, signature, b"m", algorithm=Algorithm.ECDSA_P256)
    ed = SoftwareSigner.generate(Algorithm.ED25519)
    with pytest.raises(InvalidKey, match="expected an Ed25519 public key"):
        verify(Algorithm.ED25519, signer.public_key_spki, bytes(64), b"m")
    with pytest.raises(InvalidKey, match="expected an ECDSA public key"):
        verify(Algorithm.ECDSA_P256, ed.public_key_spki, signature, b"m")
    with pytest.raises(UnsupportedAlgorithm, match="not an ECDSA algorithm"):
        verify_ecdsa(ed.public_key_raw, signature, b"m", algorithm=Algorithm.ED25519)
    with pytest.raises(UnsupportedAlgorithm, match="rsa"):
        verify("rsa-pss", signer.public_key_raw, signature, b"m")  # type: ignore[arg-type]


def test_verify_accepts_compressed_sec1_points() -> None:
    signer = SoftwareSigner.generate(Algorithm.ECDSA_P256)
    key = serialization.load_der_public_key(signer.public_key_spki)
    compressed = key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
    )
    verify_ecdsa(compressed, signer.sign(b"m"), b"m", algorithm=Algorithm.ECDSA_P256)


@pytest.mark.parametrize("algorithm", ECDSA)
def test_verify_ecdsa_raw_encoding(algorithm: Algorithm) -> None:
    signer = SoftwareSigner.generate(algorithm)
    raw = ecdsa_der_to_raw(signer.sign(b"m"), algorithm)
    assert len(raw) == 2 * SIZES[algorithm]
    verify_ecdsa(signer.public_key_raw, raw, b"m", algorithm=algorithm, encoding="raw")
    with pytest.raises(InvalidSignature, match="does not verify"):
        verify_ecdsa(signer.public_key_raw, raw, b"x", algorithm=algorithm, encoding="raw")


def test_ed25519_small_order_public_key_is_refused() -> None:
    # The identity point (y = 1) has order 1: any "signature" (R = identity, S = 0) would satisfy
    # a lax cofactorless check. libsodium refuses it.
    identity = (1).to_bytes(32, "little")
    forged = identity + bytes(32)
    with pytest.raises(InvalidSignature):
        verify_ed25519(identity, forged, b"anything")


# -- ECDSA DER <-> raw -------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ECDSA)
@given(data=st.data())
def test_der_raw_round_trip_property(algorithm: Algorithm, data: st.DataObject) -> None:
    scalars = st.integers(min_value=1, max_value=ORDERS[algorithm] - 1)
    r, s = data.draw(scalars), data.draw(scalars)
    size = SIZES[algorithm]
    raw = r.to_bytes(size, "big") + s.to_bytes(size, "big")
    der = ecdsa_raw_to_der(raw)
    assert der == encode_dss_signature(r, s)  # cryptography's encoder agrees
    assert decode_dss_signature(der) == (r, s)
    assert ecdsa_der_to_raw(der, algorithm) == raw


@pytest.mark.parametrize("algorithm", ECDSA)
def test_der_raw_edge_cases(algorithm: Algorithm) -> None:
    size = SIZES[algorithm]
    order = ORDERS[algorithm]
    cases = [
        (1, 1),  # many leading zero bytes in raw form, one-byte INTEGERs
        (0x80, 0x7F),  # top bit set needs a 0x00 pad in DER
        (1 << (8 * size - 1), order - 1),  # full width, top bit set
        (0xFF, 1 << (8 * (size - 1))),  # leading zero bytes only in s
    ]
    for r, s in cases:
        raw = r.to_bytes(size, "big") + s.to_bytes(size, "big")
        der = ecdsa_raw_to_der(raw)
        assert der == encode_dss_signature(r, s)
        assert ecdsa_der_to_raw(der, algorithm) == raw
    # The longest signature: both INTEGERs padded (2 + 1 + size bytes each), short-form lengths.
    longest = ecdsa_raw_to_der((1 << (8 * size - 1)).to_bytes(size, "big") * 2)
    assert len(longest) == 2 + 2 * (3 + size)
    assert longest[1] == 2 * (3 + size)


@pytest.mark.parametrize("length", [0, 1, 63, 65, 95, 97, 128])
def test_raw_to_der_refuses_wrong_lengths(length: int) -> None:
    with pytest.raises(InvalidSignature, match=f"got {length}"):
        ecdsa_raw_to_der(b"\x01" * length)


def test_raw_to_der_refuses_zero_and_out_of_range_scalars() -> None:
    with pytest.raises(InvalidSignature, match="r is out of range"):
        ecdsa_raw_to_der(bytes(32) + b"\x01" * 32)
    n = ORDERS[Algorithm.ECDSA_P256]
    with pytest.raises(InvalidSignature, match="s is out of range"):
        ecdsa_raw_to_der(b"\x01" * 32 + n.to_bytes(32, "big"))


def test_der_to_raw_refuses_wrong_algorithm_lengths() -> None:
    with pytest.raises(InvalidSignature, match="raw ecdsa-p256-sha256 signature must be 64"):
        verify_ecdsa(
            SoftwareSigner.generate(Algorithm.ECDSA_P256).public_key_raw,
            bytes(96),
            b"m",
            algorithm=Algorithm.ECDSA_P256,
            encoding="raw",
        )
    p384_der = encode_dss_signature(ORDERS[Algorithm.ECDSA_P384] - 1, 1)
    with pytest.raises(InvalidSignature, match="out of range"):
        ecdsa_der_to_raw(p384_der, Algorithm.ECDSA_P256)
    with pytest.raises(UnsupportedAlgorithm):
        ecdsa_der_to_raw(p384_der, Algorithm.ED25519)


@pytest.mark.parametrize(
    "der, problem",
    [
        (b"", "truncated"),
        (b"\x31\x06\x02\x01\x01\x02\x01\x01", "expected tag 0x30"),
        (b"\x30\x06\x02\x01\x01\x02\x01\x01\x00", "trailing"),
        (b"\x30\x07\x02\x02\x00\x01\x02\x01\x01", "non-minimal encoding"),
        (b"\x30\x06\x02\x01\x81\x02\x01\x01", "negative"),
        (b"\x30\x06\x02\x01\x00\x02\x01\x01", "r is out of range"),
        (b"\x30\x05\x02\x00\x02\x01\x01", "empty INTEGER"),
        (b"\x30\x81\x06\x02\x01\x01\x02\x01\x01", "non-minimal length"),
        (b"\x30\x80\x02\x01\x01\x02\x01\x01\x00\x00", "indefinite length"),
        (b"\x30\x09\x02\x01\x01\x02\x01\x01\x02\x01\x01", "more than two"),
        (b"\x30\x06\x02\x01\x01\x02\x02\x01", "truncated"),
        (b"\x30\x06\x02\x01\x01\x04\x01\x01", "expected tag 0x02"),
    ],
)
def test_der_to_raw_is_strict(der: bytes, problem: str) -> None:
    with pytest.raises(InvalidSignature, match=problem):
        ecdsa_der_to_raw(der, Algorithm.ECDSA_P256)


def test_verify_refuses_non_canonical_der_of_a_valid_signature() -> None:
    signer = SoftwareSigner.generate(Algorithm.ECDSA_P256)
    r, s = decode_dss_signature(signer.sign(b"m"))
    # Same (r, s), but s padded with a superfluous zero byte: BER, not DER.
    s_bytes = b"\x00" + s.to_bytes((s.bit_length() + 8) // 8, "big")
    r_der = encode_dss_signature(r, 1)[2:-3]  # the INTEGER r as cryptography encodes it
    body = r_der + b"\x02" + bytes([len(s_bytes)]) + s_bytes
    padded = b"\x30" + bytes([len(body)]) + body
    verify(Algorithm.ECDSA_P256, signer.public_key_raw, encode_dss_signature(r, s), b"m")
    with pytest.raises(InvalidSignature, match="non-minimal"):
        verify(Algorithm.ECDSA_P256, signer.public_key_raw, padded, b"m")


# -- pem: specs --------------------------------------------------------------------------------


def test_pem_spec_generate_and_open(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARBONLEDGER_TEST_KEY_PASSWORD", "s3cret")
    spec = f"pem:{tmp_path / 'log.pem'}?password-env=CARBONLEDGER_TEST_KEY_PASSWORD"
    created = generate_signer(spec, Algorithm.ED25519)
    assert b"ENCRYPTED" in (tmp_path / "log.pem").read_bytes()
    assert stat.S_IMODE((tmp_path / "log.pem").stat().st_mode) == 0o600
    opened = open_signer(spec)
    assert opened.key_id == created.key_id
    verify(Algorithm.ED25519, created.public_key_raw, opened.sign(b"m"), b"m")
    with pytest.raises(SignerError, match="already exists"):
        generate_signer(spec, Algorithm.ED25519)
    assert open_signer(spec).key_id == created.key_id  # the refused generate changed nothing

    plain = tmp_path / "plain.pem"
    generate_signer(f"pem:{plain}", Algorithm.ECDSA_P256)
    assert open_signer(f"pem:{plain}").algorithm is Algorithm.ECDSA_P256


def test_pem_spec_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CARBONLEDGER_TEST_UNSET", raising=False)
    assert parse_spec("pem:/k.pem") == PemKeySpec(path=Path("/k.pem"))
    with pytest.raises(InvalidSignerSpec, match="no file path"):
        parse_spec("pem:")
    with pytest.raises(InvalidSignerSpec, match="unknown option 'password'"):
        parse_spec("pem:/k.pem?password=x")
    with pytest.raises(InvalidSignerSpec, match="environment variable"):
        parse_spec("pem:/k.pem?password-env=1BAD")
    with pytest.raises(InvalidSignerSpec, match="more than once"):
        parse_spec("pem:/k.pem?password-env=A&password-env=B")
    with pytest.raises(InvalidSignerSpec, match=r"'CARBONLEDGER_TEST_UNSET'.*not set"):
        open_signer(f"pem:{tmp_path / 'k.pem'}?password-env=CARBONLEDGER_TEST_UNSET")
    with pytest.raises(SignerError, match="cannot read PEM key file"):
        open_signer(f"pem:{tmp_path / 'missing.pem'}")
    for spec in ("", "/path/key.pem", "file:/k.pem", "pkcs12:token=x"):
        with pytest.raises(InvalidSignerSpec, match="unknown signer spec"):
            parse_spec(spec)
