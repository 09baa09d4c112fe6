"""The background worker of a serving platform: integration into the log, checkpoint signing and the
read models, in a process of its own so that they do not compete with request handling for the
interpreter lock. It opens the ledger from its data directory and shares nothing else with the
serving process: the database is the only channel between them.

The worker stops on SIGTERM, after the step it is in (each step commits whole or not at all). A
supervising thread in the server starts it again if it ever exits on its own, so integration never
stops silently while the server runs.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import threading
from multiprocessing.process import BaseProcess
from pathlib import Path

log = logging.getLogger("carbonledger.background")

RESTART_DELAY_SECONDS = 1.0


def run(data_dir: str) -> None:
    """Integrate, sign checkpoints and keep the read models up to date until SIGTERM."""
    from api.platform import Platform
    from ledger.integrator import IntegratorLoop

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server stops us, not the terminal
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    platform = Platform.open(data_dir)
    try:
        IntegratorLoop(platform.ledger.log, followers=[platform.projections.catch_up]).run(stop)
    finally:
        platform.close()


class BackgroundWorker:
    """Runs the background process for the ledger in ``data_dir`` while the server runs."""

    def __init__(self, data_dir: Path) -> None:
        self._data_dir = str(data_dir)
        self._context = multiprocessing.get_context("spawn")
        self._process: BaseProcess | None = None
        self._stopping = threading.Event()
        self._supervisor: threading.Thread | None = None
        self.restarts = 0

    def _spawn(self) -> None:
        self._process = self._context.Process(
            target=run, args=(self._data_dir,), name="carbonledger-integrator", daemon=True
        )
        self._process.start()

    def start(self) -> None:
        self._spawn()
        self._supervisor = threading.Thread(
            target=self._supervise, name="integrator-supervisor", daemon=True
        )
        self._supervisor.start()

    def _supervise(self) -> None:
        while not self._stopping.is_set():
            process = self._process
            assert process is not None
            process.join(0.5)
            if process.is_alive() or self._stopping.is_set():
                continue
            log.warning("background worker exited (code %s); starting it again", process.exitcode)
            if self._stopping.wait(RESTART_DELAY_SECONDS):
                return
            self.restarts += 1
            self._spawn()

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.is_alive()

    def stop(self, timeout: float = 15.0) -> None:
        self._stopping.set()
        if self._supervisor is not None:
            self._supervisor.join(timeout)
        process = self._process
        if process is None:
            return
        process.terminate()  # SIGTERM: the worker finishes its step and exits
        process.join(timeout)
        if process.is_alive():
            log.warning("background worker did not stop in %.0f s; killing it", timeout)
            process.kill()
            process.join(5)
