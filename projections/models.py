"""The carbon read models: SQL tables built from log entries in leaf order (SQLite and PostgreSQL).

Every table is a function of the log's first N entries (N being the projection's position) and of
the adopted methodologies, so anyone holding the log and the same methodology files gets the same
rows. Quantities are exact: decimals are stored as TEXT and summed in Python with
:class:`decimal.Decimal` under a context that traps any rounding; points are integers.

Tables (all prefixed ``proj_``):

- ``proj_accounts``: account -> kind, region, industry, points balance (awarded minus redeemed),
  points awarded and redeemed in total, reduction in grams from recorded claims, claim count.
- ``proj_meters``: serial -> stream, account, carrier, readings projected.
- ``proj_emissions``: kg CO2 per account, period (YYYY-MM, China time), scope, carrier and the
  methodology and factor that converted it, with the quantity metered (electricity in kWh, other
  carriers in the unit their factor is per).
- ``proj_unconverted``: readings no factor could convert (no interval quantity, no factor for the
  year, unknown unit), with the reason, so a gap in the emissions is visible rather than silent.
- ``proj_economic``: output, value added and tax per account and period (the latest report wins).
- ``proj_claims`` and ``proj_claim_keys``: recorded claims and the key index (key -> claim,
  account, leaf index of the ``claimkey.held/v1`` entry that holds it).
- ``proj_history``: (account, leaf index, type, stream) of the entries that concern an account:
  its own stream, its claims, its meters' enrolment and key changes, its economic reports. Meter
  readings are summarised in ``proj_emissions`` instead of being listed one by one.
- ``proj_methodologies``: methodologies adopted in the log (``id@version``, digest, leaf index).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import (
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
)
from typing import Any, Protocol

from domain import events as ev
from domain.methodology import (
    DEFAULT_ADOPTION,
    FactorTable,
    MethodologyError,
    emissions_kg,
    load_methodologies,
)
from ledger.db import Cursor
from ledger.entry import Entry
from projections.errors import LogMismatch

__all__ = [
    "CHINA",
    "SCHEMA",
    "CarbonReadModels",
    "LoggedEntry",
    "Projection",
    "decimal_text",
    "default_factor_table",
    "reading_period",
]

# Periods are calendar months in China Standard Time (UTC+8, no daylight saving).
CHINA = timezone(timedelta(hours=8), "CST")
NATIONAL = "national"  # the root region of every grid methodology (see domain/methodology.py)
ZERO = Decimal(0)
# Sums must be exact: any rounding raises instead of silently losing a digit.
EXACT = Context(prec=60, traps=[InvalidOperation, Inexact, Overflow, DivisionByZero])
_MAX_REGION_DEPTH = 16
_CHUNK = 400

SCHEMA: dict[str, tuple[str, ...]] = {
    "proj_accounts": (
        "CREATE TABLE IF NOT EXISTS proj_accounts ("
        " account TEXT PRIMARY KEY,"
        " kind TEXT NOT NULL,"
        " region TEXT,"
        " industry TEXT,"
        " points BIGINT NOT NULL,"
        " points_earned BIGINT NOT NULL,"
        " points_redeemed BIGINT NOT NULL,"
        " reduction_g TEXT NOT NULL,"
        " claims BIGINT NOT NULL,"
        " opened_index BIGINT NOT NULL)",
    ),
    "proj_meters": (
        "CREATE TABLE IF NOT EXISTS proj_meters ("
        " serial TEXT PRIMARY KEY,"
        " stream TEXT NOT NULL UNIQUE,"
        " account TEXT NOT NULL,"
        " carrier TEXT NOT NULL,"
        " readings BIGINT NOT NULL,"
        " enrolled_index BIGINT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS proj_meters_account ON proj_meters (account)",
    ),
    "proj_emissions": (
        "CREATE TABLE IF NOT EXISTS proj_emissions ("
        " account TEXT NOT NULL,"
        " period TEXT NOT NULL,"
        " scope INTEGER NOT NULL,"
        " carrier TEXT NOT NULL,"
        " methodology TEXT NOT NULL,"
        " factor TEXT NOT NULL,"
        " unit TEXT NOT NULL,"
        " quantity TEXT NOT NULL,"
        " kg_co2 TEXT NOT NULL,"
        " readings BIGINT NOT NULL,"
        " PRIMARY KEY (account, period, scope, carrier, methodology, factor))",
    ),
    "proj_unconverted": (
        "CREATE TABLE IF NOT EXISTS proj_unconverted ("
        " leaf_index BIGINT PRIMARY KEY,"
        " account TEXT,"
        " period TEXT,"
        " reason TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS proj_unconverted_account ON proj_unconverted (account, period)",
    ),
    "proj_economic": (
        "CREATE TABLE IF NOT EXISTS proj_economic ("
        " account TEXT NOT NULL,"
        " period TEXT NOT NULL,"
        " output TEXT NOT NULL,"
        " output_unit TEXT NOT NULL,"
        " value_added TEXT NOT NULL,"
        " tax TEXT NOT NULL,"
        " reporter TEXT NOT NULL,"
        " leaf_index BIGINT NOT NULL,"
        " PRIMARY KEY (account, period))",
    ),
    "proj_claims": (
        "CREATE TABLE IF NOT EXISTS proj_claims ("
        " claim TEXT PRIMARY KEY,"
        " account TEXT NOT NULL,"
        " methodology TEXT NOT NULL,"
        " action TEXT NOT NULL,"
        " quantity TEXT NOT NULL,"
        " reduction_g TEXT NOT NULL,"
        " points BIGINT NOT NULL,"
        " keys BIGINT NOT NULL,"
        " leaf_index BIGINT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS proj_claims_account ON proj_claims (account)",
    ),
    "proj_claim_keys": (
        "CREATE TABLE IF NOT EXISTS proj_claim_keys ("
        " claim_key TEXT PRIMARY KEY,"
        " claim TEXT NOT NULL,"
        " account TEXT NOT NULL,"
        " leaf_index BIGINT NOT NULL)",
    ),
    "proj_history": (
        "CREATE TABLE IF NOT EXISTS proj_history ("
        " account TEXT NOT NULL,"
        " leaf_index BIGINT NOT NULL,"
        " type TEXT NOT NULL,"
        " stream TEXT NOT NULL,"
        " PRIMARY KEY (account, leaf_index))",
    ),
    "proj_methodologies": (
        "CREATE TABLE IF NOT EXISTS proj_methodologies ("
        " methodology TEXT PRIMARY KEY,"
        " kind TEXT NOT NULL,"
        " digest TEXT NOT NULL,"
        " leaf_index BIGINT NOT NULL)",
    ),
}


def default_factor_table() -> FactorTable:
    """Return the factor table of the platform's default adoption, the same one
    :class:`domain.service.CarbonAccounts` uses: the shipped methodologies named in
    ``DEFAULT_ADOPTION``. (Adopting every shipped file at once is refused by FactorTable: two grid
    methodologies would both answer the same lookup.)"""
    methodologies = load_methodologies()
    return FactorTable.adopting([k for k in DEFAULT_ADOPTION if k in methodologies], methodologies)


def decimal_text(value: Decimal) -> str:
    """Return the plain (never exponent) text of a decimal, as stored in TEXT columns."""
    return format(value, "f")


@dataclass(frozen=True, slots=True)
class LoggedEntry:
    """A log entry with its leaf index, decoded."""

    index: int
    entry: Entry


class Projection(Protocol):
    """A read model the runner keeps: its tables, what it was built with, and how a batch of
    entries changes it. ``apply`` runs inside the batch's write transaction, with the position
    update, so what it writes commits with the position or not at all."""

    tables: tuple[str, ...]

    def fingerprint(self) -> str:
        """Return what the tables depend on besides the log (e.g. methodology digests)."""
        ...

    def create_tables(self, cur: Cursor) -> None: ...

    def apply(self, cur: Cursor, entries: Sequence[LoggedEntry]) -> None: ...


class CarbonReadModels:
    """The read models of accounts, meters, emissions, economic data, claims and history.

    ``factors`` converts readings to kg CO2; rows name the ``id@version`` and factor they used,
    and :meth:`fingerprint` (the adopted methodologies and their digests) is kept with the
    position, so read models built with other factors are never extended, only rebuilt.
    """

    tables = tuple(SCHEMA)

    def __init__(self, factors: FactorTable | None = None) -> None:
        self.factors = factors if factors is not None else default_factor_table()

    def fingerprint(self) -> str:
        digests = self.factors.digests()
        return "methodologies " + " ".join(f"{key}={digests[key]}" for key in sorted(digests))

    def create_tables(self, cur: Cursor) -> None:
        for statements in SCHEMA.values():
            for statement in statements:
                cur.execute(statement)

    def apply(self, cur: Cursor, entries: Sequence[LoggedEntry]) -> None:
        _Batch(self.factors, cur).run(entries)


# -- applying a batch ------------------------------------------------------------------------------


@dataclass(slots=True)
class _Account:
    account: str
    kind: str
    region: str | None
    industry: str | None
    points: int
    points_earned: int
    points_redeemed: int
    reduction_g: Decimal
    claims: int
    opened_index: int
    dirty: bool = False

    def row(self) -> tuple[Any, ...]:
        return (
            self.account,
            self.kind,
            self.region,
            self.industry,
            self.points,
            self.points_earned,
            self.points_redeemed,
            decimal_text(self.reduction_g),
            self.claims,
            self.opened_index,
        )


@dataclass(slots=True)
class _Meter:
    serial: str
    stream: str
    account: str
    carrier: str
    readings: int
    enrolled_index: int
    dirty: bool = False

    def row(self) -> tuple[Any, ...]:
        return (
            self.serial,
            self.stream,
            self.account,
            self.carrier,
            self.readings,
            self.enrolled_index,
        )


@dataclass(slots=True)
class _Emission:
    unit: str
    quantity: Decimal
    kg_co2: Decimal
    readings: int


class _Unconvertible(Exception):
    """A reading whose quantity cannot be put to any factor."""


_ACCOUNT_COLUMNS = (
    "account, kind, region, industry, points, points_earned, points_redeemed, reduction_g,"
    " claims, opened_index"
)
_METER_COLUMNS = "serial, stream, account, carrier, readings, enrolled_index"
_EMISSION_KEY = "account, period, scope, carrier, methodology, factor"


def _upsert(table: str, columns: str, key: str) -> str:
    names = [c.strip() for c in columns.split(",")]
    keys = {k.strip() for k in key.split(",")}
    updates = ", ".join(f"{n} = excluded.{n}" for n in names if n not in keys)
    marks = ", ".join("?" for _ in names)
    return (
        f"INSERT INTO {table} ({columns}) VALUES ({marks}) "
        f"ON CONFLICT ({key}) DO UPDATE SET {updates}"
    )


def _insert(table: str, columns: str, *, keep_first: bool = False) -> str:
    marks = ", ".join("?" for _ in columns.split(","))
    tail = " ON CONFLICT DO NOTHING" if keep_first else ""
    return f"INSERT INTO {table} ({columns}) VALUES ({marks}){tail}"


UPSERT_ACCOUNT = _upsert("proj_accounts", _ACCOUNT_COLUMNS, "account")
UPSERT_METER = _upsert("proj_meters", _METER_COLUMNS, "serial")
UPSERT_EMISSION = _upsert(
    "proj_emissions", _EMISSION_KEY + ", unit, quantity, kg_co2, readings", _EMISSION_KEY
)
UPSERT_ECONOMIC = _upsert(
    "proj_economic",
    "account, period, output, output_unit, value_added, tax, reporter, leaf_index",
    "account, period",
)
INSERT_UNCONVERTED = _insert("proj_unconverted", "leaf_index, account, period, reason")
# Claims and claim keys are unique in the store already; should a log ever repeat one, the first
# entry keeps it (the earliest holder wins) rather than wedging the projection.
INSERT_CLAIM = _insert(
    "proj_claims",
    "claim, account, methodology, action, quantity, reduction_g, points, keys, leaf_index",
    keep_first=True,
)
INSERT_CLAIM_KEY = _insert(
    "proj_claim_keys", "claim_key, claim, account, leaf_index", keep_first=True
)
INSERT_HISTORY = _insert("proj_history", "account, leaf_index, type, stream")
INSERT_METHODOLOGY = _insert(
    "proj_methodologies", "methodology, kind, digest, leaf_index", keep_first=True
)


def _chunks(values: Iterable[Any], size: int = _CHUNK) -> Iterable[list[Any]]:
    items = list(values)
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _marks(values: Sequence[Any]) -> str:
    return ", ".join("?" for _ in values)


def _parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def reading_period(reading: ev.MeterReading, entry_time: str) -> tuple[str, int]:
    """Return the period (``YYYY-MM``) and year, in China time, that a reading belongs to.

    A reading belongs to the month of its interval's end, taken as the interval's last instant:
    the 23:45-24:00 reading of 31 January is January's, not February's. A reading without an
    interval belongs to the month of its time (the entry's time if it has none)."""
    if reading.end:
        moment = _parse_time(reading.end)
        if reading.start and _parse_time(reading.start) < moment:
            moment -= timedelta(microseconds=1)
    else:
        moment = _parse_time(reading.time or entry_time)
    local = moment.astimezone(CHINA)
    return f"{local.year:04d}-{local.month:02d}", local.year


def _metered(quantity: Decimal, unit: object, carrier: str) -> tuple[Decimal, str]:
    """The quantity in a unit ``emissions_kg`` takes: meters report Wh, t_coal and, for steam,
    plain t, which the factor table names kWh, t and t_steam."""
    if not isinstance(unit, str):
        raise _Unconvertible(f"the reading has no unit for its quantity {quantity}")
    if unit == "Wh":
        return quantity.scaleb(-3, EXACT), "kWh"
    if unit == "t_coal":
        return quantity, "t"
    if carrier == "steam" and unit == "t":
        return quantity, "t_steam"
    return quantity, unit


def _in_unit(quantity: Decimal, unit: str, target: str) -> Decimal:
    if unit == target:
        return quantity
    if (unit, target) == ("kWh", "MWh"):
        return quantity.scaleb(-3, EXACT)
    if (unit, target) == ("MWh", "kWh"):
        return quantity.scaleb(3, EXACT)
    raise _Unconvertible(f"a quantity in {unit} cannot be stated per {target}")


class _Batch:
    """One batch of entries applied to the read models: state is loaded once, changed in memory
    in leaf order, then written with one statement per table."""

    def __init__(self, factors: FactorTable, cur: Cursor) -> None:
        self.factors = factors
        self.cur = cur
        self.accounts: dict[str, _Account | None] = {}
        self.meters: dict[str, _Meter | None] = {}  # by stream
        self.emissions: dict[tuple[str, str, int, str, str, str], _Emission] = {}
        self.unconverted: list[tuple[int, str | None, str | None, str]] = []
        self.economic: dict[tuple[str, str], tuple[Any, ...]] = {}
        self.claims: list[tuple[Any, ...]] = []
        self.claim_keys: list[tuple[str, str, str, int]] = []
        self.history: list[tuple[str, int, str, str]] = []
        self.methodologies: list[tuple[str, str, str, int]] = []
        self.grid_regions: dict[tuple[str, int], str] = {}
        self.events: list[ev.Event | None] = []  # the entries' typed events, None for others

    def run(self, entries: Sequence[LoggedEntry]) -> None:
        self._prefetch(entries)
        handlers = _HANDLERS
        for logged, event in zip(entries, self.events, strict=True):
            handler = None if event is None else handlers.get(type(event))
            if handler is not None:
                handler(self, logged.index, logged.entry, event)
        self._write()

    # -- state ---------------------------------------------------------------------------------

    def _decode(self, entries: Sequence[LoggedEntry]) -> None:
        self.events = []
        for logged in entries:
            try:
                self.events.append(ev.decode(logged.entry))
            except ev.UnknownEvent as exc:
                raise LogMismatch(f"leaf {logged.index}: {exc}") from exc

    def _prefetch(self, entries: Sequence[LoggedEntry]) -> None:
        self._decode(entries)
        meter_streams = set()
        account_ids = set()
        for logged, event in zip(entries, self.events, strict=True):
            kind = ev.stream_kind(logged.entry.stream)
            if kind == ev.METER:
                meter_streams.add(logged.entry.stream)
            elif kind == ev.ACCOUNT:
                account_ids.add(ev.stream_id_of(logged.entry.stream, ev.ACCOUNT))
            elif isinstance(event, ev.ClaimRecorded | ev.EconomicReported):
                account_ids.add(event.account)
        self._load_meters(meter_streams)
        account_ids.update(m.account for m in self.meters.values() if m is not None)
        self._load_accounts(account_ids)
        # Regions, and their regions in turn: the grid factor follows an account's region chain.
        for _ in range(_MAX_REGION_DEPTH):
            regions = {a.region for a in self.accounts.values() if a is not None and a.region}
            missing = {r for r in regions if r not in self.accounts}
            if not missing:
                break
            self._load_accounts(missing)

    def _load_meters(self, streams: Iterable[str]) -> None:
        wanted = [s for s in streams if s not in self.meters]
        for stream in wanted:
            self.meters[stream] = None
        for chunk in _chunks(sorted(wanted)):
            rows = self.cur.execute(
                f"SELECT {_METER_COLUMNS} FROM proj_meters WHERE stream IN ({_marks(chunk)})",
                chunk,
            ).fetchall()
            for serial, stream, account, carrier, readings, enrolled_index in rows:
                self.meters[stream] = _Meter(
                    serial, stream, account, carrier, int(readings), int(enrolled_index)
                )

    def _load_accounts(self, account_ids: Iterable[object]) -> None:
        wanted = [a for a in account_ids if isinstance(a, str) and a not in self.accounts]
        for account in wanted:
            self.accounts[account] = None
        for chunk in _chunks(sorted(wanted)):
            rows = self.cur.execute(
                f"SELECT {_ACCOUNT_COLUMNS} FROM proj_accounts WHERE account IN ({_marks(chunk)})",
                chunk,
            ).fetchall()
            for row in rows:
                self.accounts[row[0]] = _Account(
                    account=row[0],
                    kind=row[1],
                    region=row[2],
                    industry=row[3],
                    points=int(row[4]),
                    points_earned=int(row[5]),
                    points_redeemed=int(row[6]),
                    reduction_g=Decimal(row[7]),
                    claims=int(row[8]),
                    opened_index=int(row[9]),
                )

    def _account(self, account_id: object) -> _Account | None:
        if not isinstance(account_id, str):
            return None
        if account_id not in self.accounts:
            self._load_accounts([account_id])
        return self.accounts[account_id]

    def _meter(self, stream: str) -> _Meter | None:
        if stream not in self.meters:
            self._load_meters([stream])
        return self.meters[stream]

    def _grid_region(self, account: _Account | None, year: int) -> str:
        """The first region of the account's region chain for which the grid methodology has a
        factor of its own (not the national fallback), else national."""
        if account is None:
            return NATIONAL
        cached = self.grid_regions.get((account.account, year))
        if cached is not None:
            return cached
        chain: list[str] = []
        region = account.region
        while region and region not in chain and len(chain) < _MAX_REGION_DEPTH:
            chain.append(region)
            parent = self._account(region)
            region = parent.region if parent is not None else None
        chosen = NATIONAL
        for candidate in chain:
            try:
                factor = self.factors.grid_factor(candidate, year)
            except MethodologyError:
                continue  # not a region id the grid methodology can name, or no year
            if factor.region != NATIONAL:
                chosen = candidate
                break
        self.grid_regions[(account.account, year)] = chosen
        return chosen

    def _history(self, account: str, index: int, entry: Entry) -> None:
        self.history.append((account, index, entry.type, entry.stream))

    # -- events --------------------------------------------------------------------------------

    def account_opened(self, index: int, entry: Entry, event: ev.AccountOpened) -> None:
        account_id = ev.stream_id_of(entry.stream, ev.ACCOUNT)
        if self._account(account_id) is not None:
            return  # an account is opened once (sequence 1 of its stream)
        self.accounts[account_id] = _Account(
            account=account_id,
            kind=event.kind,
            region=event.region,
            industry=event.industry,
            points=0,
            points_earned=0,
            points_redeemed=0,
            reduction_g=ZERO,
            claims=0,
            opened_index=index,
            dirty=True,
        )
        self._history(account_id, index, entry)

    def points_awarded(self, index: int, entry: Entry, event: ev.PointsAwarded) -> None:
        account = self._account(ev.stream_id_of(entry.stream, ev.ACCOUNT))
        if account is None:
            return
        points = event.points
        account.points += points
        account.points_earned += points
        account.dirty = True
        self._history(account.account, index, entry)

    def points_redeemed(self, index: int, entry: Entry, event: ev.PointsRedeemed) -> None:
        account = self._account(ev.stream_id_of(entry.stream, ev.ACCOUNT))
        if account is None:
            return
        points = event.points
        account.points -= points
        account.points_redeemed += points
        account.dirty = True
        self._history(account.account, index, entry)

    def meter_enrolled(self, index: int, entry: Entry, event: ev.MeterEnrolled) -> None:
        if self._meter(entry.stream) is not None:
            return
        self.meters[entry.stream] = _Meter(
            serial=event.serial,
            stream=entry.stream,
            account=event.account,
            carrier=event.carrier,
            readings=0,
            enrolled_index=index,
            dirty=True,
        )
        self._history(event.account, index, entry)

    def meter_key_changed(
        self, index: int, entry: Entry, event: ev.MeterKeyRotated | ev.MeterKeyRevoked
    ) -> None:
        meter = self._meter(entry.stream)
        if meter is not None:
            self._history(meter.account, index, entry)

    def meter_reading(self, index: int, entry: Entry, event: ev.MeterReading) -> None:
        meter = self._meter(entry.stream)
        if meter is not None:
            meter.readings += 1
            meter.dirty = True
        account = meter.account if meter is not None else None
        try:
            period, year = reading_period(event, entry.time)
        except (TypeError, ValueError) as exc:
            self.unconverted.append((index, account, None, f"the reading's time: {exc}"))
            return
        if meter is None:
            self.unconverted.append((index, None, period, "the meter was never enrolled"))
            return
        if event.quantity is None:
            self.unconverted.append(
                (index, meter.account, period, "a register-only reading has no interval quantity")
            )
            return
        try:
            quantity, unit = _metered(event.quantity, event.unit, meter.carrier)
            region = NATIONAL
            if meter.carrier == "electricity":
                region = self._grid_region(self._account(meter.account), year)
            kg, factor, scope = emissions_kg(
                quantity, unit, meter.carrier, region=region, year=year, table=self.factors
            )
            # Electricity in kWh whatever the factor is per, so rows of any methodology add up.
            denominator = "kWh" if unit in ("kWh", "MWh") else factor.unit.rpartition("/")[2]
            quantity = _in_unit(quantity, unit, denominator)
        except (MethodologyError, _Unconvertible, InvalidOperation) as exc:
            self.unconverted.append((index, meter.account, period, str(exc)))
            return
        key = (meter.account, period, scope, meter.carrier, factor.methodology, factor.id)
        row = self.emissions.get(key)
        if row is None:
            self.emissions[key] = _Emission(denominator, quantity, kg, 1)
        else:
            row.quantity = EXACT.add(row.quantity, quantity)
            row.kg_co2 = EXACT.add(row.kg_co2, kg)
            row.readings += 1

    def economic_reported(self, index: int, entry: Entry, event: ev.EconomicReported) -> None:
        account = event.account
        self.economic[(account, event.period)] = (
            account,
            event.period,
            str(event.output),
            event.output_unit,
            str(event.value_added),
            str(event.tax),
            event.reporter,
            index,
        )
        self._history(account, index, entry)

    def methodology_adopted(self, index: int, entry: Entry, event: ev.MethodologyAdopted) -> None:
        self.methodologies.append((event.key, event.kind, event.digest, index))

    def claim_recorded(self, index: int, entry: Entry, event: ev.ClaimRecorded) -> None:
        reduction = event.reduction_g
        self.claims.append(
            (
                event.claim,
                event.account,
                event.methodology,
                event.action,
                str(event.quantity),
                decimal_text(reduction),
                event.points,
                len(event.keys),
                index,
            )
        )
        account = self._account(event.account)
        if account is not None:
            account.reduction_g = EXACT.add(account.reduction_g, reduction)
            account.claims += 1
            account.dirty = True
        self._history(event.account, index, entry)

    def claim_key_held(self, index: int, entry: Entry, event: ev.ClaimKeyHeld) -> None:
        if entry.seq != 1:
            return  # sequence 1 is the holding; later entries of the stream are not holdings
        key = ev.stream_id_of(entry.stream, ev.CLAIMKEY)
        self.claim_keys.append((key, event.claim, event.account, index))

    # -- writing -------------------------------------------------------------------------------

    def _write(self) -> None:
        cur = self.cur
        accounts = sorted(
            (a for a in self.accounts.values() if a is not None and a.dirty),
            key=lambda a: a.account,
        )
        if accounts:
            cur.executemany(UPSERT_ACCOUNT, [a.row() for a in accounts])
        meters = sorted(
            (m for m in self.meters.values() if m is not None and m.dirty), key=lambda m: m.serial
        )
        if meters:
            cur.executemany(UPSERT_METER, [m.row() for m in meters])
        if self.emissions:
            self._write_emissions()
        if self.unconverted:
            cur.executemany(INSERT_UNCONVERTED, self.unconverted)
        if self.economic:
            cur.executemany(UPSERT_ECONOMIC, [self.economic[k] for k in sorted(self.economic)])
        if self.claims:
            cur.executemany(INSERT_CLAIM, self.claims)
        if self.claim_keys:
            cur.executemany(INSERT_CLAIM_KEY, self.claim_keys)
        if self.history:
            cur.executemany(INSERT_HISTORY, self.history)
        if self.methodologies:
            cur.executemany(INSERT_METHODOLOGY, self.methodologies)

    def _write_emissions(self) -> None:
        # Decimals are TEXT: read the rows this batch adds to, sum in Python, write the sums.
        periods = sorted({key[1] for key in self.emissions})
        stored: dict[tuple[Any, ...], tuple[str, str, int]] = {}
        for accounts in _chunks(sorted({key[0] for key in self.emissions})):
            for period_chunk in _chunks(periods):
                rows = self.cur.execute(
                    f"SELECT {_EMISSION_KEY}, quantity, kg_co2, readings FROM proj_emissions"
                    f" WHERE account IN ({_marks(accounts)})"
                    f" AND period IN ({_marks(period_chunk)})",
                    [*accounts, *period_chunk],
                ).fetchall()
                for found in rows:
                    key = (found[0], found[1], int(found[2]), found[3], found[4], found[5])
                    if key in self.emissions:
                        stored[key] = (found[6], found[7], int(found[8]))
        out = []
        for key in sorted(self.emissions):
            row = self.emissions[key]
            quantity, kg, readings = row.quantity, row.kg_co2, row.readings
            old = stored.get(key)
            if old is not None:
                quantity = EXACT.add(quantity, Decimal(old[0]))
                kg = EXACT.add(kg, Decimal(old[1]))
                readings += old[2]
            out.append((*key, row.unit, decimal_text(quantity), decimal_text(kg), readings))
        self.cur.executemany(UPSERT_EMISSION, out)


_HANDLERS: dict[type[ev.Event], Callable[[_Batch, int, Entry, Any], None]] = {
    ev.AccountOpened: _Batch.account_opened,
    ev.PointsAwarded: _Batch.points_awarded,
    ev.PointsRedeemed: _Batch.points_redeemed,
    ev.MeterEnrolled: _Batch.meter_enrolled,
    ev.MeterKeyRotated: _Batch.meter_key_changed,
    ev.MeterKeyRevoked: _Batch.meter_key_changed,
    ev.MeterReading: _Batch.meter_reading,
    ev.EconomicReported: _Batch.economic_reported,
    ev.MethodologyAdopted: _Batch.methodology_adopted,
    ev.ClaimRecorded: _Batch.claim_recorded,
    ev.ClaimKeyHeld: _Batch.claim_key_held,
}
