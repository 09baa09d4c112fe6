"""The event store on SQLite and PostgreSQL: entries, hash chains, one transaction per batch, and
the (stream, seq) constraint that lets only one of two writers win."""

from __future__ import annotations

import multiprocessing
from decimal import Decimal

import pytest

from ledger.entry import MAX_ENTRY_SIZE, EntryError, b64, decode_entry
from ledger.merkle import leaf_hash
from ledger.store import EventStore, NewEvent, StreamConflict


def test_entry_bytes_are_exact_and_chained(database_url: str) -> None:
    store = EventStore(database_url)
    try:
        first, second = store.append(
            [
                NewEvent(
                    "meter/A-1",
                    "test.reading/v1",
                    {"quantity": Decimal("1.250"), "unit": "kWh"},
                    evidence='OCMF|{"RV":1.606848e7}|{"SD":"00"}',
                ),
                NewEvent("meter/A-1", "test.reading/v1", {"quantity": "2", "unit": "kWh"}),
            ]
        )
        assert first.data.startswith(
            b'{"format":1,"type":"test.reading/v1","stream":"meter/A-1","seq":1,"time":"'
        )
        assert b'"body":{"quantity":"1.250","unit":"kWh"}' in first.data
        assert first.data.endswith(b',"evidence":"OCMF|{\\"RV\\":1.606848e7}|{\\"SD\\":\\"00\\"}"}')
        assert decode_entry(first.data).prev is None
        assert decode_entry(second.data).prev == b64(leaf_hash(first.data))
        assert first.leaf_hash == leaf_hash(first.data)
        read = store.read_stream("meter/A-1")
        assert [e.data for e in read] == [first.data, second.data]
        assert store.head("meter/A-1") == (2, second.leaf_hash)
        assert store.head("meter/none") is None
    finally:
        store.close()


def test_chain_continues_across_store_instances(database_url: str) -> None:
    a = EventStore(database_url)
    (one,) = a.append([NewEvent("s-1", "t", {"n": 1})])
    a.close()
    b = EventStore(database_url)
    try:
        (two,) = b.append([NewEvent("s-1", "t", {"n": 2})])
        assert two.seq == 2
        assert decode_entry(two.data).prev_hash == one.leaf_hash
    finally:
        b.close()


def test_batch_is_one_transaction(database_url: str) -> None:
    store = EventStore(database_url)
    other = EventStore(database_url)
    try:
        store.append([NewEvent("s-1", "t", {"n": 1}), NewEvent("s-2", "t", {"n": 1})])
        other.append([NewEvent("s-2", "t", {"n": 2})])  # store's cached head of s-2 is now stale
        with pytest.raises(StreamConflict) as raised:
            store.append([NewEvent("s-1", "t", {"n": 2}), NewEvent("s-2", "t", {"n": 3})])
        assert "s-2" in str(raised.value)
        # Nothing of the failed batch was written, including the event for s-1.
        assert [e.seq for e in other.read_stream("s-1")] == [1]
        # The conflict dropped the stale heads: the retry succeeds.
        store.append([NewEvent("s-1", "t", {"n": 2}), NewEvent("s-2", "t", {"n": 3})])
        assert [e.seq for e in other.read_stream("s-1")] == [1, 2]
        assert [e.seq for e in other.read_stream("s-2")] == [1, 2, 3]
    finally:
        store.close()
        other.close()


def test_stale_writer_loses_on_the_database_constraint(database_url: str) -> None:
    a = EventStore(database_url)
    b = EventStore(database_url)
    try:
        b.append([NewEvent("meter/X", "t", {"n": 1})])  # b caches head 1
        a.append([NewEvent("meter/X", "t", {"n": 2})])  # a writes seq 2
        with pytest.raises(StreamConflict, match="another writer appended to 'meter/X' first"):
            b.append([NewEvent("meter/X", "t", {"n": "b"})])  # b tries seq 2 too
        entries = a.read_stream("meter/X")
        assert [decode_entry(e.data).body["n"] for e in entries] == [1, 2]
    finally:
        a.close()
        b.close()


def test_expected_seq_is_checked(database_url: str) -> None:
    store = EventStore(database_url)
    try:
        store.append([NewEvent("claim/k", "t", {}, expected_seq=0)])
        with pytest.raises(StreamConflict, match="is at sequence 1, not 0"):
            store.append([NewEvent("claim/k", "t", {}, expected_seq=0)])
    finally:
        store.close()


def test_refuses_oversized_and_invalid_entries(database_url: str) -> None:
    store = EventStore(database_url)
    try:
        with pytest.raises(EntryError, match="at most 65535"):
            store.append([NewEvent("s-1", "t", {"blob": "x" * MAX_ENTRY_SIZE})])
        with pytest.raises(EntryError, match="stream id"):
            store.append([NewEvent("bad stream", "t", {})])
        with pytest.raises(EntryError, match="event type"):
            store.append([NewEvent("s-1", "Bad Type", {})])
        with pytest.raises(EntryError, match="cannot be encoded"):
            store.append([NewEvent("s-1", "t", {"x": object()})])
        assert store.max_notification_id() == 0
    finally:
        store.close()


def _writer(url: str, name: str, count: int, queue: multiprocessing.Queue) -> None:
    store = EventStore(url)
    conflicts = 0
    written = 0
    while written < count:
        try:
            store.append([NewEvent("shared/stream", "t", {"writer": name, "n": written})])
            written += 1
        except StreamConflict:
            conflicts += 1
    store.close()
    queue.put((name, conflicts))


@pytest.mark.slow
def test_two_processes_writing_one_stream(database_url: str) -> None:
    """Two processes append to one stream as fast as they can: the chain stays whole, every
    sequence number is used once, and losers of a race are told so and retry."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(database_url, name, 60, queue)) for name in "ab"]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(120)
        assert proc.exitcode == 0
    results = dict(queue.get(timeout=5) for _ in procs)
    assert set(results) == {"a", "b"}
    store = EventStore(database_url)
    try:
        entries = store.read_stream("shared/stream")
        assert [e.seq for e in entries] == list(range(1, 121))
        prev = None
        for stored in entries:
            entry = decode_entry(stored.data)
            assert entry.prev == (None if prev is None else b64(prev))
            prev = stored.leaf_hash
        bodies = [decode_entry(e.data).body for e in entries]
        for name in "ab":
            assert sorted(b["n"] for b in bodies if b["writer"] == name) == list(range(60))
    finally:
        store.close()
