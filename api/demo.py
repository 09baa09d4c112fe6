"""A small realistic city for a fresh ledger: enterprises with electricity, gas and steam meters
reporting signed 15-minute readings, EV chargers sending OCMF, residents earning points for bus
rides, metro trips and recycling, economic data signed by the statistics bureau, and one attempted
double claim that the ledger refuses.

Meter keys live with the meters: in a SoftHSM2 token (an HSM, as a real meter gateway would have)
when SoftHSM2 is installed, otherwise in software. The platform only ever sees public keys.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from cryptography.hazmat.primitives import serialization

from domain.credit_code import make_credit_code
from domain.errors import AlreadyClaimed, AlreadyExists
from domain.jws import sign_jws, sign_jws_document
from domain.service import CarbonAccounts
from hardware_signers.base import Algorithm, Signer
from hardware_signers.software import SoftwareSigner

CHINA = timezone(timedelta(hours=8))
# The latest year the adopted grid factors cover (MEE/NBS publish them about two years late).
START = datetime(2023, 3, 6, tzinfo=CHINA)
BATCH = 500
SOFTHSM_MODULES = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
)

ENTERPRISES = [
    # (serial base, name, industry, tonnes of output per month, value added, tax; 10^4 yuan)
    ("QZ-TEX", "Quzhou demo textiles", "textiles", "820", "1450", "160"),
    ("QZ-PAP", "Quzhou demo paper", "paper", "2600", "2100", "230"),
    ("QZ-FIB", "Quzhou demo chemical fibre", "chemical_fibre", "1900", "3900", "410"),
]
METERS = [
    ("E", "electricity", "kWh", Decimal("180")),
    ("G", "natural_gas", "m3", Decimal("35")),
    ("S", "steam", "t_steam", Decimal("1.5")),
]


@dataclass
class DemoMeter:
    serial: str
    carrier: str
    unit: str
    mean: Decimal
    signer: Signer
    seq: int = 0
    register: Decimal = Decimal(0)


@dataclass
class DemoCharger:
    serial: str
    signer: SoftwareSigner
    pagination: int = 0
    register: Decimal = Decimal("1000")


def public_pem(signer: Signer) -> str:
    key = serialization.load_der_public_key(signer.public_key_spki)
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def hsm_signer_factory(data_dir: Path) -> Callable[[str, Algorithm], Signer] | None:
    """Meter keys generated inside a SoftHSM2 token kept in the data directory, or None when
    SoftHSM2 is not installed. The token stands in for the meters' own HSMs."""
    module = next((m for m in SOFTHSM_MODULES if os.path.exists(m)), None)
    util = shutil.which("softhsm2-util")
    if module is None or util is None:
        return None
    from hardware_signers.pkcs11 import Pkcs11Token

    root = (data_dir / "demo-meter-hsm").resolve()
    conf = root / "softhsm2.conf"
    if not conf.exists():
        (root / "tokens").mkdir(parents=True, exist_ok=True)
        conf.write_text(
            f"directories.tokendir = {root / 'tokens'}\n"
            "objectstore.backend = file\nlog.level = ERROR\n"
        )
    os.environ.setdefault("SOFTHSM2_CONF", str(conf))
    if os.environ["SOFTHSM2_CONF"] != str(conf):
        return None  # this process already uses another SoftHSM2 configuration
    listing = subprocess.run([util, "--show-slots"], capture_output=True, text=True).stdout
    if "demo-meters" not in listing:
        subprocess.run(
            [
                util,
                "--init-token",
                "--free",
                "--label",
                "demo-meters",
                "--pin",
                "1234",
                "--so-pin",
                "5678",
            ],
            check=True,
            capture_output=True,
        )
    token = Pkcs11Token.open(module, "demo-meters", "1234")

    def make(label: str, algorithm: Algorithm) -> Signer:
        if label in token.labels():
            return token.signer(label)
        return token.generate_key(label, algorithm)

    return make


