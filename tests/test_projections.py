"""Read models rebuilt from the log, on SQLite and PostgreSQL: a small realistic ledger written
through CarbonAccounts (real signed JWS readings), incremental catch-up against a full rebuild, a
failure and a SIGKILL inside a batch, hand-computed emissions, label and code boundaries, and the
log size and checkpoint every result carries."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from domain.credit_code import make_credit_code
from domain.jws import sign_jws, sign_jws_document
from domain.methodology import DEFAULT_ADOPTION, FactorTable, load_methodologies
from domain.service import CarbonAccounts
from hardware_signers.base import Algorithm
from hardware_signers.software import SoftwareSigner
from ledger.db import Cursor, Database
from ledger.entry import b64
from ledger.ledger import Ledger
from ledger.merkle import verify_consistency
from ledger.note import open_note
from projections import (
    SCHEMA,
    CarbonReadModels,
    Evaluations,
    LoggedEntry,
    LogMismatch,
    NotAnEnterprise,
    ProjectionRunner,
    StaleProjection,
    UnknownAccount,
)
from projections.models import CHINA

SECRET = b"federation-secret-for-projection-tests"
COMPANY = make_credit_code(11)  # textiles, in Quzhou (Zhejiang)
OTHER = make_credit_code(12)  # paper, in Shanghai
GAUGE = make_credit_code(13)  # heat only: label and code boundaries
RESIDENT = "r-5e1f"
ROOT = Path(__file__).resolve().parent.parent


def pem(signer: SoftwareSigner) -> str:
    key = serialization.load_der_public_key(signer.public_key_spki)
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def china(*args: int) -> datetime:
    return datetime(*args, tzinfo=CHINA)  # type: ignore[misc]


class Platform:
    """A CarbonAccounts over the test ledger, with signing meters and a reporting bureau."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.service = CarbonAccounts(ledger, federation_secret=SECRET)
        self.meters: dict[str, list[Any]] = {}  # serial -> [signer, next seq]
        self.bureau: SoftwareSigner | None = None

    def close(self) -> None:
        self.service.close()

    def enroll(self, serial: str, account: str, carrier: str) -> None:
        signer = SoftwareSigner.generate(Algorithm.ED25519)
        self.service.enroll_meter(
            serial=serial, account=account, public_key=pem(signer), carrier=carrier
        )
        self.meters[serial] = [signer, 1]

    def read(self, serial: str, items: Sequence[tuple[datetime, str, str]], minutes: int = 15):
        """Ingest signed readings (start, quantity, unit) of one meter; all must be accepted."""
        meter = self.meters[serial]
        signed = []
        for start, quantity, unit in items:
            payload = {
                "meter": serial,
                "seq": meter[1],
                "start": start.isoformat(),
                "end": (start + timedelta(minutes=minutes)).isoformat(),
                "quantity": quantity,
                "unit": unit,
            }
            meter[1] += 1
            signed.append(sign_jws(payload, meter[0]))
        results = self.service.ingest_readings(signed)
        assert all(r.accepted for r in results), [r.as_dict() for r in results if not r.accepted]

    def report(self, account: str, period: str, value_added: str, tax: str, output: str = "1000"):
        if self.bureau is None:
            self.bureau = SoftwareSigner.generate(Algorithm.ED25519)
            self.service.enroll_reporter(
                reporter="stats", public_key=pem(self.bureau), name="Statistics bureau"
            )
        payload = {
            "reporter": "stats",
            "account": account,
            "period": period,
            "output": output,
            "output_unit": "t",
            "value_added": value_added,
            "tax": tax,
        }
        self.service.report_economic_data(sign_jws_document(payload, self.bureau))

    def ride(self, ride_id: str) -> None:
        self.service.submit_claim(
            account=RESIDENT,
            methodology="quzhou-points@1.0",
            activity={"kind": "transaction", "source": "quzhou-bus", "id": ride_id},
            quantity="1",
            action="bus_ride",
        )


