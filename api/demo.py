"""Demo data for a fresh ledger: synthetic 15-minute meter readings across a few streams."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TextIO

from ledger.ledger import Ledger
from ledger.store import NewEvent

DEMO_STREAMS = ("demo/meter-1", "demo/meter-2", "demo/meter-3", "demo/meter-4")
BATCH = 500


def seed_demo(ledger: Ledger, *, events: int, out: TextIO | None = None) -> str:
    """Append ``events`` synthetic readings in batches and return a one-line summary."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    pending: list[NewEvent] = []
    written = 0
    for i in range(events):
        stream = DEMO_STREAMS[i % len(DEMO_STREAMS)]
        slot = i // len(DEMO_STREAMS)
        begin = start + timedelta(minutes=15 * slot)
        kwh = Decimal(100 + (i * 37) % 250) / Decimal(10)
        pending.append(
            NewEvent(
                stream=stream,
                type="demo.reading/v1",
                body={
                    "start": begin.isoformat(),
                    "end": (begin + timedelta(minutes=15)).isoformat(),
                    "quantity": str(kwh),
                    "unit": "kWh",
                },
            )
        )
        if len(pending) == BATCH:
            written += len(ledger.store.append(pending))
            pending = []
    if pending:
        written += len(ledger.store.append(pending))
    return f"appended {written} demo events to {len(DEMO_STREAMS)} streams"
