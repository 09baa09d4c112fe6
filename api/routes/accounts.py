"""Accounts, meters, claims, points, reporters, economic data and methodology adoption: the write
side of the platform over HTTP, and reading an account back.

Bodies are JSON objects validated strictly: a field this route does not know, a missing required
field or a field of the wrong JSON type is a 400 naming it, before the domain sees the request.
Domain refusals become problem+json in one place (api/problems.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.auth import CLAIMS, ECONOMIC, ENROLL, POINTS, READ, READ_PERSONAL, authenticate, forbidden
from api.auth import require as require_scope
from api.params import query_int
from api.platform import Platform
from api.problems import bad_request, json_response
from api.routes.ingest import JSON, media_type, read_body, unsupported_media_type
from domain.errors import NotFound
from domain.service import CarbonAccounts

CHINA = timezone(timedelta(hours=8))

MAX_BODY_BYTES = 1024 * 1024
HISTORY_DEFAULT = 50
HISTORY_MAX = 1000
JOSE = "application/jose"

# JSON types of body fields: "string", "integer", "object", "strings" (an array of strings).
_JSON_TYPES = {"string": str, "integer": int, "object": dict}


def _accounts(request: Request) -> CarbonAccounts:
    platform: Platform = request.app.state.platform
    return platform.accounts


def json_fields(
    request: Request, required: Mapping[str, str], optional: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Return the fields of the JSON object body; refuse another media type, a body that is not
    one JSON object, unknown fields, missing required fields and fields of the wrong type."""
    optional = optional or {}
    kind = media_type(request)
    if kind != JSON:
        raise unsupported_media_type(kind, [JSON])
    body = read_body(request, MAX_BODY_BYTES)
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise bad_request(f"the body is not JSON: {exc}", "malformed-body") from exc
    if not isinstance(document, dict):
        raise bad_request(
            f"the body must be a JSON object, not a JSON {type(document).__name__}",
            "malformed-body",
        )
    unknown = sorted(set(document) - set(required) - set(optional))
    if unknown:
        known = ", ".join(sorted([*required, *optional]))
        raise bad_request(
            f"unknown field{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} "
            f"(this route takes {known})",
            "unknown-field",
        )
    missing = [name for name in required if document.get(name) is None]
    if missing:
        raise bad_request(f"missing field {', '.join(map(repr, missing))}", "missing-field")
    fields: dict[str, Any] = {}
    for name, value in document.items():
        if value is None:  # an optional field given as null is absent
            continue
        wanted = required.get(name) or optional[name]
        _check_type(name, value, wanted)
        fields[name] = value
    return fields


def _check_type(name: str, value: object, wanted: str) -> None:
    if wanted == "strings":
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return
        raise bad_request(f"field {name!r} must be an array of strings", "invalid-field")
    expected = _JSON_TYPES[wanted]
    if isinstance(value, bool) or not isinstance(value, expected):
        raise bad_request(f"field {name!r} must be a JSON {wanted}", "invalid-field")


def no_body(request: Request) -> None:
    """Refuse a body other than nothing or an empty JSON object."""
    body = read_body(request, MAX_BODY_BYTES)
    if body.strip() and body.strip() != b"{}":
        raise bad_request("this route takes no body (or an empty JSON object)", "unknown-field")


def created(receipt: dict[str, Any], location: str | None = None) -> Response:
    response = json_response(receipt, status=201)
    if location is not None:
        response.headers["Location"] = location
    return response


# -- accounts -------------------------------------------------------------------------------------


def open_account(request: Request) -> Response:
    require_scope(request, ENROLL)
    fields = json_fields(
        request,
        {"kind": "string"},
        {
            "account_id": "string",
            "region": "string",
            "credit_code": "string",
            "pseudonym": "string",
            "name": "string",
            "industry": "string",
        },
    )
    receipt = _accounts(request).open_account(**fields)
    return created(receipt, f"/accounts/{receipt['account']}")