@pytest.fixture
def platform(ledger: Ledger) -> Iterator[Platform]:
    opened = Platform(ledger)
    yield opened
    opened.close()


def open_accounts(p: Platform) -> None:
    s = p.service
    for key in s.factors.adopted:
        s.adopt_methodology(key)
    s.open_account(kind="region", account_id="zhejiang", name="Zhejiang")
    s.open_account(kind="region", account_id="quzhou", region="zhejiang", name="Quzhou")
    s.open_account(kind="region", account_id="shanghai", name="Shanghai")
    s.open_account(kind="enterprise", credit_code=COMPANY, region="quzhou", industry="textiles")
    s.open_account(kind="enterprise", credit_code=OTHER, region="shanghai", industry="paper")
    s.open_account(kind="personal", pseudonym=RESIDENT, region="quzhou")


def populate(p: Platform, *, readings: int, phase: int = 1) -> None:
    """A small realistic ledger: electricity every 15 minutes across a month's end, gas and steam,
    economic reports, bus rides, a metro trip and a redemption."""
    if phase == 1:
        open_accounts(p)
        p.enroll("E-1", COMPANY, "electricity")
        p.enroll("G-1", COMPANY, "natural_gas")
        p.enroll("S-1", COMPANY, "steam")
        p.enroll("E-2", OTHER, "electricity")
    start = china(2023, 1, 31, 20, 0) if phase == 1 else china(2023, 2, 20, 0, 0)
    slots = [start + timedelta(minutes=15 * i) for i in range(readings)]
    p.read("E-1", [(t, f"{12 + i % 7}.{i % 10}", "kWh") for i, t in enumerate(slots)])
    p.read("G-1", [(t, f"{3 + i}.25", "m3") for i, t in enumerate(slots[:5])])
    p.read("S-1", [(t, "0.5", "t_steam") for t in slots[:3]])
    p.read("E-2", [(t, "0.0125", "MWh") for t in slots[:20]])
    if phase == 1:
        p.report(COMPANY, "2023", value_added="2000000", tax="150000", output="800")
        p.report(OTHER, "2023-01", value_added="10000", tax="1000")
        for n in range(3):
            p.ride(f"ride-{n}")
        p.service.submit_claim(
            account=RESIDENT,
            methodology="shenzhen-low-carbon-transit@1.0",
            activity={"kind": "transaction", "source": "metro", "id": "m-1"},
            quantity="12.5",
            action="metro",
        )
        p.service.redeem_points(account=RESIDENT, points=20, item="tissue_pack")
    else:
        p.report(OTHER, "2023-02", value_added="12000", tax="1100")
        p.report(OTHER, "2023-01", value_added="10500", tax="1000")  # a correction: latest wins
        p.ride("ride-later")
    p.ledger.log.integrate_all()


