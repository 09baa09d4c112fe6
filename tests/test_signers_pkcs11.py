"""PKCS#11 signers against a real SoftHSM2 token, and pkcs11: URI specs (RFC 7512).

The token lives for the whole session, so every test uses key labels of its own."""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pkcs11 as raw_pkcs11
import pytest
from cryptography.exceptions import InvalidSignature as CryptographyInvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from pkcs11 import Attribute, KeyType, ObjectClass
from pkcs11.util.ec import encode_named_curve_parameters

from hardware_signers.base import Algorithm, Signer, spki_key_id
from hardware_signers.errors import (
    InvalidSignature,
    KeyNotFound,
    ModuleNotFound,
    SignerError,
    TokenNotFound,
    UnsupportedAlgorithm,
    WrongPin,
)
from hardware_signers.pkcs11 import Pkcs11Signer, Pkcs11Token
from hardware_signers.software import SoftwareSigner
from hardware_signers.spec import (
    InvalidSignerSpec,
    Pkcs11KeySpec,
    generate_signer,
    open_signer,
    parse_spec,
)
from hardware_signers.verify import ecdsa_der_to_raw, ecdsa_raw_to_der, verify

HASHES = {Algorithm.ECDSA_P256: hashes.SHA256(), Algorithm.ECDSA_P384: hashes.SHA384()}
CURVE_NAMES = {
    Algorithm.ED25519: "1.3.101.112",
    Algorithm.ECDSA_P256: "secp256r1",
    Algorithm.ECDSA_P384: "secp384r1",
}

