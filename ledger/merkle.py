"""Merkle tree hashing and proofs of RFC 6962 / RFC 9162 (SHA-256), as a port of Go's
golang.org/x/mod/sumdb/tlog.

The tree over entries d[0..n) is RFC 9162 §2.1.1's MTH: a leaf hashes to SHA-256(0x00 || entry),
an interior node to SHA-256(0x01 || left || right), the empty tree to SHA-256(""). Inclusion and
consistency proofs are those of RFC 9162 §2.1.3 and §2.1.4, and are verified with the algorithms of
§2.1.3.2 and §2.1.4.2; the test suite holds them against the transparency-dev/merkle test vectors.

A log stores its hashes in the dense "stored hash" order of Go's tlog (Crosby and Wallach §3.3):
appending leaf n writes its leaf hash, then the hash of every perfect subtree that leaf completes.
Proofs and tree hashes are computed from those stored hashes through a HashReader, which is asked
for every hash a computation needs in one call, since behind it there is usually a database.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from typing import Protocol

from ledger.errors import LedgerError, ProofError

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "HashReader",
    "MemoryHashStore",
    "ProofError",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "split_stored_hash_index",
    "stored_hash_count",
    "stored_hash_index",
    "stored_hashes",
    "tree_hash",
    "tree_hash_from_reader",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32

_sha256 = hashlib.sha256
# Hashing starts from a copy of a state that has already absorbed the domain-separation byte: it
# saves concatenating the inputs into a fresh buffer on every call.
_LEAF_PREFIX = _sha256(b"\x00")
_NODE_PREFIX = _sha256(b"\x01")

EMPTY_ROOT = _sha256(b"").digest()


def leaf_hash(entry: bytes) -> bytes:
    """Return the RFC 6962 leaf hash of entry, SHA-256(0x00 || entry)."""
    h = _LEAF_PREFIX.copy()
    h.update(entry)
    return h.digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the RFC 6962 hash of the interior node with the given children,
    SHA-256(0x01 || left || right)."""
    h = _NODE_PREFIX.copy()
    h.update(left)
    h.update(right)
    return h.digest()


def tree_hash(leaf_hashes: Sequence[bytes]) -> bytes:
    """Return the RFC 6962 Merkle tree hash (MTH) of the tree with the given leaf hashes;
    the empty list gives EMPTY_ROOT."""
    # A stack of perfect subtree hashes, largest first: pushing leaf i merges one subtree per
    # trailing 1 bit of i, as in a binary counter.
    stack: list[bytes] = []
    for i, h in enumerate(leaf_hashes):
        if type(h) is not bytes or len(h) != HASH_SIZE:
            h = _check_hash(f"leaf hash {i}", h)
        count = i + 1
        while not count & 1:
            h = node_hash(stack.pop(), h)
            count >>= 1
        stack.append(h)
    if not stack:
        return EMPTY_ROOT
    root = stack[-1]
    for left in reversed(stack[:-1]):
        root = node_hash(left, root)
    return root


