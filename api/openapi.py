"""The OpenAPI 3.1 document of the HTTP API, served at /openapi.json."""

from __future__ import annotations

from typing import Any

PROBLEM = {"$ref": "#/components/responses/Problem"}


def _int_param(name: str, where: str, description: str, *, required: bool = True) -> dict[str, Any]:
    return {
        "name": name,
        "in": where,
        "required": required,
        "description": description,
        "schema": {"type": "integer", "minimum": 0},
    }


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


HASH = {"type": "string", "format": "byte", "description": "32-byte SHA-256 hash, standard base64"}

LOG_PATHS: dict[str, Any] = {
    "/log/checkpoint": {
        "get": {
            "summary": "The latest signed checkpoint (C2SP tlog-checkpoint, a signed note)",
            "tags": ["log"],
            "responses": {
                "200": {
                    "description": "Signed checkpoint",
                    "content": {"text/plain; charset=utf-8": {"schema": {"type": "string"}}},
                },
                "404": PROBLEM,
            },
        }
    },
    "/log/vkey": {
        "get": {
            "summary": "The log's verifier key string (C2SP signed-note vkey), one line",
            "tags": ["log"],
            "responses": {
                "200": {
                    "description": "Verifier key",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                }
            },
        }
    },
    "/log/tile/{path}": {
        "get": {
            "summary": "A hash tile or entry bundle, exactly as C2SP tlog-tiles",
            "description": "Paths `<L>/<N>[.p/<W>]` (hash tiles, height 8) and "
            "`entries/<N>[.p/<W>]` (entry bundles: each entry prefixed by a big-endian uint16 "
            "length). N in groups of three digits with `x` prefixes. Immutable once served.",
            "tags": ["log"],
            "parameters": [
                {"name": "path", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "responses": {
                "200": {
                    "description": "Tile bytes",
                    "content": {
                        "application/octet-stream": {
                            "schema": {"type": "string", "format": "binary"}
                        }
                    },
                },
                "400": PROBLEM,
                "404": PROBLEM,
            },
        }
    },
    "/log/proof/inclusion": {
        "get": {
            "summary": "RFC 9162 inclusion proof of one leaf, by index or by leaf hash",
            "tags": ["log"],
            "parameters": [
                _int_param("index", "query", "Leaf index (or give leaf_hash)", required=False),
                {
                    "name": "leaf_hash",
                    "in": "query",
                    "required": False,
                    "description": "Leaf hash SHA-256(0x00 || entry), base64 or hex",
                    "schema": {"type": "string"},
                },
                _int_param(
                    "size", "query", "Tree size (default: latest checkpoint)", required=False
                ),
            ],
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "properties": {
                            "index": {"type": "integer"},
                            "size": {"type": "integer"},
                            "leaf_hash": HASH,
                            "proof": {"type": "array", "items": HASH},
                        },
                    },
                    "Inclusion proof",
                ),
                "400": PROBLEM,
                "404": PROBLEM,
            },
        }
    },
    "/log/proof/consistency": {
        "get": {
            "summary": "RFC 9162 consistency proof between two tree sizes",
            "tags": ["log"],
            "parameters": [
                _int_param("old", "query", "Older tree size"),
                _int_param(
                    "size", "query", "Newer tree size (default: latest checkpoint)", required=False
                ),
            ],
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "properties": {
                            "old": {"type": "integer"},
                            "size": {"type": "integer"},
                            "proof": {"type": "array", "items": HASH},
                        },
                    },
                    "Consistency proof",
                ),
                "400": PROBLEM,
                "404": PROBLEM,
            },
        }
    },
    "/log/entries/{index}": {
        "get": {
            "summary": "One entry with its leaf hash, inclusion proof and the checkpoint it is "
            "proved against: a self-contained answer an auditor can keep",
            "tags": ["log"],
            "parameters": [_int_param("index", "path", "Leaf index")],
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "properties": {
                            "index": {"type": "integer"},
                            "entry": {"type": "object"},
                            "entry_base64": {"type": "string", "format": "byte"},
                            "leaf_hash": HASH,
                            "size": {"type": "integer"},
                            "proof": {"type": "array", "items": HASH},
                            "checkpoint": {"type": "string"},
                        },
                    },
                    "Entry with proof",
                ),
                "400": PROBLEM,
                "404": PROBLEM,
            },
        }
    },
}

EXTRA_PATHS: list[dict[str, Any]] = []


def openapi_document() -> dict[str, Any]:
    """Return the OpenAPI document describing every route the app serves."""
    paths: dict[str, Any] = dict(LOG_PATHS)
    for extra in EXTRA_PATHS:
        paths.update(extra)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "carbonledger",
            "version": "0.1.0",
            "description": "Carbon accounts in an event-sourced ledger with an RFC 6962 "
            "transparency log. Errors are RFC 9457 application/problem+json.",
        },
        "paths": paths,
        "components": {
            "responses": {
                "Problem": {
                    "description": "RFC 9457 problem details",
                    "content": {
                        "application/problem+json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "type": {"type": "string"},
                                    "title": {"type": "string"},
                                    "status": {"type": "integer"},
                                    "detail": {"type": "string"},
                                    "instance": {"type": "string"},
                                },
                            }
                        }
                    },
                }
            }
        },
    }