def dump(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every proj_ table, row for row, in a stable order."""
    out = {}
    with db.transaction() as cur:
        for table in [*SCHEMA, "proj_position"]:
            rows = cur.execute(f"SELECT * FROM {table}").fetchall()
            out[table] = sorted((tuple(row) for row in rows), key=repr)
    return out


def emission_rows(db: Database, account: str) -> dict[tuple[str, int, str], tuple[str, str, str]]:
    with db.transaction() as cur:
        rows = cur.execute(
            "SELECT period, scope, factor, unit, quantity, kg_co2, methodology FROM proj_emissions"
            " WHERE account = ?",
            (account,),
        ).fetchall()
    return {(r[0], int(r[1]), r[2]): (r[3], r[4], r[5], r[6]) for r in rows}


# -- incremental catch-up equals a rebuild ---------------------------------------------------------


def test_incremental_catch_up_equals_rebuild(platform: Platform, ledger: Ledger) -> None:
    populate(platform, readings=300)
    log, db = ledger.log, ledger.db
    runner = ProjectionRunner(log, db, batch_size=23)
    assert runner.position() == 0
    applied = runner.catch_up(max_entries=100)
    assert applied == 100 == runner.position()
    while runner.catch_up(max_entries=37):
        pass
    assert runner.position() == log.size() > 256  # crosses an entry bundle

    populate(platform, readings=40, phase=2)
    assert runner.catch_up(max_entries=5) == 5
    runner.catch_up()
    size = log.size()
    assert runner.position() == size
    incremental = dump(db)
    assert incremental["proj_position"][0][:2] == ("carbon", size)

    seen: list[tuple[int, int]] = []
    rebuilt_runner = ProjectionRunner(log, db)  # default batch size: one batch
    assert rebuilt_runner.rebuild(progress=lambda done, total: seen.append((done, total))) == size
    assert seen[-1] == (size, size)
    assert dump(db) == incremental

    # A fresh rebuild with bundle-sized batches gives the same rows again.
    ProjectionRunner(log, db, batch_size=256).rebuild()
    assert dump(db) == incremental

    # What the read models hold is what the platform wrote.
    evaluations = Evaluations(log, db)
    resident = evaluations.balances(RESIDENT)
    assert resident["points"] == platform.service.account(RESIDENT).points == 4 * 10 - 20
    assert resident["points_earned"] == 40 and resident["points_redeemed"] == 20
    assert Decimal(resident["reduction_g"]) == Decimal("12.5") * Decimal("46.7")
    assert resident["claims"] == 5
    company = evaluations.balances(COMPANY)
    assert company["meters"] == 3
    with db.transaction() as cur:
        readings = cur.execute("SELECT SUM(readings) FROM proj_meters").fetchone()[0]
        keys = cur.execute("SELECT COUNT(*) FROM proj_claim_keys").fetchone()[0]
        other = cur.execute(
            "SELECT period, value_added FROM proj_economic WHERE account = ? ORDER BY period",
            (OTHER,),
        ).fetchall()
    assert readings == 340 + 5 * 2 + 3 * 2 + 20 * 2
    assert keys == 5
    assert [tuple(r) for r in other] == [("2023-01", "10500"), ("2023-02", "12000")]
    history = evaluations.history(RESIDENT)["entries"]
    assert [e["type"] for e in history][:2] == ["account.opened/v1", "claim.recorded/v1"]
    assert all(e["leaf_index"] < size for e in history)
    # Monthly economic reports (one corrected): intensities over the months reported.
    other = evaluations.evaluate_enterprise(OTHER, 2023)
    assert other["emissions_kg"]["scope_2"] == "275.000"  # 40 x 12.5 kWh x 0.5500 (East China)
    assert other["economic"] == {
        "periods": ["2023-01", "2023-02"],
        "emissions_kg": "275.000",
        "output": "2000",
        "output_unit": "t",
        "value_added": "22500",
        "tax": "2100",
    }
    assert other["intensity"]["per_value_added"]["value"] == "0.1222"
    assert (other["ratio_to_benchmark"], other["label"], other["efficiency_code"]) == (
        "0.0764",
        "dark_green",
        1,
    )
    assert other["missing"] == [
        "economic data covers 2 months of 2023: intensities are for those months"
    ]
    ride = {"kind": "transaction", "source": "quzhou-bus", "id": "ride-0"}
    holder = evaluations.claim_key_holder(platform.service.claim_keys(ride)[0].key)
    assert holder is not None and holder["account"] == RESIDENT
    assert log.entry(holder["leaf_index"])  # the index is a real leaf


def test_two_runners_at_once_apply_each_entry_once(platform: Platform, ledger: Ledger) -> None:
    populate(platform, readings=150)
    log, db = ledger.log, ledger.db
    runners = [ProjectionRunner(log, db, batch_size=7) for _ in range(2)]
    applied = [0, 0]
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            applied[n] = runners[n].catch_up()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    assert sum(applied) == log.size() == runners[0].position()
    together = dump(db)
    runners[0].rebuild()
    assert dump(db) == together


# -- a failure or a SIGKILL inside a batch ---------------------------------------------------------


class FailAt:
    """A projection applied after the read models in the same transaction, failing at one leaf
    once the read models have written their part of the batch."""

    tables: tuple[str, ...] = ()

    def __init__(self, index: int) -> None:
        self.index = index
        self.rows_seen: int | None = None

    def fingerprint(self) -> str:
        return ""

    def create_tables(self, cur: Cursor) -> None:
        pass

    def apply(self, cur: Cursor, entries: Sequence[LoggedEntry]) -> None:
        if any(e.index == self.index for e in entries):
            self.rows_seen = cur.execute("SELECT COUNT(*) FROM proj_history").fetchone()[0]
            raise RuntimeError(f"failing at leaf {self.index}")


def test_failure_inside_a_batch_rolls_it_back_and_resume_matches(
    platform: Platform, ledger: Ledger
) -> None:
    populate(platform, readings=120)
    log, db = ledger.log, ledger.db
    failing = FailAt(index=log.size() - 3)
    runner = ProjectionRunner(log, db, projections=[CarbonReadModels(), failing], batch_size=40)
    committed: list[tuple[int, dict]] = []
    with pytest.raises(RuntimeError, match="failing at leaf"):
        runner.catch_up(progress=lambda done, total: committed.append((done, dump(db))))
    last_position, last_dump = committed[-1]
    assert last_position == (failing.index // 40) * 40 == runner.position()
    assert dump(db) == last_dump  # nothing of the failed batch remains
    with db.transaction() as cur:
        history_now = cur.execute("SELECT COUNT(*) FROM proj_history").fetchone()[0]
    assert failing.rows_seen is not None and failing.rows_seen > history_now

    resumed = ProjectionRunner(log, db, batch_size=40)
    assert resumed.catch_up() == log.size() - last_position
    after_resume = dump(db)
    resumed.rebuild()
    assert dump(db) == after_resume


KILL_CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from ledger.ledger import Ledger
    from projections import CarbonReadModels, ProjectionRunner

    class KillAt:
        tables = ()
        def fingerprint(self):
            return ""
        def create_tables(self, cur):
            pass
        def apply(self, cur, entries):
            if any(e.index == int(sys.argv[2]) for e in entries):
                print("killing", flush=True)
                os.kill(os.getpid(), signal.SIGKILL)

    ledger = Ledger.open(sys.argv[1])
    runner = ProjectionRunner(
        ledger.log, ledger.db, projections=[CarbonReadModels(), KillAt()], batch_size=30
    )
    runner.catch_up(progress=lambda done, total: print("committed", done, flush=True))
    print("finished", flush=True)
    """
)


