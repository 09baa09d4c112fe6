"""The platform's events: one type per event and version, the streams they live on, the registry.

Every event the write side appends is one of the structs below; the state classes and the
projections read entries back through :func:`decode`. A struct's field order is the order its
body is written in, and optional fields are left out when unset, so the bytes of an entry are
exactly those the platform has always written (``tests/test_events.py`` decodes entries written by
earlier code and encodes them again). Quantities are exact decimals, written as decimal strings;
times are the RFC 3339 strings the rules wrote, kept as text so they stay byte for byte.

Streams (the ``STREAM`` of each event type is the kind of stream it is appended to):

- ``account/<id>``: :class:`AccountOpened`, :class:`PointsAwarded`, :class:`PointsRedeemed`
- ``meter/<serial>``: :class:`MeterEnrolled`, :class:`MeterKeyRotated`, :class:`MeterKeyRevoked`,
  :class:`MeterReading` (evidence: the OCMF string or JWS exactly as signed)
- ``reporter/<id>``: :class:`ReporterEnrolled`; ``economic/<account>``: :class:`EconomicReported`
  (evidence: the reporter's JWS)
- ``methodology/<id>@<version>``: :class:`MethodologyAdopted`
- ``claim/<claim id>``: :class:`ClaimRecorded`; ``claimkey/<key>``: :class:`ClaimKeyHeld`, whose
  sequence 1 can exist once: that is what makes a claim key claimable once.

A new version of an event is a new struct (``…/v2``) beside the old one; old entries keep
decoding with the old struct.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any, ClassVar, Final

import msgspec

from ledger.entry import STREAM_ID, Entry
from ledger.store import NewEvent

# -- stream ids ---------------------------------------------------------------------------------

ACCOUNT: Final = "account"
METER: Final = "meter"
REPORTER: Final = "reporter"
ECONOMIC: Final = "economic"
METHODOLOGY: Final = "methodology"
CLAIM: Final = "claim"
CLAIMKEY: Final = "claimkey"
STREAM_KINDS: Final = (ACCOUNT, METER, REPORTER, ECONOMIC, METHODOLOGY, CLAIM, CLAIMKEY)


def account_stream(account_id: str) -> str:
    return f"{ACCOUNT}/{account_id}"


def meter_stream(serial: str) -> str:
    """The stream of the meter with this serial number (OCMF ``MS``/``GS``, JWS ``meter``):
    ``meter/<serial>`` when that is a valid stream id, else ``meter/h-`` and 40 hex digits of the
    serial's SHA-256."""
    stream = f"{METER}/{serial}"
    if STREAM_ID.match(stream):
        return stream
    return f"{METER}/h-" + hashlib.sha256(serial.encode("utf-8")).hexdigest()[:40]


def reporter_stream(reporter: str) -> str:
    return f"{REPORTER}/{reporter}"


def economic_stream(account_id: str) -> str:
    return f"{ECONOMIC}/{account_id}"


def methodology_stream(key: str) -> str:
    """The stream of a methodology version, ``key`` being ``<id>@<version>``."""
    return f"{METHODOLOGY}/{key}"


def claim_stream(claim_id: str) -> str:
    return f"{CLAIM}/{claim_id}"


def claimkey_stream(key: str) -> str:
    return f"{CLAIMKEY}/{key}"


def parse_stream(stream: str) -> tuple[str, str]:
    """Split a stream id into its kind and id (``("meter", "QZ-TEX-E1")``); ValueError when the
    stream is not of a kind the platform writes."""
    kind, sep, ident = stream.partition("/")
    if not sep or not ident or kind not in STREAM_KINDS:
        raise ValueError(f"stream {stream!r} is not one of the platform's streams")
    return kind, ident


def stream_kind(stream: str) -> str:
    """The kind of a stream (``"account"``, ``"meter"``, …), or ``""`` for any other stream."""
    kind, sep, _ = stream.partition("/")
    return kind if sep and kind in STREAM_KINDS else ""


def stream_id_of(stream: str, kind: str) -> str:
    """The id part of a stream of the given kind; ValueError for a stream of another kind."""
    found, ident = parse_stream(stream)
    if found != kind:
        raise ValueError(f"stream {stream!r} is not a {kind} stream")
    return ident


# -- events -------------------------------------------------------------------------------------


class Event(msgspec.Struct, kw_only=True, omit_defaults=True, forbid_unknown_fields=True):
    """An event body. ``TYPE`` is the entry's ``type``; ``STREAM`` the kind of stream it is on."""

    TYPE: ClassVar[str]
    STREAM: ClassVar[str]

    def on(
        self, stream: str, *, expected_seq: int | None = None, evidence: str | None = None
    ) -> NewEvent:
        """This event as an append to ``stream`` (conditional when ``expected_seq`` is given)."""
        return NewEvent(stream, self.TYPE, self, evidence=evidence, expected_seq=expected_seq)


class AccountOpened(Event):
    TYPE: ClassVar[str] = "account.opened/v1"
    STREAM: ClassVar[str] = ACCOUNT

    kind: str
    credit_code: str | None = None
    industry: str | None = None
    pseudonym: str | None = None
    name: str | None = None
    region: str | None = None


class PointsAwarded(Event):
    """Points for a claim (``claim``) or awarded directly, citing what they are for (``cites``)."""

    TYPE: ClassVar[str] = "points.awarded/v1"
    STREAM: ClassVar[str] = ACCOUNT

    points: int
    action: str
    methodology: str
    claim: str | None = None
    cites: str | None = None


