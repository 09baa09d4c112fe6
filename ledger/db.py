"""Database connections for the log's own tables, on SQLite (one file, WAL) or PostgreSQL.

The event store itself goes through the eventsourcing library's recorders (ledger/store.py); the
tables that the integrator, projections and the rest keep beside it go through :class:`Database`,
which offers one small interface on both engines. SQL is written once with ``?`` placeholders.
"""

from __future__ import annotations

import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from ledger.errors import LedgerError


class DatabaseURLError(LedgerError, ValueError):
    """A database URL that carbonledger cannot use."""


@dataclass(frozen=True)
class DatabaseConfig:
    """Where the ledger lives: ``sqlite:///path/file.sqlite`` or ``postgresql://user@host/db``.

    A PostgreSQL URL may carry ``?schema=NAME`` to keep several ledgers in one database.
    """

    url: str
    engine: str  # "sqlite" or "postgresql"
    path: Path | None = None
    host: str = "127.0.0.1"
    port: int = 5432
    user: str = "postgres"
    password: str = ""
    dbname: str = ""
    schema: str = "public"

    @classmethod
    def parse(cls, url: str) -> DatabaseConfig:
        """Parse a database URL, raising DatabaseURLError naming what is wrong."""
        parts = urlsplit(url)
        if parts.scheme == "sqlite":
            path = unquote(parts.path)
            if parts.netloc:
                path = "/" + parts.netloc + path
            if not path or path == "/":
                raise DatabaseURLError(
                    f"{url!r}: a sqlite URL needs a file path, e.g. sqlite:///x.db"
                )
            return cls(
                url=url, engine="sqlite", path=Path(path[1:] if path.startswith("//") else path)
            )
        if parts.scheme in ("postgresql", "postgres"):
            query = parse_qs(parts.query)
            schema = query.get("schema", ["public"])[0]
            if not schema.replace("_", "").isalnum():
                raise DatabaseURLError(f"{url!r}: schema must be letters, digits and underscores")
            dbname = unquote(parts.path.lstrip("/"))
            if not dbname:
                raise DatabaseURLError(f"{url!r}: a postgresql URL needs a database name")
            try:
                port = parts.port or 5432
            except ValueError as exc:
                raise DatabaseURLError(f"{url!r}: bad port") from exc
            return cls(
                url=url,
                engine="postgresql",
                host=parts.hostname or "127.0.0.1",
                port=port,
                user=unquote(parts.username or "postgres"),
                password=unquote(parts.password or ""),
                dbname=dbname,
                schema=schema,
            )
        raise DatabaseURLError(
            f"{url!r}: unsupported database URL (use sqlite:///PATH or postgresql://USER@HOST/DB)"
        )


class Cursor(ABC):
    """The few cursor operations the ledger needs, with ``?`` placeholders on both engines."""

    @abstractmethod
    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor: ...

    @abstractmethod
    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    @abstractmethod
    def fetchone(self) -> tuple[Any, ...] | None: ...

    @abstractmethod
    def fetchall(self) -> list[tuple[Any, ...]]: ...

    @property
    @abstractmethod
    def rowcount(self) -> int: ...


class Database(ABC):
    """A connection source for the ledger's own tables."""

    config: DatabaseConfig

    @abstractmethod
    def transaction(self, *, write: bool = False) -> Any:
        """Context manager yielding a Cursor; commits on success when ``write``, else rolls back.

        A write transaction on SQLite takes the write lock at once (BEGIN IMMEDIATE), so a
        read-modify-write inside it cannot interleave with another writer.
        """

    @abstractmethod
    def close(self) -> None: ...

    @property
    def engine(self) -> str:
        return self.config.engine


class _SQLiteCursor(Cursor):
    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        self._cursor.execute(sql, params)
        return self

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._cursor.executemany(sql, rows)

    def fetchone(self) -> tuple[Any, ...] | None:
        row: tuple[Any, ...] | None = self._cursor.fetchone()
        return row

    def fetchall(self) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = self._cursor.fetchall()
        return rows

    @property
    def rowcount(self) -> int:
        count: int = self._cursor.rowcount
        return count


SQLITE_BUSY_TIMEOUT_SECONDS = 30.0


class SQLiteDatabase(Database):
    """One SQLite file in WAL mode; a connection per thread."""

    def __init__(self, config: DatabaseConfig) -> None:
        assert config.path is not None
        self.config = config
        config.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        with self.transaction(write=True) as cur:
            cur.execute("SELECT 1")

    def _connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                str(self.config.path),
                isolation_level=None,
                check_same_thread=False,
                timeout=SQLITE_BUSY_TIMEOUT_SECONDS,
            )
            conn.execute("PRAGMA journal_mode=WAL")
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    @contextmanager
    def transaction(self, *, write: bool = False) -> Iterator[Cursor]:
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            yield _SQLiteCursor(conn.cursor())
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT" if write else "ROLLBACK")

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()


class _PostgresCursor(Cursor):
    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        self._cursor.execute(sql.replace("?", "%s"), params)
        return self

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._cursor.executemany(sql.replace("?", "%s"), rows)

    def fetchone(self) -> tuple[Any, ...] | None:
        row: tuple[Any, ...] | None = self._cursor.fetchone()
        return row

    def fetchall(self) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = self._cursor.fetchall()
        return rows

    @property
    def rowcount(self) -> int:
        count: int = self._cursor.rowcount
        return count


class PostgresDatabase(Database):
    """A pool of PostgreSQL connections whose search path is the ledger's schema."""

    def __init__(self, config: DatabaseConfig, *, pool_size: int = 4) -> None:
        from psycopg_pool import ConnectionPool

        self.config = config
        schema = config.schema

        def configure(conn: Any) -> None:
            conn.autocommit = True
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            conn.execute(f'SET search_path TO "{schema}"')

        self._pool = ConnectionPool(
            conninfo="",
            kwargs={
                "host": config.host,
                "port": config.port,
                "user": config.user,
                "password": config.password,
                "dbname": config.dbname,
                "connect_timeout": 10,
            },
            min_size=1,
            max_size=pool_size,
            configure=configure,
            open=True,
            timeout=30,
        )

    @contextmanager
    def transaction(self, *, write: bool = False) -> Iterator[Cursor]:
        with self._pool.connection() as conn:
            conn.autocommit = False
            try:
                with conn.cursor() as cur:
                    yield _PostgresCursor(cur)
                if write:
                    conn.commit()
                else:
                    conn.rollback()
            except BaseException:
                conn.rollback()
                raise
            finally:
                conn.autocommit = True

    def close(self) -> None:
        self._pool.close()


def open_database(url: str) -> Database:
    """Open the database a URL names (creating a SQLite file and its directory when needed)."""
    config = DatabaseConfig.parse(url)
    if config.engine == "sqlite":
        return SQLiteDatabase(config)
    return PostgresDatabase(config)
