"""The ``carbonledger`` command line. Every failure is one readable line on stderr, exit code 1."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from domain.errors import DomainError
from hardware_signers.errors import SignerError
from ledger.errors import LedgerError
from ledger.ledger import DEFAULT_ORIGIN, Ledger

if TYPE_CHECKING:
    from api.platform import Platform

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


def _platform(data: str, *, create: bool = False) -> Platform:
    from api.platform import Platform

    path = Path(data)
    if create and not (path / "carbonledger.toml").exists():
        Ledger.init(path).close()
    return Platform.open(path)


def _seed(platform: Platform, events: int) -> None:
    from api.demo import seed_city

    summary = seed_city(
        platform.accounts, events=events, data_dir=platform.ledger.data_dir, out=sys.stdout
    )
    platform.ledger.log.integrate_all()
    platform.ledger.log.sign_checkpoint(force=True)
    platform.projections.catch_up()
    print(
        f"demo city: {summary['readings']} signed readings, {summary['claims']} claims, "
        f"log of {platform.ledger.log.size()} entries"
    )


def cmd_demo(args: argparse.Namespace) -> int:
    platform = _platform(args.data, create=True)
    try:
        _seed(platform, args.events)
        latest = platform.ledger.log.latest_checkpoint()
        if latest is not None:
            print()
            sys.stdout.write(latest.note.decode())
    finally:
        platform.close()
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    platform = _platform(args.data)
    try:
        _serve(platform, args.host, args.port)
    finally:
        platform.close()
    return 0


def _serve(platform: Platform, host: str, port: int) -> None:
    import uvicorn

    from api.app import create_app

    app = create_app(platform.ledger, platform=platform, integrate=True)
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
    platform = _platform(args.data, create=True)
    try:
        if platform.ledger.store.max_notification_id() == 0:
            _seed(platform, args.events)
        platform.ledger.log.integrate_all()
        platform.ledger.log.sign_checkpoint(force=True)
        base = f"http://{args.host}:{args.port}"
        print(f"\ncarbonledger is serving the ledger in {args.data} at {base}")
        for path in (
            "/log/checkpoint",
            "/log/vkey",
            "/log/entries/0",
            "/log/proof/inclusion?index=0",
            "/log/tile/0/000.p/1",
            "/metrics",
            "/openapi.json",
        ):
            print(f"  {base}{path}")
        print("Press Ctrl+C to stop.\n", flush=True)
        _serve(platform, args.host, args.port)
    finally:
        platform.close()
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    from api.records import read_records

    try:
        data = Path(args.file).read_bytes()
    except OSError as exc:
        raise CommandError(f"cannot read {args.file}: {exc.strerror}") from exc
    platform = _platform(args.data)
    accepted = refused = 0
    try:
        records = list(read_records(data))
        for start in range(0, len(records), 500):
            chunk = records[start : start + 500]
            readable = [r for r in chunk if r.problem is None]
            answers = iter(platform.accounts.ingest_readings([r.reading for r in readable]))
            for record in chunk:
                if record.problem is not None:
                    refused += 1
                    print(f"{record.where}: refused (malformed): {record.problem}")
                    continue
                result = next(answers)
                if result.accepted:
                    accepted += 1
                    gap = f" gap={result.gap}" if result.gap else ""
                    print(
                        f"{record.where}: accepted meter={result.meter} seq={result.seq}"
                        f" leaf_hash={result.leaf_hash}{gap}"
                    )
                else:
                    refused += 1
                    print(f"{record.where}: refused ({result.reason}): {result.detail}")
    finally:
        platform.close()
    print(f"{accepted} accepted, {refused} refused")
    return 1 if refused else 0


def cmd_import_keys(args: argparse.Namespace) -> int:
    from cryptography.hazmat.primitives import serialization

    from domain.errors import AlreadyExists, DomainError, NotFound
    from domain.ocmf import load_ocmf_public_key, parse_ocmf, parse_transparency_xml

    try:
        values = parse_transparency_xml(Path(args.file).read_bytes())
    except OSError as exc:
        raise CommandError(f"cannot read {args.file}: {exc.strerror}") from exc
    except DomainError as exc:
        raise CommandError(f"{args.file}: {exc}") from exc
    platform = _platform(args.data)
    failures = 0
    try:
        accounts = platform.accounts
        try:
            accounts.account(args.account)
        except NotFound:
            from domain.credit_code import validate_credit_code

            try:
                code = validate_credit_code(args.account)
                accounts.open_account(kind="enterprise", credit_code=code)
            except DomainError:
                accounts.open_account(kind="project", account_id=args.account)
            print(f"opened account {args.account}")
        for number, value in enumerate(values, 1):
            where = f"value {number}"
            try:
                record = parse_ocmf(value.ocmf)
                if not value.public_key:
                    raise CommandError("it carries no public key")
                key = load_ocmf_public_key(value.public_key, record.signature_algorithm)
                pem = key.public_bytes(
                    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
                ).decode()
                receipt = accounts.enroll_meter(
                    serial=record.meter_serial,
                    account=args.account,
                    public_key=pem,
                    carrier="electricity",
                )
                print(f"{where}: enrolled meter {record.meter_serial} key {receipt['key_id'][:16]}")
            except AlreadyExists:
                state = accounts.meter(record.meter_serial)
                if any(
                    k.spki
                    == key.public_bytes(
                        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
                    )
                    for k in state.keys
                ):
                    print(f"{where}: meter {record.meter_serial} already enrolled with this key")
                else:
                    failures += 1
                    print(
                        f"{where}: meter {record.meter_serial} is enrolled with another key; "
                        "rotate its key instead"
                    )
            except (DomainError, CommandError) as exc:
                failures += 1
                print(f"{where}: not imported: {exc}")
    finally:
        platform.close()
    return 1 if failures else 0


def cmd_rebuild(args: argparse.Namespace) -> int:
    platform = _platform(args.data)
    try:
        platform.ledger.log.integrate_all()
        count = platform.projections.rebuild(progress=progress_printer("rebuild"))
        print(f"rebuilt the projections from {count} log entries")
    finally:
        platform.close()
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    from api.auth import mint_token

    token = mint_token(Path(args.data), name=args.name, scopes=args.scope)
    print(token)
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

    p = sub.add_parser("demo", help="write a small demo city, integrate it, print the checkpoint")
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

    p = sub.add_parser(
        "ingest",
        help="ingest signed readings from an XML export, OCMF lines "
        "or NDJSON; one line per record; exit 1 if any was refused",
    )
    p.add_argument("file")
    p.add_argument("--data", required=True)
    p.set_defaults(func=cmd_ingest)

    meters = sub.add_parser("meters", help="meter administration")
    meters_sub = meters.add_subparsers(dest="meters_command", required=True)
    p = meters_sub.add_parser(
        "import-ocmf-keys",
        help="enroll the meters and public keys of an "
        "OCMF XML export (for sources the operator trusts)",
    )
    p.add_argument("file")
    p.add_argument("--data", required=True)
    p.add_argument(
        "--account", required=True, help="account the meters belong to (created if missing)"
    )
    p.set_defaults(func=cmd_import_keys)

    p = sub.add_parser("rebuild", help="drop the projections and rebuild them from the log")
    p.add_argument("--data", required=True)
    p.set_defaults(func=cmd_rebuild)

    p = sub.add_parser("token", help="mint an operator bearer token (printed once)")
    p.add_argument("--data", required=True)
    p.add_argument("--name", required=True)
    p.add_argument(
        "--scope",
        action="append",
        required=True,
        help="ingest, enroll, claims, points, economic, read, read:personal; repeat",
    )
    p.set_defaults(func=cmd_token)

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
    except (LedgerError, SignerError, DomainError, CommandError, OSError) as exc:
        print(f"carbonledger: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
