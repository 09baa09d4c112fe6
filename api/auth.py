"""Operator bearer tokens with scopes, kept in the data directory's ``tokens.toml``.

The file holds, per token, its SHA-256 (never the token itself), a name and its scopes::

    [[token]]
    name = "ops"
    sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    scopes = ["ingest", "enroll", "claims", "points", "read"]

A token is 32 random bytes in URL-safe base64, shown once when minted
(``python -m api.auth mint --data DIR --name ops --scope ingest --scope read``). The file is read
again whenever it changes, so minting or removing a token needs no restart.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import re
import secrets
import sys
import threading
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request

from api.problems import Problem
from ledger.ledger import LedgerConfigError

TOKENS_FILE = "tokens.toml"

INGEST = "ingest"
ENROLL = "enroll"
CLAIMS = "claims"
POINTS = "points"
ECONOMIC = "economic"
READ = "read"
READ_PERSONAL = "read:personal"

SCOPES: dict[str, str] = {
    INGEST: "submit signed meter readings (POST /ingest/readings)",
    ENROLL: "open accounts; enroll meters, their keys and reporters; adopt methodologies",
    CLAIMS: "submit reduction claims",
    POINTS: "award and redeem points",
    ECONOMIC: "record economic data signed by an enrolled reporter",
    READ: "read enterprise, region and project accounts, and the metrics",
    READ_PERSONAL: "read residents' personal accounts",
}

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")
_SHA256_HEX = re.compile(r"[0-9a-f]{64}\Z")
_BEARER = re.compile(r"Bearer +([A-Za-z0-9._~+/-]+=*) *\Z", re.IGNORECASE)


class TokenFileError(LedgerConfigError):
    """tokens.toml cannot be read, or a token in it is not well formed."""


@dataclass(frozen=True)
class OperatorToken:
    """A token the platform accepts: its name, the SHA-256 of its secret and its scopes."""

    name: str
    sha256: bytes
    scopes: frozenset[str]


def token_digest(token: str) -> bytes:
    """Return the SHA-256 of a presented token, which is what tokens.toml stores."""
    return hashlib.sha256(token.encode("utf-8")).digest()


def check_scopes(scopes: Iterable[object], where: str) -> frozenset[str]:
    """Return the scopes as a set; raise TokenFileError naming any scope that does not exist."""
    checked = set()
    for scope in scopes:
        if not isinstance(scope, str) or scope not in SCOPES:
            raise TokenFileError(f"{where}: unknown scope {scope!r} (known: {', '.join(SCOPES)})")
        checked.add(scope)
    return frozenset(checked)


def parse_tokens(text: str, where: str = TOKENS_FILE) -> list[OperatorToken]:
    """Parse tokens.toml; raise TokenFileError naming the first thing that is wrong."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TokenFileError(f"{where}: {exc}") from exc
    unknown = set(raw) - {"token"}
    if unknown:
        raise TokenFileError(f"{where}: unknown settings {', '.join(sorted(unknown))}")
    entries = raw.get("token", [])
    if not isinstance(entries, list):
        raise TokenFileError(f"{where}: 'token' must be an array of tables ([[token]])")
    tokens: list[OperatorToken] = []
    names: set[str] = set()
    for number, entry in enumerate(entries, start=1):
        at = f"{where} token {number}"
        if not isinstance(entry, dict):
            raise TokenFileError(f"{at}: must be a table")
        extra = set(entry) - {"name", "sha256", "scopes"}
        if extra:
            raise TokenFileError(f"{at}: unknown fields {', '.join(sorted(extra))}")
        name, digest, scopes = entry.get("name"), entry.get("sha256"), entry.get("scopes")
        if not isinstance(name, str) or not _NAME.match(name):
            raise TokenFileError(f"{at}: name must be 1-64 letters, digits, '.', '_' or '-'")
        if name in names:
            raise TokenFileError(f"{at}: name {name!r} is used twice")
        if not isinstance(digest, str) or not _SHA256_HEX.match(digest):
            raise TokenFileError(f"{at} ({name}): sha256 must be 64 lowercase hex digits")
        if not isinstance(scopes, list) or not scopes:
            raise TokenFileError(f"{at} ({name}): scopes must be a non-empty list")
        names.add(name)
        tokens.append(
            OperatorToken(name, bytes.fromhex(digest), check_scopes(scopes, f"{at} ({name})"))
        )
    return tokens


def format_tokens(tokens: Sequence[OperatorToken]) -> str:
    """Write tokens as tokens.toml (the inverse of :func:`parse_tokens`)."""
    blocks = [
        "# Operator tokens: SHA-256 of each token, never the token. Mint with\n"
        "# python -m api.auth mint --data DIR --name NAME --scope SCOPE ...\n"
    ]
    for token in tokens:
        scopes = ", ".join(json.dumps(s) for s in sorted(token.scopes))
        blocks.append(
            f"[[token]]\nname = {json.dumps(token.name)}\n"
            f'sha256 = "{token.sha256.hex()}"\nscopes = [{scopes}]\n'
        )
    return "\n".join(blocks)


