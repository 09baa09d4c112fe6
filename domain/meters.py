"""Meters, their keys and the state that the reading rules need, rebuilt from a meter's stream.

A meter is enrolled to an account with a public key. Each key is valid from its effective time
until it is rotated out or revoked (each with an effective time); a reading counts as signed by a
key only if the key was valid at the reading's time. Sequence numbers (OCMF pagination, JWS ``seq``)
only go up, and cumulative registers never run backwards.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import itertools
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from domain.errors import RequestError
from domain.events import Event, MeterEnrolled, MeterKeyRevoked, MeterKeyRotated, MeterReading

CARRIERS = ("electricity", "natural_gas", "steam", "coal", "heat")
CARRIER_UNITS = {
    "electricity": ("kWh", "MWh", "Wh"),
    "natural_gas": ("m3",),
    "steam": ("t_steam", "GJ"),
    "coal": ("t_coal",),
    "heat": ("GJ",),
}
BEGINNING_OF_TIME = datetime(1970, 1, 1, tzinfo=UTC)
SERIAL = re.compile(r"^[\x21-\x7e]{1,120}$")

PublicKey = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey


def check_serial(serial: object) -> str:
    if not isinstance(serial, str) or not SERIAL.match(serial):
        raise RequestError(
            f"meter serial {serial!r} is not valid: 1-120 printable ASCII characters, no spaces"
        )
    return serial


def parse_time(value: object, what: str) -> datetime:
    """Parse an RFC 3339 time with an offset."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise RequestError(f"{what} {value!r} is not an RFC 3339 time") from exc
    else:
        raise RequestError(f"{what} must be an RFC 3339 time string")
    if moment.tzinfo is None:
        raise RequestError(f"{what} {value!r} needs a time zone offset")
    return moment


def load_public_key(text: str) -> tuple[str, bytes, PublicKey]:
    """Load a meter's public key given as PEM, or DER SubjectPublicKeyInfo in hex or base64.

    Returns (algorithm, SPKI DER, key). Algorithms: ``ed25519``, ``ecdsa-<curve>``."""
    if not isinstance(text, str) or not text.strip():
        raise RequestError(
            "public_key is required (PEM, or DER SubjectPublicKeyInfo in hex/base64)"
        )
    stripped = text.strip()
    der: bytes | None = None
    if stripped.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_public_key(stripped.encode())
        except ValueError as exc:
            raise RequestError(f"public_key PEM does not parse: {exc}") from exc
        der = key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    else:
        compact = re.sub(r"\s+", "", stripped)
        candidates = []
        if re.fullmatch(r"[0-9a-fA-F]+", compact) and len(compact) % 2 == 0:
            candidates.append(bytes.fromhex(compact))
        with contextlib.suppress(ValueError):
            candidates.append(base64.b64decode(compact + "=" * (-len(compact) % 4), validate=True))
        for candidate in candidates:
            try:
                serialization.load_der_public_key(candidate)
            except (ValueError, TypeError):
                continue
            der = candidate
            break
        if der is None:
            raise RequestError(
                "public_key is not PEM, nor DER SubjectPublicKeyInfo in hex or base64"
            )
    key = serialization.load_der_public_key(der)
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "ed25519", der, key
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"ecdsa-{key.curve.name}", der, key
    raise RequestError(f"public_key is a {type(key).__name__}; meters sign with EC or Ed25519")


def key_id_of(spki_der: bytes) -> str:
    return hashlib.sha256(spki_der).hexdigest()


