"""C2SP checkpoints and Ed25519 cosignatures: the Go checksum database's real checkpoint, a real
witness cosignature, the spec's message layout, strict parsing and round trips with our keys."""

from __future__ import annotations

import base64
import hashlib
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hardware_signers.base import Algorithm
from hardware_signers.software import SoftwareSigner
from ledger.checkpoint import (
    MAX_TIMESTAMP,
    MAX_TREE_SIZE,
    Checkpoint,
    CheckpointSigner,
    Cosignature,
    Cosigner,
    cosignature_message,
    open_checkpoint,
    verify_cosignature,
)
from ledger.errors import NoteError
from ledger.note import (
    COSIGNATURE_V1,
    ED25519,
    NoteSignature,
    NoteSigner,
    VerifierKey,
    add_signatures,
    open_note,
)

# A real checkpoint of the transparency.dev staging CT log "arche2025h1", with its Ed25519 note
# signature, a static-ct-api (type 0x05) signature and four witness cosignatures, as quoted in a
# public test suite; the log and remora.n621.de keys are the operators' published vkeys.
ARCHE_NOTE = """arche2025h1.staging.ct.transparency.dev
1432088532
U7WM79jrzyhGZ5/GUBTpM7NzwdyfFx61t3RovgcC4Ro=

— arche2025h1.staging.ct.transparency.dev zTM8sQAAAZ5W0WdjBAMARjBEAiBjW5IQf9pvsYLfQFX6hoGREPMHbdQ3urbllzalApkptQIgIpwtEroeW2BXaHAI4kJXFbon5Ch9MNL5zRNZ55lvGt0=
— arche2025h1.staging.ct.transparency.dev ui8GwCF1+kWqZrxGdhj4aX3gcw7XUlXQQabg/27lefwhUkzbC3NygNI75MdhL1bfTW9g8Ei59RA23oHP7Ry1k3ZFWwQ=
— transparency.dev/DEV:witness-little-garden 2AQqhwAAAABqEiEgzgFIqqhbUoDwjMWE6UP8nd8/KYTzwZ2rhIgcqoXHAwVkjZr4AscylP3v7sEodkRAErumC2q44vdgJY096st5BQ==
— witness1.smartit.nu/witness1 pIyCDwAAAABqEiEghIp82KWebrw7/oHQwlTAm3g2RKS4+eebl8eO0WH+/iEcxZ75W3u5hNI7TOQtmJbqmNWVuE0tgh0XwzdZsDsUAQ==
— remora.n621.de 2net5wAAAABqEiEgPlfF3V06o0Y+fHM+J5J9s27wgxxcOVSpZ/2g/KSiXCg9DEZI+aVCIobWX9sXTynk5XeU/zZ0WBxtqB0DrAWfBw==
— witness.stagemole.eu Z/euoAAAAABqEiEgw0i+7g2ENfDAWHmtRzCfKTHSDwYDJA2NmKeGi9Y8FtEyOUvVr+AJmIY/2TUFucgKi7lI7cUiOvKFYe/TmN9DAg==
""".encode()  # noqa: E501
ARCHE_LOG = (
    "arche2025h1.staging.ct.transparency.dev+ba2f06c0+AU0vHmlGCS/PdN8b2OaGmKprLI8HKM+dJ472xgFYh15f"
)
REMORA = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2"
REMORA_TIMESTAMP = 1779573024

# The checkpoint and signed message of the c2sp.org/tlog-cosignature example.
SPEC_CHECKPOINT = (
    b"example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
)
SPEC_MESSAGE = b"cosignature/v1\ntime 1679315147\n" + SPEC_CHECKPOINT

ORIGIN = "carbonledger.example/log"
LOG = CheckpointSigner(NoteSigner(ORIGIN, SoftwareSigner.from_ed25519_seed(b"\x11" * 32)))
WITNESS_A = Cosigner("witness-a.example", SoftwareSigner.from_ed25519_seed(b"\x22" * 32))
WITNESS_B = Cosigner("witness-b.example", SoftwareSigner.from_ed25519_seed(b"\x33" * 32))
CHECKPOINT = Checkpoint(ORIGIN, 12345, hashlib.sha256(b"root").digest())