def ocmf_record(
    signer: SoftwareSigner,
    serial: str,
    pagination: int,
    begin: datetime,
    end: datetime,
    start_kwh: Decimal,
    end_kwh: Decimal,
) -> str:
    """An OCMF record of one charging session, signed like a charger's meter does (ECDSA
    secp256r1, SHA-256, DER signature in hex) over the exact payload bytes."""

    def tm(moment: datetime) -> str:
        return moment.strftime("%Y-%m-%dT%H:%M:%S,000%z") + " S"

    payload = json.dumps(
        {
            "FV": "1.0",
            "GI": "carbonledger demo charger",
            "GS": serial,
            "GV": "1.0",
            "PG": f"T{pagination}",
            "MV": "demo",
            "MM": "demo",
            "MS": serial,
            "MF": "1.0",
            "IS": False,
            "IF": [],
            "IT": "NONE",
            "ID": "",
            "RD": [
                {
                    "TM": tm(begin),
                    "TX": "B",
                    "RV": str(start_kwh),
                    "RI": "1-b:1.8.0",
                    "RU": "kWh",
                    "RT": "AC",
                    "EF": "",
                    "ST": "G",
                },
                {
                    "TM": tm(end),
                    "TX": "E",
                    "RV": str(end_kwh),
                    "RI": "1-b:1.8.0",
                    "RU": "kWh",
                    "RT": "AC",
                    "EF": "",
                    "ST": "G",
                },
            ],
        },
        separators=(",", ":"),
    )
    signature = signer.sign(payload.encode())
    return f'OCMF|{payload}|{{"SA":"ECDSA-secp256r1-SHA256","SD":"{signature.hex().upper()}"}}'


class _Writer:
    def __init__(self, service: CarbonAccounts) -> None:
        self.service = service
        self.pending: list[str] = []
        self.accepted = 0
        self.refused = 0

    def add(self, reading: str) -> None:
        self.pending.append(reading)
        if len(self.pending) >= BATCH:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            results = self.service.ingest_readings(self.pending)
            self.accepted += sum(r.accepted for r in results)
            self.refused += sum(not r.accepted for r in results)
            self.pending = []


