"""Log entries: one event as UTF-8 JSON bytes, encoded once with a fixed field order.

The bytes produced here are stored verbatim and are what the Merkle leaf commits to; nothing ever
re-encodes an entry. Field order on the wire::

    {"format":1,"type":…,"stream":…,"seq":…,"prev":…,"time":…,"body":{…},"evidence":…}

``prev`` is the base64 leaf hash (SHA-256(0x00 || entry)) of the stream's previous entry, absent for
the first entry of a stream, so an auditor can pass it straight to the inclusion-proof endpoint;
``evidence`` is absent when the event carries no source evidence.
"""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime
from typing import Any

import msgspec

from ledger.errors import LedgerError

ENTRY_FORMAT = 1
MAX_ENTRY_SIZE = 65_535  # C2SP tlog-tiles entry bundles prefix each entry with a uint16 length
STREAM_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+\-]{0,199}$")
EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_.\-]{0,99}(/v[0-9]+)?$")


class EntryError(LedgerError, ValueError):
    """An entry that cannot be written or read: too large, bad stream id, bad type, bad bytes."""


class Entry(msgspec.Struct, kw_only=True, omit_defaults=True, forbid_unknown_fields=True):
    """The decoded form of an entry. Encode with :func:`encode_entry` only once, when appending."""

    format: int
    type: str
    stream: str
    seq: int
    prev: str | None = None
    time: str
    body: Any
    evidence: str | None = None

    @property
    def prev_hash(self) -> bytes | None:
        """The previous entry's leaf hash as bytes, or None for a stream's first entry."""
        return None if self.prev is None else base64.b64decode(self.prev)


_encoder = msgspec.json.Encoder(decimal_format="string")
_decoder = msgspec.json.Decoder(Entry)


def format_time(moment: datetime) -> str:
    """Format an aware datetime as RFC 3339 UTC with microseconds (2026-01-02T03:04:05.000006Z)."""
    if moment.tzinfo is None:
        raise EntryError("entry time must be timezone-aware")
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def check_stream_id(stream: str) -> str:
    """Return ``stream`` if it is a valid stream id, else raise EntryError naming the problem."""
    if not isinstance(stream, str) or not STREAM_ID.match(stream):
        raise EntryError(
            f"stream id {stream!r} is not valid: 1-200 characters of letters, digits and ._:/@+-, "
            "starting with a letter or digit"
        )
    return stream


def check_event_type(event_type: str) -> str:
    """Return ``event_type`` if it is a valid event type name, else raise EntryError."""
    if not isinstance(event_type, str) or not EVENT_TYPE.match(event_type):
        raise EntryError(
            f"event type {event_type!r} is not valid: lower-case letters, digits and ._- "
            "with an optional /vN suffix"
        )
    return event_type


def encode_entry(entry: Entry) -> bytes:
    """Encode an entry to its one and only byte form, refusing entries over 65,535 bytes."""
    try:
        data = _encoder.encode(entry)
    except (TypeError, msgspec.EncodeError) as exc:
        raise EntryError(f"entry body cannot be encoded as JSON: {exc}") from exc
    if len(data) > MAX_ENTRY_SIZE:
        raise EntryError(
            f"entry for stream {entry.stream!r} is {len(data)} bytes; the log takes at most "
            f"{MAX_ENTRY_SIZE}"
        )
    return data


def decode_entry(data: bytes) -> Entry:
    """Decode stored entry bytes, raising EntryError when they are not a valid entry."""
    try:
        return _decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise EntryError(f"stored bytes are not a valid entry: {exc}") from exc


def b64(data: bytes) -> str:
    """Standard base64 with padding, as C2SP formats and our JSON use for hashes."""
    return base64.b64encode(data).decode("ascii")
