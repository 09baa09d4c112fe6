"""The carbon domain's rules on SQLite and PostgreSQL: real signed readings (the shared OCMF samples
and JWS readings signed here), key rotation and revocation, replays, registers, claim keys, points
and redemptions under concurrency, and a SIGKILL during ingest."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.credit_code import make_credit_code
from domain.errors import (
    AlreadyClaimed,
    AlreadyExists,
    InvalidCreditCode,
    NotFound,
    Overdrawn,
    RequestError,
)
from domain.jws import sign_jws, sign_jws_document
from domain.ocmf import load_ocmf_public_key, parse_ocmf, parse_transparency_xml
from domain.service import CarbonAccounts
from hardware_signers.base import Algorithm
from hardware_signers.software import SoftwareSigner
from ledger.entry import decode_entry
from ledger.ledger import Ledger

SECRET = b"federation-secret-for-tests-0123456789"
COMPANY = make_credit_code(7)
T0 = datetime(2026, 3, 1, tzinfo=UTC)


def pem(signer: SoftwareSigner) -> str:
    key = serialization.load_der_public_key(signer.public_key_spki)
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def reading(
    signer: SoftwareSigner,
    serial: str,
    seq: int,
    *,
    start: datetime | None = None,
    quantity: str = "12.5",
    register: str | None = None,
    unit: str = "kWh",
) -> str:
    begin = start or T0 + timedelta(minutes=15 * seq)
    payload = {
        "meter": serial,
        "seq": seq,
        "start": begin.isoformat(),
        "end": (begin + timedelta(minutes=15)).isoformat(),
        "quantity": quantity,
        "unit": unit,
    }
    if register is not None:
        payload["register"] = register
    return sign_jws(payload, signer)


@pytest.fixture
def platform(ledger: Ledger):
    service = CarbonAccounts(ledger, federation_secret=SECRET)
    service.open_account(kind="enterprise", credit_code=COMPANY, industry="textiles")
    yield service
    service.close()


def enroll(
    platform: CarbonAccounts,
    serial: str,
    algorithm: Algorithm = Algorithm.ED25519,
    carrier: str = "electricity",
) -> SoftwareSigner:
    signer = SoftwareSigner.generate(algorithm)
    platform.enroll_meter(serial=serial, account=COMPANY, public_key=pem(signer), carrier=carrier)
    return signer


def stream_types(ledger: Ledger, stream: str) -> list[str]:
    return [decode_entry(e.data).type for e in ledger.store.read_stream(stream)]


# -- the shared real OCMF samples ------------------------------------------------------------------

OCMF_SAMPLES = [
    ("safe-test_ocmf_keba_kcp30.xml", "accepted"),
    ("pyocmf-working_ocmf.xml", "accepted"),
    ("pyocmf-base64_ocmf.xml", "accepted"),
    ("safe-test_ocmf_keba_kcp30_fail.xml", "refused"),
]


@pytest.mark.parametrize(("name", "verdict"), OCMF_SAMPLES)
def test_real_ocmf_samples(
    platform: CarbonAccounts, ledger: Ledger, fixtures_dir: Path, name: str, verdict: str
) -> None:
    (value,) = parse_transparency_xml((fixtures_dir / "ocmf" / name).read_bytes())
    record = parse_ocmf(value.ocmf)
    key = load_ocmf_public_key(value.public_key, record.signature_algorithm)
    key_pem = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    platform.enroll_meter(
        serial=record.meter_serial, account=COMPANY, public_key=key_pem, carrier="electricity"
    )
    (result,) = platform.ingest_readings([value.ocmf])
    assert result.as_dict()["status"] == verdict
    entries = ledger.store.read_stream(f"meter/{record.meter_serial}")
    if verdict == "refused":
        assert result.reason == "bad-signature"
        assert len(entries) == 1  # the enrolment only
        return
    entry = decode_entry(entries[-1].data)
    assert entry.evidence == value.ocmf.strip()  # kept exactly as signed
    assert entry.body["sequence"] == record.pagination.number
    assert entry.body["time_status"] == record.readings[-1].time_status
    if "1.606848e7" in value.ocmf:
        assert b"1.606848e7" in entries[-1].data
    (again,) = platform.ingest_readings([value.ocmf])
    assert again.reason == "replay"


# -- JWS readings and their rules -----------------------------------------------------------------


def test_jws_readings_gaps_replays_and_registers(platform: CarbonAccounts, ledger: Ledger) -> None:
    signer = enroll(platform, "EM-1")
    results = platform.ingest_readings(
        [
            reading(signer, "EM-1", 1, register="100.0"),
            reading(signer, "EM-1", 2, register="112.5"),
            reading(signer, "EM-1", 2, register="125.0"),  # replay
            reading(signer, "EM-1", 5, register="150.0"),  # gap of 2, accepted and reported
            reading(signer, "EM-1", 6, register="149.9"),  # register ran backwards
            reading(signer, "EM-1", 7, unit="m3"),  # not an electricity unit
            "OCMF|{not json|{}",
            reading(signer, "EM-404", 1),  # unknown meter
        ]
    )
    got = [(r.accepted, r.reason, r.gap) for r in results]
    assert got == [
        (True, None, None),
        (True, None, None),
        (False, "replay", None),
        (True, None, 2),
        (False, "register-backwards", None),
        (False, "wrong-unit", None),
        (False, "malformed", None),
        (False, "unknown-meter", None),
    ]
    assert all(r.detail for r in results if not r.accepted)
    bodies = [decode_entry(e.data).body for e in ledger.store.read_stream("meter/EM-1")[1:]]
    assert [b["sequence"] for b in bodies] == [1, 2, 5]
    assert bodies[2]["gap"] == 2 and bodies[0]["quantity"] == "12.5"
    assert platform.refusals["replay"] == 1 and platform.accepted_readings == 3


def test_rotated_and_revoked_keys(platform: CarbonAccounts) -> None:
    old = enroll(platform, "EM-2", Algorithm.ECDSA_P256)
    new = SoftwareSigner.generate(Algorithm.ECDSA_P256)
    rotation = T0 + timedelta(hours=1)
    platform.rotate_key("EM-2", public_key=pem(new), effective=rotation)
    before = T0 + timedelta(minutes=30)
    after = T0 + timedelta(hours=2)
    results = platform.ingest_readings(
        [
            reading(old, "EM-2", 1, start=before),  # old key, before rotation: valid
            reading(old, "EM-2", 2, start=after),  # old key after rotation: not valid
            reading(new, "EM-2", 3, start=after),  # new key after rotation: valid
            reading(new, "EM-2", 4, start=T0 - timedelta(hours=1)),  # new key before it was valid
        ]
    )
    assert [(r.accepted, r.reason) for r in results] == [
        (True, None),
        (False, "key-not-valid"),
        (True, None),
        (False, "key-not-valid"),
    ]
    new_key_id = platform.meter("EM-2").keys[-1].key_id
    platform.revoke_key("EM-2", key_id=new_key_id, effective=T0 + timedelta(hours=3))
    late = T0 + timedelta(hours=4)
    results = platform.ingest_readings(
        [
            reading(new, "EM-2", 5, start=after + timedelta(minutes=15)),  # before the revocation
            reading(new, "EM-2", 6, start=late),  # after it
        ]
    )
    assert [(r.accepted, r.reason) for r in results] == [(True, None), (False, "revoked-key")]
    with pytest.raises(NotFound):
        platform.revoke_key("EM-2", key_id="00" * 32, effective=late)


def test_enrolment_rules(platform: CarbonAccounts) -> None:
    enroll(platform, "EM-3")
    with pytest.raises(AlreadyExists):
        enroll(platform, "EM-3")
    with pytest.raises(NotFound):
        platform.enroll_meter(
            serial="EM-4",
            account="nobody",
            public_key=pem(SoftwareSigner.generate(Algorithm.ED25519)),
            carrier="electricity",
        )
    with pytest.raises(RequestError, match="carrier"):
        platform.enroll_meter(
            serial="EM-4",
            account=COMPANY,
            public_key=pem(SoftwareSigner.generate(Algorithm.ED25519)),
            carrier="wind",
        )
    with pytest.raises(InvalidCreditCode):
        platform.open_account(
            kind="enterprise",
            credit_code=COMPANY[:-1] + "0" if COMPANY[-1] != "0" else COMPANY[:-1] + "1",
        )
    with pytest.raises(RequestError, match="pseudonym only"):
        platform.open_account(kind="personal", pseudonym="p-1", name="Zhang San")


def _certificate(subject: str, key, issuer_name: str, issuer_key, ca: bool) -> x509.Certificate:
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
        .public_key(key.public_key() if hasattr(key, "public_key") else key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(issuer_key, hashes.SHA256())
    )


def test_certificate_chain_against_maker_roots(ledger: Ledger) -> None:
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = _certificate("Maker Root", root_key, "Maker Root", root_key, True)
    meter_key = ec.generate_private_key(ec.SECP256R1())
    leaf = _certificate("meter CM-1", meter_key, "Maker Root", root_key, False)
    other_key = ec.generate_private_key(ec.SECP256R1())
    other_root = _certificate("Other Root", other_key, "Other Root", other_key, True)
    service = CarbonAccounts(ledger, federation_secret=SECRET, maker_roots=[root])
    service.open_account(kind="enterprise", credit_code=COMPANY)
    public = (
        meter_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    leaf_pem = leaf.public_bytes(serialization.Encoding.PEM).decode()
    service.enroll_meter(
        serial="CM-1",
        account=COMPANY,
        public_key=public,
        carrier="electricity",
        certificate_chain=[leaf_pem],
    )
    strict = CarbonAccounts(ledger, federation_secret=SECRET, maker_roots=[other_root])
    with pytest.raises(RequestError, match="maker root"):
        strict.enroll_meter(
            serial="CM-2",
            account=COMPANY,
            public_key=public,
            carrier="electricity",
            certificate_chain=[leaf_pem],
        )
    wrong_key = SoftwareSigner.generate(Algorithm.ECDSA_P256)
    with pytest.raises(RequestError, match="not for the meter's public key"):
        service.enroll_meter(
            serial="CM-3",
            account=COMPANY,
            public_key=pem(wrong_key),
            carrier="electricity",
            certificate_chain=[leaf_pem],
        )


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.one_of(
        st.text(max_size=200),
        st.text(max_size=200).map(lambda t: "OCMF|" + t),
        st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEF0123456789-_.", max_size=200),
        st.lists(st.integers(), max_size=3),
        st.dictionaries(st.text(max_size=5), st.text(max_size=20), max_size=3),
    )
)
def test_malformed_readings_are_refused_never_crash(platform: CarbonAccounts, item) -> None:
    (result,) = platform.ingest_readings([item])
    assert not result.accepted
    assert result.reason in ("malformed", "unknown-meter", "bad-signature")
    assert result.detail


# -- claims ---------------------------------------------------------------------------------------


def test_claim_keys_are_claimable_once(platform: CarbonAccounts, ledger: Ledger) -> None:
    platform.open_account(kind="personal", pseudonym="p-7f3a")
    ride = {"kind": "transaction", "source": "quzhou-bus", "id": "tx-0001"}
    first = platform.submit_claim(
        account="p-7f3a",
        methodology="quzhou-points@1.0",
        activity=ride,
        quantity="1",
        action="bus_ride",
    )
    assert first["points"] == 10
    ledger.log.integrate_all()
    platform.open_account(kind="personal", pseudonym="p-other")
    with pytest.raises(AlreadyClaimed) as refused:
        platform.submit_claim(
            account="p-other",
            methodology="quzhou-points@1.0",
            activity=ride,
            quantity="1",
            action="bus_ride",
        )
    holder = refused.value.holder
    assert holder["claim"] == first["claim"]
    assert holder["log_index"] is not None and holder["leaf_hash"]
    assert platform.account("p-other").points == 0
    assert platform.account("p-7f3a").points == 10
    km = platform.submit_claim(
        account="p-7f3a",
        methodology="shenzhen-low-carbon-transit@1.0",
        activity={"kind": "transaction", "source": "sz-metro", "id": "m-1"},
        quantity="12.5",
        action="metro",
    )
    assert Decimal(km["reduction_g"]) == Decimal("12.5") * Decimal("46.7")


def test_overlapping_interval_claims_collide(platform: CarbonAccounts) -> None:
    def interval(start: datetime, minutes: int) -> dict:
        return {
            "kind": "meter-interval",
            "meter": "PV-1",
            "start": start.isoformat(),
            "end": (start + timedelta(minutes=minutes)).isoformat(),
        }

    platform.submit_claim(
        account=COMPANY,
        methodology="shenzhen-low-carbon-transit@1.0",
        activity=interval(T0, 60),
        quantity="1",
        action="bus_electric",
    )
    for start, minutes in (
        (T0 + timedelta(minutes=30), 15),
        (T0 - timedelta(minutes=5), 10),
        (T0 + timedelta(minutes=50), 1440),
    ):
        with pytest.raises(AlreadyClaimed):
            platform.submit_claim(
                account=COMPANY,
                methodology="shenzhen-low-carbon-transit@1.0",
                activity=interval(start, minutes),
                quantity="1",
                action="bus_electric",
            )
    platform.submit_claim(
        account=COMPANY,
        methodology="shenzhen-low-carbon-transit@1.0",
        activity=interval(T0 + timedelta(minutes=60), 15),
        quantity="1",
        action="bus_electric",
    )


def test_two_writers_claiming_one_key_at_once(ledger: Ledger) -> None:
    """Two platforms' writers (separate services, separate connections) race for one key: exactly
    one wins, the other is told who holds it."""
    services = [CarbonAccounts(ledger, federation_secret=SECRET) for _ in range(2)]
    services[0].open_account(kind="personal", pseudonym="p-a")
    services[0].open_account(kind="personal", pseudonym="p-b")
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def claim(service: CarbonAccounts, account: str) -> None:
        barrier.wait()
        try:
            service.submit_claim(
                account=account,
                methodology="quzhou-points@1.0",
                activity={"kind": "transaction", "source": "bus", "id": "race"},
                quantity="1",
                action="bus_ride",
            )
            outcomes.append("won")
        except AlreadyClaimed:
            outcomes.append("refused")

    threads = [
        threading.Thread(target=claim, args=(s, a))
        for s, a in zip(services, ("p-a", "p-b"), strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["refused", "won"]
    assert services[0].account("p-a").points + services[1].account("p-b").points == 10


def test_concurrent_redemptions_never_overdraw(ledger: Ledger) -> None:
    first = CarbonAccounts(ledger, federation_secret=SECRET)
    first.open_account(kind="personal", pseudonym="p-r")
    first.award_points(
        account="p-r",
        action="online_government_service",
        methodology="quzhou-points@1.0",
        cites="gov-service/123",
    )  # 122 points
    services = [CarbonAccounts(ledger, federation_secret=SECRET) for _ in range(6)]
    won: list[int] = []
    refused: list[int] = []
    barrier = threading.Barrier(len(services))

    def redeem(service: CarbonAccounts) -> None:
        barrier.wait()
        try:
            service.redeem_points(account="p-r", points=40, item="tissues")
            won.append(1)
        except Overdrawn:
            refused.append(1)

    threads = [threading.Thread(target=redeem, args=(s,)) for s in services]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(won) == 3 and len(refused) == 3
    assert first.account("p-r").points == 2
    with pytest.raises(Overdrawn):
        first.redeem_points(account="p-r", points=3, item="tissues")


def test_economic_data_signed_by_a_reporter(platform: CarbonAccounts, ledger: Ledger) -> None:
    bureau = SoftwareSigner.generate(Algorithm.ED25519)
    platform.enroll_reporter(
        reporter="quzhou-stats", public_key=pem(bureau), name="Quzhou statistics bureau"
    )
    report = {
        "reporter": "quzhou-stats",
        "account": COMPANY,
        "period": "2026-03",
        "output": "1250.5",
        "output_unit": "t",
        "value_added": "3800000",
        "tax": "410000",
    }
    receipt = platform.report_economic_data(sign_jws_document(report, bureau))
    assert receipt["period"] == "2026-03"
    forged = SoftwareSigner.generate(Algorithm.ED25519)
    with pytest.raises(RequestError, match="signature"):
        platform.report_economic_data(sign_jws_document(report, forged))
    assert len(ledger.store.read_stream(f"economic/{COMPANY}")) == 1


# -- a SIGKILL during ingest -----------------------------------------------------------------------

INGEST_CHILD = textwrap.dedent(
    """
    import json, sys
    from ledger.ledger import Ledger
    from domain.service import CarbonAccounts
    ledger = Ledger.open(sys.argv[1])
    service = CarbonAccounts(ledger, federation_secret=bytes.fromhex(sys.argv[2]))
    batches = json.load(open(sys.argv[3]))
    print("ready", flush=True)
    for batch in batches:
        for result in service.ingest_readings(batch):
            if result.accepted:
                print(result.leaf_hash, flush=True)
    print("done", flush=True)
    """
)


@pytest.mark.slow
def test_kill_during_ingest_loses_nothing_accepted(
    platform: CarbonAccounts, ledger: Ledger, tmp_path: Path
) -> None:
    signers = {f"K-{m}": enroll(platform, f"K-{m}") for m in range(4)}
    batches = [
        [reading(signers[f"K-{m}"], f"K-{m}", b * 50 + i + 1) for i in range(50) for m in range(4)]
        for b in range(30)
    ]
    batch_file = tmp_path / "batches.json"
    batch_file.write_text(json.dumps(batches))
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    child = subprocess.Popen(
        [sys.executable, "-c", INGEST_CHILD, str(ledger.data_dir), SECRET.hex(), str(batch_file)],
        stdout=subprocess.PIPE,
        env=env,
    )
    assert child.stdout is not None and child.stdout.readline() == b"ready\n"
    accepted: list[str] = []
    deadline = time.monotonic() + 60
    while len(accepted) < 1000 and time.monotonic() < deadline:
        accepted.append(child.stdout.readline().decode().strip())
    child.send_signal(signal.SIGKILL)
    child.wait(30)
    assert "done" not in accepted and len(accepted) >= 1000
    # Every reading the service answered "accepted" for is in the store, and none twice.
    ledger.log.integrate_all()
    stored = []
    for serial in signers:
        stored += [decode_entry(e.data) for e in ledger.store.read_stream(f"meter/{serial}")[1:]]
    hashes = {
        e.leaf_hash for serial in signers for e in ledger.store.read_stream(f"meter/{serial}")
    }
    from ledger.entry import b64

    stored_hashes = {b64(h) for h in hashes}
    assert set(accepted) <= stored_hashes
    # ... and in the log, each at one index.
    in_log = ledger.log.leaf_indexes([base64.b64decode(h) for h in accepted])
    assert len(in_log) == len(accepted) and len(set(in_log.values())) == len(accepted)
    pairs = [(e.stream, e.body["sequence"]) for e in stored]
    assert len(pairs) == len(set(pairs))
    # After a restart, ingest continues where it stopped: resubmitting everything accepts only
    # what was not yet written.
    restarted = CarbonAccounts(Ledger.open(ledger.data_dir), federation_secret=SECRET)
    results = [r for batch in batches for r in restarted.ingest_readings(batch)]
    assert sum(r.accepted for r in results) == 30 * 200 - len(stored)
    assert {r.reason for r in results if not r.accepted} <= {"replay"}
    restarted.ledger.close()


def test_claims_cite_entries_of_the_log(platform: CarbonAccounts, ledger: Ledger) -> None:
    signer = enroll(platform, "PV-9")
    (accepted,) = platform.ingest_readings([reading(signer, "PV-9", 1)])
    claim = {
        "account": COMPANY,
        "methodology": "shenzhen-low-carbon-transit@1.0",
        "action": "bus_electric",
        "quantity": "3",
        "activity": {"kind": "transaction", "source": "fleet", "id": "trip-9"},
    }
    with pytest.raises(RequestError, match="not an entry of the log"):
        platform.submit_claim(**claim, evidence=[accepted.leaf_hash])  # not integrated yet
    ledger.log.integrate_all()
    receipt = platform.submit_claim(**claim, evidence=[accepted.leaf_hash])
    body = decode_entry(ledger.store.read_stream(f"claim/{receipt['claim']}")[0].data).body
    assert body["evidence"] == [accepted.leaf_hash]
    for bad in (["AAAA"], ["not base64!"], [7], "a-string"):
        with pytest.raises(RequestError):
            platform.submit_claim(
                **{**claim, "activity": {"kind": "transaction", "source": "fleet", "id": "x"}},
                evidence=bad,
            )


def test_the_largest_reading_that_fits_an_entry(platform: CarbonAccounts, ledger: Ledger) -> None:
    signer = enroll(platform, "BIG-1")

    def padded(seq: int, size: int) -> str:
        begin = T0 + timedelta(minutes=15 * seq)
        payload = {
            "meter": "BIG-1",
            "seq": seq,
            "start": begin.isoformat(),
            "end": (begin + timedelta(minutes=15)).isoformat(),
            "quantity": "1",
            "unit": "kWh",
            "note": "",
        }
        compact = sign_jws(payload, signer)
        payload["note"] = "x" * ((size - len(compact)) * 3 // 4)
        return sign_jws(payload, signer)

    fits, too_big = padded(1, 59_900), padded(2, 60_100)
    assert len(fits) <= 60_000 < len(too_big)
    results = platform.ingest_readings([fits, too_big])
    assert [(r.accepted, r.reason) for r in results] == [(True, None), (False, "too-large")]
    (entry,) = ledger.store.read_stream("meter/BIG-1", after=1)
    assert len(entry.data) <= 65_535 and decode_entry(entry.data).evidence == fits


# -- signature algorithms the platform cannot verify -----------------------------------------------


def test_algorithms_the_platform_cannot_verify_are_refused_by_name(
    platform: CarbonAccounts, ledger: Ledger
) -> None:
    """Not malformed, and not a bad signature: the answer names the algorithm."""
    from api.demo import ocmf_record

    signer = enroll(platform, "EV-ALG-1", Algorithm.ECDSA_P256)
    begin = T0 + timedelta(hours=1)
    good = ocmf_record(
        signer, "EV-ALG-1", 1, begin, begin + timedelta(minutes=30), Decimal(1), Decimal(5)
    )
    secp192k1 = good.replace('"SA":"ECDSA-secp256r1-SHA256"', '"SA":"ECDSA-secp192k1-SHA256"')
    rsa = good.replace('"SA":"ECDSA-secp256r1-SHA256"', '"SA":"RSA-PSS-SHA256"')
    header = base64.urlsafe_b64encode(b'{"alg":"HS256"}').rstrip(b"=").decode()
    body = reading(enroll(platform, "EM-ALG-1"), "EM-ALG-1", 1).split(".")[1]
    hs256 = f"{header}.{body}.c2lnbmF0dXJl"
    results = platform.ingest_readings([secp192k1, rsa, hs256])
    assert [r.reason for r in results] == ["unsupported-algorithm"] * 3
    assert "secp192k1" in (results[0].detail or "")
    assert "RSA-PSS-SHA256" in (results[1].detail or "")
    assert "HS256" in (results[2].detail or "")
    assert platform.refusals["unsupported-algorithm"] == 3
    assert stream_types(ledger, "meter/EV-ALG-1") == ["meter.enrolled/v1"]
    # The same record with its real algorithm is accepted.
    assert platform.ingest_readings([good])[0].accepted