def test_sigkill_inside_a_batch_leaves_the_last_commit(
    platform: Platform, ledger: Ledger, tmp_path: Path
) -> None:
    populate(platform, readings=60)
    log, db = ledger.log, ledger.db
    kill_at = log.size() - 10
    child = subprocess.run(
        [sys.executable, "-c", KILL_CHILD, str(tmp_path / "data"), str(kill_at)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    lines = child.stdout.split()
    assert "killing" in lines and "finished" not in lines
    runner = ProjectionRunner(log, db, batch_size=30)
    assert runner.position() == (kill_at // 30) * 30
    runner.catch_up()
    assert runner.position() == log.size()
    resumed = dump(db)
    runner.rebuild()
    assert dump(db) == resumed


# -- emissions, by hand ----------------------------------------------------------------------------


def test_hand_computed_emissions(platform: Platform, ledger: Ledger) -> None:
    open_accounts(platform)
    p = platform
    p.enroll("E-1", COMPANY, "electricity")
    p.enroll("E-2", OTHER, "electricity")
    p.enroll("G-1", COMPANY, "natural_gas")
    p.enroll("S-1", COMPANY, "steam")
    p.enroll("C-1", COMPANY, "coal")
    # Zhejiang 2023: 0.4974 kg/kWh; Quzhou has no factor of its own, its parent Zhejiang has.
    p.read("E-1", [(china(2023, 3, 10, 9, 0), "1000", "kWh")])
    # 2 MWh in 2022 at Zhejiang's 0.5153 kg/kWh.
    p.read("E-1", [(china(2022, 6, 1, 9, 0), "2", "MWh")])
    # 23:45-24:00 on 31 March (China time) is March's; 00:00-00:15 on 1 April is April's, even
    # though that is still 31 March in UTC.
    p.read(
        "E-1", [(china(2023, 3, 31, 23, 45), "10", "kWh"), (china(2023, 4, 1, 0, 0), "10", "kWh")]
    )
    # No grid factor for 2019: counted as unconverted, not silently dropped.
    p.read("E-1", [(china(2019, 5, 1, 0, 0), "10", "kWh")])
    # Shanghai has no provincial factor: East China 2023, 0.5500 kg/kWh.
    p.read("E-2", [(china(2023, 3, 10, 9, 0), "1000", "kWh")])
    p.read("G-1", [(china(2023, 3, 10, 9, 0), "100", "m3")])  # x 2.1840291 kg/m3, scope 1
    p.read("S-1", [(china(2023, 3, 10, 9, 0), "10", "t_steam")])  # x 0.2962718 t/t, scope 2
    p.read("C-1", [(china(2023, 3, 10, 9, 0), "2", "t_coal")])  # x 1.9778968 t/t, scope 1
    ledger.log.integrate_all()
    ProjectionRunner(ledger.log, ledger.db).catch_up()

    grid = "cn-grid-mee-nbs@1.0"
    assert emission_rows(ledger.db, COMPANY) == {
        ("2023-03", 2, "electricity/zhejiang/2023"): ("kWh", "1010", "502.374", grid),
        ("2023-04", 2, "electricity/zhejiang/2023"): ("kWh", "10", "4.974", grid),
        ("2022-06", 2, "electricity/zhejiang/2022"): ("kWh", "2000", "1030.600", grid),
        ("2023-03", 1, "natural_gas/CO2"): ("m3", "100", "218.403", "ipcc2006-fuel@1.0"),
        ("2023-03", 2, "steam"): ("t_steam", "10", "2962.718", "cn-heat@1.0"),
        ("2023-03", 1, "coal/CO2"): ("t", "2", "3955.794", "ipcc2006-fuel@1.0"),
    }
    assert emission_rows(ledger.db, OTHER) == {
        ("2023-03", 2, "electricity/east_china/2023"): ("kWh", "1000", "550.000", grid),
    }
    with ledger.db.transaction() as cur:
        unconverted = cur.execute("SELECT account, period, reason FROM proj_unconverted").fetchall()
    assert [(a, period) for a, period, _ in unconverted] == [(COMPANY, "2019-05")]
    assert "2019" in unconverted[0][2]

    result = Evaluations(ledger.log, ledger.db).evaluate_enterprise(COMPANY, 2023)
    assert result["emissions_kg"] == {
        "scope_1": "4174.197",  # 218.403 + 3955.794
        "scope_2": "3470.066",  # 502.374 + 4.974 + 2962.718
        "total": "7644.263",
    }
    assert result["readings"] == 6 and result["unconverted_readings"] == 0
    assert result["missing"] == ["no economic data for 2023"]
    assert result["label"] is None and result["efficiency_code"] is None
    assert {key: used["used_for"] for key, used in result["methodologies"].items()} == {
        grid: ["emissions"],
        "ipcc2006-fuel@1.0": ["emissions"],
        "cn-heat@1.0": ["emissions"],
        "zhejiang-enterprise-evaluation@1.0": ["benchmark"],  # no economic data: no label
    }
    for used in result["methodologies"].values():
        assert used["adopted_at"] is not None  # adopt_all_methodologies wrote them to the log
    with pytest.raises(NotAnEnterprise):
        Evaluations(ledger.log, ledger.db).evaluate_enterprise(RESIDENT, 2023)
    with pytest.raises(UnknownAccount):
        Evaluations(ledger.log, ledger.db).evaluate_enterprise("nobody", 2023)


# -- labels and codes at their boundaries ----------------------------------------------------------

# 51 GJ of heat a year at 0.11 t/GJ is 5610 kg; against textiles' 0.85 t CO2 per 10^4 CNY the
# value added that puts K = intensity / benchmark exactly on each band's edge is a whole number.
BOUNDARIES = [
    # year, value added, K, label, code
    (2001, "110000", "0.6000", "dark_green", 1),
    (2002, "109999.99", "0.6000", "dark_green", 2),
    (2003, "82500", "0.8000", "dark_green", 2),
    (2004, "82499.99", "0.8000", "light_green", 3),
    (2005, "66000", "1.0000", "light_green", 3),
    (2006, "65999.99", "1.0000", "yellow", 3),
    (2007, "55000", "1.2000", "yellow", 3),
    (2008, "54999.99", "1.2000", "red", 4),
    (2009, "33000", "2.0000", "red", 4),
    (2010, "32999.99", "2.0000", "red", 5),
]


def test_label_and_code_boundaries(platform: Platform, ledger: Ledger) -> None:
    p = platform
    p.service.open_account(kind="enterprise", credit_code=GAUGE, industry="textiles")
    p.enroll("H-1", GAUGE, "heat")
    p.read("H-1", [(china(year, 6, 1, 12, 0), "51", "GJ") for year, *_ in BOUNDARIES])
    for year, value_added, *_ in BOUNDARIES:
        p.report(GAUGE, str(year), value_added=value_added, tax="20000")
    ledger.log.integrate_all()
    ProjectionRunner(ledger.log, ledger.db).catch_up()
    evaluations = Evaluations(ledger.log, ledger.db)
    for year, value_added, ratio, label, code in BOUNDARIES:
        result = evaluations.evaluate_enterprise(GAUGE, year)
        assert result["emissions_kg"]["total"] == "5610.000"
        assert (result["ratio_to_benchmark"], result["label"], result["efficiency_code"]) == (
            ratio,
            label,
            code,
        ), (year, value_added)
    exact = evaluations.evaluate_enterprise(GAUGE, 2003)
    assert exact["intensity"] == {
        "per_output": {"value": "5.610", "unit": "kg CO2/t"},
        "per_value_added": {"value": "0.6800", "unit": "t CO2/10^4 CNY"},
        "per_tax": {"value": "2.8050", "unit": "t CO2/10^4 CNY"},
    }
    assert exact["carbon_level"] == "medium"
    assert exact["benchmark"] == {
        "industry": "textiles",
        "value": "0.85",
        "unit": "t CO2/10^4 CNY",
        "methodology": "zhejiang-enterprise-evaluation@1.0",
    }
    assert exact["methodologies"]["zhejiang-enterprise-evaluation@1.0"]["used_for"] == [
        "benchmark",
        "carbon_level",
        "efficiency_code",
        "label",
    ]
    assert exact["missing"] == []


# -- personal grades, balances, and what every result carries --------------------------------------


def test_results_carry_log_size_and_checkpoint(platform: Platform, ledger: Ledger) -> None:
    open_accounts(platform)
    platform.service.award_points(
        account=RESIDENT,
        action="bus_ride",
        quantity="99",
        methodology="quzhou-points@1.0",
        cites="monthly pass",
    )
    platform.ride("r-1")  # 990 + 10 = 1000 points earned: the sapling grade starts there
    platform.service.redeem_points(account=RESIDENT, points=200, item="tissue_pack")
    log, db = ledger.log, ledger.db
    log.integrate_all()
    runner = ProjectionRunner(log, db)
    runner.catch_up()
    evaluations = Evaluations(log, db)

    # No checkpoint signed yet: the result names its size and root, and no checkpoint.
    grade = evaluations.personal_grade(RESIDENT)
    size = log.size()
    assert grade["log"] == {"size": size, "root_hash": b64(log.root(size)), "checkpoint": None}
    assert (grade["grade"], grade["points_earned"], grade["points"]) == ("sapling", 1000, 800)
    assert grade["methodologies"]["quzhou-points@1.0"]["used_for"] == ["grade"]

    # A checkpoint of exactly that size covers it.
    ledger.log.sign_checkpoint(force=True)
    balances = evaluations.balances(RESIDENT)
    checkpoint = balances["log"]["checkpoint"]
    assert checkpoint["size"] == size and checkpoint["root_hash"] == balances["log"]["root_hash"]
    assert checkpoint["consistency_proof"] == []
    assert checkpoint["origin"] == "test.carbonledger/log"
    assert open_note(checkpoint["note"].encode(), [ledger.verifier_key])

    # The log grows and a new checkpoint is signed; the projection lags: the result is still
    # at its position, and the checkpoint covers it with a consistency proof.
    platform.ride("r-2")
    log.integrate_all()
    ledger.log.sign_checkpoint(force=True)
    lagging = evaluations.balances(RESIDENT)
    assert lagging["points"] == 800 and lagging["log"]["size"] == size < log.size()
    later = lagging["log"]["checkpoint"]
    assert later["size"] == log.size()
    verify_consistency(
        size,
        later["size"],
        [base64.b64decode(h) for h in later["consistency_proof"]],
        log.root(size),
        log.root(later["size"]),
    )

    # Caught up past the latest checkpoint: no checkpoint covers the result yet.
    platform.ride("r-3")
    log.integrate_all()
    runner.catch_up()
    ahead = evaluations.balances(RESIDENT)
    assert ahead["points"] == 820 and ahead["log"]["size"] == log.size()
    assert ahead["log"]["checkpoint"] is None


# -- methodologies and the log's integrity ---------------------------------------------------------


def test_other_methodologies_need_a_rebuild(platform: Platform, ledger: Ledger) -> None:
    open_accounts(platform)
    platform.enroll("E-1", COMPANY, "electricity")
    platform.read("E-1", [(china(2022, 3, 10, 9, 0), "1000", "kWh")])
    ledger.log.integrate_all()
    log, db = ledger.log, ledger.db
    ProjectionRunner(log, db).catch_up()
    assert emission_rows(db, COMPANY)[("2022-03", 2, "electricity/zhejiang/2022")][2] == "515.300"

    available = load_methodologies()
    ets = FactorTable(
        [available[k] for k in DEFAULT_ADOPTION if k != "cn-grid-mee-nbs@1.0"]
        + [available["cn-grid-ets@1.0"]]
    )
    other = ProjectionRunner(log, db, ets)
    with pytest.raises(StaleProjection, match="rebuild"):
        other.catch_up()
    with pytest.raises(StaleProjection):
        Evaluations(log, db, ets).balances(COMPANY)
    other.rebuild()
    # The ETS methodology has national factors only: 0.5703 kg/kWh in 2022.
    assert emission_rows(db, COMPANY) == {
        ("2022-03", 2, "electricity/national/2022"): ("kWh", "1000", "570.300", "cn-grid-ets@1.0")
    }
    assert Evaluations(log, db, ets).balances(COMPANY)["meters"] == 1


def test_a_tampered_entry_bundle_is_refused(platform: Platform, ledger: Ledger) -> None:
    open_accounts(platform)
    ledger.log.integrate_all()
    with ledger.db.transaction(write=True) as cur:
        (data,) = cur.execute("SELECT data FROM log_tiles WHERE level = -1 AND n = 0").fetchone()
        data = bytes(data).replace(b'"industry":"textiles"', b'"industry":"cement__"')
        cur.execute("UPDATE log_tiles SET data = ? WHERE level = -1 AND n = 0", (data,))
    runner = ProjectionRunner(ledger.log, ledger.db)
    with pytest.raises(LogMismatch, match="does not match its leaf hash"):
        runner.catch_up()
    assert runner.position() == 0