def arche_line(name: str) -> bytes:
    return next(line + b"\n" for line in ARCHE_NOTE.split(b"\n") if f"— {name} ".encode() in line)


# -- real data ------------------------------------------------------------------------------------


def test_sum_golang_org_checkpoint_verifies_and_parses(fixtures_dir: Path) -> None:
    vkey = (fixtures_dir / "notes" / "sum-golang-org.vkey").read_text().removesuffix("\n")
    note = (fixtures_dir / "notes" / "sum-golang-org.note").read_bytes()
    key = VerifierKey.parse(vkey)
    signed = open_checkpoint(note, key, origin="go.sum database tree")
    assert signed.checkpoint.origin == "go.sum database tree"
    assert signed.checkpoint.size == 6_476_701
    assert signed.checkpoint.root_hash == base64.b64decode(
        "mb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk="
    )
    assert signed.checkpoint.extensions == ()
    assert signed.note == note
    assert signed.cosignatures == ()
    assert note.startswith(signed.checkpoint.body() + b"\n")
    # The origin defaults to the key name, which sum.golang.org does not use.
    with pytest.raises(NoteError, match=r"origin 'go.sum database tree' is not 'sum.golang.org'"):
        open_checkpoint(note, key)


def test_a_note_that_is_not_a_checkpoint_is_refused(fixtures_dir: Path) -> None:
    vkey = (fixtures_dir / "notes" / "c2sp-example.vkey").read_text().removesuffix("\n")
    note = (fixtures_dir / "notes" / "c2sp-example.note").read_bytes()
    with pytest.raises(NoteError, match="1 lines"):
        open_checkpoint(note, VerifierKey.parse(vkey))


def test_real_witness_cosignature_verifies() -> None:
    log, remora = VerifierKey.parse(ARCHE_LOG), VerifierKey.parse(REMORA)
    assert remora.key_type == COSIGNATURE_V1
    signed = open_checkpoint(ARCHE_NOTE, log, [remora])
    assert signed.checkpoint.size == 1_432_088_532
    assert signed.cosignatures == (
        Cosignature("remora.n621.de", bytes.fromhex("da77ade7"), REMORA_TIMESTAMP),
    )
    line = arche_line("remora.n621.de")
    assert verify_cosignature(remora, signed.checkpoint, line) == REMORA_TIMESTAMP
    other = Checkpoint(
        signed.checkpoint.origin, signed.checkpoint.size + 1, signed.checkpoint.root_hash
    )
    with pytest.raises(NoteError, match="does not verify"):
        verify_cosignature(remora, other, line)
    # The same Ed25519 key as a plain (type 0x01) key has another key id: the line is unknown.
    plain = VerifierKey.from_public_key(remora.name, ED25519, remora.public_key)
    assert plain.key_id != remora.key_id
    assert open_note(ARCHE_NOTE, [log, plain]).verified_by == (log,)


def test_spec_example_message_layout() -> None:
    checkpoint = Checkpoint.parse(SPEC_CHECKPOINT)
    assert (checkpoint.origin, checkpoint.size) == ("example.com/behind-the-sofa", 20852163)
    assert cosignature_message(checkpoint, 1679315147) == SPEC_MESSAGE


def test_spec_example_cosignature_line_has_timestamp_after_key_id() -> None:
    # c2sp.org/tlog-cosignature's example line: key id, then u64be(time), then 64 bytes.
    line = (
        "— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dl"
        "rDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n"
    )
    sig = NoteSignature.parse_line(line)
    assert len(sig.signature) == 8 + 64
    assert int.from_bytes(sig.signature[:8], "big") == 1679315147


# -- cosignatures with our own keys ---------------------------------------------------------------


