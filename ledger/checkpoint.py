"""C2SP checkpoints (c2sp.org/tlog-checkpoint@v1.0.0) and Ed25519 witness cosignatures
(c2sp.org/tlog-cosignature@v1.0.1, signature type 0x04).

A checkpoint is the signed note text ``origin\\nsize\\nbase64(root)\\n`` plus optional extension
lines. A cosignature is a note signature line whose bytes are key id || u64be(time) ||
Ed25519(``"cosignature/v1\\ntime <time>\\n"`` || checkpoint text).

Parsing is stricter than transparency-dev/formats (which takes ``strconv.ParseUint`` sizes and any
base64): the size has no leading zeros, the root is exactly 32 bytes in canonical base64, so
``Checkpoint.parse(text).body() == text`` for every text it accepts.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass

from hardware_signers.base import Algorithm, Signer
from ledger.errors import NoteError
from ledger.note import (
    COSIGNATURE_V1,
    ED25519,
    ED25519_SIGNATURE_SIZE,
    NoteSignature,
    NoteSigner,
    VerifierKey,
    decode_base64,
    encode_base64,
    is_valid_name,
    open_note,
    verify_ed25519,
)

HASH_SIZE = 32
MAX_TREE_SIZE = 2**64 - 1
MAX_TIMESTAMP = 2**63 - 1  # tlog-cosignature: the timestamp MUST NOT exceed 2^63 - 1
TIMESTAMP_SIZE = 8
COSIGNATURE_HEADER = b"cosignature/v1\n"

_SIZE = re.compile(r"0|[1-9][0-9]{0,19}")  # [0-9], not \d: no other scripts' digits
_CONTROL = re.compile(r"[\x00-\x1f]")


@dataclass(frozen=True)
class Checkpoint:
    """A log's tree head: origin, tree size, RFC 6962 root hash and opaque extension lines."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_line(self.origin, "origin")
        if isinstance(self.size, bool) or not isinstance(self.size, int):
            raise NoteError(f"tree size must be an int, not {type(self.size).__name__}")
        if not 0 <= self.size <= MAX_TREE_SIZE:
            raise NoteError(f"tree size {self.size} is outside 0..2^64-1")
        if not isinstance(self.root_hash, bytes) or len(self.root_hash) != HASH_SIZE:
            raise NoteError(f"root hash must be {HASH_SIZE} bytes")
        if not isinstance(self.extensions, tuple):
            object.__setattr__(self, "extensions", tuple(self.extensions))
        for i, extension in enumerate(self.extensions):
            _check_line(extension, f"extension line {i + 1}")

    def body(self) -> bytes:
        """Return the note text: origin, size, base64 root and extension lines, each ending in a
        newline."""
        lines = [self.origin, str(self.size), encode_base64(self.root_hash), *self.extensions]
        return "".join(line + "\n" for line in lines).encode("utf-8")

    @classmethod
    def parse(cls, text: bytes | str) -> Checkpoint:
        """Parse a checkpoint note text, refusing anything :meth:`body` would not write."""
        if isinstance(text, bytes | bytearray | memoryview):
            try:
                text = bytes(text).decode("utf-8")
            except UnicodeDecodeError as exc:
                raise NoteError(f"checkpoint is not valid UTF-8 (byte {exc.start})") from None
        if not isinstance(text, str):
            raise TypeError(f"a checkpoint is bytes or str, not {type(text).__name__}")
        if not text.endswith("\n"):
            raise NoteError("checkpoint must end in a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise NoteError(f"checkpoint has {len(lines)} lines; origin, size and root are needed")
        origin, size, root, *extensions = lines
        if not _SIZE.fullmatch(size):
            raise NoteError(f"line 2: tree size {size[:30]!r} is not a decimal without leading 0")
        root_hash = decode_base64(root)
        if root_hash is None:
            raise NoteError("line 3: root hash is not canonical base64")
        if len(root_hash) != HASH_SIZE:
            raise NoteError(f"line 3: root hash is {len(root_hash)} bytes, not {HASH_SIZE}")
        for i, extension in enumerate(extensions):
            if not extension:
                raise NoteError(f"line {i + 4}: extension lines must be non-empty")
        return cls(origin, int(size), root_hash, tuple(extensions))


@dataclass(frozen=True)
class Cosignature:
    """A verified witness cosignature: the witness's key name and id, and when it cosigned (UNIX
    seconds)."""

    name: str
    key_id: bytes
    timestamp: int


@dataclass(frozen=True)
class SignedCheckpoint:
    """A checkpoint whose log signature verified, the note it came in, and the cosignatures of
    known witnesses that verified (one per witness, its latest)."""

    checkpoint: Checkpoint
    note: bytes
    cosignatures: tuple[Cosignature, ...]


class CheckpointSigner:
    """Signs checkpoints for the log whose origin is the note signer's name."""

    def __init__(self, signer: NoteSigner) -> None:
        self._signer = signer

    @property
    def origin(self) -> str:
        return self._signer.name

    @property
    def verifier_key(self) -> VerifierKey:
        """The log's type 0x01 verifier key."""
        return self._signer.verifier_key

    def sign(self, checkpoint: Checkpoint) -> bytes:
        """Return ``checkpoint`` as a note signed by the log key."""
        if checkpoint.origin != self.origin:
            raise NoteError(
                f"checkpoint origin {checkpoint.origin!r} is not this log's {self.origin!r}"
            )
        return self._signer.sign(checkpoint.body())


def cosignature_message(checkpoint: Checkpoint, timestamp: int) -> bytes:
    """Return the message an Ed25519 cosignature/v1 signs: ``cosignature/v1``, ``time <t>`` and
    the checkpoint text."""
    return _cosignature_message(checkpoint.body(), timestamp)


class Cosigner:
    """A witness that cosigns checkpoints as ``name`` with an Ed25519 signer (type 0x04)."""

    def __init__(self, name: str, signer: Signer) -> None:
        if not is_valid_name(name):
            raise NoteError(f"invalid key name {name!r}: empty, or has a space, '+' or control")
        if signer.algorithm != Algorithm.ED25519:
            raise NoteError(f"cosigner {name!r} must be Ed25519, not {signer.algorithm}")
        self._signer = signer
        self._verifier_key = VerifierKey.from_public_key(
            name, COSIGNATURE_V1, signer.public_key_raw
        )

    @property
    def name(self) -> str:
        return self._verifier_key.name

    @property
    def verifier_key(self) -> VerifierKey:
        """The witness's type 0x04 verifier key."""
        return self._verifier_key

    def cosign(self, checkpoint: Checkpoint, timestamp: int | None = None) -> bytes:
        """Return the cosignature line ``— name base64(key id || u64be(t) || sig)\\n`` for
        ``checkpoint`` at ``timestamp`` (UNIX seconds; now when None)."""
        t = int(time.time()) if timestamp is None else timestamp
        _check_timestamp(t)
        sig = self._signer.sign(cosignature_message(checkpoint, t))
        if len(sig) != ED25519_SIGNATURE_SIZE:
            raise NoteError(
                f"signer of {self.name!r} returned {len(sig)} bytes, not an Ed25519 sig"
            )
        payload = t.to_bytes(TIMESTAMP_SIZE, "big") + bytes(sig)
        return NoteSignature(self.name, self._verifier_key.key_id, payload).line()

    def __repr__(self) -> str:
        return f"Cosigner({str(self._verifier_key)!r})"


def verify_cosignature(vkey: VerifierKey, checkpoint: Checkpoint, line: bytes | str) -> int:
    """Return the timestamp of ``line`` if it is a valid cosignature/v1 of ``checkpoint`` by the
    type 0x04 key ``vkey``; raise NoteError otherwise."""
    if vkey.key_type != COSIGNATURE_V1:
        raise NoteError(f"{vkey.name!r} is a type 0x{vkey.key_type:02x} key, not cosignature/v1")
    sig = NoteSignature.parse_line(line)
    if (sig.name, sig.key_id) != (vkey.name, vkey.key_id):
        raise NoteError(
            f"cosignature is by {sig.name}+{sig.key_id.hex()}, not {vkey.name}+{vkey.key_id.hex()}"
        )
    timestamp = _cosignature_timestamp(sig.signature)
    if timestamp is None:
        raise NoteError(f"cosignature by {vkey.name!r} is not u64 time (< 2^63) and 64-byte sig")
    message = cosignature_message(checkpoint, timestamp)
    if not verify_ed25519(vkey, message, sig.signature[TIMESTAMP_SIZE:]):
        raise NoteError(f"cosignature by {vkey.name!r} does not verify for this checkpoint")
    return timestamp


def open_checkpoint(
    note: bytes,
    log_key: VerifierKey,
    witnesses: Iterable[VerifierKey] = (),
    *,
    origin: str | None = None,
) -> SignedCheckpoint:
    """Verify a signed checkpoint: the log's signature must verify, every cosignature from a known
    witness must verify, and the checkpoint must parse strictly with the expected origin.

    ``origin`` defaults to the log key's name (the spec's SHOULD); pass it for logs whose key name
    differs (sum.golang.org signs the origin ``go.sum database tree``). Signatures from unknown
    keys are ignored.
    """
    if log_key.key_type != ED25519:
        raise NoteError(f"log key {log_key.name!r} has type 0x{log_key.key_type:02x}, not Ed25519")
    witness_keys = list(witnesses)
    for witness in witness_keys:
        if witness.key_type != COSIGNATURE_V1:
            raise NoteError(
                f"witness key {witness.name!r} has type 0x{witness.key_type:02x}, "
                "not cosignature/v1 (0x04)"
            )
    opened = open_note(
        note,
        [log_key, *witness_keys],
        checks={ED25519: verify_ed25519, COSIGNATURE_V1: _check_cosignature},
    )
    if log_key not in opened.verified_by:
        raise NoteError(f"no signature by the log key {log_key.name}+{log_key.key_id.hex()}")
    checkpoint = Checkpoint.parse(opened.text)
    expected = log_key.name if origin is None else origin
    if checkpoint.origin != expected:
        raise NoteError(f"checkpoint origin {checkpoint.origin!r} is not {expected!r}")
    latest: dict[tuple[str, bytes], int] = {}
    known = {(w.name, w.key_id) for w in opened.verified_by if w.key_type == COSIGNATURE_V1}
    for sig in opened.signatures:
        ident = (sig.name, sig.key_id)
        if ident in known:
            timestamp = _cosignature_timestamp(sig.signature)
            assert timestamp is not None  # open_note verified it
            latest[ident] = max(timestamp, latest.get(ident, timestamp))
    cosignatures = tuple(Cosignature(name, kid, t) for (name, kid), t in latest.items())
    return SignedCheckpoint(checkpoint, bytes(note), cosignatures)


def _check_cosignature(key: VerifierKey, text: bytes, signature: bytes) -> bool:
    timestamp = _cosignature_timestamp(signature)
    if timestamp is None:
        return False
    message = _cosignature_message(text, timestamp)
    return verify_ed25519(key, message, signature[TIMESTAMP_SIZE:])


def _cosignature_timestamp(signature: bytes) -> int | None:
    if len(signature) != TIMESTAMP_SIZE + ED25519_SIGNATURE_SIZE:
        return None
    timestamp = int.from_bytes(signature[:TIMESTAMP_SIZE], "big")
    return timestamp if timestamp <= MAX_TIMESTAMP else None


def _cosignature_message(body: bytes, timestamp: int) -> bytes:
    return COSIGNATURE_HEADER + b"time %d\n" % timestamp + body


def _check_timestamp(timestamp: int) -> None:
    if isinstance(timestamp, bool) or not isinstance(timestamp, int):
        raise NoteError(f"timestamp must be an int, not {type(timestamp).__name__}")
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise NoteError(f"timestamp {timestamp} is outside 0..2^63-1")


def _check_line(value: str, what: str) -> None:
    if not isinstance(value, str):
        raise NoteError(f"{what} must be a str, not {type(value).__name__}")
    if not value:
        raise NoteError(f"{what} must be non-empty")
    if _CONTROL.search(value):
        raise NoteError(f"{what} has a newline or control character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise NoteError(f"{what} has a lone surrogate; it cannot be UTF-8") from None
