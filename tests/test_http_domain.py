"""The platform's HTTP API (ingest, accounts, meters, claims, points, economic data, metrics)
against a real uvicorn server on SQLite and PostgreSQL, with real signed readings: JWS signed here
and the real OCMF samples of the shared fixtures."""

from __future__ import annotations

import base64
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.app import create_app
from api.auth import SCOPES, TokenFileError, TokenRegistry, mint_token
from api.platform import Platform, PlatformConfigError
from domain.credit_code import make_credit_code
from domain.jws import sign_jws, sign_jws_document
from domain.ocmf import load_ocmf_public_key, parse_ocmf, parse_transparency_xml
from domain.refusals import Refusal
from hardware_signers.base import Algorithm
from hardware_signers.software import SoftwareSigner
from ledger.ledger import Ledger
from tests.conftest import LiveServer

PROBLEM_JSON = "application/problem+json"
JSON = {"Content-Type": "application/json"}
T0 = datetime(2026, 3, 1, tzinfo=UTC)
TOKEN_SCOPES = {
    "ops": ["ingest", "enroll", "claims", "points", "economic"],
    "ingest": ["ingest"],
    "reader": ["read"],
    "personal": ["read:personal"],
}


@dataclass
class Served:
    client: httpx.Client
    tokens: dict[str, str]
    ledger: Ledger
    platform: Platform

    def call(
        self, method: str, path: str, token: str | None = "ops", **kwargs: Any
    ) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if token is not None:
            headers["Authorization"] = f"Bearer {self.tokens[token]}"
        return self.client.request(method, path, headers=headers, **kwargs)

    def stored(self) -> int:
        return self.ledger.store.max_notification_id()


@pytest.fixture
def served(ledger: Ledger) -> Iterator[Served]:
    tokens = {
        name: mint_token(ledger.data_dir, name, scopes) for name, scopes in TOKEN_SCOPES.items()
    }
    platform = Platform.around(ledger)
    try:
        with (
            LiveServer(create_app(ledger, platform=platform)) as server,
            httpx.Client(base_url=server.url, timeout=30) as client,
        ):
            yield Served(client, tokens, ledger, platform)
    finally:
        platform.close()