def test_cosign_and_verify() -> None:
    line = WITNESS_A.cosign(CHECKPOINT, timestamp=1_700_000_000)
    sig = NoteSignature.parse_line(line)
    assert sig.name == WITNESS_A.name
    assert sig.key_id == WITNESS_A.verifier_key.key_id
    assert sig.signature[:8] == (1_700_000_000).to_bytes(8, "big")
    assert verify_cosignature(WITNESS_A.verifier_key, CHECKPOINT, line) == 1_700_000_000
    assert verify_cosignature(WITNESS_A.verifier_key, CHECKPOINT, line.decode()) == 1_700_000_000


def test_cosignature_signs_exactly_the_spec_message() -> None:
    seed = b"\x44" * 32
    cosigner = Cosigner("w.example", SoftwareSigner.from_ed25519_seed(seed))
    line = cosigner.cosign(CHECKPOINT, timestamp=42)
    expected = SoftwareSigner.from_ed25519_seed(seed).sign(
        b"cosignature/v1\ntime 42\n" + CHECKPOINT.body()
    )
    assert NoteSignature.parse_line(line).signature == (42).to_bytes(8, "big") + expected


def test_cosign_defaults_to_now() -> None:
    before = int(time.time())
    line = WITNESS_A.cosign(CHECKPOINT)
    after = int(time.time())
    assert before <= verify_cosignature(WITNESS_A.verifier_key, CHECKPOINT, line) <= after


def test_cosignature_key_id_differs_from_the_plain_key_id_of_the_same_key() -> None:
    signer = SoftwareSigner.from_ed25519_seed(b"\x22" * 32)
    plain = NoteSigner(WITNESS_A.name, signer).verifier_key
    cosigning = WITNESS_A.verifier_key
    assert plain.public_key == cosigning.public_key
    assert (plain.key_type, cosigning.key_type) == (ED25519, COSIGNATURE_V1)
    assert plain.key_id != cosigning.key_id
    assert str(VerifierKey.parse(str(cosigning))) == str(cosigning)


def test_wrong_timestamp_is_refused() -> None:
    line = WITNESS_A.cosign(CHECKPOINT, timestamp=1_700_000_000)
    sig = NoteSignature.parse_line(line)
    moved = NoteSignature(
        sig.name, sig.key_id, (1_700_000_001).to_bytes(8, "big") + sig.signature[8:]
    ).line()
    with pytest.raises(NoteError, match="does not verify"):
        verify_cosignature(WITNESS_A.verifier_key, CHECKPOINT, moved)


def test_wrong_body_is_refused() -> None:
    line = WITNESS_A.cosign(CHECKPOINT, timestamp=1)
    for other in (
        Checkpoint(ORIGIN, CHECKPOINT.size + 1, CHECKPOINT.root_hash),
        Checkpoint(ORIGIN, CHECKPOINT.size, bytes(32)),
        Checkpoint("other.example/log", CHECKPOINT.size, CHECKPOINT.root_hash),
        Checkpoint(ORIGIN, CHECKPOINT.size, CHECKPOINT.root_hash, ("extension",)),
    ):
        with pytest.raises(NoteError, match="does not verify"):
            verify_cosignature(WITNESS_A.verifier_key, other, line)


def test_wrong_key_is_refused() -> None:
    line = WITNESS_A.cosign(CHECKPOINT, timestamp=1)
    with pytest.raises(NoteError, match=r"not witness-b.example"):
        verify_cosignature(WITNESS_B.verifier_key, CHECKPOINT, line)
    # Same name, another key: the key id differs.
    impostor = Cosigner(WITNESS_A.name, SoftwareSigner.from_ed25519_seed(b"\x99" * 32))
    with pytest.raises(NoteError, match="cosignature is by"):
        verify_cosignature(impostor.verifier_key, CHECKPOINT, line)
    # Same name and key id as WITNESS_A, but the signature is made by another key.
    forged = NoteSignature(
        WITNESS_A.name,
        WITNESS_A.verifier_key.key_id,
        NoteSignature.parse_line(impostor.cosign(CHECKPOINT, timestamp=1)).signature,
    ).line()
    with pytest.raises(NoteError, match="does not verify"):
        verify_cosignature(WITNESS_A.verifier_key, CHECKPOINT, forged)
    with pytest.raises(NoteError, match="not cosignature/v1"):
        verify_cosignature(LOG.verifier_key, CHECKPOINT, line)