def check_certificate_chain(
    chain_pem: list[str], spki_der: bytes, roots: list[x509.Certificate], at: datetime
) -> None:
    """Check a maker's certificate chain: the first certificate certifies the meter key, each is
    issued by the next, the last by one of the configured maker roots, all valid at ``at``."""
    if not roots:
        raise RequestError("a certificate chain was given but no maker roots are configured")
    try:
        chain = [x509.load_pem_x509_certificate(pem.encode()) for pem in chain_pem]
    except ValueError as exc:
        raise RequestError(f"certificate_chain does not parse: {exc}") from exc
    if not chain:
        raise RequestError("certificate_chain is empty")
    leaf_spki = (
        chain[0]
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    if leaf_spki != spki_der:
        raise RequestError("the first certificate of the chain is not for the meter's public key")
    for position, cert in enumerate(chain):
        if not cert.not_valid_before_utc <= at <= cert.not_valid_after_utc:
            raise RequestError(
                f"certificate {position} ({cert.subject.rfc4514_string()}) is not valid at {at}"
            )
    for position, (cert, issuer) in enumerate(itertools.pairwise(chain)):
        try:
            cert.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, Exception) as exc:
            raise RequestError(
                f"certificate {position} is not issued by certificate {position + 1}: {exc}"
            ) from exc
    last = chain[-1]
    for root in roots:
        if last == root:
            return
        try:
            last.verify_directly_issued_by(root)
            return
        except Exception:
            continue
    raise RequestError(
        f"the chain does not end at a configured maker root (last issuer: "
        f"{last.issuer.rfc4514_string()})"
    )


@dataclass(frozen=True)
class MeterKey:
    """One key a meter has had, with its validity window [valid_from, valid_until)."""

    key_id: str
    algorithm: str
    spki: bytes
    valid_from: datetime
    valid_until: datetime | None = None
    revoked: bool = False

    def valid_at(self, moment: datetime) -> bool:
        return self.valid_from <= moment and (self.valid_until is None or moment < self.valid_until)

    def public_key(self) -> PublicKey:
        return _load_cached(self.spki)


_KEY_CACHE: dict[bytes, PublicKey] = {}


def _load_cached(spki: bytes) -> PublicKey:
    key = _KEY_CACHE.get(spki)
    if key is None:
        loaded = serialization.load_der_public_key(spki)
        assert isinstance(loaded, ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey)
        key = _KEY_CACHE[spki] = loaded
    return key


@dataclass
class MeterState:
    """What the rules need to know about a meter, as of stream sequence ``seq``."""

    serial: str
    stream: str
    seq: int = 0
    account: str | None = None
    carrier: str | None = None
    keys: list[MeterKey] = field(default_factory=list)
    # last sequence number per kind: OCMF pagination context (T, F) or "seq" for JWS
    last_sequence: dict[str, int] = field(default_factory=dict)
    last_register: Decimal | None = None
    last_reading_end: datetime | None = None

    @property
    def enrolled(self) -> bool:
        return self.account is not None

    def keys_valid_at(self, moment: datetime) -> list[MeterKey]:
        return [k for k in self.keys if k.valid_at(moment)]

    def key(self, key_id: str) -> MeterKey | None:
        for k in self.keys:
            if k.key_id == key_id:
                return k
        return None

    def apply(self, event: Event, seq: int) -> None:
        """Apply one event of the meter's stream, at sequence ``seq``."""
        self.seq = seq
        if isinstance(event, MeterReading):
            self.last_sequence[event.sequence_kind] = event.sequence
            if event.register is not None:
                self.last_register = event.register
            if event.end is not None:
                self.last_reading_end = datetime.fromisoformat(event.end)
        elif isinstance(event, MeterEnrolled):
            self.account = event.account
            self.carrier = event.carrier
            self.keys = [
                MeterKey(
                    key_id=event.key_id,
                    algorithm=event.algorithm,
                    spki=base64.b64decode(event.public_key),
                    valid_from=datetime.fromisoformat(event.valid_from),
                )
            ]
        elif isinstance(event, MeterKeyRotated):
            effective = datetime.fromisoformat(event.effective)
            self.keys = [
                replace(k, valid_until=effective)
                if k.valid_until is None or k.valid_until > effective
                else k
                for k in self.keys
            ]
            self.keys.append(
                MeterKey(
                    key_id=event.key_id,
                    algorithm=event.algorithm,
                    spki=base64.b64decode(event.public_key),
                    valid_from=effective,
                )
            )
        elif isinstance(event, MeterKeyRevoked):
            effective = datetime.fromisoformat(event.effective)
            self.keys = [
                replace(k, valid_until=effective, revoked=True)
                if k.key_id == event.key_id and (k.valid_until is None or k.valid_until > effective)
                else k
                for k in self.keys
            ]
