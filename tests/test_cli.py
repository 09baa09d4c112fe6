"""The command line as an operator uses it: real processes, real files, exit codes, one-line
errors."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from ledger.checkpoint import open_checkpoint
from ledger.note import VerifierKey

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    if check and done.returncode != 0:
        raise AssertionError(f"{args} exited {done.returncode}: {done.stderr}")
    return done


def test_init_demo_and_audit(tmp_path: Path) -> None:
    data = tmp_path / "city"
    created = run("init", "--data", str(data), "--origin", "test.carbonledger/city")
    vkey = VerifierKey.parse(created.stdout.strip().splitlines()[-1])
    assert vkey.name == "test.carbonledger/city"
    demo = run("demo", "--data", str(data), "--events", "300")
    note = demo.stdout[demo.stdout.index("test.carbonledger/city\n") :].encode()
    checkpoint = open_checkpoint(note, vkey).checkpoint
    assert checkpoint.size > 250
    assert "double claim refused" in demo.stdout
    audit = run("audit", "--data", str(data))
    assert audit.stdout.startswith(f"audit ok: {checkpoint.size} entries")
    rebuilt = run("rebuild", "--data", str(data))
    assert rebuilt.stdout.strip() == f"rebuilt the projections from {checkpoint.size} log entries"

    # Change one byte of one stored entry: the audit names it and fails.
    with sqlite3.connect(data / "ledger.sqlite") as db:
        rowid, state = db.execute(
            "SELECT rowid, state FROM stored_events WHERE topic = 'meter.reading/v1' "
            "ORDER BY rowid LIMIT 1 OFFSET 5"
        ).fetchone()
        db.execute(
            "UPDATE stored_events SET state = ? WHERE rowid = ?",
            (state.replace(b'"quantity":"', b'"quantity":"1', 1), rowid),
        )
        assert b'"quantity":"' in state
    failed = run("audit", "--data", str(data), check=False)
    assert failed.returncode == 1
    assert failed.stderr.startswith("audit FAILED after ")
    assert "leaf hash does not match the entry bytes" in failed.stderr


def test_import_keys_and_ingest(tmp_path: Path, fixtures_dir: Path) -> None:
    data = tmp_path / "ev"
    run("init", "--data", str(data))
    xml = fixtures_dir / "ocmf" / "safe-test_ocmf_keba_kcp30.xml"
    imported = run(
        "meters", "import-ocmf-keys", str(xml), "--data", str(data), "--account", "ev-operator"
    )
    assert "opened account ev-operator" in imported.stdout
    assert "enrolled meter 17619300" in imported.stdout
    again = run(
        "meters", "import-ocmf-keys", str(xml), "--data", str(data), "--account", "ev-operator"
    )
    assert "already enrolled with this key" in again.stdout

    first = run("ingest", str(xml), "--data", str(data))
    assert first.stdout.splitlines()[0].startswith("value 1: accepted meter=17619300 seq=2")
    assert first.stdout.splitlines()[-1] == "1 accepted, 0 refused"
    replay = run("ingest", str(xml), "--data", str(data), check=False)
    assert replay.returncode == 1
    assert "refused (replay)" in replay.stdout

    lines = tmp_path / "mixed.txt"
    lines.write_text('OCMF|{broken\n\n# a comment\n"not a reading"\n{"jws": 5}\n')
    mixed = run("ingest", str(lines), "--data", str(data), check=False)
    assert mixed.returncode == 1
    assert mixed.stdout.splitlines()[-1] == "0 accepted, 3 refused"
    fail = fixtures_dir / "ocmf" / "safe-test_ocmf_keba_kcp30_fail.xml"
    bad = run("ingest", str(fail), "--data", str(data), check=False)
    assert "refused (bad-signature)" in bad.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("audit", "--data", "{tmp}/none"), "holds no ledger"),
        (("init", "--data", "{tmp}/x", "--origin", "has space"), "origin"),
        (("init", "--data", "{tmp}/x", "--db", "mysql://x"), "unsupported database URL"),
        (("ingest", "{tmp}/missing.xml", "--data", "{tmp}/none"), "cannot read"),
        (("init", "--data", "{tmp}/x", "--log-key", "pem:{tmp}/no-such-key.pem"), "no-such-key"),
    ],
)
def test_errors_are_one_readable_line(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    done = run(*(a.format(tmp=tmp_path) for a in args), check=False)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("carbonledger: error: ")
    assert message in lines[0]


def test_serve_stops_on_sigterm_with_its_background_worker(tmp_path: Path) -> None:
    import signal
    import socket
    import time

    import httpx

    data = tmp_path / "served"
    run("init", "--data", str(data))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    server = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--data", str(data), "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/log/vkey").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and server.poll() is None
            time.sleep(0.1)
        server.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the signal so the exit status says why.
        assert server.wait(60) in (0, -signal.SIGTERM)
        log = server.stderr.read() if server.stderr else ""
        assert "Application shutdown complete" in log and "Traceback" not in log
    finally:
        if server.poll() is None:
            server.kill()
