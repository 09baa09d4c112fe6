"""C2SP signed notes (c2sp.org/signed-note@v1.0.0): key ids, verifier keys, signing and opening.

A signed note is a UTF-8 text ending in a newline, a blank line, then one or more signature lines
``— <key name> base64(key id || signature)``. Opening follows Go's golang.org/x/mod/sumdb/note
``Open``: signatures from unknown keys are ignored, a signature from a known key that fails rejects
the whole note, and a note with no verified signature from a known key is rejected.

Deliberately stricter than Go, so that a verified note has exactly one byte form: base64 must be
the canonical RFC 4648 encoding (no non-zero pad bits), the key id in a verifier key must be
lowercase hex, and every signature from a known key is checked, repeated ones included (Go skips
repeats from a key it has already verified).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from hardware_signers.base import Algorithm, Signer
from ledger.errors import NoteError

ED25519 = 0x01
COSIGNATURE_V1 = 0x04
KNOWN_KEY_TYPES = frozenset({ED25519, COSIGNATURE_V1})

KEY_ID_SIZE = 4
ED25519_PUBLIC_KEY_SIZE = 32
ED25519_SIGNATURE_SIZE = 64
# Go's note.Open refuses more than 100 signature lines; the spec asks for at least 16.
MAX_SIGNATURES = 100

_SIGNATURE_PREFIX = "— "  # U+2014 EM DASH, U+0020 SPACE
_CANONICAL_SHAPE = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
_LOWER_HEX8 = re.compile(r"[0-9a-f]{8}")
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")

SignatureCheck = Callable[["VerifierKey", bytes, bytes], bool]
"""Reports whether ``signature`` (the bytes after the key id) by ``key`` is valid for the note
text ``text``: ``check(key, text, signature)``. One per key type; see :func:`open_note`."""


def key_id(name: str, key_type: int, public_key: bytes) -> bytes:
    """Return the 4-byte key id SHA-256(name || 0x0A || type || public key)[:4]."""
    if not 0 <= key_type <= 0xFF:
        raise NoteError(f"key type {key_type} is not a byte")
    material = name.encode("utf-8") + b"\n" + bytes([key_type]) + public_key
    return hashlib.sha256(material).digest()[:KEY_ID_SIZE]


def is_valid_name(name: str) -> bool:
    """Report whether ``name`` may name a key: non-empty, no Unicode space, no '+', and (because a
    note cannot carry them) no control characters and nothing that is not encodable as UTF-8."""
    if not isinstance(name, str) or not name or "+" in name:
        return False
    if any(ch.isspace() or ch < " " for ch in name):
        return False
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates
        return False
    return True


def decode_base64(text: str) -> bytes | None:
    """Return the bytes ``text`` encodes in canonical standard base64 (RFC 4648 §4, padded, pad
    bits zero), or None when it is anything else."""
    if not _CANONICAL_SHAPE.fullmatch(text):
        return None
    raw = binascii.a2b_base64(text.encode("ascii"), strict_mode=True)
    if base64.b64encode(raw).decode("ascii") != text:
        return None  # non-zero pad bits: another spelling of the same bytes
    return raw


def encode_base64(raw: bytes) -> str:
    """Return standard padded base64 of ``raw``."""
    return base64.b64encode(raw).decode("ascii")


@dataclass(frozen=True)
class VerifierKey:
    """A public key that verifies note signatures, as written ``name+hex8(key id)+base64(type ||
    public key)``.

    For the key types this module knows (0x01 Ed25519, 0x04 cosignature/v1) the public key must be
    32 bytes and the key id must be the one :func:`key_id` computes.
    """

    name: str
    key_id: bytes
    key_type: int
    public_key: bytes

    def __post_init__(self) -> None:
        if not is_valid_name(self.name):
            raise NoteError(
                f"invalid key name {self.name!r}: empty, or has a space, '+' or control"
            )
        if not isinstance(self.key_id, bytes) or len(self.key_id) != KEY_ID_SIZE:
            raise NoteError(f"key id of {self.name!r} must be {KEY_ID_SIZE} bytes")
        if isinstance(self.key_type, bool) or not 0 <= self.key_type <= 0xFF:
            raise NoteError(f"key type of {self.name!r} must be a byte, not {self.key_type!r}")
        if not isinstance(self.public_key, bytes):
            raise NoteError(f"public key of {self.name!r} must be bytes")
        if self.key_type in KNOWN_KEY_TYPES:
            if len(self.public_key) != ED25519_PUBLIC_KEY_SIZE:
                raise NoteError(
                    f"key {self.name!r} of type 0x{self.key_type:02x} must be "
                    f"{ED25519_PUBLIC_KEY_SIZE} bytes, not {len(self.public_key)}"
                )
            expected = key_id(self.name, self.key_type, self.public_key)
            if self.key_id != expected:
                raise NoteError(
                    f"key id {self.key_id.hex()} of {self.name!r} does not match the key "
                    f"(computed {expected.hex()})"
                )

    @classmethod
    def from_public_key(cls, name: str, key_type: int, public_key: bytes) -> VerifierKey:
        """Return the verifier key of ``public_key`` under ``name``, computing its key id."""
        if not is_valid_name(name):
            raise NoteError(f"invalid key name {name!r}: empty, or has a space, '+' or control")
        return cls(name, key_id(name, key_type, public_key), key_type, bytes(public_key))

    @classmethod
    def parse(cls, vkey: str, *, allow_unknown_types: bool = False) -> VerifierKey:
        """Parse a verifier key string ``name+hex8+base64(type || key)``.

        Splits on the first two '+' only (base64 may contain '+'). Refuses an invalid name, a key
        id that is not 8 lowercase hex digits or does not match the key, non-canonical base64, and
        a key type other than 0x01 or 0x04 unless ``allow_unknown_types`` (then the key id of the
        unknown type is taken as written, since its derivation is type-specific).
        """
        if not isinstance(vkey, str):
            raise TypeError(f"a verifier key is a str, not {type(vkey).__name__}")
        parts = vkey.split("+", 2)
        if len(parts) != 3:
            raise NoteError(f"verifier key {vkey!r} is not name+keyid+key")
        name, hex_id, key64 = parts
        if not is_valid_name(name):
            raise NoteError(f"verifier key has an invalid name {name!r}")
        if not _LOWER_HEX8.fullmatch(hex_id):
            raise NoteError(
                f"verifier key {name!r}: key id {hex_id!r} is not 8 lowercase hex digits"
            )
        raw = decode_base64(key64)
        if raw is None:
            raise NoteError(f"verifier key {name!r}: key {key64!r} is not canonical base64")
        if not raw:
            raise NoteError(f"verifier key {name!r}: no key type and key")
        key_type, public_key = raw[0], raw[1:]
        if key_type not in KNOWN_KEY_TYPES and not allow_unknown_types:
            raise NoteError(f"verifier key {name!r}: unknown key type 0x{key_type:02x}")
        return cls(name, bytes.fromhex(hex_id), key_type, public_key)

    def __str__(self) -> str:
        key = encode_base64(bytes([self.key_type]) + self.public_key)
        return f"{self.name}+{self.key_id.hex()}+{key}"


@dataclass(frozen=True)
class NoteSignature:
    """One signature line of a note: the key name, the 4-byte key id, and the signature bytes that
    follow the key id (for type 0x04, timestamp || Ed25519 signature)."""

    name: str
    key_id: bytes
    signature: bytes

    def line(self) -> bytes:
        """Return the signature line ``— name base64(key id || signature)\\n``."""
        encoded = encode_base64(self.key_id + self.signature)
        return f"{_SIGNATURE_PREFIX}{self.name} {encoded}\n".encode()

    @classmethod
    def parse_line(cls, line: bytes | str) -> NoteSignature:
        """Parse one signature line, with or without its final newline."""
        if isinstance(line, bytes | bytearray | memoryview):
            try:
                line = bytes(line).decode("utf-8")
            except UnicodeDecodeError:
                raise NoteError("signature line is not valid UTF-8") from None
        if not isinstance(line, str):
            raise TypeError(f"a signature line is bytes or str, not {type(line).__name__}")
        line = line.removesuffix("\n")
        if _CONTROL.search(line) or "\n" in line:
            raise NoteError("signature line has a control character or several lines")
        return _parse_signature_line(line, "signature line")


@dataclass(frozen=True)
class Note:
    """An opened note: its text (with the final newline), every signature line in order, and the
    verifier keys that verified (each once, in the order first seen)."""

    text: str
    signatures: tuple[NoteSignature, ...]
    verified_by: tuple[VerifierKey, ...]


def verify_ed25519(key: VerifierKey, message: bytes, signature: bytes) -> bool:
    """Report whether ``signature`` is a valid RFC 8032 Ed25519 signature of ``message`` by the
    32-byte public key of ``key``."""
    if len(signature) != ED25519_SIGNATURE_SIZE or len(key.public_key) != ED25519_PUBLIC_KEY_SIZE:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(key.public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


DEFAULT_CHECKS: Mapping[int, SignatureCheck] = {ED25519: verify_ed25519}


class NoteSigner:
    """Signs notes as ``name`` with an Ed25519 :class:`~hardware_signers.base.Signer` (a software
    key or one held in an HSM)."""

    def __init__(self, name: str, signer: Signer) -> None:
        if not is_valid_name(name):
            raise NoteError(f"invalid key name {name!r}: empty, or has a space, '+' or control")
        if signer.algorithm != Algorithm.ED25519:
            raise NoteError(f"note signer {name!r} must be Ed25519, not {signer.algorithm}")
        self._signer = signer
        self._verifier_key = VerifierKey.from_public_key(name, ED25519, signer.public_key_raw)

    @property
    def name(self) -> str:
        return self._verifier_key.name

    @property
    def verifier_key(self) -> VerifierKey:
        """The type 0x01 verifier key that checks this signer's signatures."""
        return self._verifier_key

    def signature(self, text: str | bytes) -> NoteSignature:
        """Return this signer's signature of the note text ``text``."""
        return self._sign(_note_text(text).encode("utf-8"))

    def sign(self, text: str | bytes) -> bytes:
        """Return the note ``text`` signed by this signer alone."""
        return sign_note(text, [self])

    def _sign(self, text: bytes) -> NoteSignature:
        sig = self._signer.sign(text)
        if len(sig) != ED25519_SIGNATURE_SIZE:
            raise NoteError(
                f"signer of {self.name!r} returned {len(sig)} bytes, not an Ed25519 sig"
            )
        return NoteSignature(self.name, self._verifier_key.key_id, bytes(sig))

    def __repr__(self) -> str:
        return f"NoteSigner({str(self._verifier_key)!r})"