# -- Verification (RFC 9162 §2.1.3.2 and §2.1.4.2) ------------------------------------------------


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Verify that proof shows that the tree of the given size with the given root hash has a leaf
    with hash leaf_hash at position index; raise ProofError saying why if it does not."""
    _check_count("leaf index", index)
    _check_count("tree size", size)
    leaf = _check_hash("leaf hash", leaf_hash)
    root = _check_hash("root hash", root)
    path = [_check_hash(f"proof hash {i}", p) for i, p in enumerate(proof)]
    if index >= size:
        raise ProofError(f"leaf index {index} is beyond the tree of size {size}")
    want = _inclusion_proof_length(index, size)
    if len(path) != want:
        raise ProofError(
            f"inclusion proof has {len(path)} hashes, want {want} for leaf {index} "
            f"in a tree of size {size}"
        )

    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:  # unreachable after the length check; kept to follow the RFC step by step
            raise ProofError("inclusion proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof is shorter than the path to the root")
    if r != root:
        raise ProofError(
            f"inclusion proof for leaf {index} leads to root {r.hex()}, not the given {root.hex()}"
        )


def verify_consistency(
    old_size: int, new_size: int, proof: Sequence[bytes], old_root: bytes, new_root: bytes
) -> None:
    """Verify that proof shows that the tree of new_size leaves with hash new_root contains as a
    prefix the tree of old_size leaves with hash old_root; raise ProofError saying why if it does
    not."""
    _check_count("old tree size", old_size)
    _check_count("new tree size", new_size)
    if old_size == new_size and old_size > 0:
        # Nothing to hash: the proof is empty and the roots are equal, compared as given (as the
        # transparency-dev verifier and its test vectors do).
        if not isinstance(old_root, bytes | bytearray) or not isinstance(
            new_root, bytes | bytearray
        ):
            raise ProofError("root hashes must be bytes")
        if len(proof):
            raise ProofError(
                f"consistency proof has {len(proof)} hashes, want 0 for trees of equal size"
            )
        if bytes(old_root) != bytes(new_root):
            raise ProofError(f"two trees of size {old_size} have different root hashes")
        return
    old_root = _check_hash("old root hash", old_root)
    new_root = _check_hash("new root hash", new_root)
    path = [_check_hash(f"proof hash {i}", p) for i, p in enumerate(proof)]
    if old_size > new_size:
        raise ProofError(f"old tree size {old_size} is larger than new tree size {new_size}")
    if old_size == new_size:
        if path:
            raise ProofError(
                f"consistency proof has {len(path)} hashes, want 0 for trees of equal size"
            )
        if old_root != new_root:
            raise ProofError(f"two trees of size {old_size} have different root hashes")
        if old_size == 0 and old_root != EMPTY_ROOT:
            raise ProofError("root hash of the empty tree is not SHA-256 of the empty string")
        return
    if old_size == 0:
        # Every tree extends the empty tree, so such a proof says nothing (RFC 9162 needs 0 < m).
        raise ProofError("old tree size is 0: there is no consistency proof from the empty tree")
    want = _consistency_proof_length(old_size, new_size)
    if len(path) != want:
        raise ProofError(
            f"consistency proof has {len(path)} hashes, want {want} "
            f"from size {old_size} to size {new_size}"
        )

    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:  # unreachable after the length check; kept to follow the RFC step by step
            raise ProofError("consistency proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof is shorter than the path to the root")
    if fr != old_root:
        raise ProofError(
            f"consistency proof leads to old root {fr.hex()}, not the given {old_root.hex()}"
        )
    if sr != new_root:
        raise ProofError(
            f"consistency proof leads to new root {sr.hex()}, not the given {new_root.hex()}"
        )


def _inclusion_proof_length(index: int, size: int) -> int:
    # The path splits where index and the last leaf part ways (inner), then climbs past one left
    # sibling per 1 bit above that (border); see transparency-dev/merkle's decompInclProof.
    inner = (index ^ (size - 1)).bit_length()
    return inner + (index >> inner).bit_count()


def _consistency_proof_length(old_size: int, new_size: int) -> int:
    # The inclusion path of leaf old_size-1 in the new tree, minus the levels inside the largest
    # perfect subtree ending at old_size, plus that subtree's hash unless it is the old tree itself.
    shift = (old_size & -old_size).bit_length() - 1
    length = _inclusion_proof_length(old_size - 1, new_size) - shift
    return length if old_size == 1 << shift else length + 1


def _check_count(what: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ProofError(f"{what} must be an integer, not {type(value).__name__}")
    if value < 0:
        raise ProofError(f"{what} {value} is negative")


def _check_hash(what: str, value: bytes) -> bytes:
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise ProofError(f"{what} must be bytes, not {type(value).__name__}")
    if len(value) != HASH_SIZE:
        raise ProofError(f"{what} is {len(value)} bytes, want {HASH_SIZE}")
    return bytes(value)


# -- Stored hashes (Go's tlog) --------------------------------------------------------------------


def stored_hash_index(level: int, n: int) -> int:
    """Return the position, in the dense stored-hash order, of the n'th hash at the given tree
    level (level 0 holds the leaf hashes)."""
    _check_count("level", level)
    _check_count("hash number", n)
    # Level L's n'th hash is stored right after level 0's hash number ((n+1) << L) - 1, and level
    # 0's m'th hash sits at m + m/2 + m/4 + ... = 2m - popcount(m).
    m = ((n + 1) << level) - 1
    return 2 * m - m.bit_count() + level


def split_stored_hash_index(index: int) -> tuple[int, int]:
    """Return the (level, n) whose stored hash index is index: the inverse of stored_hash_index."""
    _check_count("stored hash index", index)
    # stored_hash_index(0, n) <= 2n, so the leaf stored last before index is in [index/2, ...).
    n = index // 2
    index_n = stored_hash_index(0, n)
    while True:
        # Leaf n+1 comes after leaf n and the trailing-zeros(n+1) subtree hashes leaf n completes.
        following = index_n + 1 + ((n + 1) & -(n + 1)).bit_length() - 1
        if following > index:
            break
        n += 1
        index_n = following
    level = index - index_n
    return level, n >> level


def stored_hash_count(n: int) -> int:
    """Return the number of stored hashes in a tree of n leaves."""
    _check_count("tree size", n)
    # Every hash of the tree is stored before leaf n's would be.
    return stored_hash_index(0, n)


class HashReader(Protocol):
    """Reads stored hashes of a log by their stored hash index."""

    def read_hashes(self, indexes: Sequence[int]) -> list[bytes]:
        """Return the hashes at the given stored hash indexes, in the same order; callers here
        ask in increasing order."""
        ...


def _read(reader: HashReader, indexes: list[int]) -> list[bytes]:
    hashes = reader.read_hashes(indexes)
    if len(hashes) != len(indexes):
        raise LedgerError(f"hash reader returned {len(hashes)} hashes for {len(indexes)} indexes")
    for index, h in zip(indexes, hashes, strict=True):
        if len(h) != HASH_SIZE:
            raise LedgerError(f"hash reader returned {len(h)} bytes for stored hash {index}")
    return hashes


def stored_hashes(n: int, leaf: bytes, reader: HashReader) -> list[bytes]:
    """Return the hashes to store, from stored_hash_index(0, n) on, when appending leaf number n
    whose leaf hash (not entry) is leaf; reader must hold the hashes of the first n leaves."""
    _check_count("leaf number", n)
    h = _check_hash("leaf hash", leaf)
    # Leaf n completes one perfect subtree per trailing 1 bit of n, each joined with the hash of the
    # adjacent subtree on its left: (i, (n >> i) - 1) for i below that count.
    m = ((n + 1) & -(n + 1)).bit_length() - 1
    indexes = [stored_hash_index(i, (n >> i) - 1) for i in reversed(range(m))]
    old = _read(reader, indexes) if indexes else []
    hashes = [h]
    for left in reversed(old):
        h = node_hash(left, h)
        hashes.append(h)
    return hashes


def tree_hash_from_reader(size: int, reader: HashReader) -> bytes:
    """Return the root hash of the tree of the given size, reading its stored hashes from reader
    in one call; size 0 gives EMPTY_ROOT."""
    _check_count("tree size", size)
    if size == 0:
        return EMPTY_ROOT
    indexes = _subtree_indexes(0, size, [])
    hashes = iter(_read(reader, indexes))
    root = _subtree_hash(0, size, hashes)
    _check_consumed(hashes)
    return root


def inclusion_proof(index: int, size: int, reader: HashReader) -> list[bytes]:
    """Return the RFC 9162 inclusion proof that the tree of the given size contains the leaf at
    position index, reading the stored hashes it needs from reader in one call."""
    _check_count("leaf index", index)
    _check_count("tree size", size)
    if index >= size:
        raise ProofError(f"leaf index {index} is beyond the tree of size {size}")
    indexes = _leaf_proof_indexes(0, size, index, [])
    if not indexes:
        return []
    hashes = iter(_read(reader, indexes))
    proof = _leaf_proof(0, size, index, hashes)
    _check_consumed(hashes)
    return proof


def consistency_proof(old_size: int, new_size: int, reader: HashReader) -> list[bytes]:
    """Return the RFC 9162 consistency proof that the tree of new_size leaves contains the tree of
    old_size leaves as a prefix, reading the stored hashes it needs from reader in one call."""
    _check_count("old tree size", old_size)
    _check_count("new tree size", new_size)
    if old_size > new_size:
        raise ProofError(f"old tree size {old_size} is larger than new tree size {new_size}")
    if old_size == new_size:
        return []
    if old_size == 0:
        raise ProofError("old tree size is 0: there is no consistency proof from the empty tree")
    indexes = _tree_proof_indexes(0, new_size, old_size, [])
    if not indexes:
        return []
    hashes = iter(_read(reader, indexes))
    proof = _tree_proof(0, new_size, old_size, hashes)
    _check_consumed(hashes)
    return proof


def _check_consumed(hashes: Iterator[bytes]) -> None:
    if next(hashes, None) is not None:
        raise AssertionError("bad index math: hashes left over")


def _split(width: int) -> int:
    """Return the largest power of 2 smaller than width >= 2 (RFC 9162's k)."""
    return 1 << ((width - 1).bit_length() - 1)


def _subtree_indexes(lo: int, hi: int, need: list[int]) -> list[int]:
    # The subtree [lo, hi) is a sequence of perfect subtrees, largest first, each a stored hash.
    while lo < hi:
        k = _split(hi - lo + 1)
        level = k.bit_length() - 1
        need.append(stored_hash_index(level, lo >> level))
        lo += k
    return need


def _subtree_hash(lo: int, hi: int, hashes: Iterator[bytes]) -> bytes:
    # Consumes the hashes listed by _subtree_indexes(lo, hi).
    parts = []
    while lo < hi:
        parts.append(next(hashes))
        lo += _split(hi - lo + 1)
    h = parts[-1]
    for left in reversed(parts[:-1]):
        h = node_hash(left, h)
    return h


def _leaf_proof_indexes(lo: int, hi: int, n: int, need: list[int]) -> list[int]:
    if hi - lo == 1:
        return need
    k = _split(hi - lo)
    if n < lo + k:
        _leaf_proof_indexes(lo, lo + k, n, need)
        _subtree_indexes(lo + k, hi, need)
    else:
        _subtree_indexes(lo, lo + k, need)
        _leaf_proof_indexes(lo + k, hi, n, need)
    return need


def _leaf_proof(lo: int, hi: int, n: int, hashes: Iterator[bytes]) -> list[bytes]:
    # Walks down towards leaf n, recording the hash of the subtree not taken, in the order of
    # _leaf_proof_indexes; the verifier knows the leaf hash itself.
    if hi - lo == 1:
        return []
    k = _split(hi - lo)
    if n < lo + k:
        proof = _leaf_proof(lo, lo + k, n, hashes)
        sibling = _subtree_hash(lo + k, hi, hashes)
    else:
        sibling = _subtree_hash(lo, lo + k, hashes)
        proof = _leaf_proof(lo + k, hi, n, hashes)
    proof.append(sibling)
    return proof


def _tree_proof_indexes(lo: int, hi: int, n: int, need: list[int]) -> list[int]:
    if n == hi:
        return need if lo == 0 else _subtree_indexes(lo, hi, need)
    k = _split(hi - lo)
    if n <= lo + k:
        _tree_proof_indexes(lo, lo + k, n, need)
        _subtree_indexes(lo + k, hi, need)
    else:
        _subtree_indexes(lo, lo + k, need)
        _tree_proof_indexes(lo + k, hi, n, need)
    return need


def _tree_proof(lo: int, hi: int, n: int, hashes: Iterator[bytes]) -> list[bytes]:
    # RFC 9162 §2.1.4.1 SUBPROOF for the old tree of n leaves within the subtree [lo, hi).
    if n == hi:
        # The whole old tree is known to the verifier; any other complete subtree is sent.
        return [] if lo == 0 else [_subtree_hash(lo, hi, hashes)]
    k = _split(hi - lo)
    if n <= lo + k:
        proof = _tree_proof(lo, lo + k, n, hashes)
        sibling = _subtree_hash(lo + k, hi, hashes)
    else:
        sibling = _subtree_hash(lo, lo + k, hashes)
        proof = _tree_proof(lo + k, hi, n, hashes)
    proof.append(sibling)
    return proof


class MemoryHashStore:
    """The stored hashes of a tree, in memory: a HashReader for tests and small tools."""

    def __init__(self) -> None:
        self.hashes: list[bytes] = []
        self._size = 0

    @property
    def size(self) -> int:
        """The number of leaves appended."""
        return self._size

    def append(self, leaf_hash: bytes) -> None:
        """Append a leaf with the given leaf hash (not entry) to the tree."""
        self.hashes.extend(stored_hashes(self._size, leaf_hash, self))
        self._size += 1

    def read_hashes(self, indexes: Sequence[int]) -> list[bytes]:
        """Return the stored hashes at the given indexes."""
        count = len(self.hashes)
        for index in indexes:
            if not 0 <= index < count:
                raise LedgerError(f"stored hash {index} is not among the {count} stored hashes")
        return [self.hashes[index] for index in indexes]
