"""The projection runner: keeps read models up to date with the Merkle log, each entry applied once.

Projections are built from the log alone, never from the event store's notification order: the
runner reads entries by leaf index from the log's entry bundles (whole bundles of 256 entries, each
checked against the leaf hashes of the log's level-0 tile), so anyone holding the log gets the same
read models, and the position of a projection *is* a log size.

Each batch is one write transaction: it moves the position in ``proj_position`` from the size the
batch started at to the size it ends at (a compare-and-set, so two runners never apply an entry
twice) and writes every projection's changes. A crash at any point leaves the position and the
tables of the last commit, and the next catch-up resumes from there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from domain.methodology import FactorTable
from ledger.db import Cursor, Database
from ledger.entry import EntryError, decode_entry
from ledger.log import Log
from ledger.merkle import leaf_hash
from ledger.tiles import ENTRIES, TILE_WIDTH, decode_entry_bundle
from projections.errors import LogMismatch, ProjectionConflict, ProjectionError, StaleProjection
from projections.models import CarbonReadModels, LoggedEntry, Projection

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "POSITION_SCHEMA",
    "Progress",
    "ProjectionRunner",
    "create_projection_tables",
    "read_log_entries",
]

DEFAULT_BATCH_SIZE = 4096
HASH_SIZE = 32

# built_with holds the projections' fingerprints (the methodologies they convert with), so read
# models built with other factors are rebuilt rather than extended with mixed numbers.
POSITION_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS proj_position ("
    " name TEXT PRIMARY KEY,"
    " size BIGINT NOT NULL,"
    " built_with TEXT NOT NULL)"
)

Progress = Callable[[int, int], None]


def create_projection_tables(db: Database, projections: Sequence[Projection]) -> None:
    """Create ``proj_position`` and the projections' tables where they do not exist yet."""
    with db.transaction(write=True) as cur:
        if db.engine != "sqlite":  # serialise concurrent first opens of one schema
            cur.execute("SELECT pg_advisory_xact_lock(hashtext(current_schema() || '/proj'))")
        cur.execute(POSITION_SCHEMA)
        for projection in projections:
            projection.create_tables(cur)