def sign_note(text: str | bytes, signers: Sequence[NoteSigner]) -> bytes:
    """Return the signed note: ``text``, a blank line, and one signature line per signer in order.

    ``text`` must be UTF-8 ending in a newline with no control character other than newline.
    """
    if not signers:
        raise NoteError("a signed note needs at least one signer")
    if len(signers) > MAX_SIGNATURES:
        raise NoteError(f"{len(signers)} signers; a note carries at most {MAX_SIGNATURES}")
    body = _note_text(text).encode("utf-8")
    lines = b"".join(signer._sign(body).line() for signer in signers)
    return body + b"\n" + lines


def add_signatures(note: bytes, lines: Iterable[bytes | str]) -> bytes:
    """Return ``note`` with the signature ``lines`` added after its own, each new line replacing an
    existing one with the same key name and id (as Go's note.Sign does).

    Checks the format only: the result verifies nothing until it is opened.
    """
    text, existing = split_note(note)
    new = [NoteSignature.parse_line(line) for line in lines]
    replaced = {(sig.name, sig.key_id) for sig in new}
    kept = [sig for sig in existing if (sig.name, sig.key_id) not in replaced]
    signatures = kept + new
    if len(signatures) > MAX_SIGNATURES:
        raise NoteError(f"{len(signatures)} signatures; a note carries at most {MAX_SIGNATURES}")
    return text.encode("utf-8") + b"\n" + b"".join(sig.line() for sig in signatures)