def read_account(request: Request) -> Response:
    token = authenticate(request)
    if not token.scopes & {READ, READ_PERSONAL}:
        raise forbidden(token, READ)
    limit = HISTORY_DEFAULT
    if "limit" in request.query_params:
        limit = min(query_int(request, "limit", minimum=1), HISTORY_MAX)
    accounts = _accounts(request)
    account_id = request.path_params["account_id"]
    state = accounts.account(account_id)
    needed = READ_PERSONAL if state.kind == "personal" else READ
    if needed not in token.scopes:
        raise forbidden(token, needed)
    history = accounts.history(account_id, limit=limit)
    body: dict[str, Any] = {
        "account": account_id,
        "kind": state.kind,
        "region": state.region,
        "industry": state.industry,
        "points": state.points,
        "seq": state.seq,
        "history": history,
    }
    # From the read models, which stand at a log size (they may be a little behind the write
    # side): balances, and the grade or the evaluation, each with the log size and checkpoint.
    evaluations = request.app.state.platform.evaluations
    try:
        body["balances"] = evaluations.balances(account_id)
        if state.kind == "personal":
            body["grade"] = evaluations.personal_grade(account_id)
        elif state.kind == "enterprise":
            if "year" in request.query_params:
                year = query_int(request, "year", minimum=2000)
            else:  # the latest year with readings, else this one
                year = evaluations.latest_year(account_id) or datetime.now(CHINA).year
            body["evaluation"] = evaluations.evaluate_enterprise(account_id, year)
    except NotFound:
        body["balances"] = None  # opened, but not yet in the read models
    return json_response(body)


# -- meters ---------------------------------------------------------------------------------------


def enroll_meter(request: Request) -> Response:
    require_scope(request, ENROLL)
    fields = json_fields(
        request,
        {"serial": "string", "account": "string", "public_key": "string", "carrier": "string"},
        {"valid_from": "string", "certificate_chain": "strings"},
    )
    return created(_accounts(request).enroll_meter(**fields))


def rotate_meter_key(request: Request) -> Response:
    require_scope(request, ENROLL)
    fields = json_fields(request, {"public_key": "string", "effective": "string"})
    return created(_accounts(request).rotate_key(request.path_params["serial"], **fields))


def revoke_meter_key(request: Request) -> Response:
    require_scope(request, ENROLL)
    fields = json_fields(request, {"key_id": "string", "effective": "string"})
    return created(_accounts(request).revoke_key(request.path_params["serial"], **fields))


# -- claims and points ----------------------------------------------------------------------------


def submit_claim(request: Request) -> Response:
    require_scope(request, CLAIMS)
    fields = json_fields(
        request,
        {
            "account": "string",
            "methodology": "string",
            "activity": "object",
            "quantity": "string",
            "action": "string",
        },
        {"evidence": "strings"},
    )
    return created(_accounts(request).submit_claim(**fields))


def award_points(request: Request) -> Response:
    require_scope(request, POINTS)
    fields = json_fields(
        request,
        {"action": "string", "methodology": "string", "cites": "string"},
        {"quantity": "string"},
    )
    account = request.path_params["account_id"]
    return created(_accounts(request).award_points(account=account, **fields))


def redeem_points(request: Request) -> Response:
    require_scope(request, POINTS)
    fields = json_fields(request, {"points": "integer", "item": "string"})
    account = request.path_params["account_id"]
    return created(_accounts(request).redeem_points(account=account, **fields))


# -- reporters and economic data ------------------------------------------------------------------


def enroll_reporter(request: Request) -> Response:
    require_scope(request, ENROLL)
    fields = json_fields(request, {"reporter": "string", "public_key": "string", "name": "string"})
    return created(_accounts(request).enroll_reporter(**fields))


def report_economic_data(request: Request) -> Response:
    require_scope(request, ECONOMIC)
    if media_type(request) == JOSE:
        try:
            compact = read_body(request, MAX_BODY_BYTES).decode("ascii").strip()
        except UnicodeDecodeError as exc:
            raise bad_request("a compact JWS is ASCII", "malformed-body") from exc
    else:
        compact = json_fields(request, {"jws": "string"})["jws"]
    return created(_accounts(request).report_economic_data(compact))


# -- methodologies --------------------------------------------------------------------------------


def adopt_methodology(request: Request) -> Response:
    require_scope(request, ENROLL)
    no_body(request)
    receipt = _accounts(request).adopt_methodology(request.path_params["key"])
    if receipt.get("adopted") == "before":
        return json_response(receipt)
    return created(receipt)


ROUTES = [
    Route("/accounts", open_account, methods=["POST"]),
    Route("/accounts/{account_id}", read_account, methods=["GET"]),
    Route("/accounts/{account_id}/points", award_points, methods=["POST"]),
    Route("/accounts/{account_id}/redemptions", redeem_points, methods=["POST"]),
    Route("/meters", enroll_meter, methods=["POST"]),
    Route("/meters/{serial:path}/keys", rotate_meter_key, methods=["POST"]),
    Route("/meters/{serial:path}/revocations", revoke_meter_key, methods=["POST"]),
    Route("/claims", submit_claim, methods=["POST"]),
    Route("/reporters", enroll_reporter, methods=["POST"]),
    Route("/economic-data", report_economic_data, methods=["POST"]),
    Route("/methodologies/{key}/adoptions", adopt_methodology, methods=["POST"]),
]
