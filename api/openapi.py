"""The OpenAPI 3.1 document of the HTTP API, served at /openapi.json."""

from __future__ import annotations

from typing import Any

from domain.refusals import Refusal

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


def _secured(scope: str, operation: dict[str, Any]) -> dict[str, Any]:
    """An operation that needs an operator bearer token with ``scope``: 401 without a valid
    token, 403 naming the scope without it."""
    responses = {"401": PROBLEM, "403": PROBLEM, **operation.pop("responses")}
    if "requestBody" in operation:  # every body is size-limited and of a stated media type
        responses.setdefault("413", PROBLEM)
        responses.setdefault("415", PROBLEM)
    return {**operation, "security": [{"bearer": [scope]}], "responses": responses}


def _object(
    required: dict[str, Any], optional: dict[str, Any] | None = None, description: str = ""
) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {**required, **(optional or {})},
        "required": list(required),
        "additionalProperties": False,
    }
    if description:
        schema["description"] = description
    return schema


def _body(schema: dict[str, Any], media: str = "application/json") -> dict[str, Any]:
    return {"required": True, "content": {media: {"schema": schema}}}


TEXT = {"type": "string"}
DECIMAL = {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?$", "description": "exact decimal"}
TIME = {"type": "string", "format": "date-time", "description": "RFC 3339 with an offset"}
PUBLIC_KEY = {
    "type": "string",
    "description": "PEM, or DER SubjectPublicKeyInfo in hex or base64 (Ed25519 or ECDSA)",
}
RECEIPT = {
    "type": "object",
    "description": "The entry written: its stream, sequence number and leaf hash "
    "(SHA-256(0x00 || entry)); the log index follows once integrated "
    "(GET /log/proof/inclusion?leaf_hash=...).",
    "properties": {"stream": TEXT, "seq": {"type": "integer"}, "leaf_hash": HASH},
}
CREATED = _json(RECEIPT, "Written")
READING = {
    "oneOf": [
        {
            "type": "string",
            "description": "an OCMF record (OCMF|payload|signature) or a compact JWS",
        },
        _object({"ocmf": TEXT}),
        _object({"jws": TEXT}),
    ]
}
INGEST_RESULT = {
    "type": "object",
    "properties": {
        "position": {"type": "integer", "description": "0-based position in the batch"},
        "status": {"enum": ["accepted", "refused"]},
        "reason": {
            "enum": [reason.value for reason in Refusal],
            "description": "why refused: "
            + "; ".join(f"{reason.value}: {reason.description}" for reason in Refusal),
        },
        "detail": TEXT,
        "meter": TEXT,
        "stream": TEXT,
        "seq": {"type": "integer"},
        "leaf_hash": HASH,
        "gap": {"type": "integer", "description": "sequence numbers skipped before this one"},
        "time_status": {"type": "string", "description": "OCMF time status (U, I, S, R)"},
        "log_index": {"type": "integer", "description": "accepted and integrated: its leaf"},
        "queue_ahead": {
            "type": "integer",
            "description": "accepted, not integrated yet: at most this many events are ahead",
        },
    },
    "required": ["position", "status"],
}

DOMAIN_PATHS: dict[str, Any] = {
    "/openapi.json": {
        "get": {
            "summary": "This document (OpenAPI 3.1)",
            "tags": ["api"],
            "responses": {"200": _json({"type": "object"}, "The OpenAPI document")},
        }
    },
    "/ingest/readings": {
        "post": _secured(
            "ingest",
            {
                "summary": "Submit a batch of signed meter readings (OCMF or JWS)",
                "description": "A JSON array of readings, or NDJSON (application/x-ndjson; one "
                "JSON reading per line, blank lines skipped), at most 10,000 readings and 16 MiB. "
                "Each reading is verified against the meter's keys valid at its time and its "
                "sequence number checked; the answer reports on every item, in order. A refused "
                "item never blocks the others. A body that is not a batch is a 400 and writes "
                "nothing.",
                "tags": ["ingest"],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"type": "array", "items": READING}},
                        "application/x-ndjson": {"schema": {"type": "string"}},
                    },
                },
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {
                                "accepted": {"type": "integer"},
                                "refused": {"type": "integer"},
                                "log": {
                                    "type": "object",
                                    "properties": {
                                        "size": {"type": "integer"},
                                        "pending": {"type": "integer"},
                                    },
                                },
                                "results": {"type": "array", "items": INGEST_RESULT},
                            },
                        },
                        "One result per submitted reading",
                    ),
                    "400": PROBLEM,
                    "413": PROBLEM,
                    "415": PROBLEM,
                },
            },
        )
    },
    "/accounts": {
        "post": _secured(
            "enroll",
            {
                "summary": "Open an account (personal, enterprise, region or project)",
                "description": "An enterprise needs its unified social credit code (GB "
                "32100-2015, its default id); a resident carries a pseudonym only, never a name.",
                "tags": ["accounts"],
                "requestBody": _body(
                    _object(
                        {"kind": {"enum": ["personal", "enterprise", "region", "project"]}},
                        {
                            "account_id": TEXT,
                            "region": TEXT,
                            "credit_code": TEXT,
                            "pseudonym": TEXT,
                            "name": TEXT,
                            "industry": TEXT,
                        },
                    )
                ),
                "responses": {"201": CREATED, "400": PROBLEM, "404": PROBLEM, "409": PROBLEM},
            },
        )
    },
    "/accounts/{account_id}": {
        "get": {
            "summary": "An account: kind, points balance and its recent entries with log indexes",
            "description": "Needs the read scope for enterprise, region and project accounts "
            "and read:personal for personal ones.",
            "tags": ["accounts"],
            "security": [{"bearer": ["read"]}, {"bearer": ["read:personal"]}],
            "parameters": [
                {"name": "account_id", "in": "path", "required": True, "schema": TEXT},
                {
                    "name": "limit",
                    "in": "query",
                    "required": False,
                    "description": "entries of history, newest last (default 50, at most 1000)",
                    "schema": {"type": "integer", "minimum": 1},
                },
            ],
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "properties": {
                            "account": TEXT,
                            "kind": TEXT,
                            "region": {"type": ["string", "null"]},
                            "industry": {"type": ["string", "null"]},
                            "points": {"type": "integer"},
                            "seq": {"type": "integer"},
                            "history": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "properties": {
                                        "seq": {"type": "integer"},
                                        "type": TEXT,
                                        "time": TEXT,
                                        "body": {"type": "object"},
                                        "leaf_hash": HASH,
                                        "log_index": {"type": ["integer", "null"]},
                                    },
                                },
                            },
                        },
                    },
                    "The account",
                ),
                "400": PROBLEM,
                "401": PROBLEM,
                "403": PROBLEM,
                "404": PROBLEM,
            },
        }
    },
    "/accounts/{account_id}/points": {
        "post": _secured(
            "points",
            {
                "summary": "Award points by a methodology's rule, citing what they are for",
                "tags": ["points"],
                "parameters": [
                    {"name": "account_id", "in": "path", "required": True, "schema": TEXT}
                ],
                "requestBody": _body(
                    _object(
                        {"action": TEXT, "methodology": TEXT, "cites": TEXT},
                        {"quantity": DECIMAL},
                    )
                ),
                "responses": {"201": CREATED, "400": PROBLEM, "404": PROBLEM, "422": PROBLEM},
            },
        )
    },
    "/accounts/{account_id}/redemptions": {
        "post": _secured(
            "points",
            {
                "summary": "Redeem points for an item; refused (409 overdrawn) beyond the balance",
                "tags": ["points"],
                "parameters": [
                    {"name": "account_id", "in": "path", "required": True, "schema": TEXT}
                ],
                "requestBody": _body(
                    _object({"points": {"type": "integer", "minimum": 1}, "item": TEXT})
                ),
                "responses": {"201": CREATED, "400": PROBLEM, "404": PROBLEM, "409": PROBLEM},
            },
        )
    },
    "/meters": {
        "post": _secured(
            "enroll",
            {
                "summary": "Enroll a meter to an account with its public key",
                "description": "With a certificate_chain (PEM, meter certificate first), the "
                "chain must end at one of the platform's maker roots.",
                "tags": ["meters"],
                "requestBody": _body(
                    _object(
                        {
                            "serial": TEXT,
                            "account": TEXT,
                            "public_key": PUBLIC_KEY,
                            "carrier": {
                                "enum": ["electricity", "natural_gas", "steam", "coal", "heat"]
                            },
                        },
                        {"valid_from": TIME, "certificate_chain": {"type": "array", "items": TEXT}},
                    )
                ),
                "responses": {"201": CREATED, "400": PROBLEM, "404": PROBLEM, "409": PROBLEM},
            },
        )
    },
    "/meters/{serial}/keys": {
        "post": _secured(
            "enroll",
            {
                "summary": "Rotate the meter to a new key from an effective time",
                "tags": ["meters"],
                "parameters": [{"name": "serial", "in": "path", "required": True, "schema": TEXT}],
                "requestBody": _body(_object({"public_key": PUBLIC_KEY, "effective": TIME})),
                "responses": {"201": CREATED, "400": PROBLEM, "404": PROBLEM, "409": PROBLEM},
            },
        )
    },
    "/meters/{serial}/revocations": {
        "post": _secured(
            "enroll",
            {
                "summary": "Revoke one of the meter's keys from an effective time",
                "tags": ["meters"],
                "parameters": [{"name": "serial", "in": "path", "required": True, "schema": TEXT}],
                "requestBody": _body(
                    _object(
                        {
                            "key_id": {**TEXT, "description": "hex SHA-256 of the SPKI"},
                            "effective": TIME,
                        }
                    )
                ),
                "responses": {"201": CREATED, "400": PROBLEM, "404": PROBLEM, "409": PROBLEM},
            },
        )
    },
    "/claims": {
        "post": _secured(
            "claims",
            {
                "summary": "Record a reduction claim and the points it earns, once per claim key",
                "description": "activity is {kind: transaction, source, id} or {kind: "
                "meter-interval, meter, start, end} (split into 15-minute slots). A key that an "
                "earlier claim holds is a 409 whose holder names that claim's entry (stream, "
                "leaf_hash, log_index).",
                "tags": ["claims"],
                "requestBody": _body(
                    _object(
                        {
                            "account": TEXT,
                            "methodology": TEXT,
                            "activity": {"type": "object"},
                            "quantity": DECIMAL,
                            "action": TEXT,
                        },
                        {"evidence": {"type": "array", "items": HASH}},
                    )
                ),
                "responses": {
                    "201": CREATED,
                    "400": PROBLEM,
                    "404": PROBLEM,
                    "409": PROBLEM,
                    "422": PROBLEM,
                },
            },
        )
    },
    "/reporters": {
        "post": _secured(
            "enroll",
            {
                "summary": "Enroll a reporting body (statistics or tax bureau) and its key",
                "tags": ["economic"],
                "requestBody": _body(
                    _object({"reporter": TEXT, "public_key": PUBLIC_KEY, "name": TEXT})
                ),
                "responses": {"201": CREATED, "400": PROBLEM, "409": PROBLEM},
            },
        )
    },
    "/economic-data": {
        "post": _secured(
            "economic",
            {
                "summary": "Record an enterprise's output, value added and tax for a period",
                "description": "The body is the enrolled reporter's compact JWS (application/jose)"
                ', or {"jws": ...}. Payload: reporter, account, period (YYYY or YYYY-MM), '
                "output, output_unit, value_added, tax (decimal strings, yuan).",
                "tags": ["economic"],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/jose": {"schema": TEXT},
                        "application/json": {"schema": _object({"jws": TEXT})},
                    },
                },
                "responses": {"201": CREATED, "400": PROBLEM, "404": PROBLEM},
            },
        )
    },
    "/methodologies/{key}/adoptions": {
        "post": _secured(
            "enroll",
            {
                "summary": "Record the adoption of a methodology version (id@version) in the log",
                "description": "201 when recorded now; 200 when it was adopted before.",
                "tags": ["methodologies"],
                "parameters": [{"name": "key", "in": "path", "required": True, "schema": TEXT}],
                "responses": {
                    "200": _json({"type": "object"}, "Adopted before"),
                    "201": CREATED,
                    "404": PROBLEM,
                },
            },
        )
    },
    "/metrics": {
        "get": _secured(
            "read",
            {
                "summary": "Prometheus metrics (text format 0.0.4)",
                "description": "carbonledger_readings_accepted_total, "
                "carbonledger_readings_refused_total{reason}, carbonledger_log_size, "
                "carbonledger_integrator_lag_events, carbonledger_checkpoint_size, "
                "carbonledger_checkpoint_timestamp_seconds, carbonledger_checkpoint_age_seconds. "
                "Reading counters count since the process started.",
                "tags": ["operations"],
                "responses": {
                    "200": {
                        "description": "Metrics",
                        "content": {"text/plain; version=0.0.4": {"schema": TEXT}},
                    }
                },
            },
        )
    },
}


EXTRA_PATHS: list[dict[str, Any]] = []


def openapi_document() -> dict[str, Any]:
    """Return the OpenAPI document describing every route the app serves."""
    paths: dict[str, Any] = {**LOG_PATHS, **DOMAIN_PATHS}
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
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "Operator token (see api/auth.py). Scopes: ingest, enroll, "
                    "claims, points, economic, read, read:personal. The /log routes and this "
                    "document are public.",
                }
            },
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
            },
        },
    }
