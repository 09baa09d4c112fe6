"""Tiles of a Merkle tree and entry bundles, as in C2SP tlog-tiles, with the tile maths of Go's
golang.org/x/mod/sumdb/tlog (tile.go) at a fixed tile height of 8.

A tile at level L holds up to 256 consecutive hashes of tree level 8L: level 0 holds leaf hashes,
and each hash at level L+1 is the root of a full tile at level L. The rightmost tile of a level is
partial (1 to 255 hashes) and grows until it is full; a partial tile is a prefix of every wider
version of itself, so a store may keep only the latest version of each tile and serve narrower ones
by slicing. Entry bundles (level ENTRIES) hold the entries whose leaf hashes are the level 0 tile of
the same number, each entry prefixed with its length as a big-endian uint16.

Tile paths are given without the log's URL prefix: "tile/0/x001/234", "tile/1/067.p/5",
"tile/entries/x001/234.p/17".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from ledger.errors import TileError
from ledger.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    HashReader,
    node_hash,
    split_stored_hash_index,
    stored_hash_count,
    stored_hash_index,
)

__all__ = [
    "ENTRIES",
    "MAX_ENTRY_SIZE",
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "Tile",
    "TileBuilder",
    "TileHashReader",
    "decode_entry_bundle",
    "encode_entry_bundle",
    "hash_from_tile",
    "new_tiles",
    "parse_tile_path",
    "read_tile_data",
    "right_edge_tiles",
    "tile_for_index",
]

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
ENTRIES = -1
MAX_LEVEL = 63
MAX_ENTRY_SIZE = 0xFFFF

_FULL_TILE_BYTES = TILE_WIDTH * HASH_SIZE
_MAX_N = (1 << 64) - 1  # tree sizes are uint64 in checkpoints, so no tile number can be larger


def _check_count(what: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TileError(f"{what} must be an integer, not {type(value).__name__}")
    if value < 0:
        raise TileError(f"{what} {value} is negative")


@dataclass(frozen=True)
class Tile:
    """The tile number n at the given level, width hashes (or entries) wide: width 256 is a full
    tile, 1 to 255 a partial one; level ENTRIES is the entry bundle of the level 0 tile n."""

    level: int
    n: int
    width: int

    def __post_init__(self) -> None:
        _check_count("tile number", self.n)
        _check_count("tile width", self.width)
        if not isinstance(self.level, int) or isinstance(self.level, bool):
            raise TileError(f"tile level must be an integer, not {type(self.level).__name__}")
        if not ENTRIES <= self.level <= MAX_LEVEL:
            raise TileError(f"tile level {self.level} is outside {ENTRIES}..{MAX_LEVEL}")
        if not 1 <= self.width <= TILE_WIDTH:
            raise TileError(f"tile width {self.width} is outside 1..{TILE_WIDTH}")

    @property
    def is_full(self) -> bool:
        """Whether the tile is full (256 wide), so that it never changes again."""
        return self.width == TILE_WIDTH

    @property
    def path(self) -> str:
        """The tile's C2SP tlog-tiles path, without the log's prefix."""
        n = self.n
        digits = f"{n % 1000:03d}"
        while n >= 1000:
            n //= 1000
            digits = f"x{n % 1000:03d}/{digits}"
        level = "entries" if self.level == ENTRIES else str(self.level)
        partial = "" if self.width == TILE_WIDTH else f".p/{self.width}"
        return f"tile/{level}/{digits}{partial}"


_LEVEL = re.compile(r"0|[1-9][0-9]?")
_WIDTH = re.compile(r"[1-9][0-9]{0,2}")
_GROUP = re.compile(r"x[0-9]{3}")
_LAST_GROUP = re.compile(r"[0-9]{3}")


def parse_tile_path(path: str) -> Tile:
    """Return the tile whose C2SP tlog-tiles path (without prefix) is path, which must be exactly
    the canonical path of that tile; raise TileError naming what is wrong otherwise."""
    if not isinstance(path, str):
        raise TileError(f"tile path must be a string, not {type(path).__name__}")

    def bad(why: str) -> TileError:
        return TileError(f"malformed tile path {path!r}: {why}")

    parts = path.split("/")
    if parts[0] != "tile":
        raise bad('it does not start with "tile/"')
    if len(parts) < 3:
        raise bad("it has no tile number")
    if parts[1] == "entries":
        level = ENTRIES
    elif _LEVEL.fullmatch(parts[1]):
        level = int(parts[1])
        if level > MAX_LEVEL:
            raise bad(f"level {level} is above {MAX_LEVEL}")
    else:
        raise bad(f'level {parts[1]!r} is not "entries" or a number 0..63 without leading zeros')

    groups = parts[2:]
    width = TILE_WIDTH
    if len(groups) >= 2 and groups[-2].endswith(".p"):
        if not _WIDTH.fullmatch(groups[-1]):
            raise bad(f"partial width {groups[-1]!r} is not a number 1..255 without leading zeros")
        width = int(groups[-1])
        if width >= TILE_WIDTH:
            raise bad(f"partial width {width} is not below {TILE_WIDTH}")
        groups = [*groups[:-2], groups[-2][: -len(".p")]]
    if len(groups) > 7:  # 1000**7 > 2**64
        raise bad(f"tile number has {len(groups)} groups of digits, more than a uint64 needs")
    for group in groups[:-1]:
        if not _GROUP.fullmatch(group):
            raise bad(f"element {group!r} is not x followed by three digits")
    if not _LAST_GROUP.fullmatch(groups[-1]):
        raise bad(f"element {groups[-1]!r} is not three digits")
    if len(groups) > 1 and groups[0] == "x000":
        raise bad("tile number has a leading group of zeros")
    n = int("".join(group.removeprefix("x") for group in groups))
    if n > _MAX_N:
        raise bad(f"tile number {n} does not fit in a uint64")
    tile = Tile(level, n, width)
    if tile.path != path:  # the checks above should make this impossible; refuse rather than guess
        raise bad(f"it is not the canonical path {tile.path!r} of its tile")
    return tile


# -- Tile maths (Go's tlog tile.go) ---------------------------------------------------------------


def _tile_for_index(index: int) -> tuple[Tile, int, int]:
    # The narrowest tile holding stored hash index, and the byte range of its data whose tile hash
    # is that stored hash (more than one hash when the hash sits above the tile's bottom row).
    level, n = split_stored_hash_index(index)
    tile_level, level = divmod(level, TILE_HEIGHT)
    tile_n = (n << level) >> TILE_HEIGHT
    n -= (tile_n << TILE_HEIGHT) >> level  # now the hash number within the tile, at its level
    width = (n + 1) << level
    tile = Tile(tile_level, tile_n, width)
    return tile, (n << level) * HASH_SIZE, width * HASH_SIZE


def tile_for_index(index: int) -> Tile:
    """Return the narrowest tile that holds (or, above its bottom row, determines) the hash with
    the given stored hash index."""
    _check_count("stored hash index", index)
    return _tile_for_index(index)[0]


def _tile_hash(data: bytes, start: int, end: int) -> bytes:
    # The root of the perfect subtree whose 2**k bottom-row hashes are data[start:end].
    hashes = [data[i : i + HASH_SIZE] for i in range(start, end, HASH_SIZE)]
    while len(hashes) > 1:
        hashes = [node_hash(hashes[i], hashes[i + 1]) for i in range(0, len(hashes), 2)]
    return bytes(hashes[0])


def hash_from_tile(tile: Tile, data: bytes, index: int) -> bytes:
    """Return the hash with the given stored hash index from data, the bytes of tile, which must be
    tile_for_index(index) or a wider version of it."""
    _check_count("stored hash index", index)
    if tile.level == ENTRIES:
        raise TileError(f"{tile.path} is an entry bundle, not a hash tile")
    if len(data) < tile.width * HASH_SIZE:
        raise TileError(
            f"tile {tile.path} data is {len(data)} bytes, want at least {tile.width * HASH_SIZE}"
        )
    needed, start, end = _tile_for_index(index)
    if needed.level != tile.level or needed.n != tile.n or needed.width > tile.width:
        raise TileError(f"stored hash {index} is in tile {needed.path}, not {tile.path}")
    return _tile_hash(data, start, end)


def new_tiles(old_size: int, new_size: int) -> list[Tile]:
    """Return the hash tiles whose contents differ between the trees of old_size and new_size
    leaves, at their widths in the new tree: the tiles to write when the log grows. (The entry
    bundles to write are the level 0 tiles' numbers and widths at level ENTRIES.)"""
    _check_count("old tree size", old_size)
    _check_count("new tree size", new_size)
    if old_size > new_size:
        raise TileError(f"old tree size {old_size} is larger than new tree size {new_size}")
    tiles = []
    level = 0
    while new_size >> (TILE_HEIGHT * level):
        old_count = old_size >> (TILE_HEIGHT * level)
        new_count = new_size >> (TILE_HEIGHT * level)
        for n in range(old_count >> TILE_HEIGHT, new_count >> TILE_HEIGHT):
            tiles.append(Tile(level, n, TILE_WIDTH))
        width = new_count % TILE_WIDTH
        if width and new_count > old_count:
            tiles.append(Tile(level, new_count >> TILE_HEIGHT, width))
        level += 1
    return tiles


def right_edge_tiles(size: int) -> list[Tile]:
    """Return the partial tiles of the tree of size leaves, lowest level first: what TileBuilder
    needs to continue that tree."""
    _check_count("tree size", size)
    tiles = []
    level = 0
    while size >> (TILE_HEIGHT * level):
        count = size >> (TILE_HEIGHT * level)
        if count % TILE_WIDTH:
            tiles.append(Tile(level, count >> TILE_HEIGHT, count % TILE_WIDTH))
        level += 1
    return tiles


def read_tile_data(tile: Tile, reader: HashReader) -> bytes:
    """Return the bytes of the hash tile, reading its hashes from reader in one call."""
    if tile.level == ENTRIES:
        raise TileError(f"{tile.path} is an entry bundle, not a hash tile")
    start = tile.n << TILE_HEIGHT
    level = tile.level * TILE_HEIGHT
    indexes = [stored_hash_index(level, start + i) for i in range(tile.width)]
    hashes = reader.read_hashes(indexes)
    data = b"".join(hashes)
    if len(hashes) != len(indexes) or len(data) != tile.width * HASH_SIZE:
        raise TileError(
            f"hash reader returned {len(hashes)} hashes ({len(data)} bytes) "
            f"for the {tile.width} of tile {tile.path}"
        )
    return data


def _tile_at_size(level: int, n: int, size: int) -> Tile | None:
    # Tile n of the level as it is in the tree of the given size, or None if it is still empty.
    count = size >> (TILE_HEIGHT * level)
    start = n << TILE_HEIGHT
    if start >= count:
        return None
    return Tile(level, n, min(TILE_WIDTH, count - start))


def _tile_parent(tile: Tile, k: int, size: int) -> Tile | None:
    # The tile k levels above tile that holds its (or its ancestor's) hash, in the tree of size.
    return _tile_at_size(tile.level + k, tile.n >> (TILE_HEIGHT * k), size)


ReadTiles = Callable[[Sequence[Tile]], list[bytes]]


class TileHashReader:
    """A HashReader for the tree of the given size that reads its hashes from stored tiles,
    fetching every tile one read_hashes call needs with one call of read_tiles.

    read_tiles returns, for each tile asked for, the stored bytes of that tile number and level;
    they may be those of a wider version (the tree has grown since), of which the tile asked for is
    a prefix. With verify=True, every tile read is first authenticated against root, the trusted
    root hash of the tree, as Go's tlog.TileHashReader does: use it to read an untrusted peer's log.
    """

    def __init__(
        self,
        size: int,
        read_tiles: ReadTiles,
        *,
        verify: bool = False,
        root: bytes | None = None,
    ) -> None:
        _check_count("tree size", size)
        if verify:
            if not isinstance(root, (bytes, bytearray)) or len(root) != HASH_SIZE:
                raise TileError(f"verify=True needs the tree's {HASH_SIZE}-byte root hash")
            root = bytes(root)
        elif root is not None:
            raise TileError("a root hash is only used with verify=True")
        self.size = size
        self.verify = verify
        self._root = root
        self._read_tiles = read_tiles
        self._stored_hashes = stored_hash_count(size)

    def read_hashes(self, indexes: Sequence[int]) -> list[bytes]:
        """Return the hashes of the tree at the given stored hash indexes."""
        if not indexes:
            return []
        for index in indexes:
            _check_count("stored hash index", index)
            if index >= self._stored_hashes:
                raise TileError(f"stored hash {index} is not in the tree of size {self.size}")
        if self.verify:
            return self._read_verified(indexes)

        order: dict[tuple[int, int], int] = {}
        tiles: list[Tile] = []
        where = []
        for index in indexes:
            needed, start, end = _tile_for_index(index)
            key = (needed.level, needed.n)
            j = order.get(key)
            if j is None:
                j = order[key] = len(tiles)
                tile = _tile_at_size(needed.level, needed.n, self.size)
                assert tile is not None, "bad math: a stored hash of the tree is in no tile"
                tiles.append(tile)
            where.append((j, start, end))
        data = self._fetch(tiles)
        return [_tile_hash(data[j], start, end) for j, start, end in where]

    def _fetch(self, tiles: list[Tile]) -> list[bytes]:
        data = self._read_tiles(tiles)
        if len(data) != len(tiles):
            raise TileError(f"tile reader returned {len(data)} tiles for {len(tiles)} asked for")
        out = []
        for tile, stored in zip(tiles, data, strict=True):
            want = tile.width * HASH_SIZE
            if len(stored) < want:
                raise TileError(
                    f"stored tile {tile.path} has {len(stored)} bytes, want at least {want}"
                )
            out.append(stored if len(stored) == want else bytes(stored[:want]))
        return out

    def _read_verified(self, indexes: Sequence[int]) -> list[bytes]:
        # Go's tileHashReader.ReadHashes: fetch the tiles that hold the hashes of the tree's perfect
        # subtrees (its right edge, checked against the root), then each tile that holds a wanted
        # hash together with the full tiles above it up to one already fetched; authenticate the
        # parents first, then every other tile against its hash in its parent.
        size = self.size
        order: dict[Tile, int] = {}
        tiles: list[Tile] = []

        subtrees = []
        lo = 0
        for level in reversed(range(size.bit_length())):
            if size >> level & 1:
                subtrees.append(stored_hash_index(level, lo >> level))
                lo += 1 << level
        subtree_tiles = []
        for index in subtrees:
            tile = _tile_parent(_tile_for_index(index)[0], 0, size)
            assert tile is not None, "bad math: a subtree of the tree is in no tile"
            if tile not in order:
                order[tile] = len(tiles)
                tiles.append(tile)
            subtree_tiles.append(order[tile])
        # Count the tiles the root hash authenticates, not the subtrees (the Go code read for this
        # port used len(stx)): subtrees can share a tile, and every later tile must be checked.
        root_tiles = len(tiles)

        index_tiles = []
        for index in indexes:
            needed = _tile_for_index(index)[0]
            k = 0
            while (parent := _tile_parent(needed, k, size)) not in order:
                assert parent is not None, "bad math: walked above the tree"
                k += 1
            for below in reversed(range(k)):
                parent = _tile_parent(needed, below, size)
                assert parent is not None and parent.is_full, "bad math: a parent of a partial tile"
                order[parent] = len(tiles)
                tiles.append(parent)
            tile = _tile_parent(needed, 0, size)
            assert tile is not None
            index_tiles.append(order[tile])

        data = self._fetch(tiles)
        root = hash_from_tile(tiles[subtree_tiles[-1]], data[subtree_tiles[-1]], subtrees[-1])
        for j, index in zip(reversed(subtree_tiles[:-1]), reversed(subtrees[:-1]), strict=True):
            root = node_hash(hash_from_tile(tiles[j], data[j], index), root)
        if root != self._root:
            raise TileError(f"stored tiles do not match the root hash of the tree of size {size}")
        for i in range(root_tiles, len(tiles)):
            tile = tiles[i]
            parent = _tile_parent(tile, 1, size)
            assert parent is not None and parent in order, "bad math: lost the parent of a tile"
            j = order[parent]
            want = hash_from_tile(
                parent, data[j], stored_hash_index(parent.level * TILE_HEIGHT, tile.n)
            )
            if _tile_hash(data[i], 0, len(data[i])) != want:
                raise TileError(f"stored tile {tile.path} does not match its hash in {parent.path}")
        return [
            hash_from_tile(tiles[j], data[j], index)
            for j, index in zip(index_tiles, indexes, strict=True)
        ]


class TileBuilder:
    """The right edge of a tree in memory: appends leaf hashes, computes the root hash, and reports
    the tiles that changed, without reading any store.

    For each tile level it keeps the bytes of the partial tile and the hashes of the perfect
    subtrees those hashes form (largest first); a level's tile that fills up is emitted as a full
    tile and its root becomes the next hash of the level above.
    """

    right_edge_tiles = staticmethod(right_edge_tiles)

    def __init__(self, size: int, partial_tiles: Mapping[int, bytes]) -> None:
        """Start from the tree of size leaves, given the stored bytes of its partial tile at each
        level that has one (by level; the tiles of right_edge_tiles(size), or wider versions)."""
        edge = {tile.level: tile for tile in right_edge_tiles(size)}
        for level in partial_tiles:
            if level not in edge:
                raise TileError(f"a tree of size {size} has no partial tile at level {level!r}")
        self._size = size
        self._partials: list[bytearray] = []
        self._subtrees: list[list[bytes]] = []
        self._full: dict[Tile, bytes] = {}
        self._dirty_levels = 0  # levels 0.._dirty_levels-1 have new hashes since changed_tiles()
        level = 0
        while size >> (TILE_HEIGHT * level):
            partial = bytearray()
            subtrees: list[bytes] = []
            tile = edge.get(level)
            if tile is not None:
                stored = partial_tiles.get(level)
                if stored is None:
                    raise TileError(f"partial tile {tile.path} is missing")
                want = tile.width * HASH_SIZE
                if len(stored) < want:
                    raise TileError(
                        f"partial tile {tile.path} has {len(stored)} bytes, want at least {want}"
                    )
                partial += stored[:want]
                for count in range(1, tile.width + 1):
                    h = bytes(partial[(count - 1) * HASH_SIZE : count * HASH_SIZE])
                    while not count & 1:
                        h = node_hash(subtrees.pop(), h)
                        count >>= 1
                    subtrees.append(h)
            self._partials.append(partial)
            self._subtrees.append(subtrees)
            level += 1

    @property
    def size(self) -> int:
        """The number of leaves in the tree."""
        return self._size

    def append(self, leaf_hash: bytes) -> None:
        """Append a leaf with the given leaf hash (not entry) to the tree."""
        h = leaf_hash
        if type(h) is not bytes or len(h) != HASH_SIZE:
            if not isinstance(h, (bytes, bytearray, memoryview)) or len(h) != HASH_SIZE:
                raise TileError(f"leaf hash must be {HASH_SIZE} bytes")
            h = bytes(h)
        partials = self._partials
        subtrees = self._subtrees
        size = self._size + 1
        level = 0
        while True:
            if level == len(partials):
                partials.append(bytearray())
                subtrees.append([])
            partial = partials[level]
            partial += h
            stack = subtrees[level]
            count = len(partial) >> 5
            c = count
            while not c & 1:
                h = node_hash(stack.pop(), h)
                c >>= 1
            if count < TILE_WIDTH:
                stack.append(h)
                break
            # The tile is full: emit it, and its root (now h) moves up a level.
            n = (size >> (TILE_HEIGHT * (level + 1))) - 1
            self._full[Tile(level, n, TILE_WIDTH)] = bytes(partial)
            partial.clear()
            level += 1
        self._size = size
        if level >= self._dirty_levels:
            self._dirty_levels = level + 1

    def changed_tiles(self) -> dict[Tile, bytes]:
        """Return the tiles written since the last call (or since the start), full or partial, with
        their current bytes, lowest level first; the next call reports only later changes."""
        changed = self._full
        for level in range(self._dirty_levels):
            partial = self._partials[level]
            if partial:
                count = self._size >> (TILE_HEIGHT * level)
                tile = Tile(level, count >> TILE_HEIGHT, len(partial) // HASH_SIZE)
                changed[tile] = bytes(partial)
        self._full = {}
        self._dirty_levels = 0
        return dict(sorted(changed.items(), key=lambda item: (item[0].level, item[0].n)))

    def root(self) -> bytes:
        """Return the root hash of the tree."""
        hashes = [h for stack in reversed(self._subtrees) for h in stack]
        if not hashes:
            return EMPTY_ROOT
        root = hashes[-1]
        for left in reversed(hashes[:-1]):
            root = node_hash(left, root)
        return root


# -- Entry bundles --------------------------------------------------------------------------------


def encode_entry_bundle(entries: Sequence[bytes]) -> bytes:
    """Return the entry bundle holding the given 1 to 256 entries, each at most 65,535 bytes."""
    if not 1 <= len(entries) <= TILE_WIDTH:
        raise TileError(f"an entry bundle holds 1 to {TILE_WIDTH} entries, not {len(entries)}")
    out = bytearray()
    for i, entry in enumerate(entries):
        if len(entry) > MAX_ENTRY_SIZE:
            raise TileError(
                f"entry {i} is {len(entry)} bytes, more than the {MAX_ENTRY_SIZE} "
                "an entry bundle can hold"
            )
        out += len(entry).to_bytes(2, "big")
        out += entry
    return bytes(out)


def decode_entry_bundle(data: bytes) -> list[bytes]:
    """Return the entries of an entry bundle, which must hold 1 to 256 complete entries and
    nothing else."""
    end = len(data)
    if end == 0:
        raise TileError("entry bundle is empty")
    entries: list[bytes] = []
    pos = 0
    while pos < end:
        if len(entries) == TILE_WIDTH:
            raise TileError(
                f"entry bundle holds more than {TILE_WIDTH} entries ({end - pos} bytes follow)"
            )
        if end - pos < 2:
            raise TileError(
                f"entry bundle is truncated: entry {len(entries)} at offset {pos} "
                "has only 1 byte of its 2-byte length"
            )
        length = int.from_bytes(data[pos : pos + 2], "big")
        pos += 2
        if end - pos < length:
            raise TileError(
                f"entry bundle is truncated: entry {len(entries)} at offset {pos - 2} "
                f"has {end - pos} of its {length} bytes"
            )
        entries.append(bytes(data[pos : pos + length]))
        pos += length
    return entries