def test_timestamps_beyond_2_63_are_refused_even_when_signed() -> None:
    with pytest.raises(NoteError, match=r"outside 0..2\^63-1"):
        WITNESS_A.cosign(CHECKPOINT, timestamp=MAX_TIMESTAMP + 1)
    with pytest.raises(NoteError, match=r"outside 0..2\^63-1"):
        WITNESS_A.cosign(CHECKPOINT, timestamp=-1)
    assert WITNESS_A.cosign(CHECKPOINT, timestamp=MAX_TIMESTAMP)
    signer = SoftwareSigner.from_ed25519_seed(b"\x22" * 32)
    t = MAX_TIMESTAMP + 1
    raw = t.to_bytes(8, "big") + signer.sign(cosignature_message(CHECKPOINT, t))
    line = NoteSignature(WITNESS_A.name, WITNESS_A.verifier_key.key_id, raw).line()
    with pytest.raises(NoteError, match="2\\^63"):
        verify_cosignature(WITNESS_A.verifier_key, CHECKPOINT, line)


def test_short_cosignature_is_refused() -> None:
    line = WITNESS_A.cosign(CHECKPOINT, timestamp=1)
    sig = NoteSignature.parse_line(line)
    short = NoteSignature(sig.name, sig.key_id, sig.signature[:-1]).line()
    with pytest.raises(NoteError, match="64-byte sig"):
        verify_cosignature(WITNESS_A.verifier_key, CHECKPOINT, short)


def test_cosigner_refuses_non_ed25519_keys() -> None:
    with pytest.raises(NoteError, match="must be Ed25519"):
        Cosigner("w.example", SoftwareSigner.generate(Algorithm.ECDSA_P256))
    with pytest.raises(NoteError, match="invalid key name"):
        Cosigner("w example", SoftwareSigner.generate(Algorithm.ED25519))


# -- signed checkpoints ---------------------------------------------------------------------------


def cosigned_note() -> bytes:
    note = LOG.sign(CHECKPOINT)
    return add_signatures(
        note,
        [WITNESS_A.cosign(CHECKPOINT, timestamp=100), WITNESS_B.cosign(CHECKPOINT, timestamp=200)],
    )


def test_log_signed_checkpoint_round_trip() -> None:
    note = LOG.sign(CHECKPOINT)
    assert note.startswith(CHECKPOINT.body() + b"\n\xe2\x80\x94 " + ORIGIN.encode() + b" ")
    signed = open_checkpoint(note, LOG.verifier_key)
    assert signed.checkpoint == CHECKPOINT
    assert signed.cosignatures == ()


def test_open_checkpoint_returns_verified_cosignatures() -> None:
    note = cosigned_note()
    signed = open_checkpoint(
        note, LOG.verifier_key, [WITNESS_A.verifier_key, WITNESS_B.verifier_key]
    )
    assert signed.checkpoint == CHECKPOINT
    assert signed.note == note
    assert signed.cosignatures == (
        Cosignature(WITNESS_A.name, WITNESS_A.verifier_key.key_id, 100),
        Cosignature(WITNESS_B.name, WITNESS_B.verifier_key.key_id, 200),
    )
    # Witnesses it was not told about are ignored.
    only_b = open_checkpoint(note, LOG.verifier_key, [WITNESS_B.verifier_key])
    assert [c.name for c in only_b.cosignatures] == [WITNESS_B.name]


def test_the_log_signature_is_required() -> None:
    cosigned_only = CHECKPOINT.body() + b"\n" + WITNESS_A.cosign(CHECKPOINT, timestamp=1)
    with pytest.raises(NoteError, match="no signature by the log key"):
        open_checkpoint(cosigned_only, LOG.verifier_key, [WITNESS_A.verifier_key])
    with pytest.raises(NoteError, match="no signature from a known key"):
        open_checkpoint(cosigned_only, LOG.verifier_key)


