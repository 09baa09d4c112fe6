"""The Merkle log over the event store, on SQLite and PostgreSQL: integration exactly once, tiles
that match the tree, checkpoints that stay consistent, proofs from stored tiles, the full audit."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from ledger.audit import audit_log
from ledger.checkpoint import open_checkpoint
from ledger.ledger import Ledger
from ledger.merkle import (
    MemoryHashStore,
    leaf_hash,
    tree_hash,
    verify_consistency,
    verify_inclusion,
)
from ledger.store import NewEvent
from ledger.tiles import ENTRIES, TILE_WIDTH, decode_entry_bundle


def append_events(ledger: Ledger, count: int, *, streams: int = 7, batch: int = 500) -> list[bytes]:
    """Append ``count`` events round-robin over a few streams; return their bytes in order."""
    written: list[bytes] = []
    events = [
        NewEvent(f"meter/{i % streams}", "test.reading/v1", {"n": i, "kwh": f"{i % 97}.25"})
        for i in range(count)
    ]
    for start in range(0, count, batch):
        written += [e.data for e in ledger.store.append(events[start : start + batch])]
    return written


def test_integration_tiles_and_proofs(ledger: Ledger) -> None:
    entries = append_events(ledger, 700)
    assert ledger.log.integrate(300) == 300
    assert ledger.log.integrate_all() == 400
    assert ledger.log.integrate_all() == 0
    assert ledger.log.size() == 700
    leaves = [leaf_hash(e) for e in entries]

    # Hash tiles hold exactly the tree's hashes: level 0 the leaf hashes, level 1 the roots of
    # full level-0 tiles.
    assert ledger.log.tile(0, 0, TILE_WIDTH) == b"".join(leaves[:256])
    assert ledger.log.tile(0, 1, TILE_WIDTH) == b"".join(leaves[256:512])
    assert ledger.log.tile(0, 2, 700 - 512) == b"".join(leaves[512:700])
    assert ledger.log.tile(0, 2, 700 - 511) is None  # wider than the tree
    assert ledger.log.tile(0, 2, 5) == b"".join(leaves[512:517])  # older widths are prefixes
    assert ledger.log.tile(1, 0, 2) == tree_hash(leaves[:256]) + tree_hash(leaves[256:512])
    assert decode_entry_bundle(ledger.log.tile(ENTRIES, 1, TILE_WIDTH)) == entries[256:512]
    assert decode_entry_bundle(ledger.log.tile(ENTRIES, 2, 10)) == entries[512:522]
    assert ledger.log.entry(699) == entries[699]

    memory = MemoryHashStore()
    for leaf in leaves:
        memory.append(leaf)
    for size in (1, 2, 255, 256, 257, 511, 512, 513, 700):
        root = tree_hash(leaves[:size])
        assert ledger.log.root(size) == root
        for index in {0, size // 2, size - 1}:
            proof = ledger.log.inclusion_proof(index, size)
            verify_inclusion(leaves[index], index, size, proof, root)
        for old in {1, size // 3 or 1, size - 1 or 1}:
            proof = ledger.log.consistency_proof(old, size)
            verify_consistency(old, size, proof, tree_hash(leaves[:old]), root)
    assert ledger.log.leaf_index(leaves[123]) == 123
    assert ledger.log.index_of("meter/3", 2) == 10


def test_checkpoints_are_signed_and_consistent(ledger: Ledger) -> None:
    assert ledger.log.sign_checkpoint() is None  # nothing to commit to yet
    append_events(ledger, 10)
    ledger.log.integrate_all()
    first = ledger.log.sign_checkpoint(force=True)
    assert first is not None and first.checkpoint.size == 10
    opened = open_checkpoint(first.note, ledger.verifier_key, origin="test.carbonledger/log")
    assert opened.checkpoint.root_hash == ledger.log.root(10)
    assert ledger.log.sign_checkpoint(force=True) is None  # the tree did not grow
    append_events(ledger, 5)
    ledger.log.integrate_all()
    ledger.log.checkpoint_interval = 3600
    assert ledger.log.sign_checkpoint() is None  # too soon
    second = ledger.log.sign_checkpoint(force=True)
    assert second is not None and second.checkpoint.size == 15
    proof = ledger.log.consistency_proof(10, 15)
    verify_consistency(10, 15, proof, first.checkpoint.root_hash, second.checkpoint.root_hash)
    assert [c.checkpoint.size for c in ledger.log.checkpoints()] == [10, 15]


def test_integration_resumes_after_reopening(ledger: Ledger, tmp_path: Path) -> None:
    append_events(ledger, 300)
    ledger.log.integrate(257)
    reopened = Ledger.open(ledger.data_dir)
    try:
        append_events(reopened, 300)
        assert reopened.log.integrate_all() == 343
        assert reopened.log.size() == 600
        report = audit_log(reopened.log, reopened.verifier_key)
        assert report.ok, report.failure
        assert report.entries == 600
    finally:
        reopened.close()


def test_proofs_refuse_sizes_beyond_the_tree(ledger: Ledger) -> None:
    from ledger.errors import ProofError

    append_events(ledger, 3)
    ledger.log.integrate_all()
    with pytest.raises(ProofError, match="beyond"):
        ledger.log.inclusion_proof(0, 4)
    with pytest.raises(ProofError, match="not in a tree"):
        ledger.log.inclusion_proof(3, 3)
    with pytest.raises(ProofError):
        ledger.log.consistency_proof(4, 3)


def _sql(ledger: Ledger, statement: str, params: tuple = ()) -> None:
    with ledger.db.transaction(write=True) as cur:
        cur.execute(statement, params)


def _flip_byte(data: bytes, position: int) -> bytes:
    return data[:position] + bytes([data[position] ^ 0x01]) + data[position + 1 :]


def test_audit_names_a_changed_entry_byte(ledger: Ledger) -> None:
    entries = append_events(ledger, 600)
    ledger.log.integrate_all()
    ledger.log.sign_checkpoint(force=True)
    assert audit_log(ledger.log, ledger.verifier_key).ok
    victim = 345
    stream, seq = f"meter/{victim % 7}", victim // 7 + 1
    changed = entries[victim].replace(b'"kwh":"', b'"kwh":"9', 1)
    _sql(
        ledger,
        "UPDATE stored_events SET state = ? WHERE originator_id = ? AND originator_version = ?",
        (changed, stream, seq),
    )
    report = audit_log(ledger.log, ledger.verifier_key)
    assert not report.ok
    assert report.failure.startswith(f"entry {victim} (stream {stream}, seq {seq})")
    assert report.entries == victim


def test_audit_names_a_changed_tile_byte(ledger: Ledger) -> None:
    append_events(ledger, 600)
    ledger.log.integrate_all()
    ledger.log.sign_checkpoint(force=True)
    data = ledger.log.tile(0, 1, TILE_WIDTH)
    assert data is not None
    _sql(
        ledger, "UPDATE log_tiles SET data = ? WHERE level = 0 AND n = 1", (_flip_byte(data, 1000),)
    )
    report = audit_log(ledger.log, ledger.verifier_key)
    assert not report.ok
    assert report.failure.startswith("tile/0/001:")


def test_audit_names_a_changed_entry_bundle_and_checkpoint(ledger: Ledger) -> None:
    append_events(ledger, 300)
    ledger.log.integrate_all()
    ledger.log.sign_checkpoint(force=True)
    bundle = ledger.log.tile(ENTRIES, 0, TILE_WIDTH)
    _sql(
        ledger,
        "UPDATE log_tiles SET data = ? WHERE level = -1 AND n = 0",
        (_flip_byte(bundle, 500),),
    )
    report = audit_log(ledger.log, ledger.verifier_key)
    assert report.failure is not None and report.failure.startswith("tile/entries/000:")
    _sql(ledger, "UPDATE log_tiles SET data = ? WHERE level = -1 AND n = 0", (bundle,))
    assert audit_log(ledger.log, ledger.verifier_key).ok
    note = ledger.log.latest_checkpoint().note
    _sql(ledger, "UPDATE log_checkpoints SET note = ?", (note.replace(b"\n300\n", b"\n299\n"),))
    report = audit_log(ledger.log, ledger.verifier_key)
    assert report.failure is not None and report.failure.startswith("checkpoint of size 299")


INTEGRATOR_CHILD = textwrap.dedent(
    """
    import sys
    from ledger.ledger import Ledger
    ledger = Ledger.open(sys.argv[1])
    print("ready", flush=True)
    while True:
        if ledger.log.integrate(int(sys.argv[2])) == 0:
            break
        ledger.log.sign_checkpoint(force=True)
    print("done", flush=True)
    """
)


@pytest.mark.slow
def test_integrator_killed_mid_batch_loses_and_duplicates_nothing(ledger: Ledger) -> None:
    """SIGKILL the integrator at random moments while it works; after a restart every stored event
    is exactly one leaf, and every checkpoint signed before or after is consistent."""
    entries = append_events(ledger, 12000, streams=13)
    rng = random.Random(6962)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    kills = 0
    for fraction in (0.15, 0.4, 0.65):
        # Let the child integrate until the log passes a point, then kill it a moment later,
        # wherever it is: inside a transaction, between two, or signing a checkpoint.
        child = subprocess.Popen(
            [sys.executable, "-c", INTEGRATOR_CHILD, str(ledger.data_dir), "97"],
            stdout=subprocess.PIPE,
            env=env,
        )
        assert child.stdout is not None and child.stdout.readline() == b"ready\n"
        deadline = time.monotonic() + 60
        while ledger.log.size() < fraction * len(entries) and child.poll() is None:
            assert time.monotonic() < deadline
            time.sleep(0.005)
        time.sleep(rng.uniform(0, 0.02))
        child.send_signal(signal.SIGKILL)
        child.wait(30)
        kills += child.returncode == -signal.SIGKILL
        assert ledger.log.size() % 97 in (0, len(entries) % 97)  # whole batches only
    assert kills >= 2
    reopened = Ledger.open(ledger.data_dir)
    try:
        reopened.log.integrate_all()
        reopened.log.sign_checkpoint(force=True)
        assert reopened.log.size() == len(entries)
        leaves = [leaf_hash(e) for e in entries]
        assert reopened.log.root(len(entries)) == tree_hash(leaves)
        with reopened.db.transaction() as cur:
            rows = cur.execute("SELECT idx, leaf_hash FROM log_leaves ORDER BY idx").fetchall()
        assert [int(i) for i, _ in rows] == list(range(len(entries)))
        assert sorted(bytes(h) for _, h in rows) == sorted(leaves)
        report = audit_log(reopened.log, reopened.verifier_key)
        assert report.ok, report.failure
        assert report.checkpoints == len(list(reopened.log.checkpoints())) >= 2
    finally:
        reopened.close()


def test_integration_passes_over_notification_id_gaps(ledger: Ledger) -> None:
    """A batch that fails on PostgreSQL still consumes notification ids (sequences never roll
    back): the integrator gives each stored event one leaf and passes over the gap."""
    from ledger.store import EventStore, StreamConflict

    append_events(ledger, 10)
    other = EventStore(ledger.config.database)
    try:
        other.append([NewEvent("meter/0", "t", {"by": "other"})])  # ledger.store's head is stale
    finally:
        other.close()
    with pytest.raises(StreamConflict):
        ledger.store.append([NewEvent("fresh/1", "t", {}), NewEvent("meter/0", "t", {})])
    append_events(ledger, 5)
    ids = [n.id for n in ledger.store.notifications(0, 100)]
    assert len(ids) == 16
    if ledger.store.config.engine == "postgresql":
        assert ids[-1] - ids[0] + 1 > len(ids)  # there is a gap
    assert ledger.log.integrate_all() == 16
    report = audit_log(ledger.log, ledger.verifier_key)
    assert report.ok and report.entries == 16