def read_log_entries(log: Log, start: int, end: int, *, verify: bool = True) -> list[LoggedEntry]:
    """Return the decoded entries at leaf indexes ``start`` to ``end - 1``, read from whole entry
    bundles; with ``verify``, each entry's leaf hash is checked against the log's level-0 tile,
    so what is projected is what the Merkle tree commits to. Raise LogMismatch when a bundle is
    missing, does not match, or holds a leaf that is not a valid entry."""
    out: list[LoggedEntry] = []
    if end <= start:
        return out
    for n in range(start // TILE_WIDTH, (end - 1) // TILE_WIDTH + 1):
        base = n * TILE_WIDTH
        width = min(TILE_WIDTH, end - base)
        first = max(start - base, 0)
        data = log.tile(ENTRIES, n, width)
        if data is None:
            raise LogMismatch(f"entry bundle {n} (width {width}) is missing from the log")
        bundle = decode_entry_bundle(data)
        if verify:
            hashes = log.tile(0, n, width)
            if hashes is None:
                raise LogMismatch(f"level-0 tile {n} (width {width}) is missing from the log")
            for i in range(first, width):
                if leaf_hash(bundle[i]) != hashes[i * HASH_SIZE : (i + 1) * HASH_SIZE]:
                    raise LogMismatch(
                        f"entry {base + i} in entry bundle {n} does not match its leaf hash in "
                        "the log's tiles"
                    )
        for i in range(first, width):
            try:
                entry = decode_entry(bundle[i])
            except EntryError as exc:
                raise LogMismatch(f"leaf {base + i}: {exc}") from exc
            out.append(LoggedEntry(base + i, entry))
    return out


class ProjectionRunner:
    """Applies the log's entries to read models, tracked by a position in ``proj_position``.

    ``factors`` is the emission factor table for the default read models
    (:class:`projections.models.CarbonReadModels`; default: the platform's default adoption).
    ``projections`` replaces the default list (e.g. to add a read model kept in step with the
    others). ``name`` is the position's row: runners of one name share one position.
    """

    def __init__(
        self,
        log: Log,
        db: Database,
        factors: FactorTable | None = None,
        *,
        name: str = "carbon",
        projections: Sequence[Projection] | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        verify_leaves: bool = True,
    ) -> None:
        if projections is None:
            projections = (CarbonReadModels(factors),)
        elif factors is not None:
            raise TypeError("give either factors (for the default read models) or projections")
        if not projections:
            raise ValueError("a runner needs at least one projection")
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.log = log
        self.db = db
        self.name = name
        self.projections = tuple(projections)
        self.batch_size = batch_size
        self.verify_leaves = verify_leaves
        self.built_with = " | ".join(f for p in self.projections if (f := p.fingerprint()))
        create_projection_tables(db, self.projections)
        with db.transaction(write=True) as cur:
            cur.execute(
                "INSERT INTO proj_position (name, size, built_with) VALUES (?, 0, ?) "
                "ON CONFLICT (name) DO NOTHING",
                (name, self.built_with),
            )

    def position(self) -> int:
        """Return the log size the read models reflect: entries 0 .. position-1 are applied."""
        return self._state()[0]

    def _state(self) -> tuple[int, str]:
        with self.db.transaction() as cur:
            row = cur.execute(
                "SELECT size, built_with FROM proj_position WHERE name = ?", (self.name,)
            ).fetchone()
        if row is None:
            raise ProjectionError(f"projection {self.name!r} has no position row")
        return int(row[0]), str(row[1])

    def catch_up(self, max_entries: int | None = None, *, progress: Progress | None = None) -> int:
        """Apply up to ``max_entries`` (default: all) log entries beyond the position, in
        transactions of at most ``batch_size`` entries each; return how many were applied.

        ``progress(position, log_size)`` is called after each committed batch. Raise
        StaleProjection when the read models were built with other methodologies (call
        :meth:`rebuild`)."""
        applied = 0
        while max_entries is None or applied < max_entries:
            start, built_with = self._state()
            if built_with != self.built_with and start != 0:
                raise StaleProjection(
                    f"projection {self.name!r} was built with {built_with}; this runner uses "
                    f"{self.built_with}: rebuild it"
                )
            log_size = self.log.size()
            if log_size < start:
                raise ProjectionError(
                    f"projection {self.name!r} is at log size {start}, beyond the log's "
                    f"{log_size} leaves: it was built from another log"
                )
            end = min(log_size, start + self.batch_size)
            if max_entries is not None:
                end = min(end, start + max_entries - applied)
            if end <= start:
                break
            entries = read_log_entries(self.log, start, end, verify=self.verify_leaves)
            try:
                self._apply(start, end, built_with, entries)
            except ProjectionConflict:
                continue  # another runner applied these entries; carry on from its position
            applied += end - start
            if progress is not None:
                progress(end, log_size)
        return applied

    def _apply(self, start: int, end: int, built_with: str, entries: list[LoggedEntry]) -> None:
        with self.db.transaction(write=True) as cur:
            # First, so that on PostgreSQL the row lock orders concurrent runners.
            cur.execute(
                "UPDATE proj_position SET size = ?, built_with = ? "
                "WHERE name = ? AND size = ? AND built_with = ?",
                (end, self.built_with, self.name, start, built_with),
            )
            if cur.rowcount != 1:
                raise ProjectionConflict(f"projection {self.name!r} moved past {start}")
            for projection in self.projections:
                projection.apply(cur, entries)

    def rebuild(self, progress: Progress | None = None) -> int:
        """Drop and recreate every table of the runner's projections, then apply the whole log
        again; return how many entries were applied. ``progress(position, log_size)`` is called
        after each batch. The reset is one transaction: readers see either the old read models
        or a position that says how far the new ones have got."""
        with self.db.transaction(write=True) as cur:
            self._reset(cur)
        return self.catch_up(progress=progress)

    def _reset(self, cur: Cursor) -> None:
        # First, so that on PostgreSQL the row lock waits for a batch being applied.
        cur.execute(
            "UPDATE proj_position SET size = 0, built_with = ? WHERE name = ?",
            (self.built_with, self.name),
        )
        for projection in self.projections:
            for table in projection.tables:
                cur.execute(f"DROP TABLE IF EXISTS {table}")
        for projection in self.projections:
            projection.create_tables(cur)
        cur.execute(
            "INSERT INTO proj_position (name, size, built_with) VALUES (?, 0, ?) "
            "ON CONFLICT (name) DO UPDATE SET size = 0, built_with = excluded.built_with",
            (self.name, self.built_with),
        )
