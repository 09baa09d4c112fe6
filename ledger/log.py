"""The Merkle log: stored events become leaves, tiles and signed checkpoints.

The integrator reads the event store in notification order and gives each stored event exactly one
leaf. Its position (tree size and last notification id) is written in the same transaction as the
tiles and leaf rows it produced, so a crash at any point resumes where the last commit left off:
no leaf is lost or written twice, and gaps in notification ids (PostgreSQL) are simply skipped.

Hash tiles and entry bundles are stored in the C2SP tlog-tiles layout, one row per tile holding its
latest (possibly partial) bytes; a partial tile of width W is a prefix of every wider version, so
older widths are served by slicing. Proofs are computed from the stored tiles, so memory use does
not grow with the log.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from ledger.checkpoint import Checkpoint, CheckpointSigner
from ledger.db import Database
from ledger.errors import LedgerError, ProofError
from ledger.merkle import (
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    tree_hash_from_reader,
    verify_consistency,
)
from ledger.store import EventStore
from ledger.tiles import (
    ENTRIES,
    TILE_WIDTH,
    Tile,
    TileBuilder,
    TileHashReader,
    decode_entry_bundle,
    encode_entry_bundle,
    right_edge_tiles,
)


class IntegratorConflict(LedgerError):
    """Another integrator advanced the log first; this one reloads and tries again."""


class CheckpointRefused(LedgerError):
    """The log refused to sign a checkpoint inconsistent with one it signed before."""


@dataclass(frozen=True)
class StoredCheckpoint:
    """A checkpoint the log signed: the parsed checkpoint and the exact signed note bytes."""

    checkpoint: Checkpoint
    note: bytes
    signed_at: float


SCHEMA = (
    "CREATE TABLE IF NOT EXISTS log_state ("
    " id INTEGER PRIMARY KEY CHECK (id = 1),"
    " size BIGINT NOT NULL,"
    " last_notification_id BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS log_tiles ("
    " level INTEGER NOT NULL,"
    " n BIGINT NOT NULL,"
    " data {blob} NOT NULL,"
    " PRIMARY KEY (level, n))",
    # Finds a leaf's index from its hash; level-0 tiles map the other way.
    "CREATE TABLE IF NOT EXISTS log_leaves ("
    " leaf_hash {blob} PRIMARY KEY,"
    " idx BIGINT NOT NULL){without_rowid}",
    "CREATE TABLE IF NOT EXISTS log_checkpoints ("
    " size BIGINT PRIMARY KEY,"
    " note {blob} NOT NULL,"
    " signed_at DOUBLE PRECISION NOT NULL)",
    "INSERT INTO log_state (id, size, last_notification_id) VALUES (1, 0, 0) "
    "ON CONFLICT DO NOTHING",
)

UPSERT_TILE = (
    "INSERT INTO log_tiles (level, n, data) VALUES (?, ?, ?) "
    "ON CONFLICT (level, n) DO UPDATE SET data = excluded.data"
)


def create_log_tables(db: Database) -> None:
    """Create the log's tables if they do not exist yet."""
    sqlite = db.engine == "sqlite"
    types = {
        "blob": "BLOB" if sqlite else "BYTEA",
        "without_rowid": " WITHOUT ROWID" if sqlite else "",
    }
    with db.transaction(write=True) as cur:
        if not sqlite:  # serialise concurrent first opens of one schema
            cur.execute("SELECT pg_advisory_xact_lock(hashtext(current_schema()))")
        for statement in SCHEMA:
            cur.execute(statement.format(**types))


