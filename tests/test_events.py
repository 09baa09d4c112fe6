"""The typed events decode every entry earlier code wrote, and encode back to the same bytes."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from domain import events
from ledger.entry import Entry, decode_entry, encode_entry

OLD_ENTRIES = Path(__file__).parent / "data" / "entries-c967add.jsonl"


def old_entries() -> list[bytes]:
    return OLD_ENTRIES.read_bytes().splitlines()


def test_every_event_type_is_in_the_old_entries() -> None:
    types = {decode_entry(line).type for line in old_entries()}
    assert types == set(events.REGISTRY)


def test_old_entries_decode_to_typed_events_and_encode_to_the_same_bytes() -> None:
    for line in old_entries():
        entry = decode_entry(line)
        event = events.decode(entry)
        assert isinstance(event, events.REGISTRY[entry.type])
        assert events.stream_kind(entry.stream) == event.STREAM
        # As the write side appends it: the struct itself as the body.
        typed = Entry(
            format=entry.format,
            type=event.TYPE,
            stream=entry.stream,
            seq=entry.seq,
            prev=entry.prev,
            time=entry.time,
            body=event,
            evidence=entry.evidence,
        )
        assert encode_entry(typed) == line
        # And as plain JSON: the body the struct gives back is the body that was stored.
        assert events.to_body(event) == entry.body


def test_a_body_that_does_not_fit_its_type_is_refused() -> None:
    reading = next(decode_entry(x) for x in old_entries() if b"meter.reading/v1" in x)
    with pytest.raises(events.UnknownEvent, match="does not fit"):
        events.decode_body(reading.type, {**reading.body, "extra": 1})
    with pytest.raises(events.UnknownEvent, match="does not fit"):
        events.decode_body(reading.type, {**reading.body, "sequence": "1"})
    with pytest.raises(events.UnknownEvent, match="not an event type"):
        events.decode_body("meter.reading/v9", reading.body)
    other = Entry(format=1, type="test.reading/v1", stream="meter/X", seq=1, time="t", body={})
    assert events.decode(other) is None


def test_decimals_are_written_as_they_were_given() -> None:
    event = msgspec.convert(
        {
            "output": "1.50",
            "value_added": "0E-8",
            "tax": "1E+3",
            "reporter": "r",
            "account": "a",
            "period": "2023",
            "output_unit": "t",
        },
        events.EconomicReported,
    )
    assert msgspec.json.Encoder(decimal_format="string").encode(event).count(b'"1.50"') == 1
    assert events.to_body(event)["value_added"] == "0E-8"
    assert events.to_body(event)["tax"] == "1E+3"
    claim = next(decode_entry(x) for x in old_entries() if b"claim.recorded/v1" in x)
    typed = events.decode(claim)
    assert isinstance(typed, events.ClaimRecorded)
    assert str(typed.quantity) == claim.body["quantity"]


@pytest.mark.parametrize(
    ("make", "ident", "kind"),
    [
        (events.account_stream, "p-51c91e7ea419", "account"),
        (events.meter_stream, "QZ-TEX-E1", "meter"),
        (events.reporter_stream, "quzhou-stats", "reporter"),
        (events.economic_stream, "91330800MA0001181Q", "economic"),
        (events.methodology_stream, "quzhou-points@1.0", "methodology"),
        (events.claim_stream, "50807b3b1e33b37870cb08c31e076c9f", "claim"),
        (events.claimkey_stream, "b220eb30ee8cbe8da311a538f1b1150f", "claimkey"),
    ],
)
def test_stream_ids_round_trip(make, ident, kind) -> None:  # type: ignore[no-untyped-def]
    stream = make(ident)
    assert events.parse_stream(stream) == (kind, ident)
    assert events.stream_id_of(stream, kind) == ident
    assert events.stream_kind(stream) == kind
    with pytest.raises(ValueError, match="is not a"):
        events.stream_id_of(stream, "nothing")


def test_a_serial_that_is_no_stream_id_is_hashed() -> None:
    stream = events.meter_stream("serial with spaces")
    assert stream.startswith("meter/h-") and len(stream) == len("meter/h-") + 40
    assert events.stream_kind("test/1") == "" and events.stream_kind("nokind") == ""
    with pytest.raises(ValueError, match="not one of the platform's streams"):
        events.parse_stream("test/1")
