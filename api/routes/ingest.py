"""Signed meter readings in: ``POST /ingest/readings`` takes a batch (a JSON array, or NDJSON with
one reading per line) and answers for every item. A refused item never blocks the others; a batch
that is not a batch at all is refused whole, and then nothing is written.

Endpoints are plain functions: Starlette runs them in its thread pool, since verifying and
appending block. They read their bodies through :func:`read_body`, which enforces a size limit.
"""

from __future__ import annotations

import anyio.from_thread
import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.auth import INGEST, require
from api.platform import Platform
from api.problems import Problem, bad_request, json_response

MAX_BODY_BYTES = 16 * 1024 * 1024
MAX_READINGS = 10_000
JSON = "application/json"
NDJSON = "application/x-ndjson"


def content_too_large(detail: str, slug: str = "content-too-large") -> Problem:
    return Problem(413, slug, "Content too large", detail)


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise content_too_large(f"the body may be at most {limit} bytes, not {declared}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise content_too_large(f"the body may be at most {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def read_body(request: Request, limit: int) -> bytes:
    """Return the request body, from an endpoint running in the thread pool; a body longer than
    ``limit`` bytes is a 413 and is not read further."""
    return anyio.from_thread.run(_read_limited, request, limit)


def media_type(request: Request) -> str:
    """The request's media type, lowercased, without parameters ("" when there is none)."""
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def unsupported_media_type(got: str, wanted: list[str]) -> Problem:
    return Problem(
        415,
        "unsupported-media-type",
        "Unsupported media type",
        f"Content-Type must be {' or '.join(wanted)}, not {got or 'absent'!r}",
    )


def parse_batch(body: bytes, kind: str) -> list[object]:
    """Return the items of a batch: a JSON array, or NDJSON where each non-blank line is one
    JSON value. In NDJSON a line that is not JSON becomes an item that the domain refuses as
    malformed; in a JSON array anything wrong refuses the whole batch."""
    if kind == NDJSON:
        items: list[object] = []
        for number, line in enumerate(body.split(b"\n"), start=1):
            if not line.strip():
                continue
            try:
                items.append(orjson.loads(line))
            except orjson.JSONDecodeError as exc:
                # Not a reading the domain can parse either: it names the problem per item.
                items.append(_NotJson(number, str(exc)))
        return items
    try:
        batch = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise bad_request(f"the body is not JSON: {exc}", "malformed-batch") from exc
    if not isinstance(batch, list):
        raise bad_request(
            f"a batch is a JSON array of readings, not a JSON {type(batch).__name__}",
            "malformed-batch",
        )
    return batch


class _NotJson:
    """An NDJSON line that does not parse; it stays in the batch so that positions match."""

    def __init__(self, line: int, reason: str) -> None:
        self.line = line
        self.reason = reason


def ingest_readings(request: Request) -> Response:
    require(request, INGEST)
    kind = media_type(request)
    if kind not in (JSON, NDJSON):
        raise unsupported_media_type(kind, [JSON, NDJSON])
    items = parse_batch(read_body(request, MAX_BODY_BYTES), kind)
    if not items:
        raise bad_request("the batch holds no readings", "empty-batch")
    if len(items) > MAX_READINGS:
        raise content_too_large(
            f"a batch holds at most {MAX_READINGS} readings, this one {len(items)}",
            "too-many-readings",
        )
    platform: Platform = request.app.state.platform
    unparsed = {i: item for i, item in enumerate(items) if isinstance(item, _NotJson)}
    report = platform.ingest_readings(
        [None if isinstance(item, _NotJson) else item for item in items]
    )
    for position, item in unparsed.items():
        result = report.results[position]
        result["detail"] = f"NDJSON line {item.line} is not JSON: {item.reason}"
    return json_response(report.as_dict())


ROUTES = [Route("/ingest/readings", ingest_readings, methods=["POST"])]
