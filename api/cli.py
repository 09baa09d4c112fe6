"""The ``carbonledger`` command line. Every failure is one readable line on stderr, exit code 1."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from hardware_signers.errors import SignerError
from ledger.errors import LedgerError
from ledger.ledger import DEFAULT_ORIGIN, Ledger

DEFAULT_DEMO_DIR = "demo-data"


class CommandError(Exception):
    """A command-line failure to report as one line."""


def progress_printer(label: str, stream: TextIO = sys.stderr) -> Callable[[int, int], None] | None:
    """Return a progress callback drawing a bar on a terminal, or None when not on a terminal."""
    if not stream.isatty():
        return None
    started = time.monotonic()

    def show(done: int, total: int) -> None:
        width = 30
        filled = width if total == 0 else int(width * done / total)
        rate = done / max(time.monotonic() - started, 1e-9)
        stream.write(
            f"\r{label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total} ({rate:,.0f}/s)"
        )
        if done >= total:
            stream.write("\n")
        stream.flush()

    return show


def _open(data: str) -> Ledger:
    return Ledger.open(Path(data))


def cmd_init(args: argparse.Namespace) -> int:
    ledger = Ledger.init(
        Path(args.data), origin=args.origin, database=args.db, log_key=args.log_key
    )
    try:
        print(f"created ledger {ledger.config.origin} in {args.data} ({ledger.config.database})")
        print(ledger.verifier_key)
    finally:
        ledger.close()
    return 0


def _open_or_init(data: str) -> Ledger:
    path = Path(data)
    if (path / "carbonledger.toml").exists():
        return Ledger.open(path)
    return Ledger.init(path)


def cmd_demo(args: argparse.Namespace) -> int:
    from api.demo import seed_demo

    ledger = _open_or_init(args.data)
    try:
        summary = seed_demo(ledger, events=args.events, out=sys.stdout)
        ledger.log.integrate_all()
        ledger.log.sign_checkpoint(force=True)
        latest = ledger.log.latest_checkpoint()
        print(summary)
        if latest is not None:
            print()
            sys.stdout.write(latest.note.decode())
    finally:
        ledger.close()
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    ledger = _open(args.data)
    try:
        _serve(ledger, args.host, args.port)
    finally:
        ledger.close()
    return 0


def _serve(ledger: Ledger, host: str, port: int) -> None:
    import uvicorn

    from api.app import create_app

    app = create_app(ledger, integrate=True)
    uvicorn.run(app, host=host, port=port, log_level="info")


def cmd_audit(args: argparse.Namespace) -> int:
    from ledger.audit import audit_log

    ledger = _open(args.data)
    try:
        ledger.log.integrate_all()
        report = audit_log(ledger.log, ledger.verifier_key, progress=progress_printer("audit"))
    finally:
        ledger.close()
    if report.ok:
        print(
            f"audit ok: {report.entries} entries, {report.tiles} tiles, "
            f"{report.checkpoints} checkpoints verified"
        )
        return 0
    print(f"audit FAILED after {report.entries} entries: {report.failure}", file=sys.stderr)
    return 1


def cmd_quickstart(args: argparse.Namespace) -> int:
    from api.demo import seed_demo

    ledger = _open_or_init(args.data)
    try:
        if ledger.store.max_notification_id() == 0:
            print(seed_demo(ledger, events=args.events, out=sys.stdout))
        ledger.log.integrate_all()
        ledger.log.sign_checkpoint(force=True)
        base = f"http://{args.host}:{args.port}"
        print(f"\ncarbonledger is serving the ledger in {args.data} at {base}")
        for path in (
            "/log/checkpoint",
            "/log/vkey",
            "/log/entries/0",
            "/log/proof/inclusion?index=0",
            "/log/tile/0/000.p/1",
            "/openapi.json",
        ):
            print(f"  {base}{path}")
        print("Press Ctrl+C to stop.\n", flush=True)
        _serve(ledger, args.host, args.port)
    finally:
        ledger.close()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="carbonledger",
        description="Carbon accounts in a verifiable ledger (RFC 6962 log, C2SP checkpoints).",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("init", help="create a ledger and its Ed25519 log key")
    p.add_argument("--data", required=True, help="data directory")
    p.add_argument("--origin", default=DEFAULT_ORIGIN, help="log origin (checkpoint first line)")
    p.add_argument("--db", default=None, help="database URL (default: SQLite file in --data)")
    p.add_argument(
        "--log-key",
        default=None,
        help="existing log key: pem:PATH or an RFC 7512 pkcs11: URI (default: new PEM)",
    )
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("demo", help="append demo events, integrate them, print the checkpoint")
    p.add_argument("--data", required=True)
    p.add_argument("--events", type=int, default=1000)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("serve", help="serve the HTTP API and keep integrating")
    p.add_argument("--data", required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("audit", help="re-verify every entry, chain, tile and checkpoint")
    p.add_argument("--data", required=True)
    p.set_defaults(func=cmd_audit)

    p = sub.add_parser("quickstart", help="set up a demo ledger if needed and serve it")
    p.add_argument("--data", default=DEFAULT_DEMO_DIR)
    p.add_argument("--events", type=int, default=2000)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.set_defaults(func=cmd_quickstart)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except (LedgerError, SignerError, CommandError, OSError) as exc:
        print(f"carbonledger: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
