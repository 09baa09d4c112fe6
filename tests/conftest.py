"""Shared fixtures: the shared fixture data, a real SoftHSM2 token, and database URLs for SQLite and
PostgreSQL (the store tests run on both)."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
FIXTURES = Path(os.environ.get("CARBONLEDGER_FIXTURES", SHARED / "fixtures"))
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

SOFTHSM_MODULE_CANDIDATES = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
)

POSTGRES_URL = os.environ.get(
    "CARBONLEDGER_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"
)


MISSING_FIXTURES = (
    f"shared fixtures not found at {FIXTURES}: set CARBONLEDGER_FIXTURES to the fixtures "
    "directory, or check out ../shared beside the project"
)


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """The shared fixture data (real proof vectors, signed notes, OCMF exports). Outside CI a
    clone of the project alone skips the tests that need it; in CI (CI=true) they must run."""
    if not FIXTURES.is_dir():
        if IN_CI:
            pytest.fail(MISSING_FIXTURES)
        pytest.skip(MISSING_FIXTURES)
    return FIXTURES


@dataclass(frozen=True)
class SoftHSMToken:
    """A real SoftHSM2 token initialised for this test session."""

    module: str
    label: str
    pin: str
    so_pin: str


def _softhsm_module() -> str | None:
    for candidate in SOFTHSM_MODULE_CANDIDATES:
        if os.path.exists(candidate):
            return candidate
    return None


@pytest.fixture(scope="session")
def softhsm_token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoftHSMToken]:
    """One SoftHSM2 token in a temporary directory. PKCS#11 modules read their configuration once
    per
    process, so the token is made once per session and tests use distinct key labels."""
    module = _softhsm_module()
    util = shutil.which("softhsm2-util")
    if module is None or util is None:
        if IN_CI:
            pytest.fail("SoftHSM2 is not installed (apt-get install softhsm2)")
        pytest.skip("SoftHSM2 is not installed")
    root = tmp_path_factory.mktemp("softhsm")
    (root / "tokens").mkdir()
    conf = root / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {root / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    os.environ["SOFTHSM2_CONF"] = str(conf)
    token = SoftHSMToken(module=module, label="carbonledger-test", pin="1234", so_pin="5678")
    subprocess.run(
        [
            util,
            "--init-token",
            "--free",
            "--label",
            token.label,
            "--pin",
            token.pin,
            "--so-pin",
            token.so_pin,
        ],
        check=True,
        capture_output=True,
    )
    yield token


def _postgres_answers(url: str) -> bool:
    try:
        import psycopg

        with psycopg.connect(url, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    """Outside CI the tests skip when no server answers; in CI they fail."""
    if not _postgres_answers(POSTGRES_URL):
        if IN_CI:
            pytest.fail(f"PostgreSQL does not answer at {POSTGRES_URL}")
        pytest.skip(f"PostgreSQL does not answer at {POSTGRES_URL}")
    return POSTGRES_URL


def fresh_postgres_schema(server_url: str) -> str:
    """Create an empty schema and return its name: each store test gets a database of its own."""
    import psycopg

    name = "t_" + uuid.uuid4().hex[:16]
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    return name


def drop_postgres_schema(server_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a schema of its own on the PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.sqlite'}"
        return
    server = request.getfixturevalue("postgres_server_url")
    schema = fresh_postgres_schema(server)
    try:
        yield f"{server}?schema={schema}"
    finally:
        drop_postgres_schema(server, schema)


@pytest.fixture
def ledger(database_url: str, tmp_path: Path) -> Iterator[Any]:
    """A fresh ledger (software log key) on SQLite or PostgreSQL."""
    from ledger.ledger import Ledger

    opened = Ledger.init(tmp_path / "data", origin="test.carbonledger/log", database=database_url)
    try:
        yield opened
    finally:
        opened.close()


class LiveServer:
    """A real uvicorn server on a free loopback port, running an app in a background thread."""

    def __init__(self, app: Any) -> None:
        import socket
        import threading

        import uvicorn

        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        sock.close()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        import time

        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(20)
