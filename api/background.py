"""The background worker of a serving platform: integration into the log, checkpoint signing and the
read models, in a process of its own so that they do not compete with request handling for the
interpreter lock. It opens the ledger from its data directory and shares nothing else with the
serving process: the database is the only channel between them."""

from __future__ import annotations

import logging
import multiprocessing
from multiprocessing.synchronize import Event
from pathlib import Path

log = logging.getLogger("carbonledger.background")


def run(data_dir: str, stop: Event) -> None:
    """Integrate, sign checkpoints and keep the read models up to date until ``stop`` is set."""
    from api.platform import Platform
    from ledger.integrator import IntegratorLoop

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    platform = Platform.open(data_dir)
    try:
        IntegratorLoop(platform.ledger.log, followers=[platform.projections.catch_up]).run(stop)
    finally:
        platform.close()


class BackgroundWorker:
    """Starts and stops the background process for the ledger in ``data_dir``."""

    def __init__(self, data_dir: Path) -> None:
        context = multiprocessing.get_context("spawn")
        self._stop = context.Event()
        self._process = context.Process(
            target=run,
            args=(str(data_dir), self._stop),
            name="carbonledger-integrator",
            daemon=True,
        )

    def start(self) -> None:
        self._process.start()

    @property
    def alive(self) -> bool:
        return self._process.is_alive()

    def stop(self, timeout: float = 15.0) -> None:
        self._stop.set()
        self._process.join(timeout)
        if self._process.is_alive():
            log.warning("background worker did not stop in %.0f s; terminating it", timeout)
            self._process.terminate()
            self._process.join(5)