def split_note(note: bytes) -> tuple[str, tuple[NoteSignature, ...]]:
    """Split a signed note into its text and signature lines, checking the format only.

    Nothing is verified: the text must not be trusted until :func:`open_note` has accepted it.
    """
    if not isinstance(note, bytes | bytearray | memoryview):
        raise TypeError(f"a signed note is bytes, not {type(note).__name__}")
    data = bytes(note)
    try:
        decoded = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise NoteError(f"line {line}: not valid UTF-8 (byte {exc.start})") from None
    control = _CONTROL.search(decoded)
    if control is not None:
        line = decoded.count("\n", 0, control.start()) + 1
        raise NoteError(f"line {line}: control character U+{ord(control.group()):04X}")
    # The text runs to the last blank line; it keeps its final newline.
    split = decoded.rfind("\n\n")
    if split < 0:
        raise NoteError("no blank line between the text and the signatures")
    text, block = decoded[: split + 1], decoded[split + 2 :]
    first = text.count("\n") + 2  # line number of the first signature line
    if not block:
        raise NoteError(f"line {first}: no signature lines after the blank line")
    if not block.endswith("\n"):
        last = first + block.count("\n")
        raise NoteError(f"line {last}: the last signature line does not end in a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"{len(lines)} signature lines; at most {MAX_SIGNATURES} are accepted")
    signatures = tuple(
        _parse_signature_line(line, f"line {first + i}") for i, line in enumerate(lines)
    )
    return text, signatures


def open_note(
    note: bytes,
    verifiers: Iterable[VerifierKey],
    *,
    checks: Mapping[int, SignatureCheck] = DEFAULT_CHECKS,
) -> Note:
    """Parse ``note`` and verify it against the known ``verifiers``; return it only if at least one
    signature from a known key verifies and none from a known key fails.

    A signature is from a known key when both its name and key id match a verifier; others are
    ignored. ``checks`` says how to verify each key type (Ed25519, 0x01, by default); a verifier
    of a type without a check is refused. Every refusal is a NoteError saying why.
    """
    known = _index_verifiers(verifiers, checks)
    text, signatures = split_note(note)
    message = text.encode("utf-8")
    first = text.count("\n") + 2
    verified: list[VerifierKey] = []
    for i, sig in enumerate(signatures):
        key = known.get((sig.name, sig.key_id))
        if key is None:
            continue
        if not checks[key.key_type](key, message, sig.signature):
            raise NoteError(
                f"line {first + i}: signature by known key {key.name}+{key.key_id.hex()} "
                "does not verify"
            )
        if key not in verified:
            verified.append(key)
    if not verified:
        seen = ", ".join(f"{sig.name}+{sig.key_id.hex()}" for sig in signatures[:5])
        raise NoteError(f"no signature from a known key (signed by {seen})")
    return Note(text, signatures, tuple(verified))


def _index_verifiers(
    verifiers: Iterable[VerifierKey], checks: Mapping[int, SignatureCheck]
) -> dict[tuple[str, bytes], VerifierKey]:
    known: dict[tuple[str, bytes], VerifierKey] = {}
    for key in verifiers:
        if not isinstance(key, VerifierKey):
            raise TypeError(f"verifiers must be VerifierKey, not {type(key).__name__}")
        if key.key_type not in checks:
            raise NoteError(f"no way to verify {key.name!r}: key type 0x{key.key_type:02x}")
        other = known.setdefault((key.name, key.key_id), key)
        if other != key:
            # Two keys with one name and id: the verifier list itself is compromised or wrong.
            raise NoteError(f"ambiguous verifier keys for {key.name}+{key.key_id.hex()}")
    return known


def _parse_signature_line(line: str, where: str) -> NoteSignature:
    if not line.startswith(_SIGNATURE_PREFIX):
        raise NoteError(f"{where}: a signature line starts with an em dash and a space")
    name, _, encoded = line[len(_SIGNATURE_PREFIX) :].partition(" ")
    if not is_valid_name(name):
        raise NoteError(f"{where}: invalid key name {name!r}")
    raw = decode_base64(encoded)
    if raw is None:
        raise NoteError(f"{where}: the signature is not canonical base64")
    if len(raw) < KEY_ID_SIZE + 1:
        raise NoteError(f"{where}: the signature is {len(raw)} bytes, less than key id + 1")
    return NoteSignature(name, raw[:KEY_ID_SIZE], raw[KEY_ID_SIZE:])


def _note_text(text: str | bytes) -> str:
    """Return ``text`` as a str after checking it can be the text of a signed note."""
    if isinstance(text, bytes | bytearray | memoryview):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NoteError(f"note text is not valid UTF-8 (byte {exc.start})") from None
    if not isinstance(text, str):
        raise TypeError(f"note text is str or bytes, not {type(text).__name__}")
    if not text.endswith("\n"):
        raise NoteError("note text must end in a newline")
    control = _CONTROL.search(text)
    if control is not None:
        line = text.count("\n", 0, control.start()) + 1
        raise NoteError(f"note text line {line}: control character U+{ord(control.group()):04X}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise NoteError("note text has a lone surrogate; it cannot be UTF-8") from None
    return text
