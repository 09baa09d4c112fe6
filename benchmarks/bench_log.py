"""Log throughput on SQLite and PostgreSQL, beside raw inserts of the same bytes in the same run.

Prints, per database: events appended and integrated per second for N events in batches of 500,
beside plain-SQL inserts of the very same entry bytes into the same database (one transaction per
500 rows) and their ratio; inclusion-proof latency (median, 99th percentile) at a large tree; and
audit entries per second.

    .venv/bin/python -m benchmarks.bench_log [--events 100000] [--proof-leaves 1000000]
        [--postgres postgresql://postgres@127.0.0.1:5432/test] [--sqlite-only]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from pathlib import Path

from benchmarks.databases import add_database_options, run_on_each_database
from ledger.audit import audit_log
from ledger.db import open_database
from ledger.ledger import Ledger
from ledger.store import NewEvent

BATCH = 500


def make_events(count: int, *, offset: int = 0) -> list[NewEvent]:
    """Realistic-sized readings (about 300 bytes an entry) over 1,000 meters."""
    return [
        NewEvent(
            f"bench/CN-{(i % 1000):05d}",
            "bench.reading/v1",
            {
                "start": "2026-01-01T00:00:00+08:00",
                "end": "2026-01-01T00:15:00+08:00",
                "quantity": f"{i % 977}.125",
                "unit": "kWh",
                "register": f"{i * 3}.500",
                "seq": i,
            },
        )
        for i in range(offset, offset + count)
    ]


def append_and_integrate(
    ledger: Ledger, events: list[NewEvent]
) -> tuple[float, float, list[bytes]]:
    written: list[bytes] = []
    started = time.perf_counter()
    for start in range(0, len(events), BATCH):
        written += [e.data for e in ledger.store.append(events[start : start + BATCH])]
    appended = time.perf_counter()
    ledger.log.integrate_all()
    integrated = time.perf_counter()
    return appended - started, integrated - appended, written


def raw_inserts(url: str, data: list[bytes]) -> float:
    """Insert the same bytes with plain SQL, 500 rows a transaction, into a table of their own."""
    db = open_database(url)
    blob = "BLOB" if db.engine == "sqlite" else "BYTEA"
    key = "INTEGER PRIMARY KEY" if db.engine == "sqlite" else "BIGSERIAL PRIMARY KEY"
    with db.transaction(write=True) as cur:
        cur.execute("DROP TABLE IF EXISTS bench_raw")
        cur.execute(f"CREATE TABLE bench_raw (id {key}, data {blob} NOT NULL)")
    started = time.perf_counter()
    for start in range(0, len(data), BATCH):
        with db.transaction(write=True) as cur:
            cur.executemany(
                "INSERT INTO bench_raw (data) VALUES (?)",
                [(d,) for d in data[start : start + BATCH]],
            )
    elapsed = time.perf_counter() - started
    with db.transaction(write=True) as cur:
        cur.execute("DROP TABLE bench_raw")
    db.close()
    return elapsed


def grow_to(ledger: Ledger, leaves: int) -> None:
    have = ledger.log.size()
    while have < leaves:
        count = min(50_000, leaves - have)
        events = make_events(count, offset=have)
        for start in range(0, count, BATCH * 4):
            ledger.store.append(events[start : start + BATCH * 4])
        ledger.log.integrate_all()
        have = ledger.log.size()
        print(f"    … {have:,} leaves", flush=True)


def proof_latency(ledger: Ledger, samples: int = 2000) -> tuple[float, float]:
    size = ledger.log.size()
    rng = random.Random(6962)
    latencies = []
    for _ in range(samples):
        index = rng.randrange(size)
        started = time.perf_counter()
        ledger.log.inclusion_proof(index, size)
        latencies.append(time.perf_counter() - started)
    latencies.sort()
    return statistics.median(latencies), latencies[int(len(latencies) * 0.99)]


def run(name: str, url: str, data_dir: Path, args: argparse.Namespace) -> None:
    print(f"\n== {name}: {url}")
    ledger = Ledger.init(data_dir, origin="bench.carbonledger/log", database=url)
    try:
        events = make_events(args.events)
        append_s, integrate_s, written = append_and_integrate(ledger, events)
        raw_s = raw_inserts(url, written)
        n = len(written)
        total = append_s + integrate_s
        mean_size = sum(map(len, written)) / n
        print(f"  {n:,} events of {mean_size:.0f} bytes in batches of {BATCH}")
        print(f"  appended                 {n / append_s:>10,.0f} events/s")
        print(f"  integrated               {n / integrate_s:>10,.0f} events/s")
        print(f"  appended + integrated    {n / total:>10,.0f} events/s")
        print(f"  raw INSERT, same bytes   {n / raw_s:>10,.0f} rows/s")
        print(f"  ratio integrated / raw            {raw_s / integrate_s:.2f}")
        print(f"  ratio appended+integrated / raw   {raw_s / total:.2f}")

        started = time.perf_counter()
        ledger.log.sign_checkpoint(force=True)
        report = audit_log(ledger.log, ledger.verifier_key)
        audit_s = time.perf_counter() - started
        assert report.ok, report.failure
        print(f"  audit                    {report.entries / audit_s:>10,.0f} entries/s")

        print(f"  growing the log to {args.proof_leaves:,} leaves for proof latency")
        grow_to(ledger, args.proof_leaves)
        median, p99 = proof_latency(ledger)
        print(
            f"  inclusion proof at {ledger.log.size():,} leaves: median {median * 1e3:.2f} ms, "
            f"p99 {p99 * 1e3:.2f} ms"
        )
    finally:
        ledger.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--proof-leaves", type=int, default=1_000_000)
    add_database_options(parser)
    run_on_each_database(run, parser.parse_args())


if __name__ == "__main__":
    main()
