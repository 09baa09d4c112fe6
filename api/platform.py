"""The platform the HTTP API serves: an open ledger, the carbon-account write side over it, and the
operator tokens, configured from the data directory.

Besides the ledger's ``carbonledger.toml`` the data directory holds:

- ``federation.key``: hex of at least 32 random bytes, the federation-wide secret that blinds
  claim keys (every federated platform must hold the same one). Created, mode 0600, when missing;
- ``maker-roots/*.pem``: optional certificates that meter makers' chains must end at;
- ``tokens.toml``: operator tokens, stored hashed (see :mod:`api.auth`).
"""

from __future__ import annotations

import base64
import os
import secrets
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509

from api.auth import TOKENS_FILE, TokenRegistry
from domain.refusals import Refusal
from domain.service import CarbonAccounts
from ledger.ledger import Ledger, LedgerConfigError
from projections.evaluations import Evaluations
from projections.runner import ProjectionRunner

FEDERATION_KEY_FILE = "federation.key"
MAKER_ROOTS_DIR = "maker-roots"
FEDERATION_KEY_BYTES = 32
# A reading is stored verbatim inside its entry, JSON-escaped (an OCMF record's quotes double),
# and an entry is at most 65,535 bytes: refusing longer readings up front keeps one oversized
# item from failing the whole batch's transaction.


class PlatformConfigError(LedgerConfigError):
    """A domain configuration file in the data directory cannot be used."""


def load_federation_key(data_dir: Path) -> bytes:
    """Return the federation secret from ``federation.key``, creating a random one (mode 0600)
    when the file does not exist."""
    path = data_dir / FEDERATION_KEY_FILE
    if not path.exists():
        secret = secrets.token_bytes(FEDERATION_KEY_BYTES)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it first: use theirs
            pass
        else:
            with os.fdopen(fd, "w", encoding="ascii") as out:
                out.write(secret.hex() + "\n")
    text = path.read_text(encoding="ascii", errors="replace").strip()
    try:
        secret = bytes.fromhex(text)
    except ValueError as exc:
        raise PlatformConfigError(f"{path}: not hex ({exc})") from exc
    if len(secret) < FEDERATION_KEY_BYTES:
        raise PlatformConfigError(
            f"{path}: the federation secret must be at least {FEDERATION_KEY_BYTES} bytes "
            f"(64 hex digits), this one is {len(secret)}"
        )
    return secret


def load_maker_roots(data_dir: Path) -> list[x509.Certificate]:
    """Return the certificates in ``maker-roots/*.pem`` (none when the directory is absent)."""
    directory = data_dir / MAKER_ROOTS_DIR
    if not directory.is_dir():
        return []
    roots: list[x509.Certificate] = []
    for path in sorted(directory.glob("*.pem")):
        try:
            roots.extend(x509.load_pem_x509_certificates(path.read_bytes()))
        except ValueError as exc:
            raise PlatformConfigError(f"{path}: not PEM certificates ({exc})") from exc
    return roots


@dataclass(frozen=True)
class IngestReport:
    """The answer to a batch of readings: the domain's result per item, and for accepted items
    their log index once integrated or how many stored events at most are ahead of them."""

    results: list[dict[str, Any]]
    accepted: int
    refused: int
    log_size: int
    pending: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "refused": self.refused,
            "log": {"size": self.log_size, "pending": self.pending},
            "results": self.results,
        }


@dataclass
class Platform:
    """An open ledger, the carbon-account write side over it, and the operator tokens."""

    ledger: Ledger
    accounts: CarbonAccounts
    tokens: TokenRegistry
    projections: ProjectionRunner
    evaluations: Evaluations
    owns_ledger: bool = False

    @classmethod
    def open(cls, data_dir: Path | str) -> Platform:
        """Open the ledger in ``data_dir`` and the platform around it."""
        ledger = Ledger.open(data_dir)
        try:
            platform = cls.around(ledger)
        except BaseException:
            ledger.close()
            raise
        platform.owns_ledger = True
        return platform

    @classmethod
    def around(cls, ledger: Ledger, data_dir: Path | str | None = None) -> Platform:
        """Build the platform around an already open ledger, configured from ``data_dir``
        (default: the ledger's own data directory). Closing it leaves the ledger open."""
        directory = ledger.data_dir if data_dir is None else Path(data_dir)
        accounts = CarbonAccounts(
            ledger,
            federation_secret=load_federation_key(directory),
            maker_roots=load_maker_roots(directory),
        )
        try:
            tokens = TokenRegistry(directory / TOKENS_FILE)
            # The read models convert with the same factor table the write side assesses with.
            projections = ProjectionRunner(ledger.log, ledger.db, accounts.factors)
            evaluations = Evaluations(ledger.log, ledger.db, accounts.factors)
        except BaseException:
            accounts.close()
            raise
        return cls(
            ledger=ledger,
            accounts=accounts,
            tokens=tokens,
            projections=projections,
            evaluations=evaluations,
        )

    def close(self) -> None:
        self.accounts.close()
        if self.owns_ledger:
            self.ledger.close()

    # -- readings ----------------------------------------------------------------------------

    def ingest_readings(self, items: list[object]) -> IngestReport:
        """Verify and record a batch of readings (see CarbonAccounts.ingest_readings) and say
        where each accepted one stands in the log."""
        outcome = [result.as_dict() for result in self.accounts.ingest_readings(items)]
        return self._placed(outcome)

    def _placed(self, outcome: list[dict[str, Any]]) -> IngestReport:
        accepted = [r for r in outcome if r["status"] == "accepted"]
        indexes = self.ledger.log.leaf_indexes([_leaf_hash_bytes(r["leaf_hash"]) for r in accepted])
        stored = self.ledger.store.max_notification_id()
        size, integrated = self.ledger.log.position()
        # The batch was one transaction and this call returned after it, so its k-th of n
        # accepted entries has a notification id of at most stored - (n - 1 - k). PostgreSQL's
        # ids may have gaps and other writers may have appended since: "at most" either way.
        for k, result in enumerate(accepted):
            index = indexes.get(_leaf_hash_bytes(result["leaf_hash"]))
            if index is not None:
                result["log_index"] = index
            else:
                result["queue_ahead"] = max(0, stored - (len(accepted) - 1 - k) - integrated - 1)
        return IngestReport(
            results=outcome,
            accepted=len(accepted),
            refused=len(outcome) - len(accepted),
            log_size=size,
            pending=max(0, stored - integrated),
        )

    def reading_refusals(self) -> Counter[Refusal]:
        """Readings refused since this process started, by reason."""
        # dict() copies in one step under the GIL; the domain counts from other threads
        return Counter(dict(self.accounts.refusals))


def _leaf_hash_bytes(text: str) -> bytes:
    return base64.b64decode(text)
