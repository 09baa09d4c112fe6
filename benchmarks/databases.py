"""What the database benchmarks share: their command-line options and one run per engine."""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"

Run = Callable[[str, str, Path, argparse.Namespace], None]


def add_database_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--postgres", default=os.environ.get("CARBONLEDGER_TEST_POSTGRES", DEFAULT_POSTGRES)
    )
    parser.add_argument("--sqlite-only", action="store_true")


def run_on_each_database(run: Run, args: argparse.Namespace) -> None:
    """Print the machine, then call ``run(name, url, data_dir, args)`` on a fresh SQLite file and
    on a fresh PostgreSQL schema (dropped afterwards)."""
    print(
        f"machine: {platform.platform()}, {os.cpu_count()} cpus, Python {platform.python_version()}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        run("SQLite", f"sqlite:///{tmp}/sqlite/ledger.sqlite", Path(tmp) / "sqlite", args)
        if args.sqlite_only:
            return
        import psycopg

        schema = "bench_" + uuid.uuid4().hex[:8]
        try:
            run("PostgreSQL", f"{args.postgres}?schema={schema}", Path(tmp) / "pg", args)
        finally:
            with psycopg.connect(args.postgres, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
