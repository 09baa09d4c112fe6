"""Public, read-only routes of the transparency log: checkpoint, verifier key, C2SP tiles, proofs
and entries. Everything here can be checked by a client that trusts only the log's verifier key."""

from __future__ import annotations

import base64

import orjson
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from api.params import parse_hash, parse_int, query_int
from api.problems import bad_request, json_response, not_found
from ledger.entry import b64
from ledger.errors import ProofError, TileError
from ledger.ledger import Ledger
from ledger.merkle import leaf_hash
from ledger.tiles import parse_tile_path

IMMUTABLE = "public, max-age=31536000, immutable"
SHORT = "public, max-age=1"


def _ledger(request: Request) -> Ledger:
    ledger: Ledger = request.app.state.ledger
    return ledger


def _latest_size(ledger: Ledger) -> int:
    latest = ledger.log.latest_checkpoint()
    return 0 if latest is None else latest.checkpoint.size


def checkpoint(request: Request) -> Response:
    latest = _ledger(request).log.latest_checkpoint()
    if latest is None:
        raise not_found("the log has not signed a checkpoint yet", "no-checkpoint")
    return Response(
        latest.note, media_type="text/plain; charset=utf-8", headers={"Cache-Control": SHORT}
    )


def vkey(request: Request) -> Response:
    return PlainTextResponse(
        str(_ledger(request).verifier_key) + "\n", headers={"Cache-Control": "public, max-age=3600"}
    )


def tile(request: Request) -> Response:
    path = "tile/" + request.path_params["path"]
    try:
        wanted = parse_tile_path(path)
    except TileError as exc:
        raise bad_request(str(exc), "invalid-tile-path") from exc
    data = _ledger(request).log.tile(wanted.level, wanted.n, wanted.width)
    if data is None:
        raise not_found(f"{path} is not in the log (yet)", "no-such-tile")
    return Response(
        data, media_type="application/octet-stream", headers={"Cache-Control": IMMUTABLE}
    )


def _size_param(request: Request, ledger: Ledger) -> int:
    if "size" in request.query_params:
        size = query_int(request, "size", minimum=1)
    else:
        size = _latest_size(ledger)
    return size


def inclusion(request: Request) -> Response:
    ledger = _ledger(request)
    size = _size_param(request, ledger)
    if "leaf_hash" in request.query_params:
        digest = parse_hash("leaf_hash", request.query_params["leaf_hash"])
        index = ledger.log.leaf_index(digest)
        if index is None:
            raise not_found("the log has no leaf with that hash", "unknown-leaf")
    else:
        index = query_int(request, "index")
    try:
        proof = ledger.log.inclusion_proof(index, size)
        digest = leaf_hash(ledger.log.entry(index))
    except ProofError as exc:
        raise not_found(str(exc), "beyond-tree") from exc
    return json_response(
        {"index": index, "size": size, "leaf_hash": b64(digest), "proof": [b64(h) for h in proof]}
    )


def consistency(request: Request) -> Response:
    ledger = _ledger(request)
    old = query_int(request, "old", minimum=1)
    size = _size_param(request, ledger)
    if old > size:
        raise bad_request(f"old size {old} is larger than size {size}", "invalid-parameter")
    try:
        proof = ledger.log.consistency_proof(old, size)
    except ProofError as exc:
        raise not_found(str(exc), "beyond-tree") from exc
    return json_response({"old": old, "size": size, "proof": [b64(h) for h in proof]})


def entry(request: Request) -> Response:
    ledger = _ledger(request)
    index = parse_int("index", request.path_params["index"])
    latest = ledger.log.latest_checkpoint()
    if latest is None or index >= latest.checkpoint.size:
        size = 0 if latest is None else latest.checkpoint.size
        raise not_found(
            f"entry {index} is not covered by a signed checkpoint (size {size}) yet", "beyond-tree"
        )
    data = ledger.log.entry(index)
    proof = ledger.log.inclusion_proof(index, latest.checkpoint.size)
    return json_response(
        {
            "index": index,
            "entry": orjson.loads(data),
            "entry_base64": base64.b64encode(data).decode(),
            "leaf_hash": b64(leaf_hash(data)),
            "size": latest.checkpoint.size,
            "proof": [b64(h) for h in proof],
            "checkpoint": latest.note.decode(),
        },
        cache=SHORT,
    )


ROUTES = [
    Route("/log/checkpoint", checkpoint),
    Route("/log/vkey", vkey),
    Route("/log/tile/{path:path}", tile),
    Route("/log/proof/inclusion", inclusion),
    Route("/log/proof/consistency", consistency),
    Route("/log/entries/{index}", entry),
]