class PointsRedeemed(Event):
    TYPE: ClassVar[str] = "points.redeemed/v1"
    STREAM: ClassVar[str] = ACCOUNT

    points: int
    item: str


class MeterEnrolled(Event):
    TYPE: ClassVar[str] = "meter.enrolled/v1"
    STREAM: ClassVar[str] = METER

    serial: str
    account: str
    carrier: str
    algorithm: str
    public_key: str  # base64 SubjectPublicKeyInfo (DER)
    key_id: str
    valid_from: str
    certified: bool


class MeterKeyRotated(Event):
    TYPE: ClassVar[str] = "meter.key_rotated/v1"
    STREAM: ClassVar[str] = METER

    algorithm: str
    public_key: str
    key_id: str
    effective: str


class MeterKeyRevoked(Event):
    TYPE: ClassVar[str] = "meter.key_revoked/v1"
    STREAM: ClassVar[str] = METER

    key_id: str
    effective: str


class MeterReading(Event):
    """An accepted reading. ``start``, ``end``, ``quantity``, ``unit`` and ``register`` are
    written even when the reading has none (as ``null``); ``gap`` counts the sequence numbers
    skipped before it, when any were."""

    TYPE: ClassVar[str] = "meter.reading/v1"
    STREAM: ClassVar[str] = METER

    format: str
    sequence_kind: str
    sequence: int
    time: str
    start: str | None
    end: str | None
    quantity: Decimal | None
    unit: str | None
    register: Decimal | None
    key_id: str
    time_status: str | None = None
    gap: int | None = None


class ReporterEnrolled(Event):
    TYPE: ClassVar[str] = "reporter.enrolled/v1"
    STREAM: ClassVar[str] = REPORTER

    name: str
    algorithm: str
    public_key: str
    key_id: str


class EconomicReported(Event):
    """An enterprise's output, value added and tax (yuan) for a period (``YYYY`` or ``YYYY-MM``)."""

    TYPE: ClassVar[str] = "economic.reported/v1"
    STREAM: ClassVar[str] = ECONOMIC

    reporter: str
    account: str
    period: str
    output: Decimal
    output_unit: str
    value_added: Decimal
    tax: Decimal


class MethodologyAdopted(Event):
    TYPE: ClassVar[str] = "methodology.adopted/v1"
    STREAM: ClassVar[str] = METHODOLOGY

    id: str
    version: str
    kind: str
    title: str
    source: str
    digest: str

    @property
    def key(self) -> str:
        return f"{self.id}@{self.version}"


class ClaimRecorded(Event):
    TYPE: ClassVar[str] = "claim.recorded/v1"
    STREAM: ClassVar[str] = CLAIM

    claim: str
    account: str
    methodology: str
    factor: str
    action: str
    activity_kind: str
    quantity: Decimal
    reduction_g: Decimal
    points: int
    keys: list[str]
    evidence: list[str]


class ClaimKeyHeld(Event):
    TYPE: ClassVar[str] = "claimkey.held/v1"
    STREAM: ClassVar[str] = CLAIMKEY

    claim: str
    account: str


EVENTS: Final[tuple[type[Event], ...]] = (
    AccountOpened,
    PointsAwarded,
    PointsRedeemed,
    MeterEnrolled,
    MeterKeyRotated,
    MeterKeyRevoked,
    MeterReading,
    ReporterEnrolled,
    EconomicReported,
    MethodologyAdopted,
    ClaimRecorded,
    ClaimKeyHeld,
)
REGISTRY: Final[dict[str, type[Event]]] = {cls.TYPE: cls for cls in EVENTS}


class UnknownEvent(ValueError):
    """An entry whose type is not one of the platform's events, or whose body does not fit it."""


def decode_body(event_type: str, body: Any) -> Event:
    """The typed event for an entry's type and decoded body; UnknownEvent when either is not
    one the platform writes."""
    cls = REGISTRY.get(event_type)
    if cls is None:
        raise UnknownEvent(f"{event_type!r} is not an event type of the platform")
    if isinstance(body, cls):
        return body
    try:
        return msgspec.convert(body, cls)
    except msgspec.ValidationError as exc:
        raise UnknownEvent(f"the body of a {event_type} entry does not fit: {exc}") from exc


def decode(entry: Entry) -> Event | None:
    """The typed event of a decoded entry, or None for an entry of a type the platform does not
    write (tests and other tools may append their own); UnknownEvent when the body is wrong."""
    if entry.type not in REGISTRY:
        return None
    return decode_body(entry.type, entry.body)


def to_body(event: Event) -> dict[str, Any]:
    """The event as the JSON object its entry holds (decimals as strings)."""
    body: dict[str, Any] = msgspec.to_builtins(event)
    return body


__all__ = [
    "EVENTS",
    "REGISTRY",
    "STREAM_KINDS",
    "AccountOpened",
    "ClaimKeyHeld",
    "ClaimRecorded",
    "EconomicReported",
    "Event",
    "MeterEnrolled",
    "MeterKeyRevoked",
    "MeterKeyRotated",
    "MeterReading",
    "MethodologyAdopted",
    "PointsAwarded",
    "PointsRedeemed",
    "ReporterEnrolled",
    "UnknownEvent",
    "account_stream",
    "claim_stream",
    "claimkey_stream",
    "decode",
    "decode_body",
    "economic_stream",
    "meter_stream",
    "methodology_stream",
    "parse_stream",
    "reporter_stream",
    "stream_id_of",
    "stream_kind",
    "to_body",
]