def problem(response: httpx.Response, status: int, slug: str | None = None) -> dict[str, Any]:
    """Check that ``response`` is problem+json with ``status`` (and type slug); return its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert body["status"] == status and body["title"] and body["type"].startswith("urn:")
    if slug is not None:
        assert body["type"].endswith(":" + slug), body
    return body


def created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    assert response.headers["content-type"] == "application/json"
    return response.json()


def spki_b64(signer: SoftwareSigner) -> str:
    return base64.b64encode(signer.public_key_spki).decode()


def jws_reading(signer: SoftwareSigner, meter: str, seq: int, register: str = "") -> str:
    start = T0 + timedelta(minutes=15 * seq)
    payload = {
        "meter": meter,
        "seq": seq,
        "start": start.isoformat(),
        "end": (start + timedelta(minutes=15)).isoformat(),
        "quantity": "1.250",
        "unit": "kWh",
        "register": register or f"{1000 + seq}.000",
    }
    return sign_jws(payload, signer)


@dataclass(frozen=True)
class OcmfSample:
    ocmf: str
    serial: str
    public_key: str  # DER SubjectPublicKeyInfo, base64


def ocmf_sample(fixtures_dir: Path, name: str) -> OcmfSample:
    [value] = parse_transparency_xml((fixtures_dir / "ocmf" / name).read_bytes())
    record = parse_ocmf(value.ocmf)
    key = load_ocmf_public_key(value.public_key, record.signature_algorithm)
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return OcmfSample(value.ocmf, record.meter_serial, base64.b64encode(der).decode())


def open_enterprise(served: Served, number: int = 1) -> str:
    receipt = created(
        served.call(
            "POST",
            "/accounts",
            json={
                "kind": "enterprise",
                "credit_code": make_credit_code(number),
                "industry": "textiles",
            },
        )
    )
    return receipt["account"]


def enroll(served: Served, serial: str, account: str, public_key: str) -> dict[str, Any]:
    return created(
        served.call(
            "POST",
            "/meters",
            json={
                "serial": serial,
                "account": account,
                "public_key": public_key,
                "carrier": "electricity",
            },
        )
    )


# -- ingest ---------------------------------------------------------------------------------------


def test_mixed_batch_answers_per_item_and_writes_only_the_good(
    served: Served, fixtures_dir: Path
) -> None:
    account = open_enterprise(served)
    meter_key, stranger = (SoftwareSigner.generate(Algorithm.ED25519) for _ in range(2))
    enroll(served, "QZ-E-1", account, spki_b64(meter_key))
    keba = ocmf_sample(fixtures_dir, "safe-test_ocmf_keba_kcp30.xml")
    keba_tampered = ocmf_sample(fixtures_dir, "safe-test_ocmf_keba_kcp30_fail.xml")
    charger = ocmf_sample(fixtures_dir, "pyocmf-working_ocmf.xml")
    enroll(served, keba.serial, account, keba.public_key)
    enroll(served, charger.serial, account, charger.public_key)

    header, payload, signature = jws_reading(meter_key, "QZ-E-1", 2).split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    batch: list[object] = [
        jws_reading(meter_key, "QZ-E-1", 1),  # 0 accepted
        keba_tampered.ocmf,  # 1 the fixture's tampered record: bad signature
        {"ocmf": keba.ocmf},  # 2 accepted
        jws_reading(meter_key, "QZ-E-1", 1),  # 3 replay of 0
        f"{header}.{payload}.{flipped}",  # 4 bad signature
        jws_reading(stranger, "QZ-E-1", 2),  # 5 signed by a key the meter does not have
        jws_reading(stranger, "QZ-NOBODY", 1),  # 6 unknown meter
        "hello",  # 7 malformed
        42,  # 8 malformed
        {"jws": 1},  # 9 malformed
        {"ocmf": keba.ocmf, "extra": 1},  # 10 malformed
        charger.ocmf,  # 11 accepted (a real record with "RV":1.606848e7, stored as written)
        jws_reading(meter_key, "QZ-E-1", 3),  # 12 accepted, with a gap (2 never arrived)
    ]
    before = served.stored()
    response = served.call("POST", "/ingest/readings", token="ingest", json=batch)
    assert response.status_code == 200, response.text
    answer = response.json()
    results = answer["results"]
    assert [r["position"] for r in results] == list(range(len(batch)))
    statuses = {r["position"]: r.get("reason", "accepted") for r in results}
    assert statuses == {
        0: "accepted",
        1: "bad-signature",
        2: "accepted",
        3: "replay",
        4: "bad-signature",
        5: "bad-signature",
        6: "unknown-meter",
        7: "malformed",
        8: "malformed",
        9: "malformed",
        10: "malformed",
        11: "accepted",
        12: "accepted",
    }
    assert (answer["accepted"], answer["refused"]) == (4, 9)
    assert all(r["detail"] for r in results if r["status"] == "refused")
    assert results[12]["gap"] == 1 and results[2]["time_status"] == "R"
    assert served.stored() == before + 4

    # The accepted entries are stored verbatim on their meters' streams, not yet in the log:
    # each says how many events at most are ahead of it.
    accepted = [results[i] for i in (0, 2, 11, 12)]
    assert [r["stream"] for r in accepted] == [
        "meter/QZ-E-1",
        f"meter/{keba.serial}",
        f"meter/{charger.serial}",
        "meter/QZ-E-1",
    ]
    assert [r["seq"] for r in accepted] == [2, 2, 2, 3]
    assert answer["log"] == {"size": 0, "pending": served.stored()}
    aheads = [r["queue_ahead"] for r in accepted]
    assert aheads == sorted(aheads) and aheads[-1] == served.stored() - 1
    [charger_entry] = served.ledger.store.read_stream(f"meter/{charger.serial}", after=1)
    assert orjson.loads(charger_entry.data)["evidence"] == charger.ocmf
    assert base64.b64encode(charger_entry.leaf_hash).decode() == results[11]["leaf_hash"]

    # Sent again, every reading is a replay or refused as before, and nothing is written.
    again = served.call("POST", "/ingest/readings", token="ingest", json=batch).json()
    assert again["accepted"] == 0
    assert {results[i]["position"] for i in (0, 2, 11, 12)} == {
        r["position"] for r in again["results"] if r.get("reason") == "replay"
    } - {3}
    assert served.stored() == before + 4

    # Once integrated, the same readings answer with their log index.
    served.ledger.log.integrate_all()
    served.ledger.log.sign_checkpoint(force=True)
    fourth = jws_reading(meter_key, "QZ-E-1", 4)
    late = served.call("POST", "/ingest/readings", token="ingest", json=[fourth]).json()
    assert late["results"][0]["queue_ahead"] == 0
    assert late["log"] == {"size": served.stored() - 1, "pending": 1}

    metrics = served.call("GET", "/metrics", token="reader")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
    lines = set(metrics.text.splitlines())
    assert "carbonledger_readings_accepted_total 5" in lines
    assert 'carbonledger_readings_refused_total{reason="bad-signature"} 6' in lines
    assert 'carbonledger_readings_refused_total{reason="malformed"} 8' in lines
    assert 'carbonledger_readings_refused_total{reason="wrong-unit"} 0' in lines
    assert f"carbonledger_log_size {served.stored() - 1}" in lines
    assert f"carbonledger_checkpoint_size {served.stored() - 1}" in lines
    assert "carbonledger_integrator_lag_events 1" in lines
    assert any(line.startswith("carbonledger_checkpoint_age_seconds ") for line in lines)
    assert "# TYPE carbonledger_readings_refused_total counter" in lines


def test_ndjson_batches_and_malformed_batches(served: Served, fixtures_dir: Path) -> None:
    account = open_enterprise(served)
    signer = SoftwareSigner.generate(Algorithm.ED25519)
    enroll(served, "QZ-N-1", account, spki_b64(signer))
    sample = ocmf_sample(fixtures_dir, "pyocmf-base64_ocmf.xml")
    enroll(served, sample.serial, account, sample.public_key)
    lines = [
        orjson.dumps(jws_reading(signer, "QZ-N-1", 1)),
        orjson.dumps({"jws": jws_reading(signer, "QZ-N-1", 2)}),
        sample.ocmf.encode(),  # not JSON: a bare OCMF record must be a JSON string in NDJSON
        b"",
        orjson.dumps({"ocmf": sample.ocmf}),
    ]
    response = served.call(
        "POST",
        "/ingest/readings",
        token="ingest",
        content=b"\n".join(lines) + b"\n",
        headers={"Content-Type": "application/x-ndjson"},
    )
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [(r["position"], r["status"]) for r in results] == [
        (0, "accepted"),
        (1, "accepted"),
        (2, "refused"),
        (3, "accepted"),
    ]
    assert results[2]["reason"] == "malformed"
    assert "NDJSON line 3 is not JSON" in results[2]["detail"]

    before = served.stored()
    post = served.call
    bad = [
        (post("POST", "/ingest/readings", token="ingest", content=b"[1, 2", headers=JSON), 400),
        (post("POST", "/ingest/readings", token="ingest", json={"readings": []}), 400),
        (post("POST", "/ingest/readings", token="ingest", json="OCMF|{}|{}"), 400),
        (post("POST", "/ingest/readings", token="ingest", json=[]), 400),
        (post("POST", "/ingest/readings", token="ingest", json=["x"] * 10_001), 413),
        (post("POST", "/ingest/readings", token="ingest", content=b"[]"), 415),
        (
            post(
                "POST",
                "/ingest/readings",
                token="ingest",
                content=b"x" * (16 * 1024 * 1024 + 1),
                headers=JSON,
            ),
            413,
        ),
    ]
    for response, status in bad:
        problem(response, status)
    too_long = served.call(
        "POST",
        "/ingest/readings",
        token="ingest",
        json=[jws_reading(signer, "QZ-N-1", 3), "OCMF|" + "x" * 61_000, "OCMF|" + "x" * 40_000],
    ).json()
    # The limit is what fits in one entry (60,000 bytes of JSON-escaped evidence), not a guess.
    assert [r.get("reason") for r in too_long["results"]] == [None, "too-large", "malformed"]
    assert served.stored() == before + 1


# -- authorisation --------------------------------------------------------------------------------


def test_tokens_and_scopes(served: Served) -> None:
    enterprise = open_enterprise(served)
    resident = created(
        served.call("POST", "/accounts", json={"kind": "personal", "pseudonym": "p-7f3a9c"})
    )["account"]

    missing = problem(served.call("POST", "/ingest/readings", token=None, json=[]), 401)
    assert "bearer token" in missing["detail"]
    unauthorised = served.call("GET", f"/accounts/{enterprise}", token=None)
    problem(unauthorised, 401, "unauthorized")
    assert unauthorised.headers["www-authenticate"].startswith("Bearer")
    wrong = served.client.get(
        f"/accounts/{enterprise}", headers={"Authorization": "Bearer " + "A" * 43}
    )
    problem(wrong, 401)
    assert 'error="invalid_token"' in wrong.headers["www-authenticate"]
    basic = served.client.get(f"/accounts/{enterprise}", headers={"Authorization": "Basic eDp5"})
    problem(basic, 401)

    refused = problem(served.call("POST", "/ingest/readings", token="reader", json=["x"]), 403)
    assert refused["required_scope"] == "ingest" and "'ingest'" in refused["detail"]
    problem(served.call("POST", "/meters", token="ingest", json={}), 403, "insufficient-scope")
    problem(served.call("GET", "/metrics", token=None), 401)
    problem(served.call("GET", "/metrics", token="personal"), 403)
    assert served.call("GET", "/metrics", token="reader").status_code == 200

    # Enterprise accounts need read; personal accounts need read:personal.
    assert served.call("GET", f"/accounts/{enterprise}", token="reader").status_code == 200
    denied = problem(served.call("GET", f"/accounts/{resident}", token="reader"), 403)
    assert denied["required_scope"] == "read:personal"
    personal = served.call("GET", f"/accounts/{resident}", token="personal")
    assert personal.status_code == 200 and personal.json()["kind"] == "personal"
    denied = problem(served.call("GET", f"/accounts/{enterprise}", token="personal"), 403)
    assert denied["required_scope"] == "read"
    problem(served.call("GET", f"/accounts/{enterprise}", token="ingest"), 403)
    problem(served.call("GET", "/accounts/nobody-here", token="reader"), 404, "not-found")

    # The log and the API description stay public.
    assert served.client.get("/openapi.json").status_code == 200
    assert served.client.get("/log/vkey").status_code == 200

    # A token minted while serving is accepted at once: tokens.toml is read again on change.
    late = mint_token(served.ledger.data_dir, "late", ["read", "read:personal"])
    assert (
        served.client.get(
            f"/accounts/{resident}", headers={"Authorization": f"Bearer {late}"}
        ).status_code
        == 200
    )


def test_openapi_lists_every_route(served: Served) -> None:
    document = served.client.get("/openapi.json").json()
    app = create_app(served.ledger, platform=served.platform)
    for route in app.routes:
        path = route.path.replace(":path}", "}")  # type: ignore[attr-defined]
        assert path in document["paths"], path
        for method in route.methods - {"HEAD"}:  # type: ignore[attr-defined]
            assert method.lower() in document["paths"][path], (method, path)
    scheme = document["components"]["securitySchemes"]["bearer"]
    assert scheme["scheme"] == "bearer"
    ingest = document["paths"]["/ingest/readings"]["post"]
    assert ingest["security"] == [{"bearer": ["ingest"]}]
    assert set(ingest["responses"]) >= {"200", "400", "401", "403", "413"}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if "requestBody" in operation:  # bodies are size-limited and typed
                assert set(operation["responses"]) >= {"413", "415"}, (method, path)


def test_refusal_reasons_are_one_list_everywhere(served: Served) -> None:
    """The answers, the OpenAPI document, /metrics and the README give the same reasons."""
    reasons = [reason.value for reason in Refusal]
    document = served.client.get("/openapi.json").json()
    schemas = orjson.dumps(document).decode()
    assert f'"enum":{orjson.dumps(reasons).decode()}' in schemas
    metrics = served.call("GET", "/metrics", token="reader").text
    listed = [
        line.split('reason="')[1].split('"')[0]
        for line in metrics.splitlines()
        if line.startswith("carbonledger_readings_refused_total{")
    ]
    assert sorted(listed) == sorted(reasons)
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    rows = [line.strip() for line in readme.splitlines() if line.strip().startswith("| `")]
    documented = {row.split("`")[1]: row.split("|")[2].strip() for row in rows}
    assert {r: documented.get(r) for r in reasons} == {r.value: r.description for r in Refusal}


# -- accounts, claims, points ---------------------------------------------------------------------


def test_claims_points_and_redemptions(served: Served) -> None:
    resident = created(
        served.call("POST", "/accounts", json={"kind": "personal", "pseudonym": "p-0b1c2d"})
    )["account"]
    problem(
        served.call("POST", "/accounts", json={"kind": "personal", "pseudonym": "p-0b1c2d"}),
        409,
        "already-exists",
    )
    adopted = created(served.call("POST", "/methodologies/quzhou-points@1.0/adoptions"))
    assert adopted["methodology"] == "quzhou-points@1.0"
    again = served.call("POST", "/methodologies/quzhou-points@1.0/adoptions", json={})
    assert again.status_code == 200 and again.json()["adopted"] == "before"
    problem(served.call("POST", "/methodologies/nothing@9/adoptions"), 404)

    ride = {
        "account": resident,
        "methodology": "quzhou-points@1.0",
        "activity": {"kind": "transaction", "source": "quzhou-bus", "id": "card-42/ride-7"},
        "quantity": "1",
        "action": "bus_ride",
    }
    claim = created(served.call("POST", "/claims", json=ride))
    assert claim["points"] == 10

    double = problem(served.call("POST", "/claims", json=ride), 409, "already-claimed")
    holder = double["holder"]
    assert holder["stream"].startswith("claimkey/") and holder["log_index"] is None
    assert holder["leaf_hash"] and "already claimed" in double["detail"]
    served.ledger.log.integrate_all()
    holder = served.call("POST", "/claims", json=ride).json()["holder"]
    leaf = base64.b64decode(holder["leaf_hash"])
    assert holder["log_index"] == served.ledger.log.leaf_index(leaf)
    assert isinstance(holder["log_index"], int)
    problem(served.call("POST", "/claims", token="reader", json=ride), 403)

    award = {"action": "online_government_service", "methodology": "quzhou-points@1.0"}
    problem(served.call("POST", f"/accounts/{resident}/points", json=award), 400, "missing-field")
    award["cites"] = "gov-service/2026/000123"
    assert created(served.call("POST", f"/accounts/{resident}/points", json=award))["points"] == 122
    unknown_action = {**award, "action": "flying"}
    problem(served.call("POST", f"/accounts/{resident}/points", json=unknown_action), 422)

    overdraw = served.call(
        "POST", f"/accounts/{resident}/redemptions", json={"points": 200, "item": "tissue_pack"}
    )
    assert "132 points" in problem(overdraw, 409, "overdrawn")["detail"]
    redeemed = served.call(
        "POST", f"/accounts/{resident}/redemptions", json={"points": 100, "item": "bus_ticket"}
    )
    assert created(redeemed)["points"] == 100
    problem(
        served.call(
            "POST", f"/accounts/{resident}/redemptions", json={"points": "100", "item": "x"}
        ),
        400,
        "invalid-field",
    )
    problem(
        served.call("POST", "/accounts/nobody/redemptions", json={"points": 1, "item": "x"}), 404
    )

    served.ledger.log.integrate_all()
    account = served.call("GET", f"/accounts/{resident}", token="personal").json()
    assert account["kind"] == "personal" and account["points"] == 32
    history = account["history"]
    assert [e["type"] for e in history] == [
        "account.opened/v1",
        "points.awarded/v1",
        "points.awarded/v1",
        "points.redeemed/v1",
    ]
    assert all(isinstance(e["log_index"], int) for e in history)
    short = served.call("GET", f"/accounts/{resident}?limit=1", token="personal").json()
    assert [e["type"] for e in short["history"]] == ["points.redeemed/v1"]
    problem(served.call("GET", f"/accounts/{resident}?limit=0", token="personal"), 400)


def test_meters_keys_reporters_and_strict_bodies(served: Served) -> None:
    account = open_enterprise(served, 7)
    first, second = (SoftwareSigner.generate(Algorithm.ED25519) for _ in range(2))
    enroll(served, "QZ-K/1", account, spki_b64(first))
    problem(
        served.call(
            "POST",
            "/meters",
            json={
                "serial": "QZ-K/1",
                "account": account,
                "public_key": spki_b64(first),
                "carrier": "electricity",
            },
        ),
        409,
    )
    switch = T0 + timedelta(minutes=15 * 3)
    rotated = served.call(
        "POST",
        "/meters/QZ-K/1/keys",
        json={"public_key": spki_b64(second), "effective": switch.isoformat()},
    )
    assert created(rotated)["seq"] == 2
    readings = [
        jws_reading(first, "QZ-K/1", 1),  # before the switch: the first key
        jws_reading(first, "QZ-K/1", 5),  # after it: the first key is no longer valid
        jws_reading(second, "QZ-K/1", 6),
    ]
    results = served.call("POST", "/ingest/readings", token="ingest", json=readings).json()
    assert [r.get("reason", r["status"]) for r in results["results"]] == [
        "accepted",
        "key-not-valid",
        "accepted",
    ]
    revoked = served.call(
        "POST",
        "/meters/QZ-K/1/revocations",
        json={"key_id": second.key_id, "effective": switch.isoformat()},
    )
    created(revoked)
    late = served.call(
        "POST", "/ingest/readings", token="ingest", json=[jws_reading(second, "QZ-K/1", 7)]
    ).json()
    assert late["results"][0]["reason"] == "revoked-key"
    problem(
        served.call(
            "POST",
            "/meters/QZ-K/1/revocations",
            json={"key_id": "0" * 64, "effective": switch.isoformat()},
        ),
        404,
    )
    problem(
        served.call(
            "POST",
            "/meters/NOPE/keys",
            json={"public_key": spki_b64(second), "effective": switch.isoformat()},
        ),
        404,
    )

    # Reporters sign economic data; the report is the reporter's compact JWS.
    bureau = SoftwareSigner.generate(Algorithm.ED25519)
    created(
        served.call(
            "POST",
            "/reporters",
            json={"reporter": "quzhou-stats", "public_key": spki_b64(bureau), "name": "Bureau"},
        )
    )
    report = {
        "reporter": "quzhou-stats",
        "account": account,
        "period": "2025",
        "output": "1200.5",
        "output_unit": "t",
        "value_added": "5000000",
        "tax": "300000",
    }
    signed = sign_jws_document(report, bureau)
    raw = served.call(
        "POST",
        "/economic-data",
        token="ops",
        content=signed.encode(),
        headers={"Content-Type": "application/jose"},
    )
    assert created(raw)["period"] == "2025"
    wrapped = served.call(
        "POST",
        "/economic-data",
        json={"jws": sign_jws_document({**report, "period": "2025-06"}, bureau)},
    )
    assert created(wrapped)["period"] == "2025-06"
    forged = sign_jws_document(report, SoftwareSigner.generate(Algorithm.ED25519))
    problem(served.call("POST", "/economic-data", json={"jws": forged}), 400, "invalid-request")
    problem(served.call("POST", "/economic-data", token="reader", json={"jws": signed}), 403)

    # Strict bodies: unknown, missing and mistyped fields, other media types, bad values.
    strict = [
        (
            served.call("POST", "/accounts", json={"kind": "project", "account_id": "p1", "x": 1}),
            400,
            "unknown-field",
        ),
        (served.call("POST", "/accounts", json={"account_id": "p1"}), 400, "missing-field"),
        (served.call("POST", "/accounts", json={"kind": 7}), 400, "invalid-field"),
        (served.call("POST", "/accounts", json=["kind"]), 400, "malformed-body"),
        (served.call("POST", "/accounts", content=b"{", headers=JSON), 400, "malformed-body"),
        (served.call("POST", "/accounts", content=b"kind=x"), 415, "unsupported-media-type"),
        (
            served.call(
                "POST",
                "/accounts",
                json={"kind": "enterprise", "credit_code": "91330800MA2X0X0X0X"},
            ),
            400,
            "invalid-credit-code",
        ),
        (
            served.call(
                "POST", "/accounts", json={"kind": "personal", "pseudonym": "p", "name": "Li"}
            ),
            400,
            "invalid-request",
        ),
        (served.call("POST", "/reporters", json={"reporter": "r"}), 400, "missing-field"),
        (
            served.call(
                "POST",
                "/meters",
                json={
                    "serial": "QZ-K/2",
                    "account": account,
                    "public_key": "not a key",
                    "carrier": "electricity",
                },
            ),
            400,
            "invalid-request",
        ),
        (served.call("DELETE", "/accounts"), 405, "method-not-allowed"),
        (served.call("GET", "/nothing"), 404, "not-found"),
    ]
    for response, status, slug in strict:
        problem(response, status, slug)


# -- configuration --------------------------------------------------------------------------------


def self_signed(name: str) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


def test_platform_is_configured_from_its_data_directory(tmp_path: Path) -> None:
    data = tmp_path / "data"
    Ledger.init(data).close()
    (data / "maker-roots").mkdir()
    (data / "maker-roots" / "maker-a.pem").write_bytes(self_signed("maker A") + self_signed("B"))
    token = mint_token(data, "ops", ["ingest", "read"])
    platform = Platform.open(data)
    try:
        key_file = data / "federation.key"
        assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
        assert len(bytes.fromhex(key_file.read_text().strip())) >= 32
        assert platform.accounts.secret == bytes.fromhex(key_file.read_text().strip())
        assert len(platform.accounts.maker_roots) == 2
        found = platform.tokens.authenticate(token)
        assert found is not None and found.scopes == {"ingest", "read"}
        assert platform.tokens.authenticate(token + "x") is None
    finally:
        platform.close()
    tokens_file = (data / "tokens.toml").read_text()
    assert token not in tokens_file and "sha256" in tokens_file
    assert stat.S_IMODE(os.stat(data / "tokens.toml").st_mode) == 0o600

    reopened = Platform.open(data)  # the same federation secret again
    try:
        assert reopened.accounts.secret == bytes.fromhex(key_file.read_text().strip())
    finally:
        reopened.close()

    key_file.write_text("abcd\n")
    with pytest.raises(PlatformConfigError, match="at least 32 bytes"):
        Platform.open(data)
    key_file.write_text("ab" * 32)
    (data / "maker-roots" / "broken.pem").write_text("-----BEGIN CERTIFICATE-----\nxx\n")
    with pytest.raises(PlatformConfigError, match=r"broken\.pem"):
        Platform.open(data)

    with pytest.raises(TokenFileError, match="unknown scope"):
        mint_token(data, "wrong", ["admin"])
    with pytest.raises(TokenFileError, match="exists already"):
        mint_token(data, "ops", ["read"])
    broken = tmp_path / "tokens.toml"
    broken.write_text('[[token]]\nname = "x"\nsha256 = "00"\nscopes = ["read"]\n')
    with pytest.raises(TokenFileError, match="sha256"):
        TokenRegistry(broken)
    assert set(SCOPES) == {
        "ingest",
        "enroll",
        "claims",
        "points",
        "economic",
        "read",
        "read:personal",
    }


def test_served_read_models_follow_the_log(ledger: Ledger) -> None:
    """Serving with integration: new events reach the log, then the read models, and an account
    read shows the projected balance and grade with the log size they stand at."""
    import time

    tokens = {
        name: mint_token(ledger.data_dir, name, scopes) for name, scopes in TOKEN_SCOPES.items()
    }
    platform = Platform.around(ledger)
    try:
        with (
            LiveServer(create_app(ledger, platform=platform, integrate=True)) as server,
            httpx.Client(base_url=server.url, timeout=30) as client,
        ):
            served = Served(client, tokens, ledger, platform)
            created(
                served.call("POST", "/accounts", json={"kind": "personal", "pseudonym": "p-served"})
            )
            for ride in range(3):
                created(
                    served.call(
                        "POST",
                        "/claims",
                        json={
                            "account": "p-served",
                            "methodology": "quzhou-points@1.0",
                            "action": "bus_ride",
                            "quantity": "1",
                            "activity": {"kind": "transaction", "source": "bus", "id": f"r-{ride}"},
                        },
                    )
                )
            deadline = time.monotonic() + 20
            body: dict[str, Any] = {}
            while time.monotonic() < deadline:
                body = served.call("GET", "/accounts/p-served", token="personal").json()
                if body.get("balances") and body["balances"]["points"] == 30:
                    break
                time.sleep(0.1)
            assert body["balances"]["points"] == 30
            assert body["grade"]["grade"] == "seedling"
            assert body["grade"]["log"]["size"] >= 10
            assert all(entry["log_index"] is not None for entry in body["history"])
    finally:
        platform.close()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.one_of(
        st.binary(max_size=300),
        st.text(max_size=300).map(str.encode),
        st.lists(
            st.one_of(
                st.text(max_size=80),
                st.integers(-(2**63), 2**63 - 1),
                st.none(),
                st.dictionaries(
                    st.sampled_from(["ocmf", "jws", "x"]), st.text(max_size=40), max_size=2
                ),
            ),
            max_size=6,
        ).map(orjson.dumps),
    ),
    ndjson=st.booleans(),
)
def test_garbage_ingest_bodies_never_fail_the_server(
    served: Served, body: bytes, ndjson: bool
) -> None:
    before = served.stored()
    kind = "application/x-ndjson" if ndjson else "application/json"
    response = served.call(
        "POST", "/ingest/readings", token="ingest", content=body, headers={"Content-Type": kind}
    )
    assert response.status_code in (200, 400, 413, 415, 422), response.text
    if response.status_code == 200:
        assert all(r["status"] == "refused" for r in response.json()["results"])
    else:
        problem(response, response.status_code)
    assert served.stored() == before