def test_a_failing_known_cosignature_rejects_the_checkpoint() -> None:
    note = LOG.sign(CHECKPOINT)
    stale = WITNESS_A.cosign(Checkpoint(ORIGIN, CHECKPOINT.size - 1, bytes(32)), timestamp=5)
    tampered = add_signatures(note, [stale])
    assert open_checkpoint(tampered, LOG.verifier_key).cosignatures == ()
    with pytest.raises(NoteError, match=r"line 6: signature by known key witness-a.example"):
        open_checkpoint(tampered, LOG.verifier_key, [WITNESS_A.verifier_key])


def test_one_cosignature_per_witness_the_latest() -> None:
    note = LOG.sign(CHECKPOINT) + b"".join(
        WITNESS_A.cosign(CHECKPOINT, timestamp=t) for t in (300, 900, 600)
    )
    signed = open_checkpoint(note, LOG.verifier_key, [WITNESS_A.verifier_key])
    assert signed.cosignatures == (Cosignature(WITNESS_A.name, WITNESS_A.verifier_key.key_id, 900),)


def test_open_checkpoint_refuses_keys_of_the_wrong_type() -> None:
    note = cosigned_note()
    with pytest.raises(NoteError, match="not cosignature/v1"):
        open_checkpoint(note, LOG.verifier_key, [LOG.verifier_key])
    with pytest.raises(NoteError, match="not Ed25519"):
        open_checkpoint(note, WITNESS_A.verifier_key)


def test_origin_must_match() -> None:
    note = LOG.sign(CHECKPOINT)
    assert open_checkpoint(note, LOG.verifier_key, origin=ORIGIN).checkpoint == CHECKPOINT
    with pytest.raises(NoteError, match=r"is not 'other.example/log'"):
        open_checkpoint(note, LOG.verifier_key, origin="other.example/log")
    with pytest.raises(NoteError, match="not this log's"):
        LOG.sign(Checkpoint("other.example/log", 1, bytes(32)))


def test_log_signature_and_cosignatures_cover_extension_lines() -> None:
    extended = Checkpoint(ORIGIN, 7, bytes(range(32)), ("ext one", "ext two"))
    note = add_signatures(LOG.sign(extended), [WITNESS_A.cosign(extended, timestamp=9)])
    signed = open_checkpoint(note, LOG.verifier_key, [WITNESS_A.verifier_key])
    assert signed.checkpoint.extensions == ("ext one", "ext two")
    witness_line = note.split(b"\n\n")[1].splitlines(keepends=True)[1]
    changed = note.replace(b"ext two", b"ext 2")
    with pytest.raises(NoteError, match="does not verify"):
        open_checkpoint(changed, LOG.verifier_key)
    log_only_valid = LOG.sign(Checkpoint(ORIGIN, 7, bytes(range(32)), ("ext one", "ext 2")))
    with pytest.raises(NoteError, match=r"witness-a.example"):
        open_checkpoint(
            add_signatures(log_only_valid, [witness_line]),
            LOG.verifier_key,
            [WITNESS_A.verifier_key],
        )


# -- checkpoint text ------------------------------------------------------------------------------

