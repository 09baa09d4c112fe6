"""Claim keys: one key per activity (or per 15-minute slot of an interval activity), the same on
every federated platform, revealing nothing of the activity without the federation secret.

A key is ``HMAC-SHA256(secret, descriptor)`` in hex, where the descriptor is a canonical text of the
activity alone (never of who claims it):

- ``transaction\\n<source system>\\n<transaction id>`` for an activity a source system records
  once (a bus ride on a transit card system, a recycling drop-off);
- ``meter-slot\\n<meter serial>\\n<slot start, UTC, RFC 3339>`` for each 15-minute slot that an
  interval activity on a meter covers, so overlapping claims of any granularity collide.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from domain.errors import RequestError

SLOT = timedelta(minutes=15)
MAX_SLOTS = 96 * 31  # a claim covers at most a month of one meter


@dataclass(frozen=True)
class ClaimKey:
    """A claim key and the descriptor it blinds (the descriptor stays on this platform)."""

    key: str
    descriptor: str


def _key(secret: bytes, descriptor: str) -> ClaimKey:
    return ClaimKey(
        hmac.new(secret, descriptor.encode("utf-8"), hashlib.sha256).hexdigest(), descriptor
    )


def transaction_key(secret: bytes, source: object, transaction_id: object) -> ClaimKey:
    """The claim key of an activity recorded once by a source system."""
    parts = []
    for name, value in (("source", source), ("id", transaction_id)):
        if not isinstance(value, str) or not value or "\n" in value or len(value) > 200:
            raise RequestError(f"activity {name} must be 1-200 characters without newlines")
        parts.append(value)
    return _key(secret, "transaction\n" + "\n".join(parts))


def slots(start: datetime, end: datetime) -> list[datetime]:
    """The 15-minute slots (their UTC start times) that [start, end) touches."""
    if start.tzinfo is None or end.tzinfo is None:
        raise RequestError("activity start and end need a time zone offset")
    if end <= start:
        raise RequestError("activity end must be after its start")
    start_utc = start.astimezone(UTC)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    first = epoch + ((start_utc - epoch) // SLOT) * SLOT
    out = []
    slot = first
    while slot < end:
        out.append(slot)
        slot += SLOT
        if len(out) > MAX_SLOTS:
            raise RequestError(f"an interval claim covers at most {MAX_SLOTS} 15-minute slots")
    return out


def meter_slot_keys(secret: bytes, serial: str, start: datetime, end: datetime) -> list[ClaimKey]:
    """The claim keys of every 15-minute slot of [start, end) on the meter ``serial``."""
    return [
        _key(secret, f"meter-slot\n{serial}\n{slot.strftime('%Y-%m-%dT%H:%M:%SZ')}")
        for slot in slots(start, end)
    ]
