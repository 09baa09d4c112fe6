"""Evaluations computed on request from the read models: enterprise emissions, intensities, colour
label and carbon-efficiency code; personal grades; balances.

Every result says where it stands in the log: ``log.size`` is the projection's position (the
result is a function of the log's first ``size`` entries), ``log.root_hash`` the root of that
tree, and ``log.checkpoint`` the latest signed checkpoint when it covers that size (its origin,
size, root hash, the signed note and the consistency proof from ``size`` to it), else None: then
the next checkpoint will cover it. Results also name the methodology versions (``id@version``,
digest, and the leaf that adopted it in the log, if any) they used.

Decimals are returned as plain strings (never floats): kg CO2 to 0.001, intensities per 10^4 CNY
in t CO2 to 0.0001, per unit of output in kg CO2 to 0.001, all rounded half to even. Labels and
codes are decided on the exact quantities, not on the rounded ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import Any

from domain.errors import RequestError
from domain.methodology import FactorTable, MethodologyError
from ledger.db import Cursor, Database
from ledger.entry import b64
from ledger.log import Log
from projections.errors import NotAnEnterprise, StaleProjection, UnknownAccount
from projections.models import EXACT, ZERO, CarbonReadModels, decimal_text
from projections.runner import create_projection_tables

__all__ = ["Evaluations"]

KG = Decimal("0.001")
INTENSITY = Decimal("0.0001")
RATIO = Decimal("0.0001")
# Quotients are rounded once, at the end, from 60 significant digits.
_DIVIDE = Context(prec=60)
_MASS_IN_T = {"g": -6, "kg": -3, "t": 0}  # powers of ten


def _quotient(numerator: Decimal, denominator: Decimal, quantum: Decimal) -> str | None:
    if denominator == 0:
        return None
    return decimal_text(
        _DIVIDE.divide(numerator, denominator).quantize(quantum, rounding=ROUND_HALF_EVEN)
    )


class Evaluations:
    """Answers evaluation requests from the read models that a ProjectionRunner of the same
    ``name`` keeps. ``factors`` must be the table the runner converts with (default: the
    platform's default adoption); a mismatch raises StaleProjection rather than mixing versions.
    """

    def __init__(
        self,
        log: Log,
        db: Database,
        factors: FactorTable | None = None,
        *,
        name: str = "carbon",
    ) -> None:
        self.log = log
        self.db = db
        self.name = name
        models = CarbonReadModels(factors)
        self.factors = models.factors
        self._built_with = models.fingerprint()
        create_projection_tables(db, (models,))

    # -- reading -------------------------------------------------------------------------------

    @contextmanager
    def _snapshot(self) -> Iterator[tuple[Cursor, int]]:
        """A read transaction over one consistent state of the read models, and its position."""
        with self.db.transaction() as cur:
            if self.db.engine != "sqlite":
                cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            row = cur.execute(
                "SELECT size, built_with FROM proj_position WHERE name = ?", (self.name,)
            ).fetchone()
            size = 0 if row is None else int(row[0])
            if size and self._built_with not in str(row[1]).split(" | "):
                raise StaleProjection(
                    f"projection {self.name!r} was built with {row[1]}; these evaluations use "
                    f"{self._built_with}"
                )
            yield cur, size

    def _account(self, cur: Cursor, account: str, size: int) -> tuple[Any, ...]:
        row = cur.execute(
            "SELECT account, kind, region, industry, points, points_earned, points_redeemed,"
            " reduction_g, claims FROM proj_accounts WHERE account = ?",
            (account,),
        ).fetchone()
        if row is None:
            raise UnknownAccount(f"account {account!r} is not in the log's first {size} entries")
        return row

    def _adopted(self, cur: Cursor) -> dict[str, tuple[str, int]]:
        rows = cur.execute("SELECT methodology, digest, leaf_index FROM proj_methodologies")
        return {key: (digest, int(index)) for key, digest, index in rows.fetchall()}

    def _methodologies(
        self, used: dict[str, list[str]], adopted: dict[str, tuple[str, int]]
    ) -> dict[str, Any]:
        digests = self.factors.digests()
        out = {}
        for key in sorted(used):
            digest = digests.get(key)
            in_log = adopted.get(key)
            out[key] = {
                "digest": digest,
                "used_for": sorted(set(used[key])),
                # The leaf that adopted exactly this data, or None if the log never did.
                "adopted_at": in_log[1] if in_log is not None and in_log[0] == digest else None,
            }
        return out

    def log_state(self, size: int) -> dict[str, Any]:
        """Return where a result computed from the log's first ``size`` entries stands: that
        size and its root hash, and the latest signed checkpoint if it covers that size."""
        state: dict[str, Any] = {
            "size": size,
            "root_hash": b64(self.log.root(size)),
            "checkpoint": None,
        }
        latest = self.log.latest_checkpoint()
        if latest is not None and latest.checkpoint.size >= size:
            checkpoint = latest.checkpoint
            state["checkpoint"] = {
                "origin": checkpoint.origin,
                "size": checkpoint.size,
                "root_hash": b64(checkpoint.root_hash),
                "note": latest.note.decode("utf-8"),
                "consistency_proof": [
                    b64(h) for h in self.log.consistency_proof(size, checkpoint.size)
                ],
            }
        return state

    # -- evaluations ---------------------------------------------------------------------------

    def evaluate_enterprise(self, account: str, year: int) -> dict[str, Any]:
        """Return an enterprise's evaluation for a calendar year (China time): emissions by scope,
        intensities per unit of output, per 10^4 CNY of value added and of tax, the colour label
        and carbon-efficiency code against its industry benchmark, and what could not be
        evaluated (``missing``), with the log size and checkpoint it stands at.

        Economic data is the annual report (period ``YYYY``) if there is one, else the sum of the
        monthly reports; intensities set the emissions of the same months against it.
        """
        if isinstance(year, bool) or not isinstance(year, int) or not 1900 <= year <= 9999:
            raise RequestError(f"year must be a whole year such as 2024, not {year!r}")
        first, last = f"{year:04d}-01", f"{year:04d}-12"
        with self._snapshot() as (cur, size):
            row = self._account(cur, account, size)
            kind, region, industry = row[1], row[2], row[3]
            if kind != "enterprise":
                raise NotAnEnterprise(f"account {account!r} is a {kind} account, not an enterprise")
            emissions = cur.execute(
                "SELECT period, scope, methodology, kg_co2, readings FROM proj_emissions"
                " WHERE account = ? AND period >= ? AND period <= ?",
                (account, first, last),
            ).fetchall()
            unconverted_row = cur.execute(
                "SELECT COUNT(*) FROM proj_unconverted"
                " WHERE account = ? AND period >= ? AND period <= ?",
                (account, first, last),
            ).fetchone()
            economic = cur.execute(
                "SELECT period, output, output_unit, value_added, tax FROM proj_economic"
                " WHERE account = ? AND (period = ? OR (period >= ? AND period <= ?))"
                " ORDER BY period",
                (account, f"{year:04d}", first, last),
            ).fetchall()
            adopted = self._adopted(cur)
        unconverted = int(unconverted_row[0]) if unconverted_row else 0

        used: dict[str, list[str]] = {}
        scopes = {1: ZERO, 2: ZERO}
        by_period: dict[str, Decimal] = {}
        readings = 0
        for period, scope, methodology, kg_co2, count in emissions:
            kg = Decimal(kg_co2)
            scopes[int(scope)] = EXACT.add(scopes.get(int(scope), ZERO), kg)
            by_period[period] = EXACT.add(by_period.get(period, ZERO), kg)
            readings += int(count)
            used.setdefault(methodology, []).append("emissions")
        total = EXACT.add(scopes[1], scopes[2])
        missing: list[str] = []
        if unconverted:
            missing.append(f"{unconverted} readings of {year} could not be converted to CO2")

        # Economic data: the annual report, else the months reported.
        basis = self._economic_basis(economic, year, by_period, total, missing)
        result: dict[str, Any] = {
            "account": account,
            "year": year,
            "region": region,
            "industry": industry,
            "emissions_kg": {
                "scope_1": decimal_text(scopes[1]),
                "scope_2": decimal_text(scopes[2]),
                "total": decimal_text(total),
            },
            "readings": readings,
            "unconverted_readings": unconverted,
            "economic": None,
            "intensity": {"per_output": None, "per_value_added": None, "per_tax": None},
            "benchmark": None,
            "ratio_to_benchmark": None,
            "label": None,
            "efficiency_code": None,
            "carbon_level": None,
        }
        benchmark_t = self._benchmark(industry, result, used, missing)
        if basis is not None:
            periods, basis_kg, output, output_unit, value_added, tax = basis
            result["economic"] = {
                "periods": periods,
                "emissions_kg": decimal_text(basis_kg),
                "output": None if output is None else decimal_text(output),
                "output_unit": output_unit,
                "value_added": decimal_text(value_added),
                "tax": decimal_text(tax),
            }
            ten_kg = basis_kg.scaleb(1)  # kg / 10^3 per (CNY / 10^4) = kg * 10 / CNY
            intensity = result["intensity"]
            if output is not None and output_unit is not None:
                value = _quotient(basis_kg, output, KG)
                if value is not None:
                    intensity["per_output"] = {"value": value, "unit": f"kg CO2/{output_unit}"}
            for name, denominator in (("per_value_added", value_added), ("per_tax", tax)):
                value = _quotient(ten_kg, denominator, INTENSITY)
                if value is not None:
                    intensity[name] = {"value": value, "unit": "t CO2/10^4 CNY"}
            if value_added == 0:
                missing.append("value added is 0: no intensity, label or code")
            else:
                self._grade(ten_kg, value_added, benchmark_t, result, used, missing)
        result["missing"] = missing
        result["methodologies"] = self._methodologies(used, adopted)
        result["log"] = self.log_state(size)
        return result

    def _economic_basis(
        self,
        economic: list[tuple[Any, ...]],
        year: int,
        by_period: dict[str, Decimal],
        total: Decimal,
        missing: list[str],
    ) -> tuple[list[str], Decimal, Decimal | None, str | None, Decimal, Decimal] | None:
        annual = [r for r in economic if r[0] == f"{year:04d}"]
        monthly = [r for r in economic if r[0] != f"{year:04d}"]
        if annual:
            report = annual[0]
            return (
                [f"{year:04d}"],
                total,
                Decimal(report[1]),
                report[2],
                Decimal(report[3]),
                Decimal(report[4]),
            )
        if not monthly:
            missing.append(f"no economic data for {year}")
            return None
        periods = [r[0] for r in monthly]
        basis_kg = ZERO
        for period in periods:
            basis_kg = EXACT.add(basis_kg, by_period.get(period, ZERO))
        units = {r[2] for r in monthly}
        output: Decimal | None = None
        output_unit = None
        if len(units) == 1:
            output_unit = units.pop()
            output = ZERO
            for r in monthly:
                output = EXACT.add(output, Decimal(r[1]))
        else:
            missing.append("monthly output is reported in different units: no output intensity")
        value_added = tax = ZERO
        for r in monthly:
            value_added = EXACT.add(value_added, Decimal(r[3]))
            tax = EXACT.add(tax, Decimal(r[4]))
        if len(periods) < 12:
            missing.append(
                f"economic data covers {len(periods)} months of {year}: intensities are for "
                "those months"
            )
        return periods, basis_kg, output, output_unit, value_added, tax

    def _benchmark(
        self,
        industry: str | None,
        result: dict[str, Any],
        used: dict[str, list[str]],
        missing: list[str],
    ) -> Decimal | None:
        if not industry:
            missing.append("the account names no industry: no benchmark")
            return None
        try:
            factor = self.factors.benchmark(industry)
        except MethodologyError as exc:
            missing.append(str(exc))
            return None
        mass, _, denominator = factor.unit.partition(" CO2/")
        if mass not in _MASS_IN_T or denominator != "10^4 CNY":
            missing.append(f"benchmark unit {factor.unit!r} is not CO2 per 10^4 CNY")
            return None
        result["benchmark"] = {
            "industry": industry,
            "value": decimal_text(factor.value),
            "unit": factor.unit,
            "methodology": factor.methodology,
        }
        used.setdefault(factor.methodology, []).append("benchmark")
        return factor.value.scaleb(_MASS_IN_T[mass])

    def _grade(
        self,
        ten_kg: Decimal,
        value_added: Decimal,
        benchmark_t: Decimal | None,
        result: dict[str, Any],
        used: dict[str, list[str]],
        missing: list[str],
    ) -> None:
        # intensity = ten_kg / value_added (t CO2 per 10^4 CNY). Against the benchmark, compare
        # ten_kg with benchmark * value_added: the same ratio, with no division to round.
        intensity = _DIVIDE.divide(ten_kg, value_added)
        scaled = ZERO
        rules: tuple[tuple[str, str], ...] = (("carbon_level", "carbon_level"),)
        if benchmark_t is not None:
            scaled = EXACT.multiply(benchmark_t, value_added)
            result["ratio_to_benchmark"] = _quotient(ten_kg, scaled, RATIO)
            rules = (("label", "labels"), ("efficiency_code", "efficiency_code"), *rules)
        for field, rule in rules:
            try:
                if field == "label":
                    result[field] = self.factors.label_for(ten_kg, scaled)
                elif field == "efficiency_code":
                    result[field] = self.factors.efficiency_code(ten_kg, scaled)
                else:
                    result[field] = self.factors.carbon_level(intensity)
                used.setdefault(self.factors.rule_methodology(rule), []).append(field)
            except MethodologyError as exc:
                missing.append(str(exc))

    def personal_grade(self, account: str) -> dict[str, Any]:
        """Return an account's personal grade from the points it has earned in total (awards, not
        the balance after redemptions), with the log size and checkpoint it stands at."""
        with self._snapshot() as (cur, size):
            row = self._account(cur, account, size)
            adopted = self._adopted(cur)
        earned = int(row[5])
        result: dict[str, Any] = {
            "account": account,
            "kind": row[1],
            "points_earned": earned,
            "points": int(row[4]),
            "grade": None,
            "missing": [],
        }
        used: dict[str, list[str]] = {}
        try:
            result["grade"] = self.factors.personal_grade(earned)
            used[self.factors.rule_methodology("personal_grades")] = ["grade"]
        except MethodologyError as exc:
            result["missing"].append(str(exc))
        result["methodologies"] = self._methodologies(used, adopted)
        result["log"] = self.log_state(size)
        return result

    def latest_year(self, account: str) -> int | None:
        """The latest year with emissions recorded for ``account``, or None when there is none."""
        with self.db.transaction() as cur:
            row = cur.execute(
                "SELECT MAX(period) FROM proj_emissions WHERE account = ?", (account,)
            ).fetchone()
        return int(row[0][:4]) if row is not None and row[0] else None

    def balances(self, account: str) -> dict[str, Any]:
        """Return an account's points (balance, awarded, redeemed), its recorded reductions in
        grams CO2 and claim count, and its meters, with the log size and checkpoint."""
        with self._snapshot() as (cur, size):
            row = self._account(cur, account, size)
            meters = cur.execute(
                "SELECT COUNT(*) FROM proj_meters WHERE account = ?", (account,)
            ).fetchone()
        return {
            "account": account,
            "kind": row[1],
            "region": row[2],
            "industry": row[3],
            "points": int(row[4]),
            "points_earned": int(row[5]),
            "points_redeemed": int(row[6]),
            "reduction_g": row[7],
            "claims": int(row[8]),
            "meters": int(meters[0]) if meters else 0,
            "log": self.log_state(size),
        }

    def history(self, account: str, *, after: int = -1, limit: int = 100) -> dict[str, Any]:
        """Return up to ``limit`` of the account's entries with leaf index above ``after``
        (leaf index, type, stream), oldest first, with the log size they stand at."""
        limit = max(1, min(int(limit), 1000))
        with self._snapshot() as (cur, size):
            self._account(cur, account, size)
            rows = cur.execute(
                "SELECT leaf_index, type, stream FROM proj_history"
                " WHERE account = ? AND leaf_index > ? ORDER BY leaf_index LIMIT ?",
                (account, int(after), limit),
            ).fetchall()
        return {
            "account": account,
            "entries": [
                {"leaf_index": int(index), "type": kind, "stream": stream}
                for index, kind, stream in rows
            ],
            "log": self.log_state(size),
        }

    def claim_key_holder(self, claim_key: str) -> dict[str, Any] | None:
        """Return the claim, account and leaf index that hold ``claim_key``, or None."""
        with self._snapshot() as (cur, size):
            row = cur.execute(
                "SELECT claim, account, leaf_index FROM proj_claim_keys WHERE claim_key = ?",
                (claim_key,),
            ).fetchone()
        if row is None:
            return None
        return {
            "claim_key": claim_key,
            "claim": row[0],
            "account": row[1],
            "leaf_index": int(row[2]),
            "log": self.log_state(size),
        }
