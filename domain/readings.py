"""Incoming signed readings, OCMF or JWS, reduced to what the reading rules check.

The evidence is kept exactly as received: the entry stores the raw string, and the signature is
checked over its exact bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from cryptography.hazmat.primitives.asymmetric import ec

from domain.errors import BadSignature, EvidenceError, MalformedEvidence
from domain.events import MeterReading
from domain.jws import JwsDocument, parse_jws_document, reading_fields, verify_jws_signature
from domain.meters import MeterKey
from domain.ocmf import OcmfRecord, parse_ocmf, verify_ocmf
from hardware_signers.errors import SignerError
from hardware_signers.verify import verify_ed25519

WH_PER_KWH = Decimal(1000)


@dataclass(slots=True)
class IncomingReading:
    """A parsed, not yet verified, signed reading (made on the hot path: not frozen, which
    would cost several microseconds a reading)."""

    format: str  # "ocmf" or "jws"
    raw: str
    serial: str
    sequence_kind: str  # OCMF pagination context "T"/"F", or "seq" for JWS
    sequence: int
    time: datetime  # the reading's time: keys must be valid then
    start: datetime | None
    end: datetime | None
    quantity: Decimal | None
    unit: str | None
    register: Decimal | None
    time_status: str | None
    key_id: str | None
    record: OcmfRecord | JwsDocument

    def verify(self, key: MeterKey) -> None:
        """Check the signature with ``key``; raise an EvidenceError when it does not verify."""
        if (
            isinstance(self.record, JwsDocument)
            and self.record.alg == "EdDSA"
            and key.algorithm == "ed25519"
        ):
            # libsodium: about twice OpenSSL's Ed25519 rate here, and it drops the GIL.
            try:
                verify_ed25519(key.spki[-32:], self.record.signature, self.record.signing_input)
            except SignerError as exc:
                raise BadSignature(f"JWS EdDSA signature does not verify: {exc}") from None
            return
        public_key = key.public_key()
        if isinstance(self.record, OcmfRecord):
            if not isinstance(public_key, ec.EllipticCurvePublicKey):
                raise BadSignature("OCMF readings are signed with ECDSA; the meter key is Ed25519")
            verify_ocmf(self.record, public_key)
        else:
            verify_jws_signature(
                self.record.alg, self.record.signing_input, self.record.signature, public_key
            )

    def event(self, key_id: str, gap: int | None) -> MeterReading:
        """The event for this reading once accepted, ``key_id`` being the key that verified it."""
        return MeterReading(
            format=self.format,
            sequence_kind=self.sequence_kind,
            sequence=self.sequence,
            time=self.time.isoformat(),
            start=None if self.start is None else self.start.isoformat(),
            end=None if self.end is None else self.end.isoformat(),
            quantity=self.quantity,
            unit=self.unit,
            register=self.register,
            key_id=key_id,
            time_status=self.time_status,
            gap=gap or None,
        )


def _kwh(value: Decimal | None, unit: str | None) -> tuple[Decimal | None, str | None]:
    if value is None:
        return None, unit
    if unit == "Wh":
        return value / WH_PER_KWH, "kWh"
    return value, unit


def from_ocmf(raw: str) -> IncomingReading:
    record = parse_ocmf(raw)
    valued = [r for r in record.readings if r.value is not None]
    if not valued:
        raise MalformedEvidence("OCMF record has no reading with a value (RV)")
    first, last = valued[0], valued[-1]
    register, unit = _kwh(last.value, last.unit)
    quantity = None
    start = end = None
    if len(valued) >= 2:
        begin_register, begin_unit = _kwh(first.value, first.unit)
        if begin_unit != unit:
            raise MalformedEvidence(f"OCMF readings mix units {first.unit!r} and {last.unit!r}")
        assert register is not None and begin_register is not None
        quantity = register - begin_register
        start, end = first.time, last.time
        if quantity < 0:
            raise MalformedEvidence("OCMF record's last reading is below its first")
    return IncomingReading(
        format="ocmf",
        raw=raw,
        serial=record.meter_serial,
        sequence_kind=record.pagination.kind,
        sequence=record.pagination.number,
        time=last.time,
        start=start,
        end=end,
        quantity=quantity,
        unit=unit,
        register=register,
        time_status=last.time_status,
        key_id=None,
        record=record,
    )


def from_jws(raw: str) -> IncomingReading:
    document = parse_jws_document(raw)
    fields = reading_fields(document.payload)
    return IncomingReading(
        format="jws",
        raw=raw,
        serial=fields["meter"],
        sequence_kind="seq",
        sequence=fields["seq"],
        time=fields["end"],
        start=fields["start"],
        end=fields["end"],
        quantity=fields["quantity"],
        unit=fields["unit"],
        register=fields["register"],
        time_status=None,
        key_id=document.key_id,
        record=document,
    )


def parse_reading(item: object) -> IncomingReading:
    """Parse one submitted reading: an OCMF string, a compact JWS, or an object
    ``{"ocmf": "..."}`` / ``{"jws": "..."}``; raise an EvidenceError saying what is wrong."""
    if isinstance(item, dict):
        if set(item) == {"ocmf"} and isinstance(item["ocmf"], str):
            return from_ocmf(item["ocmf"])
        if set(item) == {"jws"} and isinstance(item["jws"], str):
            return from_jws(item["jws"])
        raise MalformedEvidence('a reading object must be {"ocmf": "..."} or {"jws": "..."}')
    if not isinstance(item, str):
        raise MalformedEvidence(
            f"a reading must be an OCMF string or a compact JWS, not {type(item).__name__}"
        )
    text = item.strip()
    if text.startswith("OCMF|"):
        return from_ocmf(text)
    if text.count(".") == 2:
        return from_jws(text)
    raise MalformedEvidence("not an OCMF record (OCMF|...|...) nor a compact JWS (a.b.c)")


__all__ = ["EvidenceError", "IncomingReading", "parse_reading"]
