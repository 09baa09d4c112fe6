"""Signed readings ingested end to end over HTTP, beside the raw signature-verification rate.

For SQLite and PostgreSQL: starts ``carbonledger serve`` (real uvicorn, in its own process), posts
pre-signed JWS readings (Ed25519) in batches of 500 to ``POST /ingest/readings`` and waits until
the log has integrated them; beside it, the rate at which this process verifies the same
signatures with two threads (libsodium, the GIL released), and the ratio. Then the projection
rebuild rate.

    .venv/bin/python -m benchmarks.bench_ingest [--readings 50000] [--meters 200] [--sqlite-only]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import nacl.bindings
import orjson
from cryptography.hazmat.primitives import serialization

from api.auth import mint_token
from api.platform import Platform
from benchmarks.databases import add_database_options, run_on_each_database
from domain.credit_code import make_credit_code
from domain.jws import parse_jws, sign_jws_document
from hardware_signers.base import Algorithm
from hardware_signers.software import SoftwareSigner
from ledger.ledger import Ledger

BATCH = 500
ROOT = Path(__file__).resolve().parent.parent


def signed_readings(count: int, meters: int) -> tuple[list[tuple[str, SoftwareSigner]], list[str]]:
    signers = [(f"BM-{m:05d}", SoftwareSigner.generate(Algorithm.ED25519)) for m in range(meters)]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    readings = []
    for i in range(count):
        serial, signer = signers[i % meters]
        slot = i // meters
        begin = start + timedelta(minutes=15 * slot)
        readings.append(
            sign_jws_document(
                {
                    "meter": serial,
                    "seq": slot + 1,
                    "start": begin.isoformat(),
                    "end": (begin + timedelta(minutes=15)).isoformat(),
                    "quantity": f"{(i * 37) % 500 / 10:.1f}",
                    "unit": "kWh",
                    "register": f"{slot * 25}.0",
                },
                signer,
            )
        )
    return signers, readings


def raw_verify_rate(readings: list[str], signers: dict[str, bytes]) -> float:
    """Verify the same signatures with libsodium directly, with two threads."""
    jobs = []
    for compact in readings:
        parsed = parse_jws(compact)
        jobs.append((parsed.signature + parsed.signing_input, signers[parsed.meter]))

    def check(chunk: list[tuple[bytes, bytes]]) -> None:
        for signed, key in chunk:
            nacl.bindings.crypto_sign_open(signed, key)

    chunks = [jobs[i : i + 1000] for i in range(0, len(jobs), 1000)]
    with ThreadPoolExecutor(2) as pool:
        started = time.perf_counter()
        list(pool.map(check, chunks))
        return len(jobs) / (time.perf_counter() - started)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def run(name: str, url: str, data: Path, args: argparse.Namespace) -> None:
    print(f"\n== {name}: {url}")
    Ledger.init(data, origin="bench.carbonledger/ingest", database=url).close()
    signers, readings = signed_readings(args.readings, args.meters)
    platform = Platform.open(data)
    company = make_credit_code(42)
    platform.accounts.open_account(kind="enterprise", credit_code=company)
    for serial, signer in signers:
        pem = (
            serialization.load_der_public_key(signer.public_key_spki)
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )
        platform.accounts.enroll_meter(
            serial=serial, account=company, public_key=pem, carrier="electricity"
        )
    platform.close()
    token = mint_token(data, "bench", ["ingest", "read"])
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    server = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--data", str(data), "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        with httpx.Client(base_url=base, timeout=120) as client:
            for _ in range(200):
                try:
                    client.get("/log/vkey")
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            baseline_size = (
                int(client.get("/log/checkpoint").text.split("\n")[1])
                if client.get("/log/checkpoint").status_code == 200
                else 0
            )
            bodies = [orjson.dumps(readings[i : i + BATCH]) for i in range(0, len(readings), BATCH)]
            started = time.perf_counter()
            accepted = 0
            for body in bodies:
                answer = client.post("/ingest/readings", content=body, headers=headers)
                answer.raise_for_status()
                accepted += answer.json()["accepted"]
            posted = time.perf_counter()
            target = baseline_size + accepted
            while True:
                response = client.get("/log/checkpoint")
                if response.status_code == 200 and int(response.text.split("\n")[1]) >= target:
                    break
                time.sleep(0.02)
            integrated = time.perf_counter()
    finally:
        server.terminate()
        server.wait(30)
    keys = {serial: signer.public_key_raw for serial, signer in signers}
    raw = raw_verify_rate(readings, keys)
    http_rate = accepted / (posted - started)
    end_to_end = accepted / (integrated - started)
    print(
        f"  {accepted:,} of {len(readings):,} readings accepted, {args.meters} meters, "
        f"batches of {BATCH}"
    )
    print(f"  ingested over HTTP (answers received)   {http_rate:>10,.0f} readings/s")
    print(f"  ingested and in a signed checkpoint     {end_to_end:>10,.0f} readings/s")
    print(f"  raw Ed25519 verify, 2 threads           {raw:>10,.0f} signatures/s")
    print(f"  ratio HTTP ingest / raw verify                 {http_rate / raw:.2f}")
    print(f"  ratio in checkpoint / raw verify               {end_to_end / raw:.2f}")

    platform = Platform.open(data)
    try:
        projections = getattr(platform, "projections", None)
        if projections is None:
            print("  projection rebuild: no projections configured")
        else:
            started = time.perf_counter()
            count = projections.rebuild()
            elapsed = time.perf_counter() - started
            print(
                f"  projection rebuild                      {count / elapsed:>10,.0f} entries/s "
                f"({count:,} entries)"
            )
    finally:
        platform.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--readings", type=int, default=50_000)
    parser.add_argument("--meters", type=int, default=200)
    add_database_options(parser)
    run_on_each_database(run, parser.parse_args())


if __name__ == "__main__":
    main()