def seed_city(
    service: CarbonAccounts, *, events: int, data_dir: Path, out: TextIO | None = None
) -> dict[str, Any]:
    """Write a small city of roughly ``events`` events; return counts of what was written."""
    rng = random.Random(2026)

    def say(text: str) -> None:
        if out is not None:
            print(text, file=out, flush=True)

    try:
        service.open_account(kind="region", account_id="quzhou", name="Quzhou demo region")
    except AlreadyExists:
        raise AlreadyExists(
            f"the ledger in {data_dir} already holds the demo city; use a new data directory"
        ) from None
    service.adopt_methodologies()
    hsm = hsm_signer_factory(data_dir)
    say(f"meter keys: {'SoftHSM2 token' if hsm else 'software keys'}")

    bureau_key = SoftwareSigner.generate(Algorithm.ED25519)
    service.enroll_reporter(
        reporter="quzhou-stats",
        public_key=public_pem(bureau_key),
        name="Quzhou statistics bureau (demo)",
    )
    meters: list[DemoMeter] = []
    for index, (base, name, industry, *_rest) in enumerate(ENTERPRISES):
        code = make_credit_code(1000 + index, division="330800")
        service.open_account(
            kind="enterprise", credit_code=code, name=name, industry=industry, region="quzhou"
        )
        for letter, carrier, unit, mean in METERS:
            serial = f"{base}-{letter}1"
            use_hsm = hsm is not None and letter == "E"
            signer: Signer = (
                hsm(serial, Algorithm.ECDSA_P256)
                if use_hsm and hsm
                else SoftwareSigner.generate(Algorithm.ED25519)
            )
            service.enroll_meter(
                serial=serial, account=code, public_key=public_pem(signer), carrier=carrier
            )
            meters.append(DemoMeter(serial, carrier, unit, mean, signer))
        output, value_added, tax = _rest[0], _rest[1], _rest[2]
        service.report_economic_data(
            sign_jws_document(
                {
                    "reporter": "quzhou-stats",
                    "account": code,
                    "period": "2023-03",
                    "output": output,
                    "output_unit": "t",
                    "value_added": str(Decimal(value_added) * 10000),
                    "tax": str(Decimal(tax) * 10000),
                },
                bureau_key,
            )
        )

    chargers = []
    for index in range(2):
        serial = f"QZ-EV-{index + 1:03d}"
        signer = SoftwareSigner.generate(Algorithm.ECDSA_P256)
        service.open_account(
            kind="project",
            account_id=f"ev-{index + 1}",
            name=f"EV charging site {index + 1}",
            region="quzhou",
        )
        service.enroll_meter(
            serial=serial,
            account=f"ev-{index + 1}",
            public_key=public_pem(signer),
            carrier="electricity",
        )
        chargers.append(DemoCharger(serial, signer))

    residents = [f"p-{rng.getrandbits(48):012x}" for _ in range(20)]
    for pseudonym in residents:
        service.open_account(kind="personal", pseudonym=pseudonym, region="quzhou")

    budget = max(events - 60, 100)
    reading_budget = budget * 7 // 10
    writer = _Writer(service)
    slot = 0
    while writer.accepted + len(writer.pending) < reading_budget:
        begin = START + timedelta(minutes=15 * slot)
        for meter in meters:
            meter.seq += 1
            quantity = (meter.mean * Decimal(rng.randint(70, 130)) / 100).quantize(Decimal("0.001"))
            meter.register += quantity
            writer.add(
                sign_jws(
                    {
                        "meter": meter.serial,
                        "seq": meter.seq,
                        "start": begin.isoformat(),
                        "end": (begin + timedelta(minutes=15)).isoformat(),
                        "quantity": str(quantity),
                        "unit": meter.unit,
                        "register": str(meter.register),
                    },
                    meter.signer,
                )
            )
        if slot % 8 == 0:
            for charger in chargers:
                kwh = Decimal(rng.randint(80, 450)) / 10
                charger.pagination += 1
                writer.add(
                    ocmf_record(
                        charger.signer,
                        charger.serial,
                        charger.pagination,
                        begin,
                        begin + timedelta(minutes=50),
                        charger.register,
                        charger.register + kwh,
                    )
                )
                charger.register += kwh
        slot += 1
    writer.flush()
    say(
        f"readings: {writer.accepted} accepted, {writer.refused} refused "
        f"({len(meters)} enterprise meters, {len(chargers)} EV chargers, {slot} intervals)"
    )

    claims = 0
    trips = budget - reading_budget
    for trip in range(trips // 3):
        resident = residents[trip % len(residents)]
        kind = trip % 4
        if kind == 0:
            service.submit_claim(
                account=resident,
                methodology="quzhou-points@1.0",
                activity={"kind": "transaction", "source": "quzhou-bus", "id": f"card-{trip:06d}"},
                quantity="1",
                action="bus_ride",
            )
        elif kind == 1:
            km = str(Decimal(rng.randint(20, 180)) / 10)
            service.submit_claim(
                account=resident,
                methodology="shenzhen-low-carbon-transit@1.0",
                activity={"kind": "transaction", "source": "metro", "id": f"gate-{trip:06d}"},
                quantity=km,
                action="metro",
            )
        elif kind == 2:
            kg = str(Decimal(rng.randint(5, 60)) / 10)
            service.submit_claim(
                account=resident,
                methodology="quzhou-points@1.0",
                activity={"kind": "transaction", "source": "recycling", "id": f"bin-{trip:06d}"},
                quantity=kg,
                action="cardboard_recycling",
            )
        else:
            service.submit_claim(
                account=resident,
                methodology="quzhou-points@1.0",
                activity={"kind": "transaction", "source": "zheliban", "id": f"svc-{trip:06d}"},
                quantity="1",
                action="online_government_service",
            )
        claims += 1
    say(f"claims: {claims} by {len(residents)} residents (bus rides, metro, recycling, services)")

    refused = None
    try:
        service.submit_claim(
            account=residents[1],
            methodology="quzhou-points@1.0",
            activity={"kind": "transaction", "source": "quzhou-bus", "id": "card-000000"},
            quantity="1",
            action="bus_ride",
        )
    except AlreadyClaimed as exc:
        refused = exc.holder
        say(f"double claim refused as expected: {exc}")
    rich = max(residents, key=lambda r: service.account(r).points)
    if service.account(rich).points >= 200:
        service.redeem_points(account=rich, points=200, item="tissue_pack")
        say(f"{rich} redeemed 200 points for a pack of tissues")
    return {
        "readings": writer.accepted,
        "refused_readings": writer.refused,
        "claims": claims,
        "double_claim_refused": refused is not None,
        "started": datetime.now(UTC).isoformat(),
    }
