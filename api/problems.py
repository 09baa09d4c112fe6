"""RFC 9457 problem details: every refusal over HTTP is application/problem+json, never a 500."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from domain.errors import (
    AlreadyClaimed,
    AlreadyExists,
    Conflict,
    DomainError,
    EvidenceError,
    InvalidCreditCode,
    NotFound,
    Overdrawn,
)
from domain.methodology import MethodologyError
from ledger.entry import EntryError
from ledger.errors import LedgerError, NoteError, ProofError, TileError
from ledger.store import StreamConflict

PROBLEM_TYPE_BASE = "urn:carbonledger:problem:"
log = logging.getLogger("carbonledger.api")


class Problem(Exception):
    """An error to answer with problem+json: status, a short slug naming the kind, and details."""

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str = "",
        *,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.headers = dict(headers or {})
        self.extra = extra


def bad_request(detail: str, slug: str = "bad-request") -> Problem:
    return Problem(400, slug, "Bad request", detail)


def not_found(detail: str, slug: str = "not-found") -> Problem:
    return Problem(404, slug, "Not found", detail)


def problem_response(problem: Problem, instance: str | None = None) -> Response:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + problem.slug,
        "title": problem.title,
        "status": problem.status,
    }
    if problem.detail:
        body["detail"] = problem.detail
    if instance:
        body["instance"] = instance
    body.update(problem.extra)
    headers = {"Cache-Control": "no-store"}
    if problem.status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="carbonledger"'
    headers.update(problem.headers)
    return Response(
        orjson.dumps(body),
        status_code=problem.status,
        media_type="application/problem+json",
        headers=headers,
    )


async def handle_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    return problem_response(exc, request.url.path)


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    slug = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
    detail = {
        404: f"nothing is served at {request.url.path}",
        405: f"{request.method} is not allowed on {request.url.path}",
    }.get(exc.status_code, "")
    return problem_response(
        Problem(exc.status_code, slug, str(exc.detail), detail), request.url.path
    )


def domain_problem(exc: DomainError) -> Problem:
    """The problem+json answer for an error the domain raised on purpose: the one place where
    domain errors get their HTTP status."""
    detail = str(exc)
    if isinstance(exc, AlreadyClaimed):
        return Problem(409, "already-claimed", "Already claimed", detail, holder=exc.holder)
    if isinstance(exc, NotFound):
        return Problem(404, "not-found", "Not found", detail)
    if isinstance(exc, AlreadyExists):
        return Problem(409, "already-exists", "Already exists", detail)
    if isinstance(exc, Overdrawn):
        return Problem(409, "overdrawn", "Not enough points", detail)
    if isinstance(exc, Conflict):
        return Problem(409, "conflict", "Concurrent change", detail)
    if isinstance(exc, EvidenceError):
        return Problem(422, "invalid-evidence", "Evidence refused", detail)
    if isinstance(exc, InvalidCreditCode):
        return Problem(400, "invalid-credit-code", "Invalid credit code", detail)
    if isinstance(exc, MethodologyError):
        return Problem(422, "methodology-refused", "Refused by the methodology", detail)
    return Problem(400, "invalid-request", "Invalid request", detail)


def ledger_problem(exc: LedgerError) -> Problem:
    """The problem+json answer for an error the ledger raised on purpose."""
    if isinstance(exc, StreamConflict):
        return Problem(409, "conflict", "Concurrent change", f"{exc}; try again")
    if isinstance(exc, EntryError):
        return Problem(422, "entry-refused", "Entry refused", str(exc))
    if isinstance(exc, ProofError):
        return Problem(404, "beyond-tree", "Not found", str(exc))
    if isinstance(exc, NoteError | TileError):
        return Problem(400, "bad-request", "Bad request", str(exc))
    log.error("ledger error: %s", exc, exc_info=exc)
    return Problem(
        500, "internal-error", "Internal error", "the ledger failed; nothing was changed"
    )


async def handle_domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    return problem_response(domain_problem(exc), request.url.path)


async def handle_ledger_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LedgerError)
    return problem_response(ledger_problem(exc), request.url.path)


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error answering %s %s", request.method, request.url.path)
    return problem_response(
        Problem(500, "internal-error", "Internal error", "the server failed; nothing was changed"),
        request.url.path,
    )


def json_response(body: Any, *, status: int = 200, cache: str = "no-cache") -> Response:
    return Response(
        orjson.dumps(body),
        status_code=status,
        media_type="application/json",
        headers={"Cache-Control": cache},
    )