class _StoredTiles:
    """Reads stored tiles for a TileHashReader: one query for a batch of tiles."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def __call__(self, tiles: Sequence[Tile]) -> list[bytes]:
        if not tiles:
            return []
        wanted = sorted({(t.level, t.n) for t in tiles})
        found: dict[tuple[int, int], bytes] = {}
        with self.db.transaction() as cur:
            for start in range(0, len(wanted), 200):
                chunk = wanted[start : start + 200]
                clause = " OR ".join("(level = ? AND n = ?)" for _ in chunk)
                params = [value for key in chunk for value in key]
                for level, n, data in cur.execute(
                    f"SELECT level, n, data FROM log_tiles WHERE {clause}", params
                ).fetchall():
                    found[(level, n)] = bytes(data)
        out = []
        for tile in tiles:
            data = found.get((tile.level, tile.n))
            if data is None:
                raise LedgerError(f"tile {tile.path} is missing from the store")
            out.append(data)
        return out


class Log:
    """The transparency log over an event store: integration, tiles, checkpoints and proofs."""

    def __init__(
        self,
        store: EventStore,
        db: Database,
        *,
        origin: str,
        signer: CheckpointSigner | None = None,
        checkpoint_interval: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.db = db
        self.origin = origin
        self.signer = signer
        self.checkpoint_interval = checkpoint_interval
        self.clock = clock
        self._read_tiles = _StoredTiles(db)
        self._lock = threading.Lock()
        self._builder: TileBuilder | None = None
        self._bundle: list[bytes] = []
        self._last_notification_id = 0
        create_log_tables(db)

    # -- integration ---------------------------------------------------------------------------

    def position(self) -> tuple[int, int]:
        """Return (leaves integrated, notification id of the last integrated event), as
        committed by whichever process integrates."""
        with self.db.transaction() as cur:
            row = cur.execute(
                "SELECT size, last_notification_id FROM log_state WHERE id = 1"
            ).fetchone()
        return (0, 0) if row is None else (int(row[0]), int(row[1]))

    def size(self) -> int:
        """Return the number of leaves integrated so far (committed)."""
        return self.position()[0]

    def _load(self) -> None:
        # Tiles are read after the position; they may have grown since (another integrator), but
        # the tiles of this size are prefixes of any later version, and a stale position is caught
        # by the compare-and-set when this integrator writes.
        size, last_nid = self.position()
        edge = right_edge_tiles(size)
        partial: dict[int, bytes] = {}
        if edge:
            for tile, data in zip(edge, self._read_tiles(edge), strict=True):
                partial[tile.level] = data[: tile.width * 32]
        self._builder = TileBuilder(size, partial)
        self._bundle = []
        if size % TILE_WIDTH:
            bundle_tile = Tile(ENTRIES, size // TILE_WIDTH, size % TILE_WIDTH)
            (data,) = self._read_tiles([bundle_tile])
            self._bundle = decode_entry_bundle(data)[: bundle_tile.width]
        self._last_notification_id = last_nid

    def integrate(self, max_entries: int = 10_000) -> int:
        """Integrate up to ``max_entries`` stored events not yet in the log; return how many.

        One transaction writes the new leaves, the tiles they changed and the new position.
        """
        with self._lock:
            try:
                return self._integrate(max_entries)
            except BaseException:
                self._builder = None  # memory may be ahead of the store: reload next time
                raise

    def _integrate(self, max_entries: int) -> int:
        if self._builder is None:
            self._load()
        builder = self._builder
        assert builder is not None
        notifications = self.store.notifications(self._last_notification_id, max_entries)
        if not notifications:
            return 0
        old_size = builder.size
        leaves = []
        changed_bundles: dict[int, bytes] = {}
        bundle = self._bundle
        for note in notifications:
            index = builder.size
            digest = leaf_hash(note.state)
            builder.append(digest)
            leaves.append((digest, index))
            bundle.append(note.state)
            if len(bundle) == TILE_WIDTH:
                changed_bundles[index // TILE_WIDTH] = encode_entry_bundle(bundle)
                bundle = []
        if bundle:
            changed_bundles[builder.size // TILE_WIDTH] = encode_entry_bundle(bundle)
        self._bundle = bundle
        tiles = builder.changed_tiles()
        new_nid = notifications[-1].id
        with self.db.transaction(write=True) as cur:
            cur.execute(
                "UPDATE log_state SET size = ?, last_notification_id = ? WHERE id = 1 AND size = ?",
                (builder.size, new_nid, old_size),
            )
            if cur.rowcount != 1:
                raise IntegratorConflict("another integrator advanced the log; reloading")
            cur.executemany(
                UPSERT_TILE,
                [(t.level, t.n, data) for t, data in tiles.items()]
                + [(ENTRIES, n, data) for n, data in changed_bundles.items()],
            )
            cur.executemany("INSERT INTO log_leaves (leaf_hash, idx) VALUES (?, ?)", leaves)
        self._last_notification_id = new_nid
        return len(notifications)

    def integrate_all(self, batch: int = 10_000) -> int:
        """Integrate until no stored event is left outside the log; return how many."""
        total = 0
        while True:
            count = self.integrate(batch)
            if count == 0:
                return total
            total += count

    # -- checkpoints ---------------------------------------------------------------------------

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        """Return the newest signed checkpoint, or None before the first."""
        with self.db.transaction() as cur:
            row = cur.execute(
                "SELECT note, signed_at FROM log_checkpoints ORDER BY size DESC LIMIT 1"
            ).fetchone()
        if row is None:
            return None
        note = bytes(row[0])
        return StoredCheckpoint(_checkpoint_of(note), note, float(row[1]))

    def checkpoints(self) -> Iterator[StoredCheckpoint]:
        """Yield every signed checkpoint, oldest first."""
        with self.db.transaction() as cur:
            rows = cur.execute(
                "SELECT note, signed_at FROM log_checkpoints ORDER BY size"
            ).fetchall()
        for note, signed_at in rows:
            note = bytes(note)
            yield StoredCheckpoint(_checkpoint_of(note), note, float(signed_at))

    def root(self, size: int) -> bytes:
        """Return the root hash of the tree's first ``size`` leaves, from the stored tiles."""
        self._check_size(size)
        return tree_hash_from_reader(size, TileHashReader(size, self._read_tiles))

    def sign_checkpoint(self, *, force: bool = False) -> StoredCheckpoint | None:
        """Sign a checkpoint of the current tree if it grew since the last one and, unless
        ``force``, the last one is at least ``checkpoint_interval`` seconds old. Return the new
        checkpoint, or None when none was due.

        Before signing, the new tree is checked to be an extension of the last signed one, with a
        consistency proof from the stored tiles: the log never signs two inconsistent checkpoints.
        """
        if self.signer is None:
            raise LedgerError("this log has no signing key; it cannot sign checkpoints")
        latest = self.latest_checkpoint()
        size = self.size()
        if latest is not None:
            if size <= latest.checkpoint.size:
                return None
            if not force and self.clock() - latest.signed_at < self.checkpoint_interval:
                return None
        elif size == 0 and not force:
            return None
        root = self.root(size)
        if latest is not None:
            old = latest.checkpoint
            try:
                proof = self.consistency_proof(old.size, size)
                verify_consistency(old.size, size, proof, old.root_hash, root)
            except ProofError as exc:
                raise CheckpointRefused(
                    f"tree of size {size} is not consistent with the signed checkpoint of size "
                    f"{old.size}: {exc}"
                ) from exc
        checkpoint = Checkpoint(origin=self.origin, size=size, root_hash=root)
        note = self.signer.sign(checkpoint)
        signed_at = self.clock()
        with self.db.transaction(write=True) as cur:
            cur.execute(
                "INSERT INTO log_checkpoints (size, note, signed_at) VALUES (?, ?, ?) "
                "ON CONFLICT (size) DO NOTHING",
                (size, note, signed_at),
            )
        return self.latest_checkpoint()

    # -- reading -------------------------------------------------------------------------------

    def _check_size(self, size: int) -> None:
        current = self.size()
        if size < 0 or size > current:
            raise ProofError(f"tree size {size} is beyond the log's {current} leaves")

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """Return the RFC 9162 inclusion proof of leaf ``index`` in the tree of ``size`` leaves."""
        self._check_size(size)
        if not 0 <= index < size:
            raise ProofError(f"leaf index {index} is not in a tree of size {size}")
        return inclusion_proof(index, size, TileHashReader(size, self._read_tiles))

    def consistency_proof(self, old_size: int, size: int) -> list[bytes]:
        """Return the RFC 9162 consistency proof between trees of ``old_size`` and ``size``."""
        self._check_size(size)
        if not 0 <= old_size <= size:
            raise ProofError(f"old size {old_size} is not between 0 and {size}")
        if old_size == 0 or old_size == size:
            return []
        return consistency_proof(old_size, size, TileHashReader(size, self._read_tiles))

    def leaf_index(self, digest: bytes) -> int | None:
        """Return the index of the leaf with this hash, or None when the log has no such leaf."""
        with self.db.transaction() as cur:
            row = cur.execute(
                "SELECT idx FROM log_leaves WHERE leaf_hash = ?", (digest,)
            ).fetchone()
        return None if row is None else int(row[0])

    def leaf_indexes(self, digests: Sequence[bytes]) -> dict[bytes, int]:
        """Return {leaf hash: index} for those of the given leaf hashes that are in the log."""
        found: dict[bytes, int] = {}
        unique = list(dict.fromkeys(digests))
        with self.db.transaction() as cur:
            for start in range(0, len(unique), 500):
                chunk = unique[start : start + 500]
                marks = ", ".join("?" for _ in chunk)
                for digest, idx in cur.execute(
                    f"SELECT leaf_hash, idx FROM log_leaves WHERE leaf_hash IN ({marks})", chunk
                ).fetchall():
                    found[bytes(digest)] = int(idx)
        return found

    def index_of(self, stream: str, seq: int) -> int | None:
        """Return the leaf index of a stream's entry, or None while it is not integrated."""
        entries = self.store.read_stream(stream, after=seq - 1, limit=1)
        if not entries or entries[0].seq != seq:
            return None
        return self.leaf_index(entries[0].leaf_hash)

    def tile(self, level: int, n: int, width: int) -> bytes | None:
        """Return the bytes of a hash tile or entry bundle of the given width, or None when the log
        does not (yet) hold that many hashes or entries there."""
        with self.db.transaction() as cur:
            row = cur.execute(
                "SELECT data FROM log_tiles WHERE level = ? AND n = ?", (level, n)
            ).fetchone()
        if row is None:
            return None
        data = bytes(row[0])
        if level == ENTRIES:
            entries = decode_entry_bundle(data)
            if len(entries) < width:
                return None
            return data if len(entries) == width else encode_entry_bundle(entries[:width])
        if len(data) < width * 32:
            return None
        return data[: width * 32]

    def entry(self, index: int) -> bytes:
        """Return the exact bytes of the entry at leaf ``index``."""
        size = self.size()
        if not 0 <= index < size:
            raise ProofError(f"leaf index {index} is not in the log of {size} leaves")
        data = self.tile(ENTRIES, index // TILE_WIDTH, index % TILE_WIDTH + 1)
        if data is None:
            raise LedgerError(f"entry bundle for leaf {index} is missing from the store")
        return decode_entry_bundle(data)[index % TILE_WIDTH]


def _checkpoint_of(note: bytes) -> Checkpoint:
    text, _, _ = note.partition(b"\n\n")
    return Checkpoint.parse(text + b"\n")
