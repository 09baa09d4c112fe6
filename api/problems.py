"""RFC 9457 problem details: every refusal over HTTP is application/problem+json, never a 500."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

PROBLEM_TYPE_BASE = "urn:carbonledger:problem:"
log = logging.getLogger("carbonledger.api")


class Problem(Exception):
    """An error to answer with problem+json: status, a short slug naming the kind, and details."""

    def __init__(self, status: int, slug: str, title: str, detail: str = "", **extra: Any) -> None:
        super().__init__(detail or title)
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
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
