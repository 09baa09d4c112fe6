"""Every public /log endpoint against a real uvicorn server, checked the way an outside auditor
checks it: with nothing but the log's verifier key."""

from __future__ import annotations

import base64

import httpx
import pytest

from api.app import create_app
from ledger.checkpoint import open_checkpoint
from ledger.ledger import Ledger
from ledger.merkle import leaf_hash, verify_consistency, verify_inclusion
from ledger.note import VerifierKey
from ledger.tiles import decode_entry_bundle
from tests.conftest import LiveServer
from tests.test_log import append_events


@pytest.fixture
def served(ledger: Ledger):
    entries = append_events(ledger, 600)
    ledger.log.integrate_all()
    ledger.log.sign_checkpoint(force=True)
    with LiveServer(create_app(ledger)) as server, httpx.Client(base_url=server.url) as client:
        yield client, entries


def test_checkpoint_vkey_and_tiles(served) -> None:
    client, entries = served
    vkey_response = client.get("/log/vkey")
    assert vkey_response.status_code == 200
    vkey = VerifierKey.parse(vkey_response.text.strip())
    response = client.get("/log/checkpoint")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    checkpoint = open_checkpoint(response.content, vkey).checkpoint
    assert checkpoint.size == 600

    leaves = [leaf_hash(e) for e in entries]
    full = client.get("/log/tile/0/001")
    assert full.status_code == 200
    assert full.content == b"".join(leaves[256:512]) and len(full.content) == 8192
    assert "immutable" in full.headers["cache-control"]
    partial = client.get("/log/tile/0/002.p/88")
    assert partial.content == b"".join(leaves[512:600])
    level1 = client.get("/log/tile/1/000.p/2")
    assert len(level1.content) == 64
    bundle = client.get("/log/tile/entries/002.p/88")
    assert decode_entry_bundle(bundle.content) == entries[512:600]
    assert client.get("/log/tile/0/002.p/89").status_code == 404
    assert client.get("/log/tile/0/x001/000").status_code == 404


def test_proofs_verify_against_the_checkpoint(served) -> None:
    client, entries = served
    vkey = VerifierKey.parse(client.get("/log/vkey").text.strip())
    checkpoint = open_checkpoint(client.get("/log/checkpoint").content, vkey).checkpoint

    body = client.get("/log/proof/inclusion", params={"index": 417, "size": 600}).json()
    assert body["index"] == 417 and body["size"] == 600
    proof = [base64.b64decode(h) for h in body["proof"]]
    verify_inclusion(leaf_hash(entries[417]), 417, 600, proof, checkpoint.root_hash)

    by_hash = client.get(
        "/log/proof/inclusion",
        params={"leaf_hash": base64.b64encode(leaf_hash(entries[9])).decode()},
    )
    assert by_hash.json()["index"] == 9 and by_hash.json()["size"] == 600

    old_root = client.get("/log/proof/inclusion", params={"index": 0, "size": 100})
    assert old_root.status_code == 200
    consistency = client.get("/log/proof/consistency", params={"old": 100, "size": 600}).json()
    from ledger.merkle import tree_hash

    verify_consistency(
        100,
        600,
        [base64.b64decode(h) for h in consistency["proof"]],
        tree_hash([leaf_hash(e) for e in entries[:100]]),
        checkpoint.root_hash,
    )

    entry = client.get("/log/entries/599").json()
    assert base64.b64decode(entry["entry_base64"]) == entries[599]
    assert entry["entry"]["seq"] == 599 // 7 + 1
    kept = open_checkpoint(entry["checkpoint"].encode(), vkey).checkpoint
    verify_inclusion(
        base64.b64decode(entry["leaf_hash"]),
        599,
        kept.size,
        [base64.b64decode(h) for h in entry["proof"]],
        kept.root_hash,
    )


BAD_REQUESTS = [
    ("/log/proof/inclusion?index=-1&size=10", 400),
    ("/log/proof/inclusion?index=abc", 400),
    ("/log/proof/inclusion?index=1&size=601", 404),
    ("/log/proof/inclusion?index=600&size=600", 404),
    ("/log/proof/inclusion?index=99999999999999999999999", 400),
    ("/log/proof/inclusion", 400),
    ("/log/proof/inclusion?leaf_hash=not-base64!", 400),
    ("/log/proof/inclusion?leaf_hash=AAAA", 400),
    ("/log/proof/inclusion?leaf_hash=" + "A" * 43 + "=", 404),
    ("/log/proof/consistency?old=0&size=10", 400),
    ("/log/proof/consistency?old=20&size=10", 400),
    ("/log/proof/consistency?old=10&size=601", 404),
    ("/log/proof/consistency?old=x", 400),
    ("/log/entries/600", 404),
    ("/log/entries/-3", 400),
    ("/log/entries/01", 400),
    ("/log/tile/0/1", 400),
    ("/log/tile/0/000.p/0", 400),
    ("/log/tile/0/000.p/256", 400),
    ("/log/tile/entries/abc", 400),
    ("/log/nothing-here", 404),
]


def test_bad_parameters_get_problem_json(served) -> None:
    client, _ = served
    for path, status in BAD_REQUESTS:
        response = client.get(path)
        assert (path, response.status_code) == (path, status)
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert problem["status"] == status
        assert problem["title"] and problem["type"].startswith("urn:carbonledger:problem:")
        assert problem["detail"]


def test_openapi_documents_every_route(served) -> None:
    client, _ = served
    document = client.get("/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    for path in (
        "/log/checkpoint",
        "/log/vkey",
        "/log/tile/{path}",
        "/log/proof/inclusion",
        "/log/proof/consistency",
        "/log/entries/{index}",
    ):
        assert path in document["paths"]


def test_serving_with_integration_picks_up_new_events(ledger: Ledger) -> None:
    import time

    with (
        LiveServer(create_app(ledger, integrate=True)) as server,
        httpx.Client(base_url=server.url) as client,
    ):
        append_events(ledger, 30)
        deadline = time.monotonic() + 20
        size = 0
        while time.monotonic() < deadline:
            response = client.get("/log/checkpoint")
            if response.status_code == 200:
                size = int(response.text.split("\n")[1])
                if size == 30:
                    break
            time.sleep(0.1)
        assert size == 30


def test_background_worker_is_restarted_and_stops_cleanly(ledger: Ledger) -> None:
    """The serving background process integrates; killed, it is started again; stopping it never
    hangs, whatever state it died in."""
    import os
    import signal
    import time

    from api.background import BackgroundWorker

    worker = BackgroundWorker(ledger.data_dir)
    worker.start()
    try:
        append_events(ledger, 20)
        deadline = time.monotonic() + 30
        while ledger.log.size() < 20:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert worker._process is not None
        os.kill(worker._process.pid, signal.SIGKILL)
        while worker.restarts < 1 or not worker.alive:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        append_events(ledger, 5)
        while ledger.log.size() < 25:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        worker.stop()
    assert not worker.alive
