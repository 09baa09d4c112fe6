"""ledger.tiles against the C2SP tlog-tiles specification's examples and against ledger.merkle's
stored hashes: tiles built by TileBuilder must give the very proofs MemoryHashStore gives."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import TileError
from ledger.merkle import (
    HASH_SIZE,
    MemoryHashStore,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    split_stored_hash_index,
    stored_hash_count,
    stored_hash_index,
    tree_hash,
    tree_hash_from_reader,
    verify_inclusion,
)
from ledger.tiles import (
    ENTRIES,
    TILE_HEIGHT,
    TILE_WIDTH,
    Tile,
    TileBuilder,
    TileHashReader,
    decode_entry_bundle,
    encode_entry_bundle,
    hash_from_tile,
    new_tiles,
    parse_tile_path,
    read_tile_data,
    right_edge_tiles,
    tile_for_index,
)

# -- Paths ----------------------------------------------------------------------------------------

PATHS = [
    # C2SP tlog-tiles: "index 1234067 will be encoded as x001/x234/067".
    ("tile/0/x001/x234/067", Tile(0, 1_234_067, 256)),
    ("tile/0/x001/234", Tile(0, 1234, 256)),
    ("tile/1/067.p/5", Tile(1, 67, 5)),
    ("tile/entries/x001/234.p/17", Tile(ENTRIES, 1234, 17)),
    ("tile/entries/000", Tile(ENTRIES, 0, 256)),
    # Go's tlog tests, without the height element.
    ("tile/3/x123/x456/078", Tile(3, 123_456_078, 256)),
    ("tile/3/x123/x456/078.p/2", Tile(3, 123_456_078, 2)),
    ("tile/1/x003/x057/500", Tile(1, 3_057_500, 256)),
    ("tile/0/000.p/1", Tile(0, 0, 1)),
    ("tile/0/999.p/255", Tile(0, 999, 255)),
    ("tile/0/x001/000", Tile(0, 1000, 256)),
    ("tile/63/000", Tile(63, 0, 256)),
    ("tile/10/x018/x446/x744/x073/x709/x551/615", Tile(10, 2**64 - 1, 256)),
]


@pytest.mark.parametrize(("path", "tile"), PATHS, ids=[p for p, _ in PATHS])
def test_tile_paths(path: str, tile: Tile) -> None:
    assert tile.path == path
    assert parse_tile_path(path) == tile


REFUSED_PATHS = [
    ("", 'does not start with "tile/"'),
    ("/tile/0/000", 'does not start with "tile/"'),
    ("tiles/0/000", 'does not start with "tile/"'),
    ("tile/0", "no tile number"),
    ("tile/0/", "'' is not three digits"),
    ("tile/0/000/", "'000' is not x followed by three digits"),
    ("tile/00/000", "level '00' is not"),
    ("tile/01/000", "level '01' is not"),
    ("tile/-1/000", "level '-1' is not"),
    ("tile/+1/000", "level '\\+1' is not"),
    ("tile/ 1/000", "level ' 1' is not"),
    ("tile/64/000", "level 64 is above 63"),
    ("tile/100/000", "level '100' is not"),
    ("tile/data/000", "level 'data' is not"),
    ("tile/Entries/000", "level 'Entries' is not"),
    ("tile/٣/000", "level '٣' is not"),  # an Arabic-Indic digit: int() would take it
    ("tile/0/1234", "'1234' is not three digits"),
    ("tile/0/12", "'12' is not three digits"),
    ("tile/0/x001", "'x001' is not three digits"),
    ("tile/0/001/234", "'001' is not x followed by three digits"),
    ("tile/0/x1/234", "'x1' is not x followed by three digits"),
    ("tile/0/X001/234", "'X001' is not x followed by three digits"),
    ("tile/0/x000/234", "leading group of zeros"),
    ("tile/0/x000/x001/234", "leading group of zeros"),
    ("tile/0/-01", "'-01' is not three digits"),
    ("tile/0/1_0", "'1_0' is not three digits"),
    ("tile/0/٠٠١", "is not three digits"),
    ("tile/0/000.p/0", "partial width '0' is not"),
    ("tile/0/000.p/010", "partial width '010' is not"),
    ("tile/0/000.p/256", "partial width 256 is not below 256"),
    ("tile/0/000.p/999", "partial width 999 is not below 256"),
    ("tile/0/000.p/1000", "partial width '1000' is not"),
    ("tile/0/000.p/", "partial width '' is not"),
    ("tile/0/000.p/+5", "partial width '\\+5' is not"),
    ("tile/0/000.p", "'000.p' is not three digits"),
    ("tile/0/000.p/5/6", "'000.p' is not x followed by three digits"),
    ("tile/0/000.q/5", "'000.q' is not x followed by three digits"),
    ("tile/0/x018/x446/x744/x073/x709/x551/616", "does not fit in a uint64"),
    ("tile/0/x001/x018/x446/x744/x073/x709/x551/615", "more than a uint64 needs"),
]


@pytest.mark.parametrize(("path", "message"), REFUSED_PATHS, ids=[p for p, _ in REFUSED_PATHS])
def test_malformed_tile_paths_are_refused(path: str, message: str) -> None:
    with pytest.raises(TileError, match="malformed tile path") as caught:
        parse_tile_path(path)
    assert caught.match(message)


tiles = st.builds(
    Tile,
    level=st.integers(ENTRIES, 63),
    n=st.one_of(st.integers(0, 2000), st.integers(0, 2**64 - 1)),
    width=st.one_of(st.just(TILE_WIDTH), st.integers(1, TILE_WIDTH)),
)


@settings(max_examples=300)
@given(tile=tiles)
def test_tile_path_round_trip(tile: Tile) -> None:
    assert parse_tile_path(tile.path) == tile
    assert (".p/" in tile.path) == (not tile.is_full)


@settings(max_examples=500)
@given(path=st.text(alphabet="tile/entrsx0123456789.p-+ ", max_size=40))
def test_parse_tile_path_is_total_and_canonical(path: str) -> None:
    try:
        tile = parse_tile_path(path)
    except TileError:
        return
    assert tile.path == path


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((64, 0, 1), "tile level 64 is outside -1..63"),
        ((-2, 0, 1), "tile level -2 is outside -1..63"),
        ((0, -1, 1), "tile number -1 is negative"),
        ((0, 0, 0), "tile width 0 is outside 1..256"),
        ((0, 0, 257), "tile width 257 is outside 1..256"),
        ((0, 0, True), "tile width must be an integer, not bool"),
        (("0", 0, 1), "tile level must be an integer, not str"),
    ],
)
def test_impossible_tiles_are_refused(args: tuple, message: str) -> None:
    with pytest.raises(TileError, match=message):
        Tile(*args)


# -- Tile maths against the stored hashes ---------------------------------------------------------


def test_new_tiles_as_in_the_specification() -> None:
    # "a tree of size 70,000 will be represented by 273 full level 0 tiles, one partial level 0
    # tile of width 112, one full level 1 tile, one partial level 1 tile of width 17, and one
    # partial level 2 tile of width 1."
    assert new_tiles(0, 70_000) == [
        *(Tile(0, n, 256) for n in range(273)),
        Tile(0, 273, 112),
        Tile(1, 0, 256),
        Tile(1, 1, 17),
        Tile(2, 0, 1),
    ]
    # "a tree of size 256 will be represented by a full level 0 tile and a partial level 1 tile
    # of width 1."
    assert new_tiles(0, 256) == [Tile(0, 0, 256), Tile(1, 0, 1)]
    assert right_edge_tiles(70_000) == [Tile(0, 273, 112), Tile(1, 1, 17), Tile(2, 0, 1)]
    assert right_edge_tiles(256) == [Tile(1, 0, 1)]
    assert right_edge_tiles(0) == [] == new_tiles(0, 0) == new_tiles(5, 5)
    # Growing within one tile changes that tile only; crossing tiles completes the old ones.
    assert new_tiles(100, 101) == [Tile(0, 0, 101)]
    assert new_tiles(300, 400) == [Tile(0, 1, 144)]
    assert new_tiles(255, 257) == [Tile(0, 0, 256), Tile(0, 1, 1), Tile(1, 0, 1)]
    assert new_tiles(65_535, 65_536) == [Tile(0, 255, 256), Tile(1, 0, 256), Tile(2, 0, 1)]
    with pytest.raises(TileError, match="larger than new tree size"):
        new_tiles(2, 1)


def test_tile_for_index() -> None:
    assert tile_for_index(0) == Tile(0, 0, 1)
    assert tile_for_index(stored_hash_index(0, 255)) == Tile(0, 0, 256)
    assert tile_for_index(stored_hash_index(0, 256)) == Tile(0, 1, 1)
    # Hashes above a tile's bottom row are computed from (a prefix of) the row.
    assert tile_for_index(stored_hash_index(1, 0)) == Tile(0, 0, 2)
    assert tile_for_index(stored_hash_index(7, 0)) == Tile(0, 0, 128)
    assert tile_for_index(stored_hash_index(7, 3)) == Tile(0, 1, 256)
    assert tile_for_index(stored_hash_index(8, 0)) == Tile(1, 0, 1)
    assert tile_for_index(stored_hash_index(9, 1)) == Tile(1, 0, 4)
    assert tile_for_index(stored_hash_index(16, 0)) == Tile(2, 0, 1)


@cache
def _tree(size: int = 3000) -> tuple[list[bytes], MemoryHashStore]:
    leaves = [leaf_hash(b"entry %d" % i) for i in range(size)]
    store = MemoryHashStore()
    for h in leaves:
        store.append(h)
    return leaves, store


@cache
def _root(size: int) -> bytes:
    return tree_hash(_tree()[0][:size])


def test_tiles_hold_every_stored_hash_as_go_tlog_lays_them_out() -> None:
    # Go's TestTree at tile height 8: after each leaf, the new tiles extend the earlier versions and
    # every stored hash can be read back from its tile.
    _, store = _tree()
    stored: dict[tuple[int, int], bytes] = {}
    for size in range(1, 700):
        for tile in new_tiles(size - 1, size):
            data = read_tile_data(tile, store)
            assert len(data) == tile.width * HASH_SIZE
            old = stored.get((tile.level, tile.n), b"")
            assert data.startswith(old) and len(data) > len(old)
            stored[(tile.level, tile.n)] = data
        for index in range(stored_hash_count(size - 1), stored_hash_count(size)):
            tile = tile_for_index(index)
            assert hash_from_tile(tile, stored[(tile.level, tile.n)], index) == store.hashes[index]
    assert sorted(stored) == sorted((t.level, t.n) for t in new_tiles(0, 699))


def test_hash_from_tile_refuses_the_wrong_tile() -> None:
    _, store = _tree()
    data = read_tile_data(Tile(0, 0, 256), store)
    index = stored_hash_index(0, 10)
    assert hash_from_tile(Tile(0, 0, 11), data, index) == store.hashes[index]
    with pytest.raises(TileError, match=r"stored hash 18 is in tile tile/0/000\.p/11, not"):
        hash_from_tile(Tile(0, 0, 10), data, index)
    with pytest.raises(TileError, match="not tile/0/001"):
        hash_from_tile(Tile(0, 1, 256), data, index)
    with pytest.raises(TileError, match="data is 320 bytes, want at least 352"):
        hash_from_tile(Tile(0, 0, 11), data[:320], index)
    with pytest.raises(TileError, match="is an entry bundle"):
        hash_from_tile(Tile(ENTRIES, 0, 11), data, index)
    with pytest.raises(TileError, match="is an entry bundle"):
        read_tile_data(Tile(ENTRIES, 0, 11), store)


# -- TileBuilder and TileHashReader ---------------------------------------------------------------


class TileStore:
    """Tiles as the log stores them: only the latest bytes of each (level, n)."""

    def __init__(self) -> None:
        self.data: dict[tuple[int, int], bytes] = {}
        self.calls: list[list[Tile]] = []

    def save(self, changed: dict[Tile, bytes]) -> None:
        for tile, data in changed.items():
            self.data[(tile.level, tile.n)] = data

    def read_tiles(self, tiles: Sequence[Tile]) -> list[bytes]:
        self.calls.append(list(tiles))
        return [self.data[(tile.level, tile.n)] for tile in tiles]


class CountingReader:
    """A HashReader that counts the calls that ask for hashes."""

    def __init__(self, reader: TileHashReader) -> None:
        self.reader = reader
        self.calls = 0

    def read_hashes(self, indexes: Sequence[int]) -> list[bytes]:
        self.calls += bool(indexes)
        return self.reader.read_hashes(indexes)


def _build(
    chunks: Sequence[int], builder: TileBuilder | None = None
) -> tuple[TileBuilder, TileStore]:
    # Appends the chunks of leaves, checking every batch of changed tiles against new_tiles and
    # against the tiles read from MemoryHashStore.
    leaves, store = _tree()
    builder = builder or TileBuilder(0, {})
    tile_store = TileStore()
    for chunk in chunks:
        old = builder.size
        for h in leaves[old : old + chunk]:
            builder.append(h)
        assert builder.size == old + chunk
        changed = builder.changed_tiles()
        assert list(changed) == new_tiles(old, builder.size)
        for tile, data in changed.items():
            assert data == read_tile_data(tile, store)
            assert len(data) == (8192 if tile.is_full else tile.width * HASH_SIZE)
        tile_store.save(changed)
        assert builder.changed_tiles() == {}
        assert builder.root() == _root(builder.size)
    return builder, tile_store


chunk_lists = st.lists(
    st.one_of(st.integers(0, 3), st.integers(0, 300), st.just(256)), min_size=1, max_size=12
).filter(lambda chunks: sum(chunks) <= 3000)


@settings(max_examples=40, deadline=None)
@given(chunks=chunk_lists, data=st.data())
def test_builder_tiles_give_the_proofs_of_the_stored_hashes(
    chunks: list[int], data: st.DataObject
) -> None:
    _, store = _tree()
    builder, tile_store = _build(chunks)
    final = builder.size
    if final == 0:
        assert builder.root() == _root(0)
        return
    # Trees of every earlier size too: their tiles are prefixes of the (wider) stored ones.
    for _ in range(3):
        size = data.draw(st.integers(1, final), label="size")
        plain = TileHashReader(size, tile_store.read_tiles)
        verified = TileHashReader(size, tile_store.read_tiles, verify=True, root=_root(size))
        for tiles_reader in (plain, verified):
            tile_store.calls.clear()
            reader = CountingReader(tiles_reader)
            assert tree_hash_from_reader(size, reader) == _root(size)
            index = data.draw(st.integers(0, size - 1), label="index")
            proof = inclusion_proof(index, size, reader)
            assert proof == inclusion_proof(index, size, store)
            verify_inclusion(
                store.hashes[stored_hash_index(0, index)], index, size, proof, _root(size)
            )
            old = data.draw(st.integers(1, size), label="old")
            assert consistency_proof(old, size, reader) == consistency_proof(old, size, store)
            assert len(tile_store.calls) == reader.calls >= 1


@settings(max_examples=30, deadline=None)
@given(
    halves=st.tuples(chunk_lists, chunk_lists).filter(lambda h: sum(h[0]) + sum(h[1]) <= 3000),
    wider=st.booleans(),
)
def test_builder_restarts_from_the_stored_right_edge(
    halves: tuple[list[int], list[int]], wider: bool
) -> None:
    first, second = halves
    whole, whole_store = _build([*first, *second])
    part, part_store = _build(first)
    size = part.size
    # The store may hold wider versions of the edge tiles (the log grew past size since).
    source = whole_store if wider else part_store
    edge = {tile.level: source.data[(tile.level, tile.n)] for tile in right_edge_tiles(size)}
    restarted = TileBuilder(size, edge)
    assert restarted.size == size
    assert restarted.root() == _root(size)
    assert restarted.changed_tiles() == {}
    rest, rest_store = _build(second, restarted)
    assert rest.size == whole.size
    assert rest.root() == whole.root()
    for key, data in rest_store.data.items():
        assert data == whole_store.data[key]
    assert {**part_store.data, **rest_store.data} == whole_store.data


def test_builder_across_tile_levels() -> None:
    # Two full level 1 tiles: every level 0 tile below them filled up, then a partial level 2 tile.
    size = 2 * 65_536 + 777
    leaves = [leaf_hash(b"big %d" % i) for i in range(size)]
    store = MemoryHashStore()
    builder = TileBuilder(0, {})
    tile_store = TileStore()
    cuts = [0, 1, 255, 256, 257, 65_535, 65_536, 65_537, 70_000, 131_072, 131_073, size]
    for old, new in pairwise(cuts):
        for h in leaves[old:new]:
            builder.append(h)
            store.append(h)
        changed = builder.changed_tiles()
        assert list(changed) == new_tiles(old, new)
        tile_store.save(changed)
        root = tree_hash_from_reader(new, store)
        assert builder.root() == root
        reader = TileHashReader(new, tile_store.read_tiles, verify=True, root=root)
        for index in {0, new // 2, new - 1}:
            assert inclusion_proof(index, new, reader) == inclusion_proof(index, new, store)
        if old:
            assert consistency_proof(old, new, reader) == consistency_proof(old, new, store)
    full_level_1 = [
        key for key, data in tile_store.data.items() if key[0] == 1 and len(data) == 8192
    ]
    assert full_level_1 == [(1, 0), (1, 1)]
    assert len(tile_store.data[(2, 0)]) == 2 * HASH_SIZE
    assert right_edge_tiles(size) == [Tile(0, 515, 9), Tile(1, 2, 3), Tile(2, 0, 2)]
    restarted = TileBuilder(
        size, {t.level: tile_store.data[(t.level, t.n)] for t in right_edge_tiles(size)}
    )
    assert restarted.root() == builder.root()


def test_builder_refuses_a_wrong_right_edge() -> None:
    builder, tile_store = _build([600])
    edge = {t.level: tile_store.data[(t.level, t.n)] for t in right_edge_tiles(600)}
    assert set(edge) == {0, 1}
    with pytest.raises(TileError, match=r"partial tile tile/1/000\.p/2 is missing"):
        TileBuilder(600, {0: edge[0]})
    with pytest.raises(TileError, match=r"tile/0/002\.p/88 has 64 bytes, want at least 2816"):
        TileBuilder(600, {0: edge[0][:64], 1: edge[1]})
    with pytest.raises(TileError, match="a tree of size 600 has no partial tile at level 2"):
        TileBuilder(600, {**edge, 2: edge[1]})
    with pytest.raises(TileError, match="a tree of size 512 has no partial tile at level 0"):
        TileBuilder(512, {0: edge[0], 1: edge[1]})
    with pytest.raises(TileError, match="leaf hash must be 32 bytes"):
        builder.append(b"short")
    with pytest.raises(TileError, match="leaf hash must be 32 bytes"):
        builder.append("x" * 32)  # type: ignore[arg-type]


def test_tile_hash_reader_refuses_what_it_cannot_read() -> None:
    _, tile_store = _build([600])
    reader = TileHashReader(600, tile_store.read_tiles)
    assert reader.read_hashes([]) == []
    with pytest.raises(TileError, match="stored hash 1196 is not in the tree of size 600"):
        reader.read_hashes([stored_hash_count(600)])
    with pytest.raises(TileError, match="negative"):
        reader.read_hashes([-1])
    # The store lost the end of the partial tile the tree needs.
    tile_store.data[(0, 2)] = tile_store.data[(0, 2)][:HASH_SIZE]
    with pytest.raises(
        TileError, match=r"stored tile tile/0/002\.p/88 has 32 bytes, want at least"
    ):
        reader.read_hashes([stored_hash_index(0, 599)])
    with pytest.raises(TileError, match="returned 0 tiles for 1 asked for"):
        TileHashReader(600, lambda tiles: []).read_hashes([0])
    with pytest.raises(TileError, match="needs the tree's 32-byte root hash"):
        TileHashReader(600, tile_store.read_tiles, verify=True)
    with pytest.raises(TileError, match="only used with verify=True"):
        TileHashReader(600, tile_store.read_tiles, root=_root(600))


def _tamper(tile_store: TileStore, index: int) -> TileStore:
    # The same tiles, except that the bottom-row hashes the stored hash index is computed from are
    # zeroed (as Go's tlog zeroIndex test reader does).
    tampered = TileStore()
    tampered.data = dict(tile_store.data)
    tile = tile_for_index(index)
    level_in_tile = split_stored_hash_index(index)[0] % TILE_HEIGHT
    start = (tile.width - (1 << level_in_tile)) * HASH_SIZE
    end = tile.width * HASH_SIZE
    data = bytearray(tampered.data[(tile.level, tile.n)])
    data[start:end] = bytes(end - start)
    tampered.data[(tile.level, tile.n)] = bytes(data)
    return tampered


def test_verified_reader_refuses_any_tampered_hash() -> None:
    # 515 leaves: two full level 0 tiles whose parent is the partial level 1 tile, which is also one
    # of the tiles that hold the tree's root subtrees.
    size = 515
    _, tile_store = _build([size])
    root = _root(size)
    _, store = _tree()
    every = list(range(stored_hash_count(size)))
    for index in every:
        tampered = _tamper(tile_store, index)
        plain = TileHashReader(size, tampered.read_tiles)
        assert plain.read_hashes([index]) != store.hashes[index]  # the tampering shows
        verified = TileHashReader(size, tampered.read_tiles, verify=True, root=root)
        with pytest.raises(TileError, match=r"do not match|does not match"):
            verified.read_hashes([index])
    verified = TileHashReader(size, tile_store.read_tiles, verify=True, root=root)
    assert verified.read_hashes(every) == store.hashes[: len(every)]
    wrong_root = TileHashReader(size, tile_store.read_tiles, verify=True, root=_root(size - 1))
    with pytest.raises(TileError, match="do not match the root hash of the tree of size 515"):
        wrong_root.read_hashes([0])


@settings(max_examples=60, deadline=None)
@given(size=st.integers(1, 3000), data=st.data())
def test_verified_reader_refuses_tampering_in_any_tree(size: int, data: st.DataObject) -> None:
    _, tile_store = _build([size])
    index = data.draw(st.integers(0, stored_hash_count(size) - 1), label="index")
    tampered = _tamper(tile_store, index)
    verified = TileHashReader(size, tampered.read_tiles, verify=True, root=_root(size))
    with pytest.raises(TileError, match=r"do not match|does not match"):
        verified.read_hashes([index])


# -- Entry bundles --------------------------------------------------------------------------------


@settings(max_examples=100)
@given(entries=st.lists(st.binary(max_size=300), min_size=1, max_size=TILE_WIDTH))
def test_entry_bundle_round_trip(entries: list[bytes]) -> None:
    bundle = encode_entry_bundle(entries)
    assert len(bundle) == sum(2 + len(e) for e in entries)
    assert decode_entry_bundle(bundle) == entries


def test_entry_bundle_layout_and_limits() -> None:
    assert encode_entry_bundle([b"", b"ab"]) == b"\x00\x00\x00\x02ab"
    largest = bytes(range(256)) * 255 + bytes(255)
    assert len(largest) == 65_535
    assert decode_entry_bundle(encode_entry_bundle([largest])) == [largest]
    assert encode_entry_bundle([largest])[:2] == b"\xff\xff"
    with pytest.raises(TileError, match="entry 1 is 65536 bytes, more than the 65535"):
        encode_entry_bundle([b"", largest + b"!"])
    with pytest.raises(TileError, match="holds 1 to 256 entries, not 0"):
        encode_entry_bundle([])
    with pytest.raises(TileError, match="holds 1 to 256 entries, not 257"):
        encode_entry_bundle([b""] * 257)
    assert decode_entry_bundle(encode_entry_bundle([b"x"] * 256)) == [b"x"] * 256


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "entry bundle is empty"),
        (b"\x00", "entry 0 at offset 0 has only 1 byte of its 2-byte length"),
        (b"\x00\x01a\x00", "entry 1 at offset 3 has only 1 byte"),
        (b"\x00\x05abc", "entry 0 at offset 0 has 3 of its 5 bytes"),
        (b"\x00\x00\xff\xff" + bytes(100), "entry 1 at offset 2 has 100 of its 65535 bytes"),
        (b"\x00\x00" * 257, "more than 256 entries"),
    ],
)
def test_malformed_entry_bundles_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(TileError, match=message):
        decode_entry_bundle(data)


@settings(max_examples=300)
@given(data=st.binary(max_size=64))
def test_decode_entry_bundle_is_total_and_exact(data: bytes) -> None:
    try:
        entries = decode_entry_bundle(data)
    except TileError:
        return
    assert encode_entry_bundle(entries) == data


def test_constants() -> None:
    assert (TILE_HEIGHT, TILE_WIDTH, ENTRIES) == (8, 256, -1)
    assert TileBuilder.right_edge_tiles(70_000) == right_edge_tiles(70_000)