class TokenRegistry:
    """The tokens of tokens.toml, read again when the file changes; a missing file means no
    token is accepted (every protected route answers 401)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._tokens: list[OperatorToken] = []
        self._current()

    def _current(self) -> list[OperatorToken]:
        try:
            stat = self.path.stat()
            stamp: tuple[int, int] | None = (stat.st_mtime_ns, stat.st_size)
        except FileNotFoundError:
            stamp = None
        with self._lock:
            if stamp != self._stamp:
                text = "" if stamp is None else self.path.read_text(encoding="utf-8")
                self._tokens = parse_tokens(text, str(self.path))
                self._stamp = stamp
            return self._tokens

    def tokens(self) -> list[OperatorToken]:
        return list(self._current())

    def authenticate(self, presented: str) -> OperatorToken | None:
        """Return the token whose hash matches ``presented``, or None.

        Every stored hash is compared, in constant time, whether or not one matched already."""
        digest = token_digest(presented)
        found = None
        for token in self._current():
            if hmac.compare_digest(digest, token.sha256) and found is None:
                found = token
        return found


def mint_token(data_dir: Path | str, name: str, scopes: Iterable[str]) -> str:
    """Create a token named ``name`` with ``scopes``, store its SHA-256 in the data directory's
    tokens.toml (mode 0600) and return the token: it is not stored anywhere, so show it once."""
    if not _NAME.match(name):
        raise TokenFileError(f"token name {name!r}: 1-64 letters, digits, '.', '_' or '-'")
    wanted = check_scopes(scopes, f"token {name!r}")
    if not wanted:
        raise TokenFileError(f"token {name!r} needs at least one scope")
    path = Path(data_dir) / TOKENS_FILE
    existing = parse_tokens(path.read_text(encoding="utf-8"), str(path)) if path.exists() else []
    if any(t.name == name for t in existing):
        raise TokenFileError(f"{path}: a token named {name!r} exists already")
    token = secrets.token_urlsafe(32)
    text = format_tokens([*existing, OperatorToken(name, token_digest(token), wanted)])
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(tmp, path)
    return token


# -- over HTTP ------------------------------------------------------------------------------------


def _unauthorized(detail: str, error: str | None) -> Problem:
    challenge = 'Bearer realm="carbonledger"'
    if error is not None:
        challenge += f', error="{error}"'
    return Problem(
        401, "unauthorized", "Unauthorized", detail, headers={"WWW-Authenticate": challenge}
    )


def authenticate(request: Request) -> OperatorToken:
    """Return the operator token the request carries; a missing or unknown token is a 401."""
    header = request.headers.get("authorization")
    if header is None:
        raise _unauthorized("this route needs an operator bearer token", None)
    match = _BEARER.match(header)
    if match is None:
        raise _unauthorized("the Authorization header must be 'Bearer <token>'", "invalid_request")
    registry: TokenRegistry = request.app.state.platform.tokens
    token = registry.authenticate(match.group(1))
    if token is None:
        raise _unauthorized("the bearer token is not valid", "invalid_token")
    return token


def forbidden(token: OperatorToken, scope: str) -> Problem:
    """The 403 for a token that lacks ``scope``."""
    challenge = f'Bearer realm="carbonledger", error="insufficient_scope", scope="{scope}"'
    return Problem(
        403,
        "insufficient-scope",
        "Forbidden",
        f"token {token.name!r} lacks the scope {scope!r} this needs ({SCOPES[scope]})",
        headers={"WWW-Authenticate": challenge},
        required_scope=scope,
    )


def require(request: Request, scope: str) -> OperatorToken:
    """Return the request's token when it holds ``scope``; 401 without a valid token, 403
    naming the scope without it."""
    token = authenticate(request)
    if scope not in token.scopes:
        raise forbidden(token, scope)
    return token


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m api.auth mint --data DIR --name NAME --scope S ...``: print a new token once."""
    parser = argparse.ArgumentParser(prog="python -m api.auth", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    mint = sub.add_parser("mint", help="mint an operator token and print it once")
    mint.add_argument("--data", required=True, help="data directory (holds tokens.toml)")
    mint.add_argument("--name", required=True)
    mint.add_argument("--scope", action="append", required=True, choices=list(SCOPES))
    sub.add_parser("list", help="list token names and scopes").add_argument("--data", required=True)
    args = parser.parse_args(argv)
    try:
        if args.command == "mint":
            print(mint_token(args.data, args.name, args.scope))
            print(
                f"token {args.name!r} ({', '.join(sorted(set(args.scope)))}) stored hashed in "
                f"{Path(args.data) / TOKENS_FILE}; it is shown only this once",
                file=sys.stderr,
            )
        else:
            for token in TokenRegistry(Path(args.data) / TOKENS_FILE).tokens():
                print(f"{token.name}\t{' '.join(sorted(token.scopes))}")
    except (LedgerConfigError, OSError) as exc:
        print(f"carbonledger: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