ORIGINS = st.text(
    st.characters(exclude_categories=("Cs",), exclude_characters=[chr(c) for c in range(32)]),
    min_size=1,
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(
    origin=ORIGINS,
    size=st.integers(0, MAX_TREE_SIZE),
    root=st.binary(min_size=32, max_size=32),
    extensions=st.lists(ORIGINS, max_size=3).map(tuple),
)
def test_checkpoint_text_round_trips(
    origin: str, size: int, root: bytes, extensions: tuple[str, ...]
) -> None:
    checkpoint = Checkpoint(origin, size, root, extensions)
    body = checkpoint.body()
    assert body.decode().split("\n")[1] == str(size)
    assert Checkpoint.parse(body) == checkpoint
    assert Checkpoint.parse(body.decode()).body() == body


def test_checkpoint_body_is_exactly_the_three_lines() -> None:
    root = hashlib.sha256(b"").digest()
    assert Checkpoint("log.example", 0, root).body() == (
        b"log.example\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"
    )


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (b"log\n01\n" + SPEC_CHECKPOINT.split(b"\n")[2] + b"\n", "line 2: .*leading 0"),
        (b"log\n00\n" + SPEC_CHECKPOINT.split(b"\n")[2] + b"\n", "line 2"),
        (b"log\n-1\n" + SPEC_CHECKPOINT.split(b"\n")[2] + b"\n", "line 2"),
        (b"log\n+1\n" + SPEC_CHECKPOINT.split(b"\n")[2] + b"\n", "line 2"),
        (b"log\n 1\n" + SPEC_CHECKPOINT.split(b"\n")[2] + b"\n", "line 2"),
        (b"log\n1_000\n" + SPEC_CHECKPOINT.split(b"\n")[2] + b"\n", "line 2"),
        ("log\n١\n".encode() + SPEC_CHECKPOINT.split(b"\n")[2] + b"\n", "line 2"),
        (b"log\n\n" + SPEC_CHECKPOINT.split(b"\n")[2] + b"\n", "line 2"),
        (b"log\n18446744073709551616\n" + SPEC_CHECKPOINT.split(b"\n")[2] + b"\n", "2\\^64-1"),
        (b"log\n1\n" + base64.b64encode(bytes(31)) + b"\n", "line 3: root hash is 31 bytes"),
        (b"log\n1\n" + base64.b64encode(bytes(33)) + b"\n", "line 3: root hash is 33 bytes"),
        (b"log\n1\n" + base64.b64encode(bytes(32)).rstrip(b"=") + b"\n", "line 3: .*canonical"),
        (b"log\n1\n" + base64.b64encode(bytes(32))[:-2] + b"B=\n", "line 3: .*canonical"),
        (b"log\n1\n" + base64.urlsafe_b64encode(b"\xff" * 32) + b"\n", "line 3: .*canonical"),
        (b"log\n1\n", "2 lines"),
        (b"log\n1\n" + base64.b64encode(bytes(32)), "end in a newline"),
        (b"", "end in a newline"),
        (b"\n1\n" + base64.b64encode(bytes(32)) + b"\n", "origin must be non-empty"),
        (b"log\n1\n" + base64.b64encode(bytes(32)) + b"\n\n", "line 4: extension lines"),
        (b"log\n1\n" + base64.b64encode(bytes(32)) + b"\next\n\nmore\n", "line 5: extension"),
        (b"l\tg\n1\n" + base64.b64encode(bytes(32)) + b"\n", "origin has a newline or control"),
        (b"l\xffg\n1\n" + base64.b64encode(bytes(32)) + b"\n", "not valid UTF-8"),
    ],
)
def test_malformed_checkpoints_are_refused(text: bytes, reason: str) -> None:
    with pytest.raises(NoteError, match=reason):
        Checkpoint.parse(text)


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (("log", -1, bytes(32)), "outside 0..2\\^64-1"),
        (("log", MAX_TREE_SIZE + 1, bytes(32)), "outside 0..2\\^64-1"),
        (("log", True, bytes(32)), "must be an int"),
        (("log", 1, bytes(31)), "32 bytes"),
        (("", 1, bytes(32)), "origin must be non-empty"),
        (("a\nb", 1, bytes(32)), "origin has a newline"),
        (("log", 1, bytes(32), ("",)), "extension line 1 must be non-empty"),
        (("log", 1, bytes(32), ("ok", "x\ny")), "extension line 2 has a newline"),
    ],
)
def test_impossible_checkpoints_cannot_be_made(args: tuple, reason: str) -> None:
    with pytest.raises(NoteError, match=reason):
        Checkpoint(*args)
