"""The full-log audit: recompute everything the log claims from the stored events alone.

The audit replays the event store in notification order and checks, for every entry, that it
decodes, that its stream, sequence and previous-entry hash continue its stream's chain, and that
the log's leaf at its position has its hash. It rebuilds the tiles from those leaves and entries,
compares them byte for byte with the stored tiles and entry bundles, and checks every stored
checkpoint's signature and its root against the rebuilt tree (which makes the checkpoints
mutually consistent).
It stops at the first thing that does not match and names it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ledger.checkpoint import open_checkpoint
from ledger.entry import EntryError, b64, decode_entry
from ledger.errors import LedgerError, NoteError
from ledger.log import Log
from ledger.merkle import leaf_hash
from ledger.note import VerifierKey
from ledger.tiles import ENTRIES, TILE_WIDTH, Tile, TileBuilder, encode_entry_bundle


@dataclass(frozen=True)
class AuditReport:
    """What the audit checked, and the first mismatch it found (None when everything holds)."""

    entries: int
    tiles: int
    checkpoints: int
    failure: str | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None


class _Mismatch(LedgerError):
    pass


Progress = Callable[[int, int], None]


def audit_log(
    log: Log, verifier_key: VerifierKey, *, progress: Progress | None = None, batch: int = 5_000
) -> AuditReport:
    """Re-verify the whole log against the event store; return a report naming the first failure."""
    counts = {"entries": 0, "tiles": 0, "checkpoints": 0}
    try:
        _audit(log, verifier_key, counts, progress, batch)
    except _Mismatch as exc:
        return AuditReport(counts["entries"], counts["tiles"], counts["checkpoints"], str(exc))
    return AuditReport(counts["entries"], counts["tiles"], counts["checkpoints"])


def _audit(
    log: Log,
    verifier_key: VerifierKey,
    counts: dict[str, int],
    progress: Progress | None,
    batch: int,
) -> None:
    size = log.size()
    checkpoints = list(log.checkpoints())
    for stored in checkpoints:
        try:
            opened = open_checkpoint(stored.note, verifier_key, origin=log.origin)
        except NoteError as exc:
            raise _Mismatch(f"checkpoint of size {stored.checkpoint.size}: {exc}") from exc
        if opened.checkpoint.size > size:
            raise _Mismatch(
                f"checkpoint of size {opened.checkpoint.size} is beyond the log's {size} leaves"
            )
    roots_wanted = {c.checkpoint.size: c.checkpoint.root_hash for c in checkpoints}
    if 0 in roots_wanted:
        _check_root(roots_wanted, TileBuilder(0, {}), counts)

    heads: dict[str, tuple[int, bytes]] = {}
    builder = TileBuilder(0, {})
    bundle: list[bytes] = []
    after = 0
    index = 0
    while index < size:
        notifications = log.store.notifications(after, min(batch, size - index))
        if not notifications:
            raise _Mismatch(
                f"the log has {size} leaves but the event store holds only {index} events"
            )
        stored_leaves = _stored_leaves(log, index, len(notifications))
        indexed = log.leaf_indexes([leaf_hash(n.state) for n in notifications])
        for note in notifications:
            data = note.state
            digest = leaf_hash(data)
            where = f"entry {index} (stream {note.originator_id!s}, seq {note.originator_version})"
            try:
                entry = decode_entry(data)
            except EntryError as exc:
                raise _Mismatch(f"{where}: {exc}") from exc
            if entry.stream != str(note.originator_id) or entry.seq != note.originator_version:
                raise _Mismatch(
                    f"{where}: the entry names stream {entry.stream!r} seq {entry.seq}, "
                    "not its place in the store"
                )
            seq, prev = heads.get(entry.stream, (0, None))
            if entry.seq != seq + 1:
                raise _Mismatch(f"{where}: sequence jumps from {seq} to {entry.seq}")
            if entry.prev != (None if prev is None else b64(prev)):
                raise _Mismatch(f"{where}: prev does not match the stream's previous entry hash")
            heads[entry.stream] = (entry.seq, digest)
            if indexed.get(digest) != index:
                raise _Mismatch(f"{where}: the log's leaf hash does not match the entry bytes")
            if stored_leaves.get(index) != digest:
                n = index // TILE_WIDTH
                tile = Tile(0, n, min(TILE_WIDTH, size - n * TILE_WIDTH))
                raise _Mismatch(
                    f"{tile.path}: hash {index % TILE_WIDTH} does not match entry {index}"
                )
            builder.append(digest)
            bundle.append(data)
            index += 1
            counts["entries"] = index
            if len(bundle) == TILE_WIDTH:
                _check_tile(
                    log,
                    Tile(ENTRIES, (index - 1) // TILE_WIDTH, TILE_WIDTH),
                    encode_entry_bundle(bundle),
                    counts,
                )
                bundle = []
            if index in roots_wanted:
                _check_root(roots_wanted, builder, counts)
        for tile, data in builder.changed_tiles().items():
            if tile.width == TILE_WIDTH or builder.size == size:
                _check_tile(log, tile, data, counts)
        after = notifications[-1].id
        if progress is not None:
            progress(index, size)
    if bundle:
        _check_tile(
            log, Tile(ENTRIES, size // TILE_WIDTH, len(bundle)), encode_entry_bundle(bundle), counts
        )
    for tile, data in builder.changed_tiles().items():
        _check_tile(log, tile, data, counts)


def _stored_leaves(log: Log, start: int, count: int) -> dict[int, bytes]:
    """The log's leaf hashes for [start, start+count), as its level-0 tiles hold them."""
    hashes: dict[int, bytes] = {}
    for n in range(start // TILE_WIDTH, (start + count - 1) // TILE_WIDTH + 1):
        width = min(TILE_WIDTH, start + count - n * TILE_WIDTH)
        data = log.tile(0, n, width) or b""
        for i in range(len(data) // 32):
            if start <= n * TILE_WIDTH + i:
                hashes[n * TILE_WIDTH + i] = data[i * 32 : i * 32 + 32]
    return hashes


def _check_tile(log: Log, tile: Tile, expected: bytes, counts: dict[str, int]) -> None:
    stored = log.tile(tile.level, tile.n, tile.width)
    if stored != expected:
        raise _Mismatch(f"{tile.path}: stored bytes do not match the tile rebuilt from the entries")
    counts["tiles"] += 1


def _check_root(roots: dict[int, bytes], builder: TileBuilder, counts: dict[str, int]) -> None:
    size = builder.size
    if builder.root() != roots[size]:
        raise _Mismatch(
            f"checkpoint of size {size}: its root hash does not match the tree rebuilt from the "
            "entries"
        )
    counts["checkpoints"] += 1
