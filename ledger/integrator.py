"""The integration loop: keeps the log caught up with the event store and signs checkpoints;
followers (read models kept elsewhere) are called after each step."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Protocol

from ledger.log import IntegratorConflict, Log

log = logging.getLogger("carbonledger.integrator")


class StopSignal(Protocol):
    def is_set(self) -> bool: ...

    def wait(self, timeout: float | None = None) -> bool: ...


class IntegratorLoop:
    """Runs in a thread: integrates new events as they arrive (polling every ``poll`` seconds when
    idle) and signs a checkpoint when the tree grew, at most once per checkpoint interval."""

    def __init__(
        self,
        log_: Log,
        *,
        poll: float = 0.05,
        batch: int = 10_000,
        followers: Sequence[Callable[[], object]] = (),
    ) -> None:
        self.log = log_
        self.followers = tuple(followers)
        self.poll = poll
        self.batch = batch
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: Exception | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="integrator", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def step(self) -> int:
        """Integrate one batch and sign a checkpoint if one is due; return events integrated."""
        try:
            count = self.log.integrate(self.batch)
        except IntegratorConflict:
            return 0
        if self.log.signer is not None:
            self.log.sign_checkpoint()
        for follow in self.followers:  # e.g. read models that apply the new entries
            follow()
        return count

    def _run(self) -> None:
        self.run(self._stop)

    def run(self, stop: StopSignal) -> None:
        """Integrate in the calling thread until ``stop`` is set (a threading or a
        multiprocessing Event)."""
        while not stop.is_set():
            try:
                count = self.step()
                self.last_error = None
            except Exception as exc:  # keep serving; report and retry
                self.last_error = exc
                log.exception("integration failed; retrying")
                count = 0
                stop.wait(1.0)
            if count < self.batch:
                stop.wait(self.poll)
