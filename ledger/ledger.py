"""A ledger on disk: its configuration file, event store, log and log key, opened in one call.

A data directory holds ``carbonledger.toml``::

    origin = "carbonledger.example/quzhou"
    database = "sqlite:///…/ledger.sqlite"
    log_key = "pem:log-key.pem"          # or an RFC 7512 pkcs11: URI for a key in an HSM
    checkpoint_interval = 1.0

Relative ``pem:`` paths are relative to the data directory.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from hardware_signers.base import Algorithm, Signer
from hardware_signers.software import SoftwareSigner
from hardware_signers.spec import open_signer
from ledger.checkpoint import CheckpointSigner
from ledger.db import Database, open_database
from ledger.errors import LedgerError
from ledger.log import Log
from ledger.note import NoteSigner, VerifierKey
from ledger.store import EventStore

CONFIG_FILE = "carbonledger.toml"
DEFAULT_ORIGIN = "carbonledger.localhost/log"
DEFAULT_KEY_FILE = "log-key.pem"


class LedgerConfigError(LedgerError):
    """The data directory holds no ledger, or its configuration cannot be used."""


@dataclass(frozen=True)
class LedgerConfig:
    """What a data directory's carbonledger.toml says."""

    origin: str
    database: str
    log_key: str
    checkpoint_interval: float = 1.0

    @classmethod
    def load(cls, data_dir: Path) -> LedgerConfig:
        path = data_dir / CONFIG_FILE
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise LedgerConfigError(
                f"{data_dir} holds no ledger (no {CONFIG_FILE}); run 'carbonledger init --data "
                f"{data_dir}' first"
            ) from exc
        except tomllib.TOMLDecodeError as exc:
            raise LedgerConfigError(f"{path}: {exc}") from exc
        try:
            return cls(
                origin=str(raw["origin"]),
                database=str(raw["database"]),
                log_key=str(raw["log_key"]),
                checkpoint_interval=float(raw.get("checkpoint_interval", 1.0)),
            )
        except KeyError as exc:
            raise LedgerConfigError(f"{path}: missing setting {exc.args[0]!r}") from exc

    def save(self, data_dir: Path) -> None:
        lines = [
            f"origin = {json.dumps(self.origin)}",
            f"database = {json.dumps(self.database)}",
            f"log_key = {json.dumps(self.log_key)}",
            f"checkpoint_interval = {self.checkpoint_interval!r}",
        ]
        path = data_dir / CONFIG_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
        os.replace(tmp, path)


def _resolve_key_spec(spec: str, data_dir: Path) -> str:
    if spec.startswith("pem:"):
        location = spec[4:]
        path_part, sep, query = location.partition("?")
        path = Path(path_part)
        if not path.is_absolute():
            path = data_dir / path
        return f"pem:{path}{sep}{query}"
    return spec


class Ledger:
    """An open ledger: event store, log tables and the log's signing key."""

    def __init__(self, data_dir: Path, config: LedgerConfig) -> None:
        self.data_dir = data_dir
        self.config = config
        self.store = EventStore(config.database)
        self.db: Database = open_database(config.database)
        self.log_signer: Signer = open_signer(_resolve_key_spec(config.log_key, data_dir))
        self.note_signer = NoteSigner(config.origin, self.log_signer)
        self.log = Log(
            self.store,
            self.db,
            origin=config.origin,
            signer=CheckpointSigner(self.note_signer),
            checkpoint_interval=config.checkpoint_interval,
        )

    @property
    def verifier_key(self) -> VerifierKey:
        """The log's verifier key (C2SP vkey), which checks every checkpoint it signs."""
        return self.note_signer.verifier_key

    @classmethod
    def open(cls, data_dir: Path | str) -> Ledger:
        """Open the ledger in ``data_dir``; raise LedgerConfigError when there is none."""
        data_dir = Path(data_dir)
        return cls(data_dir, LedgerConfig.load(data_dir))

    @classmethod
    def init(
        cls,
        data_dir: Path | str,
        *,
        origin: str = DEFAULT_ORIGIN,
        database: str | None = None,
        log_key: str | None = None,
    ) -> Ledger:
        """Create a ledger in ``data_dir``: configuration, database tables and an Ed25519 log key
        (a new PEM file unless ``log_key`` names an existing key, e.g. in an HSM)."""
        data_dir = Path(data_dir)
        if (data_dir / CONFIG_FILE).exists():
            raise LedgerConfigError(f"{data_dir} already holds a ledger ({CONFIG_FILE} exists)")
        _check_origin(origin)
        data_dir.mkdir(parents=True, exist_ok=True)
        if log_key is None:
            key_path = data_dir / DEFAULT_KEY_FILE
            if not key_path.exists():
                SoftwareSigner.generate(Algorithm.ED25519).save(key_path)
            log_key = f"pem:{DEFAULT_KEY_FILE}"
        if database is None:
            database = f"sqlite:///{(data_dir / 'ledger.sqlite').resolve()}"
        config = LedgerConfig(origin=origin, database=database, log_key=log_key)
        ledger = cls(data_dir, config)
        if ledger.log_signer.algorithm is not Algorithm.ED25519:
            ledger.close()
            raise LedgerConfigError("the log key must be an Ed25519 key (C2SP signed notes)")
        config.save(data_dir)
        return ledger

    def close(self) -> None:
        self.store.close()
        self.db.close()
        close_signer = getattr(self.log_signer, "close", None)
        if close_signer is not None:  # an HSM session
            close_signer()


def _check_origin(origin: str) -> None:
    if not origin or any(c.isspace() for c in origin) or "+" in origin:
        raise LedgerConfigError(
            f"origin {origin!r} is not valid: a schema-less URL without spaces or '+', "
            "e.g. carbonledger.example/quzhou"
        )