# RFC 8032 §7.1 TEST 1 and TEST 2: (secret key, message, signature).
RFC8032_VECTORS = [
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
        "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
        "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def verify_independently(algorithm: Algorithm, spki: bytes, signature: bytes, message: bytes):
    """Verify with cryptography alone, not with our helpers."""
    key = serialization.load_der_public_key(spki)
    if algorithm is Algorithm.ED25519:
        assert isinstance(key, ed25519.Ed25519PublicKey)
        key.verify(signature, message)
    else:
        assert isinstance(key, ec.EllipticCurvePublicKey)
        key.verify(signature, message, ec.ECDSA(HASHES[algorithm]))


@pytest.fixture
def token(softhsm_token) -> Iterator[Pkcs11Token]:
    with Pkcs11Token.open(softhsm_token.module, softhsm_token.label, softhsm_token.pin) as opened:
        yield opened


@pytest.fixture
def raw_session(softhsm_token, token: Pkcs11Token) -> Iterator[object]:
    """A python-pkcs11 session of its own on the same token, for checks and setup that go around
    our code. It does not log in: the process is logged in through ``token``."""
    library = raw_pkcs11.lib(softhsm_token.module)
    session = library.get_token(token_label=softhsm_token.label).open(rw=True)
    try:
        yield session
    finally:
        session.close()


def import_software_key(session, signer: SoftwareSigner, label: str) -> None:
    """Put a copy of a software key into the token (as a meter maker's provisioning would)."""
    key_type = KeyType.EC_EDWARDS if signer.algorithm is Algorithm.ED25519 else KeyType.EC
    params = encode_named_curve_parameters(CURVE_NAMES[signer.algorithm])
    private = serialization.load_pem_private_key(signer.private_pem(), password=None)
    if signer.algorithm is Algorithm.ED25519:
        value = private.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
    else:
        value = private.private_numbers().private_value.to_bytes(
            len(signer.public_key_raw) // 2, "big"
        )
    point = signer.public_key_raw
    common = {Attribute.TOKEN: True, Attribute.LABEL: label, Attribute.KEY_TYPE: key_type}
    session.create_object(
        {
            **common,
            Attribute.CLASS: ObjectClass.PRIVATE_KEY,
            Attribute.EC_PARAMS: params,
            Attribute.VALUE: value,
            Attribute.PRIVATE: True,
            Attribute.SENSITIVE: True,
            Attribute.EXTRACTABLE: False,
            Attribute.SIGN: True,
        }
    )
    session.create_object(
        {
            **common,
            Attribute.CLASS: ObjectClass.PUBLIC_KEY,
            Attribute.EC_PARAMS: params,
            # CKA_EC_POINT is the DER OCTET STRING around the point.
            Attribute.EC_POINT: bytes([0x04, len(point)]) + point,
            Attribute.VERIFY: True,
        }
    )


# -- keys generated in the token ---------------------------------------------------------------


@pytest.mark.softhsm
@pytest.mark.parametrize("algorithm", list(Algorithm))
def test_generated_key_signs_and_verifies(token: Pkcs11Token, algorithm: Algorithm) -> None:
    signer = token.generate_key(unique("gen"), algorithm)
    assert isinstance(signer, Signer)
    assert signer.algorithm is algorithm
    assert signer.key_id == spki_key_id(signer.public_key_spki)
    for message in (b"", b"meter 17: 12.5 kWh", bytes(range(256)) * 40):
        signature = signer.sign(message)
        verify(algorithm, signer.public_key_raw, signature, message)
        verify(algorithm, signer.public_key_spki, signature, message)
        verify_independently(algorithm, signer.public_key_spki, signature, message)
        if algorithm is not Algorithm.ED25519:
            # DER, and canonical DER at that: it survives a strict round trip unchanged.
            assert ecdsa_raw_to_der(ecdsa_der_to_raw(signature, algorithm)) == signature


@pytest.mark.softhsm
@pytest.mark.parametrize("algorithm", list(Algorithm))
def test_tampered_hsm_signature_or_message_is_refused(
    token: Pkcs11Token, algorithm: Algorithm
) -> None:
    signer = token.generate_key(unique("tamper"), algorithm)
    message = b"claim 9: 3 t CO2e"
    signature = signer.sign(message)
    with pytest.raises(InvalidSignature):
        verify(algorithm, signer.public_key_raw, signature, message + b".")
    tampered = signature[:-1] + bytes([signature[-1] ^ 0x01])
    with pytest.raises(InvalidSignature):
        verify(algorithm, signer.public_key_raw, tampered, message)
    with pytest.raises(CryptographyInvalidSignature):
        verify_independently(algorithm, signer.public_key_spki, tampered, message)


@pytest.mark.softhsm
@pytest.mark.parametrize("algorithm", list(Algorithm))
def test_signer_found_by_label_is_the_same_key(token: Pkcs11Token, algorithm: Algorithm) -> None:
    label = unique("again")
    generated = token.generate_key(label, algorithm)
    found = token.signer(label)
    assert found.key_id == generated.key_id
    assert found.public_key_raw == generated.public_key_raw
    verify(algorithm, generated.public_key_raw, found.sign(b"m"), b"m")
    assert label in token.labels()


@pytest.mark.softhsm
@pytest.mark.parametrize("algorithm", list(Algorithm))
def test_private_key_never_leaves_the_token(
    token: Pkcs11Token, raw_session, algorithm: Algorithm
) -> None:
    label = unique("sealed")
    signer = token.generate_key(label, algorithm)
    protection = signer.key_protection()
    assert protection.hardware_bound
    assert not protection.extractable and protection.sensitive and protection.local

    # Independently of our code: the token refuses to reveal the private value.
    private = raw_session.get_key(object_class=ObjectClass.PRIVATE_KEY, label=label)
    assert private[Attribute.EXTRACTABLE] is False
    assert private[Attribute.NEVER_EXTRACTABLE] is True
    with pytest.raises(raw_pkcs11.exceptions.AttributeSensitive):
        private[Attribute.VALUE]


@pytest.mark.softhsm
def test_imported_key_is_not_reported_hardware_bound(token: Pkcs11Token, raw_session) -> None:
    label = unique("imported")
    import_software_key(raw_session, SoftwareSigner.generate(Algorithm.ECDSA_P256), label)
    protection = token.signer(label).key_protection()
    assert not protection.local
    assert not protection.hardware_bound


# -- the same key in software and in the token --------------------------------------------------


@pytest.mark.softhsm
@pytest.mark.parametrize("algorithm", list(Algorithm))
def test_key_id_agrees_between_software_and_hsm(
    token: Pkcs11Token, raw_session, algorithm: Algorithm
) -> None:
    software = SoftwareSigner.generate(algorithm)
    label = unique("same")
    import_software_key(raw_session, software, label)
    hsm = token.signer(label)
    assert hsm.algorithm is algorithm
    assert hsm.public_key_raw == software.public_key_raw
    assert hsm.public_key_spki == software.public_key_spki
    assert hsm.key_id == software.key_id == spki_key_id(software.public_key_spki)
    verify(algorithm, software.public_key_raw, hsm.sign(b"m"), b"m")


@pytest.mark.softhsm
@pytest.mark.parametrize("secret, message, expected", RFC8032_VECTORS, ids=["TEST1", "TEST2"])
def test_hsm_ed25519_matches_rfc8032(
    token: Pkcs11Token, raw_session, secret: str, message: str, expected: str
) -> None:
    software = SoftwareSigner.from_ed25519_seed(bytes.fromhex(secret))
    label = unique("rfc8032")
    import_software_key(raw_session, software, label)
    assert token.signer(label).sign(bytes.fromhex(message)).hex() == expected


# -- errors ------------------------------------------------------------------------------------


@pytest.mark.softhsm
def test_wrong_pin(softhsm_token) -> None:
    with pytest.raises(WrongPin, match=f"token '{softhsm_token.label}' refused the PIN"):
        Pkcs11Token.open(softhsm_token.module, softhsm_token.label, "0000")
    # The token still accepts the right PIN afterwards.
    with Pkcs11Token.open(softhsm_token.module, softhsm_token.label, softhsm_token.pin) as opened:
        assert opened.label == softhsm_token.label


@pytest.mark.softhsm
def test_wrong_pin_while_the_token_is_already_logged_in(softhsm_token, token: Pkcs11Token) -> None:
    with pytest.raises(WrongPin, match=f"token '{softhsm_token.label}' refused the PIN"):
        Pkcs11Token.open(softhsm_token.module, softhsm_token.label, "0000")


@pytest.mark.softhsm
def test_missing_token_lists_the_tokens_present(softhsm_token) -> None:
    with pytest.raises(TokenNotFound, match="'no-such-token'") as caught:
        Pkcs11Token.open(softhsm_token.module, "no-such-token", softhsm_token.pin)
    assert f"tokens present: '{softhsm_token.label}'" in str(caught.value)


@pytest.mark.softhsm
def test_missing_key_label(token: Pkcs11Token) -> None:
    with pytest.raises(KeyNotFound, match=f"token '{token.label}'.*'no-such-key'"):
        token.signer("no-such-key")


@pytest.mark.softhsm
def test_unsupported_algorithm(token: Pkcs11Token, raw_session) -> None:
    with pytest.raises(UnsupportedAlgorithm, match="rsa-2048"):
        token.generate_key(unique("rsa"), "rsa-2048")  # type: ignore[arg-type]
    # A key of a curve we do not sign with, made on the token by someone else.
    label = unique("p521")
    raw_session.generate_keypair(
        KeyType.EC,
        label=label,
        store=True,
        public_template={Attribute.EC_PARAMS: encode_named_curve_parameters("secp521r1")},
    )
    with pytest.raises(UnsupportedAlgorithm, match=f"key '{label}'.*only Ed25519, P-256 and P-384"):
        token.signer(label)


@pytest.mark.softhsm
def test_bad_module_path(softhsm_token, tmp_path: Path) -> None:
    missing = str(tmp_path / "libnothere.so")
    with pytest.raises(ModuleNotFound, match=re.escape(missing)):
        Pkcs11Token.open(missing, softhsm_token.label, softhsm_token.pin)
    not_a_library = tmp_path / "libfake.so"
    not_a_library.write_bytes(b"not an ELF file")
    with pytest.raises(ModuleNotFound, match=r"libfake\.so.*did not load"):
        Pkcs11Token.open(str(not_a_library), softhsm_token.label, softhsm_token.pin)


@pytest.mark.softhsm
def test_label_in_use_is_refused(token: Pkcs11Token) -> None:
    label = unique("taken")
    first = token.generate_key(label, Algorithm.ED25519)
    with pytest.raises(SignerError, match="already holds a key labelled"):
        token.generate_key(label, Algorithm.ECDSA_P256)
    assert token.signer(label).key_id == first.key_id


# -- sessions, logins and threads --------------------------------------------------------------


@pytest.mark.softhsm
@pytest.mark.parametrize("algorithm", [Algorithm.ED25519, Algorithm.ECDSA_P256])
def test_four_threads_share_one_signer(token: Pkcs11Token, algorithm: Algorithm) -> None:
    signer = token.generate_key(unique("threads"), algorithm)
    results: list[tuple[bytes, bytes]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(4)

    def work(worker: int) -> None:
        start.wait()
        try:
            for i in range(50):
                message = f"worker {worker} reading {i}".encode()
                signature = signer.sign(message)
                with lock:
                    results.append((message, signature))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(results) == 200
    for message, signature in results:
        verify(algorithm, signer.public_key_raw, signature, message)
        verify_independently(algorithm, signer.public_key_spki, signature, message)


@pytest.mark.softhsm
def test_signers_on_separate_sessions_sign_in_parallel(token: Pkcs11Token) -> None:
    # python-pkcs11 initialises the module without CKF_OS_LOCKING_OK, so SoftHSM2 takes no locks:
    # without our per-module lock this crashes the process (heap corruption, segfault).
    signers = [
        token.generate_key(unique("parallel"), algorithm)
        for algorithm in (Algorithm.ED25519, Algorithm.ED25519, Algorithm.ECDSA_P256)
    ]
    signers.append(token.signer(signers[0].label))  # same key, another session
    results: list[tuple[Pkcs11Signer, bytes, bytes]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(len(signers) + 1)

    def sign_many(signer: Pkcs11Signer) -> None:
        start.wait()
        try:
            for i in range(150):
                message = f"{signer.label} {i}".encode()
                signature = signer.sign(message)
                with lock:
                    results.append((signer, message, signature))
        except BaseException as exc:
            errors.append(exc)

    def browse_token() -> None:
        start.wait()
        try:
            for _ in range(30):
                token.labels()
                token.signer(signers[1].label).close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=sign_many, args=(signer,)) for signer in signers]
    threads.append(threading.Thread(target=browse_token))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(results) == 150 * len(signers)
    for signer, message, signature in results:
        verify(signer.algorithm, signer.public_key_raw, signature, message)


@pytest.mark.softhsm
def test_closing_one_token_leaves_others_logged_in(softhsm_token, token: Pkcs11Token) -> None:
    # PKCS#11 logins are per process: a naive close (C_Logout) would end the other's login too.
    signer = token.generate_key(unique("survivor"), Algorithm.ED25519)
    second = Pkcs11Token.open(softhsm_token.module, softhsm_token.label, softhsm_token.pin)
    second_signer = second.signer(signer.label)
    second.close()
    verify(Algorithm.ED25519, signer.public_key_raw, signer.sign(b"still here"), b"still here")
    with pytest.raises(SignerError, match="closed"):
        second_signer.sign(b"m")
    with pytest.raises(SignerError, match="closed"):
        second.signer(signer.label)
    second.close()  # idempotent


# -- pkcs11: URI specs -------------------------------------------------------------------------


def uri(softhsm_token, key_label: str, pin_query: str | None = None) -> str:
    pin_query = pin_query or f"pin-value={softhsm_token.pin}"
    return (
        f"pkcs11:token={quote(softhsm_token.label, safe='')};object={quote(key_label, safe='')}"
        f"?module-path={softhsm_token.module}&{pin_query}"
    )


@pytest.mark.softhsm
def test_uri_generate_and_open(
    softhsm_token, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    label = unique("meter 17; gateway/A")  # needs percent-encoding
    with generate_signer(uri(softhsm_token, label), Algorithm.ECDSA_P256) as created:
        assert isinstance(created, Pkcs11Signer)
        assert created.label == label
        key_id = created.key_id

    monkeypatch.setenv("CARBONLEDGER_TEST_PIN", softhsm_token.pin)
    pin_file = tmp_path / "pin"
    pin_file.write_text(softhsm_token.pin + "\n")
    for pin_query in (
        None,
        "pin-source=env:CARBONLEDGER_TEST_PIN",
        f"pin-source=file:{pin_file}",
        f"pin-source=file://{pin_file}",
    ):
        signer = open_signer(uri(softhsm_token, label, pin_query))
        try:
            assert signer.key_id == key_id
            verify(Algorithm.ECDSA_P256, signer.public_key_raw, signer.sign(b"m"), b"m")
        finally:
            signer.close()
        with pytest.raises(SignerError, match="closed"):
            signer.sign(b"m")


@pytest.mark.softhsm
def test_uri_errors_reach_the_token(softhsm_token) -> None:
    with pytest.raises(WrongPin):
        open_signer(uri(softhsm_token, "whatever", "pin-value=0000"))
    with pytest.raises(KeyNotFound, match="'no-such-key'"):
        open_signer(uri(softhsm_token, "no-such-key"))
    with pytest.raises(ModuleNotFound, match=re.escape("/nonexistent/libp11.so")):
        open_signer(
            f"pkcs11:token={softhsm_token.label};object=x"
            "?module-path=/nonexistent/libp11.so&pin-value=1"
        )


def test_uri_parsing_percent_decodes() -> None:
    parsed = parse_spec(
        "pkcs11:token=City%20Hall%3B%20HSM;object=log%2Fkey%C3%A9;type=private"
        "?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=12%2634"
    )
    assert parsed == Pkcs11KeySpec(
        module_path="/usr/lib/softhsm/libsofthsm2.so",
        token="City Hall; HSM",
        object="log/keyé",
        pin_value="12&34",
    )
    assert "12&34" not in repr(parsed)
    upper = parse_spec("PKCS11:TOKEN=t;Object=o?Module-Path=/m.so&PIN-SOURCE=env:PIN")
    assert upper == Pkcs11KeySpec(module_path="/m.so", token="t", object="o", pin_env="PIN")


@pytest.mark.parametrize(
    "spec, problem",
    [
        ("pkcs11:object=o?module-path=/m.so&pin-value=1", "no 'token'"),
        ("pkcs11:token=t?module-path=/m.so&pin-value=1", "no 'object'"),
        ("pkcs11:token=t;object=o?pin-value=1", "no 'module-path'"),
        ("pkcs11:token=t;object=o?module-path=/m.so", "no PIN"),
        ("pkcs11:token=t;object=o?module-path=/m.so&pin-value=1&pin-source=env:P", "both"),
        ("pkcs11:token=t;token=u;object=o?module-path=/m.so&pin-value=1", "more than once"),
        ("pkcs11:token=t;object=o;id=%01?module-path=/m.so&pin-value=1", "'id' is not supported"),
        ("pkcs11:token=t;object=o;type=public?module-path=/m.so&pin-value=1", "'private'"),
        ("pkcs11:token=t;object=o;colour=red?module-path=/m.so&pin-value=1", "unknown path"),
        ("pkcs11:token=t;object=o;x-vendor=1?module-path=/m.so&pin-value=1", "vendor path"),
        ("pkcs11:token=t;object=o?module-name=softhsm2&pin-value=1", "'module-name' is not"),
        ("pkcs11:token=t;object=o?module-path=/m.so&pin-source=|/bin/pin", "'env:VAR'"),
        ("pkcs11:token=t;object=o?module-path=/m.so&pin-source=env:1X", "environment variable"),
        ("pkcs11:token=t;object=o?module-path=/m.so&pin-source=file://host/p", "must be local"),
        ("pkcs11:token=t;object=o/k?module-path=/m.so&pin-value=1", "percent-encoded"),
        ("pkcs11:token=t;object=a b?module-path=/m.so&pin-value=1", "percent-encoded"),
        ("pkcs11:token=t;object=%zz?module-path=/m.so&pin-value=1", "bad %XX"),
        ("pkcs11:token=t;object=%ff?module-path=/m.so&pin-value=1", "UTF-8"),
        ("pkcs11:token=t;object?module-path=/m.so&pin-value=1", "has no '='"),
    ],
)
def test_uri_parsing_errors(spec: str, problem: str) -> None:
    with pytest.raises(InvalidSignerSpec, match=problem):
        parse_spec(spec)


def test_uri_parsing_never_shows_the_pin() -> None:
    with pytest.raises(InvalidSignerSpec) as caught:
        parse_spec("pkcs11:token=t;object=o?module-path=/m.so&pin-value=se cret")
    assert "se cret" not in str(caught.value)


def test_uri_pin_source_must_resolve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CARBONLEDGER_TEST_UNSET", raising=False)
    with pytest.raises(InvalidSignerSpec, match=r"'CARBONLEDGER_TEST_UNSET'.*not set"):
        open_signer(
            "pkcs11:token=t;object=o?module-path=/m.so&pin-source=env:CARBONLEDGER_TEST_UNSET"
        )
    with pytest.raises(InvalidSignerSpec, match="cannot read the PIN file"):
        open_signer(f"pkcs11:token=t;object=o?module-path=/m.so&pin-source=file:{tmp_path}/nope")
