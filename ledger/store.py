"""The event store: hash-chained streams of entries, kept by the eventsourcing library.

Each stream is an eventsourcing originator (text id such as ``meter/CN-0001``); each entry is a
stored event whose ``originator_version`` is the entry's sequence number and whose ``state`` is the
entry's bytes, exactly as encoded once. The store's primary key on (originator id, version) is what
makes two writers to one stream unable to both win, on SQLite and on PostgreSQL alike.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from eventsourcing.persistence import (
    ApplicationRecorder,
    IntegrityError,
    StoredEvent,
)

from ledger.db import DatabaseConfig
from ledger.entry import (
    ENTRY_FORMAT,
    Entry,
    EntryError,
    b64,
    check_event_type,
    check_stream_id,
    decode_entry,
    encode_entry,
    format_time,
)
from ledger.errors import LedgerError
from ledger.merkle import leaf_hash


class StreamConflict(LedgerError):
    """Another writer appended to the stream first; nothing of the batch was written."""

    def __init__(self, message: str, streams: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.streams = tuple(streams)


@dataclass(frozen=True)
class NewEvent:
    """An event to append. ``expected_seq`` makes the append conditional: it is the sequence number
    of the last entry the writer saw in the stream (0 for a stream it believes new)."""

    stream: str
    type: str
    body: Any
    evidence: str | None = None
    expected_seq: int | None = None
    time: datetime | None = None


@dataclass(frozen=True)
class StoredEntry:
    """An entry as stored: its stream position, its exact bytes and its leaf hash."""

    stream: str
    seq: int
    data: bytes
    leaf_hash: bytes
    notification_id: int | None = None

    def decode(self) -> Entry:
        return decode_entry(self.data)


class StoredNotification(NamedTuple):
    """A stored event in notification order: its id, stream, sequence and exact entry bytes."""

    id: int
    originator_id: str
    originator_version: int
    state: bytes


_SQLITE_NOTIFICATIONS = (
    "SELECT rowid, originator_id, originator_version, state FROM stored_events "
    "WHERE rowid > ? ORDER BY rowid LIMIT ?"
)
_POSTGRES_NOTIFICATIONS = (
    "SELECT notification_id, originator_id, originator_version, state "
    'FROM "{schema}".stored_events WHERE notification_id > %s ORDER BY notification_id LIMIT %s'
)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class EventStore:
    """Appends events to hash-chained streams and reads them back.

    Stream heads are cached in memory after each successful append; a stale head (another process
    wrote since) makes the insert hit the (stream, seq) constraint, which raises StreamConflict and
    drops the cached heads of that batch, so the next attempt reads them afresh.
    """

    def __init__(self, url: str, *, clock: Clock = utc_now) -> None:
        self.config = DatabaseConfig.parse(url)
        self.clock = clock
        self.recorder = _make_recorder(self.config)
        self._heads: dict[str, tuple[int, bytes]] = {}
        self._heads_lock = threading.Lock()

    def close(self) -> None:
        datastore = getattr(self.recorder, "datastore", None)
        if datastore is not None:
            datastore.close()

    # -- writing -------------------------------------------------------------------------------

    def append(self, events: Sequence[NewEvent]) -> list[StoredEntry]:
        """Append a batch of events in one transaction: all are written or none is.

        Raises EntryError for an invalid event and StreamConflict when another writer got to one
        of the streams first (or ``expected_seq`` does not match the stream's head).
        """
        if not events:
            return []
        streams = {event.stream for event in events}
        for stream in streams:
            check_stream_id(stream)
        heads = self._heads_for(streams)
        now = format_time(self.clock())
        checked_types: set[str] = set()
        stored: list[StoredEvent] = []
        entries: list[StoredEntry] = []
        for event in events:
            if event.type not in checked_types:
                checked_types.add(check_event_type(event.type))
            seq, prev = heads.get(event.stream, (0, None))
            if event.expected_seq is not None and event.expected_seq != seq:
                raise StreamConflict(
                    f"stream {event.stream!r} is at sequence {seq}, "
                    f"not {event.expected_seq} as the writer expected",
                    [event.stream],
                )
            entry = Entry(
                format=ENTRY_FORMAT,
                type=event.type,
                stream=event.stream,
                seq=seq + 1,
                prev=None if prev is None else b64(prev),
                time=now if event.time is None else format_time(event.time),
                body=event.body,
                evidence=event.evidence,
            )
            data = encode_entry(entry)
            digest = leaf_hash(data)
            heads[event.stream] = (seq + 1, digest)
            stored.append(StoredEvent(event.stream, seq + 1, event.type, data))
            entries.append(StoredEntry(event.stream, seq + 1, data, digest))
        try:
            ids = self.recorder.insert_events(stored)
        except IntegrityError as exc:
            involved = sorted(streams)
            self._forget(involved)
            raise StreamConflict(
                "another writer appended to "
                + ", ".join(repr(s) for s in involved[:5])
                + (" …" if len(involved) > 5 else "")
                + " first; nothing of this batch was written",
                involved,
            ) from exc
        except Exception:
            self._forget(streams)
            raise
        with self._heads_lock:
            self._heads.update(heads)
        if ids:
            entries = [
                StoredEntry(e.stream, e.seq, e.data, e.leaf_hash, nid)
                for e, nid in zip(entries, ids, strict=True)
            ]
        return entries

    def _heads_for(self, streams: Iterable[str]) -> dict[str, tuple[int, bytes]]:
        heads: dict[str, tuple[int, bytes]] = {}
        missing = []
        with self._heads_lock:
            for stream in streams:
                head = self._heads.get(stream)
                if head is None:
                    missing.append(stream)
                else:
                    heads[stream] = head
        for stream in missing:
            last = self.recorder.select_events(stream, desc=True, limit=1)
            if last:
                heads[stream] = (last[0].originator_version, leaf_hash(last[0].state))
        return heads

    def _forget(self, streams: Iterable[str]) -> None:
        with self._heads_lock:
            for stream in streams:
                self._heads.pop(stream, None)

    # -- reading -------------------------------------------------------------------------------

    def read_stream(
        self, stream: str, *, after: int = 0, limit: int | None = None
    ) -> list[StoredEntry]:
        """Return the stream's entries with sequence numbers above ``after``, in order."""
        check_stream_id(stream)
        events = self.recorder.select_events(stream, gt=after or None, limit=limit)
        return [
            StoredEntry(stream, e.originator_version, e.state, leaf_hash(e.state)) for e in events
        ]

    def head(self, stream: str) -> tuple[int, bytes] | None:
        """Return (sequence, leaf hash) of the stream's last entry, or None for an empty stream."""
        check_stream_id(stream)
        last = self.recorder.select_events(stream, desc=True, limit=1)
        if not last:
            return None
        return last[0].originator_version, leaf_hash(last[0].state)

    def notifications(self, after: int, limit: int) -> Sequence[StoredNotification]:
        """Return up to ``limit`` stored events with notification ids above ``after``, in order.

        This is the recorder's ``select_notifications`` query on the recorder's own connection,
        with rows kept as tuples: the integrator reads every event once, and building the
        library's frozen Notification objects cost it more than the query."""
        if self.config.engine == "sqlite":
            with self.recorder.datastore.transaction(commit=False) as cursor:  # type: ignore[attr-defined]
                cursor.execute(_SQLITE_NOTIFICATIONS, (after, limit))
                return [StoredNotification(*row) for row in cursor.fetchall()]
        from psycopg.rows import tuple_row

        datastore = self.recorder.datastore  # type: ignore[attr-defined]
        with datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as cursor:
            cursor.execute(
                _POSTGRES_NOTIFICATIONS.format(schema=self.config.schema), (after, limit)
            )
            return [
                StoredNotification(i, o, v, bytes(state)) for i, o, v, state in cursor.fetchall()
            ]

    def max_notification_id(self) -> int:
        return self.recorder.max_notification_id() or 0


def _make_recorder(config: DatabaseConfig) -> ApplicationRecorder:
    if config.engine == "sqlite":
        from eventsourcing.sqlite import SQLiteDatastore

        assert config.path is not None
        config.path.parent.mkdir(parents=True, exist_ok=True)
        datastore = SQLiteDatastore(
            db_name=str(config.path), originator_id_type="text", lock_timeout=30
        )
        recorder: ApplicationRecorder = _sqlite_recorder_class()(datastore)
        _create_tables(recorder)
        return recorder
    from eventsourcing.postgres import PostgresDatastore

    datastore_pg = PostgresDatastore(
        dbname=config.dbname,
        host=config.host,
        port=config.port,
        user=config.user,
        password=config.password,
        schema=config.schema,
        originator_id_type="text",
        pool_size=4,
        max_overflow=4,
    )
    recorder = _postgres_recorder_class()(datastore_pg)
    with _schema_lock(config):
        _create_tables(recorder)
    return recorder


def _sqlite_recorder_class() -> Any:
    from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor

    class BatchSQLiteApplicationRecorder(SQLiteApplicationRecorder):
        """The library's SQLite recorder, inserting a batch with one executemany (the library
        executes row by row to collect row ids, which the ledger does not need)."""

        def _insert_events(
            self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **_: Any
        ) -> Sequence[int] | None:
            c.executemany(
                self.insert_events_statement,
                [(e.originator_id, e.originator_version, e.topic, e.state) for e in stored_events],
            )
            return None

    return BatchSQLiteApplicationRecorder


def _postgres_recorder_class() -> Any:
    from eventsourcing.postgres import PostgresApplicationRecorder
    from psycopg.sql import SQL, Identifier

    class BatchPostgresApplicationRecorder(PostgresApplicationRecorder):
        """The library's PostgreSQL recorder (same table, same EXCLUSIVE table lock so that
        notification ids commit in order, same NOTIFY), inserting a batch as four parallel arrays
        in binary instead of an array of composite values dumped as text, which costs more Python
        time per event than the database spends on it."""

        def _insert_stored_events(
            self, curs: Any, stored_events: Sequence[StoredEvent], **_: Any
        ) -> None:
            self._lock_table(curs)
            self._notify_channel(curs)
            curs.execute(
                SQL(
                    "INSERT INTO {schema}.{table} "
                    "(originator_id, originator_version, topic, state) "
                    "SELECT * FROM unnest(%b::text[], %b::bigint[], %b::text[], %b::bytea[]) "
                    "RETURNING notification_id"
                ).format(
                    schema=Identifier(self.datastore.schema),
                    table=Identifier(self.events_table_name),
                ),
                (
                    [str(e.originator_id) for e in stored_events],
                    [e.originator_version for e in stored_events],
                    [e.topic for e in stored_events],
                    [e.state for e in stored_events],
                ),
                binary=True,
            )

    return BatchPostgresApplicationRecorder


def _create_tables(recorder: ApplicationRecorder, attempts: int = 5) -> None:
    # Two processes opening a new PostgreSQL ledger at once can race on CREATE TABLE IF NOT
    # EXISTS (the catalogue's unique index fires); the loser finds the tables on its next try.
    for attempt in range(attempts):
        try:
            recorder.create_table()  # type: ignore[attr-defined]
            return
        except IntegrityError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.05 * (attempt + 1))


@contextmanager
def _schema_lock(config: DatabaseConfig) -> Iterator[None]:
    """Create the schema if needed and hold a session advisory lock on it: two processes opening
    a new PostgreSQL ledger at once would otherwise race on CREATE TABLE / CREATE TYPE."""
    import psycopg

    with psycopg.connect(
        host=config.host,
        port=config.port,
        user=config.user,
        password=config.password,
        dbname=config.dbname,
        autocommit=True,
    ) as conn:
        conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (config.schema,))
        try:
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{config.schema}"')
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (config.schema,))


__all__ = [
    "EntryError",
    "EventStore",
    "NewEvent",
    "StoredEntry",
    "StreamConflict",
]
