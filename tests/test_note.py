"""C2SP signed notes: the spec's example, the Go checksum database's real note, Go's documented
example, refusals of malformed notes, and round trips with our own Ed25519 keys."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hardware_signers.base import Algorithm
from hardware_signers.software import SoftwareSigner
from ledger.errors import NoteError
from ledger.note import (
    COSIGNATURE_V1,
    ED25519,
    MAX_SIGNATURES,
    NoteSignature,
    NoteSigner,
    VerifierKey,
    add_signatures,
    key_id,
    open_note,
    sign_note,
    split_note,
)

FIXTURE_NOTES = ("c2sp-example", "sum-golang-org")

# From the package documentation of golang.org/x/mod/sumdb/note (BSD-3-Clause).
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_SIGNATURE = (
    "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpR"
    "Zb6KE6RyyBwJnAM=\n"
)
GO_ENOCH_SIGNATURE = (
    "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33"
    "WWd1RvMc+QQ=\n"
)


def fixture(fixtures_dir: Path, name: str) -> tuple[str, bytes]:
    vkey = (fixtures_dir / "notes" / f"{name}.vkey").read_text(encoding="utf-8")
    note = (fixtures_dir / "notes" / f"{name}.note").read_bytes()
    return vkey, note


def seeded(name: str, byte: int) -> NoteSigner:
    return NoteSigner(name, SoftwareSigner.from_ed25519_seed(bytes([byte]) * 32))


ALICE = seeded("alice.example/log", 1)
BOB = seeded("bob.example/witness", 2)
CAROL = seeded("carol.example", 3)


# -- test vectors ---------------------------------------------------------------------------------


def test_c2sp_example_note_verifies(fixtures_dir: Path) -> None:
    vkey, note = fixture(fixtures_dir, "c2sp-example")
    key = VerifierKey.parse(vkey.removesuffix("\n"))
    opened = open_note(note, [key])
    assert opened.text == "This is an example message.\n"
    assert opened.verified_by == (key,)
    assert [(s.name, s.key_id.hex()) for s in opened.signatures] == [
        ("example.com/foo", "530d903a")
    ]


def test_sum_golang_org_note_verifies(fixtures_dir: Path) -> None:
    vkey, note = fixture(fixtures_dir, "sum-golang-org")
    key = VerifierKey.parse(vkey.removesuffix("\n"))
    opened = open_note(note, [key])
    assert opened.text.splitlines()[:2] == ["go.sum database tree", "6476701"]
    assert opened.verified_by == (key,)


@pytest.mark.parametrize("name", FIXTURE_NOTES)
def test_fixture_vkey_round_trips_byte_for_byte(fixtures_dir: Path, name: str) -> None:
    vkey, _ = fixture(fixtures_dir, name)
    assert vkey.endswith("\n") and vkey.count("\n") == 1
    key = VerifierKey.parse(vkey.removesuffix("\n"))
    assert key.key_type == ED25519
    assert str(key) + "\n" == vkey
    assert key_id(key.name, ED25519, key.public_key) == key.key_id


@pytest.mark.parametrize("name", FIXTURE_NOTES)
def test_every_single_bit_flip_of_a_fixture_note_is_refused(fixtures_dir: Path, name: str) -> None:
    vkey, note = fixture(fixtures_dir, name)
    key = VerifierKey.parse(vkey.removesuffix("\n"))
    open_note(note, [key])
    for i in range(len(note)):
        for bit in range(8):
            tampered = bytearray(note)
            tampered[i] ^= 1 << bit
            with pytest.raises(NoteError):
                open_note(bytes(tampered), [key])


@pytest.mark.parametrize("name", FIXTURE_NOTES)
@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_any_byte_replaced_in_a_fixture_note_is_refused(
    fixtures_dir: Path, name: str, data: st.DataObject
) -> None:
    vkey, note = fixture(fixtures_dir, name)
    key = VerifierKey.parse(vkey.removesuffix("\n"))
    i = data.draw(st.integers(0, len(note) - 1))
    value = data.draw(st.integers(0, 255).filter(lambda v: v != note[i]))
    tampered = note[:i] + bytes([value]) + note[i + 1 :]
    with pytest.raises(NoteError):
        open_note(tampered, [key])


def test_go_documented_example_signs_byte_for_byte_and_verifies() -> None:
    raw = base64.b64decode(GO_SKEY.split("+", 4)[4])
    assert raw[0] == ED25519
    signer = NoteSigner("PeterNeumann", SoftwareSigner.from_ed25519_seed(raw[1:]))
    assert str(signer.verifier_key) == GO_VKEY
    expected = (GO_TEXT + "\n" + GO_SIGNATURE).encode()
    assert signer.sign(GO_TEXT) == expected
    assert open_note(expected, [VerifierKey.parse(GO_VKEY)]).text == GO_TEXT


def test_go_doubly_signed_example_ignores_the_unknown_key() -> None:
    note = (GO_TEXT + "\n" + GO_SIGNATURE + GO_ENOCH_SIGNATURE).encode()
    key = VerifierKey.parse(GO_VKEY)
    opened = open_note(note, [key])
    assert opened.verified_by == (key,)
    assert [s.name for s in opened.signatures] == ["PeterNeumann", "EnochRoot"]


# -- key ids and verifier keys --------------------------------------------------------------------


def test_key_id_is_the_truncated_hash_of_name_newline_type_key() -> None:
    key = VerifierKey.parse("example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k")
    assert key_id("example.com/foo", ED25519, key.public_key) == bytes.fromhex("530d903a")
    assert key_id("example.com/foo", COSIGNATURE_V1, key.public_key) != key.key_id
    assert key_id("example.com/bar", ED25519, key.public_key) != key.key_id


def test_verifier_key_splits_on_the_first_two_pluses_only() -> None:
    # This key's base64 holds two '+' of its own.
    vkey = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8"
    key = VerifierKey.parse(vkey)
    assert key.name == "sum.golang.org"
    assert len(key.public_key) == 32
    assert str(key) == vkey


@pytest.mark.parametrize(
    ("vkey", "reason"),
    [
        ("example.com/foo+530d903a", "not name\\+keyid\\+key"),
        ("+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", "invalid name"),
        ("example com+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", "invalid name"),
        ("example.com/foo+530D903A+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", "lowercase hex"),
        ("example.com/foo+530d903+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", "lowercase hex"),
        ("example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", "does not match"),
        ("example.com/bar+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", "does not match"),
        (
            "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2",
            "canonical base64",
        ),
        (
            "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2_",
            "canonical base64",
        ),
        (
            "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k=",
            "canonical base64",
        ),
        ("example.com/foo+530d903a+", "no key type"),
        (
            "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3Q==",
            "must be 32 bytes",
        ),
        (
            "example.com/foo+530d903a+A+kyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
            "unknown key type",
        ),
    ],
)
def test_malformed_verifier_keys_are_refused(vkey: str, reason: str) -> None:
    with pytest.raises(NoteError, match=reason):
        VerifierKey.parse(vkey)


def test_unknown_key_types_only_when_allowed() -> None:
    raw = bytes([0x06]) + b"\x07" * 40
    vkey = f"pq.example+01020304+{base64.b64encode(raw).decode()}"
    with pytest.raises(NoteError, match="unknown key type 0x06"):
        VerifierKey.parse(vkey)
    key = VerifierKey.parse(vkey, allow_unknown_types=True)
    assert (key.key_type, key.key_id, key.public_key) == (0x06, bytes([1, 2, 3, 4]), b"\x07" * 40)
    assert str(key) == vkey
    with pytest.raises(NoteError, match="no way to verify"):
        open_note(ALICE.sign("x\n"), [key])


def test_verifier_key_refuses_inconsistent_fields() -> None:
    good = ALICE.verifier_key
    with pytest.raises(NoteError, match="does not match"):
        VerifierKey(good.name, b"\0\0\0\0", ED25519, good.public_key)
    with pytest.raises(NoteError, match="4 bytes"):
        VerifierKey(good.name, good.key_id[:3], ED25519, good.public_key)
    with pytest.raises(NoteError, match="invalid key name"):
        VerifierKey.from_public_key("a+b", ED25519, good.public_key)
    with pytest.raises(NoteError, match="invalid key name"):
        VerifierKey.from_public_key("a\u00a0b", ED25519, good.public_key)


NAME_CHARS = st.sampled_from("abcdefghijklmnopqrstuvwxyzABCXYZ0123456789./-_:~@éß日本")


@settings(max_examples=100, deadline=None)
@given(
    name=st.text(NAME_CHARS, min_size=1, max_size=40),
    key_type=st.sampled_from([ED25519, COSIGNATURE_V1]),
    public_key=st.binary(min_size=32, max_size=32),
)
def test_verifier_key_string_round_trips(name: str, key_type: int, public_key: bytes) -> None:
    key = VerifierKey.from_public_key(name, key_type, public_key)
    text = str(key)
    assert VerifierKey.parse(text) == key
    assert str(VerifierKey.parse(text)) == text


# -- malformed notes ------------------------------------------------------------------------------


def good_note() -> bytes:
    return ALICE.sign("first line\nsecond line\n")


@pytest.mark.parametrize(
    ("note", "reason"),
    [
        (b"tab\there\n\n" + good_note().split(b"\n\n")[1], "line 1: control character U\\+0009"),
        (b"ok\ncr\r\n\n" + good_note().split(b"\n\n")[1], "line 2: control character U\\+000D"),
        (b"nul\0\n\n" + good_note().split(b"\n\n")[1], "line 1: control character U\\+0000"),
        (good_note().replace(b"\xe2\x80\x94 ", b"\xe2\x80\x94\t"), "line 4: control character"),
        (b"text\n" + good_note().split(b"\n\n")[1], "no blank line"),
        (good_note().rstrip(b"\n"), "line 4: .*does not end in a newline"),
        (b"text\n\n", "line 3: no signature lines"),
        (b"caf\xe9\n\n" + good_note().split(b"\n\n")[1], "line 1: not valid UTF-8"),
        (good_note() + b"\xff", "line 5: not valid UTF-8"),
        (good_note().replace("— ".encode(), b"-- "), "line 4: .*em dash"),
        (good_note().replace(b"alice.example/log ", b"alice+log "), "line 4: invalid key name"),
        (good_note()[:-3] + b"!=\n", "line 4: .*not canonical base64"),
        (good_note()[:-2] + b"\n", "line 4: .*not canonical base64"),
        (b"text\n\n\xe2\x80\x94 alice AAAAAA==\n", "line 3: the signature is 4 bytes"),
        (b"text\n\n\xe2\x80\x94 alice\n", "line 3: the signature is 0 bytes"),
        (b"text\n\n\xe2\x80\x94  AAAAAAA=\n", "line 3: invalid key name"),
    ],
)
def test_malformed_notes_are_refused_with_a_reason(note: bytes, reason: str) -> None:
    with pytest.raises(NoteError, match=reason):
        open_note(note, [ALICE.verifier_key])
    with pytest.raises(NoteError, match=reason):
        split_note(note)


def test_non_canonical_base64_spelling_of_a_valid_signature_is_refused() -> None:
    note = good_note()
    line = note.split(b"\n\n")[1]
    encoded = line.split(b" ")[2].rstrip(b"\n")
    assert encoded.endswith(b"=") and not encoded.endswith(b"==")
    # Two pad bits at the end of the last quantum: flipping them decodes to the same bytes.
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = alphabet.index(encoded[-2:-1])
    respelled = encoded[:-2] + alphabet[last ^ 1 : (last ^ 1) + 1] + b"="
    assert respelled != encoded
    assert base64.b64decode(respelled) == base64.b64decode(encoded)
    with pytest.raises(NoteError, match="not canonical base64"):
        open_note(note.replace(encoded, respelled), [ALICE.verifier_key])


def test_at_most_one_hundred_signatures() -> None:
    text = "text\n"
    signature = ALICE.signature(text).line()
    unknown = BOB.signature(text).line()
    hundred = text.encode() + b"\n" + signature + unknown * (MAX_SIGNATURES - 1)
    assert open_note(hundred, [ALICE.verifier_key]).verified_by == (ALICE.verifier_key,)
    with pytest.raises(NoteError, match="101 signature lines; at most 100"):
        open_note(hundred + unknown, [ALICE.verifier_key])


def test_a_note_without_a_known_signature_is_refused() -> None:
    note = BOB.sign("text\n")
    with pytest.raises(NoteError, match=r"no signature from a known key .*bob.example/witness"):
        open_note(note, [ALICE.verifier_key])
    with pytest.raises(NoteError, match="no signature from a known key"):
        open_note(note, [])


# -- round trips with our own keys ----------------------------------------------------------------


def test_generated_key_round_trip() -> None:
    signer = NoteSigner("example.org/fresh", SoftwareSigner.generate(Algorithm.ED25519))
    note = signer.sign(b"hello\n")
    assert note.startswith(b"hello\n\n\xe2\x80\x94 example.org/fresh ")
    opened = open_note(note, [signer.verifier_key])
    assert opened.text == "hello\n"
    assert opened.signatures[0].key_id == signer.verifier_key.key_id
    assert len(opened.signatures[0].signature) == 64


@pytest.mark.parametrize("text", ["\n", "a\n\nb\n", "ends with a blank line\n\n", "— x y\n\n— z\n"])
def test_texts_with_blank_lines_round_trip(text: str) -> None:
    assert open_note(ALICE.sign(text), [ALICE.verifier_key]).text == text


NOTE_TEXT = st.text(
    st.characters(exclude_categories=("Cs",), exclude_characters=[chr(c) for c in range(32)])
    | st.just("\n"),
    max_size=200,
).map(lambda s: s + "\n")


@settings(max_examples=150, deadline=None)
@given(text=NOTE_TEXT)
def test_any_valid_text_round_trips(text: str) -> None:
    note = sign_note(text, [ALICE, BOB])
    opened = open_note(note, [ALICE.verifier_key, BOB.verifier_key])
    assert opened.text == text
    assert opened.verified_by == (ALICE.verifier_key, BOB.verifier_key)
    assert [s.line() for s in opened.signatures] == note.split(text.encode() + b"\n", 1)[
        1
    ].splitlines(keepends=True)


def test_several_signers_each_verify_alone() -> None:
    note = sign_note("shared\n", [ALICE, BOB, CAROL])
    for signer in (ALICE, BOB, CAROL):
        assert open_note(note, [signer.verifier_key]).verified_by == (signer.verifier_key,)
    # Verified keys are listed in the order their signatures appear in the note.
    everyone = [CAROL.verifier_key, ALICE.verifier_key, BOB.verifier_key]
    in_note_order = (ALICE.verifier_key, BOB.verifier_key, CAROL.verifier_key)
    assert open_note(note, everyone).verified_by == in_note_order


def test_unknown_signatures_sharing_a_name_or_an_id_are_ignored() -> None:
    text = "text\n"
    # Same name as ALICE, another key: the key id differs, so it is unknown.
    same_name = seeded(ALICE.name, 9)
    assert same_name.verifier_key.key_id != ALICE.verifier_key.key_id
    # Same key id as ALICE under another name, garbage signature: unknown too.
    same_id = NoteSignature("mallory.example", ALICE.verifier_key.key_id, b"\x55" * 64)
    note = sign_note(text, [same_name, ALICE]) + same_id.line()
    opened = open_note(note, [ALICE.verifier_key])
    assert opened.verified_by == (ALICE.verifier_key,)
    assert len(opened.signatures) == 3


def test_a_failing_known_signature_rejects_the_note() -> None:
    note = sign_note("text\n", [ALICE, BOB])
    forged = NoteSignature(BOB.name, BOB.verifier_key.key_id, b"\x00" * 64).line()
    tampered = note.rsplit("— ".encode(), 1)[0] + forged
    assert open_note(tampered, [ALICE.verifier_key]).verified_by == (ALICE.verifier_key,)
    with pytest.raises(NoteError, match=r"line 4: signature by known key bob.example/witness"):
        open_note(tampered, [ALICE.verifier_key, BOB.verifier_key])


def test_a_bad_repeat_of_a_verified_signature_rejects_the_note() -> None:
    note = ALICE.sign("text\n")
    repeat = NoteSignature(ALICE.name, ALICE.verifier_key.key_id, b"\x01" * 64).line()
    assert open_note(note + ALICE.signature("text\n").line(), [ALICE.verifier_key])
    with pytest.raises(NoteError, match=r"line 4: .*does not verify"):
        open_note(note + repeat, [ALICE.verifier_key])


def test_signature_of_another_text_is_refused() -> None:
    note = ALICE.sign("the real text\n")
    swapped = b"another text\n\n" + note.split(b"\n\n", 1)[1]
    with pytest.raises(NoteError, match="does not verify"):
        open_note(swapped, [ALICE.verifier_key])


def test_tampering_an_unknown_signature_never_breaks_the_known_one() -> None:
    note = sign_note("text\n", [ALICE, BOB])
    start = note.rindex("— ".encode()) + len(f"— {BOB.name} ".encode())
    still_open = 0
    for i in range(start, len(note) - 1):
        tampered = bytearray(note)
        tampered[i] ^= 0x01
        try:
            opened = open_note(bytes(tampered), [ALICE.verifier_key])
        except NoteError as exc:
            assert "canonical base64" in str(exc)
            continue
        assert opened.verified_by == (ALICE.verifier_key,)
        still_open += 1
    assert still_open > 0


def test_ambiguous_verifier_keys_are_refused() -> None:
    key = ALICE.verifier_key
    twin = VerifierKey(key.name, key.key_id, 0x7F, b"other")  # unknown type: id taken as written
    with pytest.raises(NoteError, match="ambiguous verifier keys"):
        open_note(ALICE.sign("x\n"), [key, twin], checks={ED25519: _never, 0x7F: _never})
    assert open_note(ALICE.sign("x\n"), [key, key]).verified_by == (key,)


def _never(key: VerifierKey, text: bytes, signature: bytes) -> bool:
    return False


def test_cosignature_keys_need_the_checkpoint_module() -> None:
    cosigner_key = VerifierKey.from_public_key("w.example", COSIGNATURE_V1, b"\x01" * 32)
    with pytest.raises(NoteError, match=r"no way to verify 'w.example': key type 0x04"):
        open_note(ALICE.sign("x\n"), [ALICE.verifier_key, cosigner_key])


# -- signing refusals -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("no final newline", "end in a newline"),
        ("tab\tinside\n", "control character U\\+0009"),
        ("cr\r\n", "control character U\\+000D"),
        (b"\xff\n", "not valid UTF-8"),
        ("lone \ud800 surrogate\n", "lone surrogate"),
    ],
)
def test_signing_refuses_texts_a_note_cannot_carry(text: str | bytes, reason: str) -> None:
    with pytest.raises(NoteError, match=reason):
        ALICE.sign(text)


def test_note_signer_refuses_bad_names_and_non_ed25519_keys() -> None:
    key = SoftwareSigner.from_ed25519_seed(b"\x01" * 32)
    for name in ("", "has space", "has+plus", "tab\tname"):
        with pytest.raises(NoteError, match="invalid key name"):
            NoteSigner(name, key)
    with pytest.raises(NoteError, match="must be Ed25519"):
        NoteSigner("ecdsa.example", SoftwareSigner.generate(Algorithm.ECDSA_P256))
    with pytest.raises(NoteError, match="at least one signer"):
        sign_note("x\n", [])


# -- adding signatures ----------------------------------------------------------------------------


def test_add_signatures_appends_and_replaces_by_key() -> None:
    note = ALICE.sign("text\n")
    both = add_signatures(note, [BOB.signature("text\n").line()])
    assert both == sign_note("text\n", [ALICE, BOB])
    opened = open_note(both, [ALICE.verifier_key, BOB.verifier_key])
    assert opened.verified_by == (ALICE.verifier_key, BOB.verifier_key)
    # A new line from ALICE replaces ALICE's old one; it moves after the existing ones.
    again = add_signatures(both, [ALICE.signature("text\n").line().decode()])
    assert [s.name for s in split_note(again)[1]] == [BOB.name, ALICE.name]


def test_add_signatures_refuses_malformed_lines_and_too_many() -> None:
    note = ALICE.sign("text\n")
    with pytest.raises(NoteError, match="em dash"):
        add_signatures(note, [b"- bob AAAAAAA=\n"])
    with pytest.raises(NoteError, match="several lines"):
        add_signatures(note, [BOB.signature("text\n").line() * 2])
    many = [seeded(f"w{i}.example", 10).signature("text\n").line() for i in range(MAX_SIGNATURES)]
    with pytest.raises(NoteError, match="at most 100"):
        add_signatures(note, many)
    with pytest.raises(NoteError, match="no blank line"):
        add_signatures(b"text\n", [BOB.signature("text\n").line()])
