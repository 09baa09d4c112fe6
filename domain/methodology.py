"""Methodologies and emission factors: versioned reference data with a source for every value.

A methodology is one JSON file in ``domain/data/`` (shipped as package data). Its identity is
``id@version``; its :attr:`Methodology.digest` is the SHA-256 of the file's canonical form, so an
adoption event or a projection can name exactly which data it used. Every quantity is written as a
JSON *string* (``"0.5703"``) and read as :class:`decimal.Decimal`; a JSON number anywhere in a file
is refused, because a float cannot be trusted to hold a decimal exactly.

File format (``"format": "carbonledger-methodology/1"``)::

    {"format", "id", "version", "kind", "title", "source", "note"?, "factors": [...],
     "rules": {...}}
    factor: {"id", "value", "unit", "source", "note"?, "gas"?, "region"?, "valid_from"?,
             "valid_to"?}

``kind`` says what the methodology holds and how its factor ids read:

- ``grid``: electricity factors, ids ``electricity/<region>/<year>``, each valid for one calendar
  year, units ``<mass> CO2/kWh`` or ``/MWh``; ``rules.regions`` names each region's parent, ending
  at ``national``.
- ``fuel``: combustion factors, ids ``<carrier>/<gas>`` for ``natural_gas`` (per m3) and ``coal``
  (per t).
- ``heat``: purchased heat, ids ``heat`` (per GJ) and ``steam`` (per t of steam).
- ``inclusion``: carbon-inclusion (碳普惠) reductions per person-km, ids are activities.
- ``evaluation``: industry benchmarks (ids are industries, per 10^4 CNY of value added) and the
  bands of ``rules.labels``, ``rules.efficiency_code`` and ``rules.carbon_level``.
- ``points``: ``rules.actions`` (points per unit of an action), ``rules.redemptions`` and the bands
  of ``rules.personal_grades``.

The digest is SHA-256 over the RFC 8785 (JCS) canonical JSON of the parsed file: keys sorted, no
insignificant whitespace, UTF-8. Because the files hold no JSON numbers and object keys must be
ASCII, that is exactly ``json.dumps(doc, sort_keys=True, separators=(",", ":"),
ensure_ascii=False)``: reformatting a file keeps its digest, changing any value changes it.

A :class:`FactorTable` is built from the methodologies a platform has adopted and answers every
lookup with a :class:`Factor` that names its methodology (``Factor.methodology``); rule lookups
that return plain values say which methodology they used through
:meth:`FactorTable.rule_methodology`. Two adopted methodologies that answer the same lookup are
refused: adoption must be unambiguous.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal, localcontext
from pathlib import Path
from types import MappingProxyType
from typing import Any, NoReturn

from domain.errors import DomainError

__all__ = [
    "DATA_DIRECTORY",
    "DEFAULT_ADOPTION",
    "FORMAT",
    "KINDS",
    "LABELS",
    "Factor",
    "FactorTable",
    "Methodology",
    "MethodologyError",
    "canonical_json",
    "emissions_kg",
    "load_methodologies",
    "parse_methodology",
]

FORMAT = "carbonledger-methodology/1"
KINDS = frozenset({"grid", "fuel", "heat", "inclusion", "evaluation", "points"})
GASES = frozenset({"CO2", "CH4", "N2O"})
LABELS = ("dark_green", "light_green", "yellow", "red")
CARBON_LEVELS = ("low", "medium", "high")
DATA_DIRECTORY = Path(__file__).resolve().parent / "data"

# What a platform adopts unless it says otherwise: the statistical grid factors of MEE and NBS
# (location-based, by region), IPCC fuel defaults, the guidelines' heat factor, Shenzhen's transit
# coefficients, the platform's points rules and the Zhejiang evaluation bands.
DEFAULT_ADOPTION = (
    "cn-grid-mee-nbs@1.0",
    "ipcc2006-fuel@1.0",
    "cn-heat@1.0",
    "shenzhen-low-carbon-transit@1.0",
    "quzhou-points@1.0",
    "zhejiang-enterprise-evaluation@1.0",
)

NATIONAL = "national"

# Mass units of a factor's numerator, in kilograms.
_MASS_IN_KG = {"g": Decimal("0.001"), "kg": Decimal(1), "t": Decimal(1000)}
# Denominators a factor may have, and the quantity units meters report: (dimension, size in the
# dimension's base unit). Coal and steam are both tonnes, but never of each other.
_UNITS = {
    "kWh": ("electricity", Decimal(1)),
    "MWh": ("electricity", Decimal(1000)),
    "m3": ("gas volume", Decimal(1)),
    "t": ("fuel mass", Decimal(1)),
    "t_steam": ("steam mass", Decimal(1)),
    "GJ": ("heat", Decimal(1)),
    "person-km": ("passenger distance", Decimal(1)),
    "10^4 CNY": ("value added", Decimal(1)),
}
_UNIT_ALIASES = {"m³": "m3"}
_FUEL_DENOMINATORS = {"natural_gas": "m3", "coal": "t"}
_HEAT_DENOMINATORS = {"heat": "GJ", "steam": "t_steam"}
_GRID_DENOMINATORS = frozenset({"kWh", "MWh"})

# Metered carriers: the scope of their emissions and the units a reading of them may have.
_CARRIERS: dict[str, tuple[int, frozenset[str]]] = {
    "electricity": (2, frozenset({"kWh", "MWh"})),
    "natural_gas": (1, frozenset({"m3"})),
    "coal": (1, frozenset({"t"})),
    "heat": (2, frozenset({"GJ"})),
    "steam": (2, frozenset({"t", "t_steam", "GJ"})),
}
_KG_QUANTUM = Decimal("0.001")

_TOP_KEYS = frozenset(
    {"format", "id", "version", "kind", "title", "source", "note", "factors", "rules"}
)
_TOP_REQUIRED = ("format", "id", "version", "kind", "title", "source", "factors", "rules")
_FACTOR_KEYS = frozenset(
    {"id", "value", "unit", "source", "note", "gas", "region", "valid_from", "valid_to"}
)
_FACTOR_REQUIRED = ("id", "value", "unit", "source")

_ID = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*\Z")
_VERSION = re.compile(r"[0-9A-Za-z]+(?:[.+-][0-9A-Za-z]+)*\Z")
_FACTOR_ID = re.compile(r"[a-z0-9_]+(?:/[A-Za-z0-9_]+)*\Z")
_NAME = re.compile(r"[a-z][a-z0-9_]*\Z")
_DECIMAL = re.compile(r"(?:0|[1-9][0-9]*)(?:\.[0-9]+)?\Z")
_WHOLE = re.compile(r"(?:0|[1-9][0-9]*)\Z")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
_UNIT = re.compile(r"(g|kg|t) (CO2|CH4|N2O)/(.+)\Z")


class MethodologyError(DomainError, ValueError):
    """A methodology file is malformed, adopted methodologies conflict, or a lookup has no answer
    in the adopted data; the message names the file (or methodology) and the field."""


@dataclass(frozen=True)
class Factor:
    """One published value: ``value`` in ``unit`` (``"<g|kg|t> <gas>/<denominator>"``), where it
    came from, and when and where it applies. ``methodology`` is the ``id@version`` it belongs
    to."""

    id: str
    value: Decimal
    unit: str
    source: str
    note: str | None
    valid_from: date | None
    valid_to: date | None
    region: str | None
    gas: str = "CO2"
    methodology: str = ""

    def covers(self, day: date) -> bool:
        """Report whether the factor's validity period (open where a bound is missing) includes
        ``day``."""
        if self.valid_from is not None and day < self.valid_from:
            return False
        return self.valid_to is None or day <= self.valid_to


@dataclass(frozen=True)
class Methodology:
    """One adopted unit of reference data: its factors and rules, as loaded from one file."""

    id: str
    version: str
    title: str
    source: str
    kind: str
    factors: tuple[Factor, ...]
    # Read-only, with JSON objects as mappings and arrays as tuples; quantities stay strings.
    rules: Mapping[str, Any] = field(compare=False)
    digest: str
    note: str | None = None

    @property
    def key(self) -> str:
        """The methodology's identity, ``id@version``."""
        return f"{self.id}@{self.version}"

    def factor(self, factor_id: str) -> Factor:
        """Return the factor with id ``factor_id``, or raise MethodologyError naming the ids there
        are."""
        for candidate in self.factors:
            if candidate.id == factor_id:
                return candidate
        known = ", ".join(f.id for f in self.factors) or "none"
        raise MethodologyError(f"{self.key} has no factor {factor_id!r} (it has: {known})")


# ---------------------------------------------------------------------------------------------
# Loading


def load_methodologies(directory: Path | None = None) -> dict[str, Methodology]:
    """Load every ``*.json`` file in ``directory`` (default: the shipped ``domain/data/``) and
    return the methodologies keyed by ``id@version``; any malformed file, or two files with the
    same ``id@version``, raises MethodologyError naming the file and the field."""
    folder = DATA_DIRECTORY if directory is None else Path(directory)
    if not folder.is_dir():
        raise MethodologyError(f"{folder}: not a directory of methodology files")
    loaded: dict[str, Methodology] = {}
    origin: dict[str, str] = {}
    for path in sorted(folder.glob("*.json")):
        methodology = parse_methodology(path.read_bytes(), name=path.name)
        if methodology.key in loaded:
            raise MethodologyError(
                f"{path.name}: id: {methodology.key} is already defined by"
                f" {origin[methodology.key]} (each id@version must be defined once)"
            )
        loaded[methodology.key] = methodology
        origin[methodology.key] = path.name
    return loaded


def parse_methodology(data: bytes, *, name: str = "<methodology>") -> Methodology:
    """Parse one methodology file's bytes into a Methodology, refusing with MethodologyError
    (naming ``name`` and the field) anything malformed: invalid UTF-8 or JSON, a JSON number, a
    duplicate key, an unknown or missing field, a missing source, a bad decimal, unit or date, a
    duplicate factor id, an unknown kind, or kind-specific rules that do not hold."""
    document = _decode(data, name)
    where = _Where(name)
    _check_keys(where, "", document, _TOP_KEYS, _TOP_REQUIRED)
    if document["format"] != FORMAT:
        where.fail("format", f"expected {FORMAT!r}, got {document['format']!r}")
    methodology_id = _text(where, "id", document["id"])
    if not _ID.match(methodology_id):
        where.fail("id", f"{methodology_id!r} is not lower-case letters and digits joined by '-'")
    version = _text(where, "version", document["version"])
    if not _VERSION.match(version):
        where.fail("version", f"{version!r} is not a version such as '1.0' or '2024.2'")
    kind = _text(where, "kind", document["kind"])
    if kind not in KINDS:
        where.fail("kind", f"unknown kind {kind!r} (known: {', '.join(sorted(KINDS))})")
    title = _text(where, "title", document["title"])
    source = _text(where, "source", document["source"])
    note = _optional_text(where, "note", document.get("note"))
    key = f"{methodology_id}@{version}"

    raw_factors = document["factors"]
    if not isinstance(raw_factors, list):
        where.fail("factors", "must be a list of factors")
    factors: list[Factor] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(raw_factors):
        factor = _parse_factor(where, f"factors[{index}]", raw, key)
        if factor.id in seen:
            where.fail(
                f"factors[{index}].id",
                f"duplicate factor id {factor.id!r} (also factors[{seen[factor.id]}])",
            )
        seen[factor.id] = index
        factors.append(factor)

    rules = document["rules"]
    if not isinstance(rules, dict):
        where.fail("rules", "must be an object")
    _check_kind(where, kind, factors, rules)

    return Methodology(
        id=methodology_id,
        version=version,
        title=title,
        source=source,
        kind=kind,
        factors=tuple(factors),
        rules=_freeze(rules),
        digest=hashlib.sha256(canonical_json(document)).hexdigest(),
        note=note,
    )


def canonical_json(document: Any) -> bytes:
    """Return the RFC 8785 canonical form of a parsed methodology document (which holds only
    objects with ASCII keys, arrays, strings, booleans and null): sorted keys, no whitespace,
    UTF-8."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


class _Number(str):
    """A JSON number literal exactly as written, kept so the refusal can quote it and say where
    it is."""


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


class _DuplicateKey(Exception):
    pass


class _Where:
    """Names the file in every refusal, so each message says which file and which field."""

    def __init__(self, name: str) -> None:
        self.name = name

    def fail(self, path: str, problem: str) -> NoReturn:
        raise MethodologyError(f"{self.name}: {path or '(top level)'}: {problem}")


def _decode(data: bytes, name: str) -> dict[str, Any]:
    where = _Where(name)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        where.fail("", f"not UTF-8 ({error.reason} at byte {error.start})")
    try:
        document = json.loads(
            text,
            parse_float=_Number,
            parse_int=_Number,
            parse_constant=_Number,
            object_pairs_hook=_no_duplicate_keys,
        )
    except _DuplicateKey as duplicate:
        where.fail("", f"duplicate key {duplicate.args[0]!r} in one object")
    except json.JSONDecodeError as error:
        where.fail("", f"not JSON: {error.msg} at line {error.lineno} column {error.colno}")
    if not isinstance(document, dict):
        where.fail("", "a methodology file is one JSON object")
    _check_values(where, "", document)
    return document


def _check_values(where: _Where, path: str, value: Any) -> None:
    """Refuse JSON numbers (floats and integers alike), non-ASCII keys and unpaired surrogates
    anywhere in the document."""
    if isinstance(value, _Number):
        where.fail(
            path,
            f'{value} is a JSON number; write quantities as strings ("{value}") so they stay'
            " exact decimals",
        )
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            where.fail(path, "text contains an unpaired surrogate escape")
    elif isinstance(value, dict):
        for key, item in value.items():
            if not key.isascii():
                where.fail(_join(path, key), "object keys must be ASCII")
            _check_values(where, _join(path, key), item)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_values(where, f"{path}[{index}]", item)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _check_keys(
    where: _Where,
    path: str,
    value: Any,
    allowed: frozenset[str],
    required: Sequence[str],
) -> None:
    if not isinstance(value, dict):
        where.fail(path, "must be an object")
    for key in required:
        if key not in value:
            where.fail(_join(path, key), "missing")
    unknown = sorted(set(value) - allowed)
    if unknown:
        where.fail(
            _join(path, unknown[0]), f"unknown field (allowed: {', '.join(sorted(allowed))})"
        )


def _text(where: _Where, path: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        where.fail(path, "must be non-empty text")
    return value


def _optional_text(where: _Where, path: str, value: Any) -> str | None:
    if value is None:
        return None
    return _text(where, path, value)


def _decimal(where: _Where, path: str, value: Any) -> Decimal:
    if not isinstance(value, str) or not _DECIMAL.match(value):
        where.fail(path, f'{value!r} is not a decimal string such as "0.5703"')
    return Decimal(value)


def _whole(where: _Where, path: str, value: Any) -> int:
    if not isinstance(value, str) or not _WHOLE.match(value):
        where.fail(path, f'{value!r} is not a whole-number string such as "10"')
    return int(value)


def _date(where: _Where, path: str, value: Any) -> date | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _DATE.match(value):
        where.fail(path, f"{value!r} is not a date written YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        where.fail(path, f"{value!r} is not a calendar date")


def _parse_factor(where: _Where, path: str, raw: Any, methodology: str) -> Factor:
    _check_keys(where, path, raw, _FACTOR_KEYS, _FACTOR_REQUIRED)
    factor_id = _text(where, f"{path}.id", raw["id"])
    if not _FACTOR_ID.match(factor_id):
        where.fail(f"{path}.id", f"{factor_id!r} is not an id such as 'natural_gas/CO2'")
    value = _decimal(where, f"{path}.value", raw["value"])
    gas = raw.get("gas", "CO2")
    if gas not in GASES:
        where.fail(f"{path}.gas", f"unknown gas {gas!r} (known: {', '.join(sorted(GASES))})")
    unit = _text(where, f"{path}.unit", raw["unit"])
    match = _UNIT.match(unit)
    if not match or match.group(3) not in _UNITS:
        where.fail(
            f"{path}.unit",
            f"{unit!r} is not '<g|kg|t> <gas>/<unit>' with a unit among {', '.join(_UNITS)}",
        )
    if match.group(2) != gas:
        where.fail(
            f"{path}.unit", f"{unit!r} is a factor for {match.group(2)}, the factor is {gas}"
        )
    region = raw.get("region")
    if region is not None and (not isinstance(region, str) or not _NAME.match(region)):
        where.fail(f"{path}.region", f"{region!r} is not a region id such as 'east_china'")
    valid_from = _date(where, f"{path}.valid_from", raw.get("valid_from"))
    valid_to = _date(where, f"{path}.valid_to", raw.get("valid_to"))
    if valid_from is not None and valid_to is not None and valid_to < valid_from:
        where.fail(f"{path}.valid_to", f"{valid_to} is before valid_from {valid_from}")
    return Factor(
        id=factor_id,
        value=value,
        unit=unit,
        source=_text(where, f"{path}.source", raw["source"]),
        note=_optional_text(where, f"{path}.note", raw.get("note")),
        valid_from=valid_from,
        valid_to=valid_to,
        region=region,
        gas=gas,
        methodology=methodology,
    )


def _denominator(factor: Factor) -> str:
    return factor.unit.rsplit("/", 1)[1]


def _check_kind(where: _Where, kind: str, factors: list[Factor], rules: dict[str, Any]) -> None:
    paths = {factor.id: f"factors[{index}]" for index, factor in enumerate(factors)}
    if kind in ("grid", "fuel", "heat", "inclusion") and not factors:
        where.fail("factors", f"a methodology of kind {kind} needs at least one factor")
    if kind == "grid":
        regions = _regions(where, rules)
        for factor in factors:
            path = paths[factor.id]
            if factor.region is None:
                where.fail(f"{path}.region", "missing (a grid factor applies to a region)")
            if factor.region not in regions:
                where.fail(f"{path}.region", f"{factor.region!r} is not declared in rules.regions")
            year = _calendar_year(where, path, factor)
            if factor.gas != "CO2" or _denominator(factor) not in _GRID_DENOMINATORS:
                where.fail(f"{path}.unit", "a grid factor is '<mass> CO2/kWh' or '<mass> CO2/MWh'")
            expected_id = f"electricity/{factor.region}/{year}"
            if factor.id != expected_id:
                where.fail(f"{path}.id", f"{factor.id!r} should be {expected_id!r}")
    elif kind == "fuel":
        for factor in factors:
            path = paths[factor.id]
            carrier, _, gas = factor.id.partition("/")
            if carrier not in _FUEL_DENOMINATORS or gas != factor.gas:
                where.fail(
                    f"{path}.id",
                    f"{factor.id!r} should be '<carrier>/{factor.gas}' with a carrier among "
                    f"{', '.join(_FUEL_DENOMINATORS)}",
                )
            if _denominator(factor) != _FUEL_DENOMINATORS[carrier]:
                where.fail(
                    f"{path}.unit", f"{carrier} factors are per {_FUEL_DENOMINATORS[carrier]}"
                )
    elif kind == "heat":
        for factor in factors:
            path = paths[factor.id]
            if factor.id not in _HEAT_DENOMINATORS:
                where.fail(f"{path}.id", f"{factor.id!r} should be 'heat' or 'steam'")
            if factor.gas != "CO2" or _denominator(factor) != _HEAT_DENOMINATORS[factor.id]:
                where.fail(
                    f"{path}.unit",
                    f"the {factor.id} factor is '<mass> CO2/{_HEAT_DENOMINATORS[factor.id]}'",
                )
    elif kind == "inclusion":
        for factor in factors:
            _plain_id(where, paths[factor.id], factor, "person-km")
    elif kind == "evaluation":
        for factor in factors:
            _plain_id(where, paths[factor.id], factor, "10^4 CNY")
        _evaluation_rules(where, rules)
    elif kind == "points":
        if factors:
            where.fail("factors", "a points methodology has rules, not factors")
        _points_rules(where, rules)


def _plain_id(where: _Where, path: str, factor: Factor, denominator: str) -> None:
    if not _NAME.match(factor.id):
        where.fail(f"{path}.id", f"{factor.id!r} should be a name such as 'bus_electric'")
    if _denominator(factor) != denominator:
        where.fail(f"{path}.unit", f"should be per {denominator}")


def _calendar_year(where: _Where, path: str, factor: Factor) -> int:
    start, end = factor.valid_from, factor.valid_to
    if start is None or end is None:
        where.fail(f"{path}.valid_from", "a grid factor needs valid_from and valid_to")
    if (start.month, start.day, end.month, end.day) != (1, 1, 12, 31) or start.year != end.year:
        where.fail(
            f"{path}.valid_to", "a grid factor is valid for one calendar year (Jan 1-Dec 31)"
        )
    return start.year


def _regions(where: _Where, rules: Mapping[str, Any]) -> dict[str, str | None]:
    """Return region -> parent from ``rules.regions``; every chain of parents ends at national."""
    raw = rules.get("regions")
    if not isinstance(raw, Mapping):
        where.fail("rules.regions", "missing: a grid methodology declares its regions")
    parents: dict[str, str | None] = {}
    for region, entry in raw.items():
        path = f"rules.regions.{region}"
        if not _NAME.match(region):
            where.fail(path, f"{region!r} is not a region id such as 'east_china'")
        if not isinstance(entry, Mapping):
            where.fail(path, "must be an object with name and parent")
        _check_keys(where, path, dict(entry), frozenset({"name", "parent", "note"}), ("name",))
        _text(where, f"{path}.name", entry["name"])
        parent = entry.get("parent")
        if parent is not None and not isinstance(parent, str):
            where.fail(f"{path}.parent", "must be a region id or null")
        parents[region] = parent
    if NATIONAL not in parents or parents[NATIONAL] is not None:
        where.fail("rules.regions.national", "missing, or has a parent (national is the root)")
    for region in parents:
        chain = [region]
        while chain[-1] != NATIONAL:
            parent = parents[chain[-1]]
            if parent is None or parent not in parents:
                where.fail(f"rules.regions.{chain[-1]}.parent", f"{parent!r} is not a region")
            if parent in chain:
                where.fail(f"rules.regions.{region}.parent", "regions form a cycle")
            chain.append(parent)
    return parents


@dataclass(frozen=True)
class _Band:
    limit: Decimal | None  # inclusive upper bound (None: unbounded) or, for grades, lower bound
    result: str


def _bands(
    where: _Where,
    path: str,
    raw: Any,
    limit_key: str,
    result_key: str,
    allowed: Sequence[str] | None,
    *,
    ascending_minimums: bool = False,
) -> tuple[_Band, ...]:
    """Parse a list of bands. Upper-bound bands (``max_*``) rise strictly and the last is null;
    lower-bound bands (``min_*``) rise strictly from "0". Results are distinct."""
    if not isinstance(raw, Mapping):
        where.fail(path, "must be an object with bands")
    items = raw.get("bands")
    if not isinstance(items, Sequence) or isinstance(items, str) or not items:
        where.fail(f"{path}.bands", "must be a non-empty list")
    bands: list[_Band] = []
    for index, item in enumerate(items):
        item_path = f"{path}.bands[{index}]"
        if not isinstance(item, Mapping):
            where.fail(item_path, "must be an object")
        _check_keys(where, item_path, dict(item), frozenset({limit_key, result_key}), (result_key,))
        result = _text(where, f"{item_path}.{result_key}", item[result_key])
        if allowed is not None and result not in allowed:
            where.fail(
                f"{item_path}.{result_key}", f"{result!r} is not one of {', '.join(allowed)}"
            )
        if any(band.result == result for band in bands):
            where.fail(f"{item_path}.{result_key}", f"{result!r} appears twice")
        raw_limit = item.get(limit_key)
        last = index == len(items) - 1
        if ascending_minimums:
            limit: Decimal | None = Decimal(_whole(where, f"{item_path}.{limit_key}", raw_limit))
            if index == 0 and limit != 0:
                where.fail(f"{item_path}.{limit_key}", 'the first band starts at "0"')
        elif last:
            if raw_limit is not None:
                where.fail(f"{item_path}.{limit_key}", "the last band is unbounded (null)")
            limit = None
        else:
            limit = _decimal(where, f"{item_path}.{limit_key}", raw_limit)
        if bands and limit is not None and bands[-1].limit is not None and limit <= bands[-1].limit:
            where.fail(f"{item_path}.{limit_key}", "bands must rise strictly")
        bands.append(_Band(limit, result))
    return tuple(bands)


def _label_bands(where: _Where, rules: Mapping[str, Any]) -> tuple[_Band, ...]:
    return _bands(where, "rules.labels", rules["labels"], "max_ratio", "label", LABELS)


def _code_bands(where: _Where, rules: Mapping[str, Any]) -> tuple[_Band, ...]:
    bands = _bands(
        where, "rules.efficiency_code", rules["efficiency_code"], "max_ratio", "code", None
    )
    codes = [band.result for band in bands]
    if codes != [str(n) for n in range(1, len(codes) + 1)]:
        where.fail("rules.efficiency_code.bands", 'codes must be "1", "2", ... in order')
    return bands


def _level_bands(where: _Where, rules: Mapping[str, Any]) -> tuple[_Band, ...]:
    return _bands(
        where, "rules.carbon_level", rules["carbon_level"], "max_intensity", "level", CARBON_LEVELS
    )


def _grade_bands(where: _Where, rules: Mapping[str, Any]) -> tuple[_Band, ...]:
    return _bands(
        where,
        "rules.personal_grades",
        rules["personal_grades"],
        "min_points",
        "grade",
        None,
        ascending_minimums=True,
    )


def _evaluation_rules(where: _Where, rules: Mapping[str, Any]) -> None:
    if "labels" in rules:
        _label_bands(where, rules)
    if "efficiency_code" in rules:
        _code_bands(where, rules)
    if "carbon_level" in rules:
        _level_bands(where, rules)


@dataclass(frozen=True)
class _Action:
    points: int
    per: str


def _actions(where: _Where, rules: Mapping[str, Any]) -> dict[str, _Action]:
    raw = rules.get("actions")
    if not isinstance(raw, Mapping) or not raw:
        where.fail("rules.actions", "missing: a points methodology lists its actions")
    actions: dict[str, _Action] = {}
    for name, entry in raw.items():
        path = f"rules.actions.{name}"
        if not _NAME.match(name):
            where.fail(path, f"{name!r} is not an action name such as 'bus_ride'")
        if not isinstance(entry, Mapping):
            where.fail(path, "must be an object with points and per")
        _check_keys(
            where, path, dict(entry), frozenset({"points", "per", "source"}), ("points", "per")
        )
        actions[name] = _Action(
            points=_whole(where, f"{path}.points", entry["points"]),
            per=_text(where, f"{path}.per", entry["per"]),
        )
    return actions


def _points_rules(where: _Where, rules: Mapping[str, Any]) -> None:
    _actions(where, rules)
    redemptions = rules.get("redemptions", {})
    if not isinstance(redemptions, Mapping):
        where.fail("rules.redemptions", "must be an object")
    for name, entry in redemptions.items():
        path = f"rules.redemptions.{name}"
        if not isinstance(entry, Mapping) or "points" not in entry:
            where.fail(path, "must be an object with points")
        _whole(where, f"{path}.points", entry["points"])
    if "personal_grades" in rules:
        _grade_bands(where, rules)


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return MappingProxyType({key: _freeze(item) for key, item in value.items()})
    if isinstance(value, list):
        return tuple(_freeze(item) for item in value)
    return value


# ---------------------------------------------------------------------------------------------
# Lookups


class FactorTable:
    """The factors and rules of a set of adopted methodologies, with one answer per lookup.

    Built from methodologies, not files: adopting is a decision the ledger records (by
    ``id@version`` and digest), and a table answers only from what was adopted. Two adopted
    methodologies that would both answer the same lookup (the same grid region and year, fuel
    and gas, activity, industry, or rule) are refused with MethodologyError.
    """

    def __init__(self, methodologies: Iterable[Methodology]) -> None:
        self._adopted: dict[str, Methodology] = {}
        self._parents: dict[str, str | None] = {}
        self._grid: dict[tuple[str, int], Factor] = {}
        self._fuel: dict[tuple[str, str], Factor] = {}
        self._heat: dict[str, Factor] = {}
        self._inclusion: dict[str, Factor] = {}
        self._benchmarks: dict[str, Factor] = {}
        self._actions: dict[str, _Action] = {}
        self._bands: dict[str, tuple[_Band, ...]] = {}
        self._rule_source: dict[str, str] = {}
        for methodology in methodologies:
            self._adopt(methodology)

    @classmethod
    def adopting(
        cls,
        keys: Iterable[str] = DEFAULT_ADOPTION,
        available: Mapping[str, Methodology] | None = None,
    ) -> FactorTable:
        """Return a table of the methodologies named by ``keys`` (``id@version``), taken from
        ``available`` (default: the shipped files); an unknown key raises MethodologyError."""
        pool = load_methodologies() if available is None else available
        chosen = []
        for key in keys:
            if key not in pool:
                raise MethodologyError(
                    f"cannot adopt {key}: no such methodology"
                    f" (available: {', '.join(sorted(pool))})"
                )
            chosen.append(pool[key])
        return cls(chosen)

    @property
    def adopted(self) -> tuple[str, ...]:
        """The ``id@version`` of every adopted methodology, in adoption order."""
        return tuple(self._adopted)

    def digests(self) -> dict[str, str]:
        """Return ``id@version`` -> SHA-256 digest of every adopted methodology."""
        return {key: methodology.digest for key, methodology in self._adopted.items()}

    def rule_methodology(self, rule: str) -> str:
        """Return the ``id@version`` that answers ``rule`` (``"points"``, ``"labels"``,
        ``"efficiency_code"``, ``"carbon_level"`` or ``"personal_grades"``), so a result computed
        with a rule can say which version it used."""
        if rule not in self._rule_source:
            raise MethodologyError(f"no adopted methodology gives the {rule} rule")
        return self._rule_source[rule]

    # -- lookups that return factors -----------------------------------------------------------

    def grid_factor(self, region: str, year: int) -> Factor:
        """Return the grid factor for ``region`` in ``year``, falling back through the region's
        parents to the national average; the returned factor's ``region`` says which was used."""
        _check_name("region", region)
        _check_year(year)
        for candidate in self._region_chain(region):
            factor = self._grid.get((candidate, year))
            if factor is not None:
                return factor
        years = sorted({y for (_, y) in self._grid})
        raise MethodologyError(
            f"no grid factor for region {region!r} or its parents in {year} "
            f"(adopted grid factors cover: {', '.join(map(str, years)) or 'no years'})"
        )

    def fuel_factor(self, carrier: str, gas: str = "CO2") -> Factor:
        """Return the combustion factor for ``carrier`` (``"natural_gas"`` per m3, ``"coal"`` per
        t) and ``gas``."""
        return self._find(self._fuel, (carrier, gas), f"fuel factor for {carrier} ({gas})")

    def heat_factor(self, unit: str) -> Factor:
        """Return the purchased-heat factor per ``"GJ"`` or per ``"t_steam"`` (tonne of steam)."""
        names = {"GJ": "heat", "t_steam": "steam"}
        if unit not in names:
            raise MethodologyError(f"heat factors are per GJ or per t_steam, not {unit!r}")
        return self._find(self._heat, names[unit], f"heat factor per {unit}")

    def inclusion_factor(self, activity: str) -> Factor:
        """Return the carbon-inclusion reduction factor for ``activity`` (e.g. ``"bus_electric"``,
        ``"metro"``), per person-km."""
        return self._find(self._inclusion, activity, f"carbon-inclusion factor for {activity!r}")

    def benchmark(self, industry: str) -> Factor:
        """Return the industry benchmark intensity for ``industry`` (e.g. ``"textiles"``)."""
        return self._find(self._benchmarks, industry, f"benchmark for industry {industry!r}")

    # -- rule lookups -----------------------------------------------------------------------------

    def points_for(self, action: str, quantity: Decimal | int = 1) -> int:
        """Return the whole points earned for ``quantity`` units of ``action`` (per ride, kg,
        service: see the action's ``per``), rounded down: platforms award whole points."""
        quantity = _exact(quantity, "quantity")
        if action not in self._actions:
            known = ", ".join(sorted(self._actions)) or "none adopted"
            raise MethodologyError(f"no points rule for action {action!r} (known: {known})")
        points = self._actions[action].points * quantity
        return int(points.to_integral_value(rounding=ROUND_FLOOR))

    def points_unit(self, action: str) -> str:
        """Return the unit that ``points_for(action)`` counts per (``"ride"``, ``"kg"``)."""
        if action not in self._actions:
            raise MethodologyError(f"no points rule for action {action!r}")
        return self._actions[action].per

    def label_for(self, intensity: Decimal, benchmark: Decimal) -> str:
        """Return the colour label (``dark_green``, ``light_green``, ``yellow`` or ``red``) of an
        enterprise whose carbon intensity is ``intensity`` against an industry ``benchmark`` in
        the same unit: the first band whose ``max_ratio`` is at least intensity / benchmark."""
        return self._ratio_band("labels", intensity, benchmark)

    def efficiency_code(self, intensity: Decimal, benchmark: Decimal) -> int:
        """Return the carbon-efficiency code 1-5 (碳效码; 1 is the most carbon-efficient, 5 the
        least) for K = intensity / benchmark, both per 10^4 CNY of value added."""
        return int(self._ratio_band("efficiency_code", intensity, benchmark))

    def carbon_level(self, intensity: Decimal) -> str:
        """Return ``low``, ``medium`` or ``high`` for an intensity in t CO2 per 10^4 CNY of value
        added, by the adopted absolute bands."""
        intensity = _exact(intensity, "intensity")
        for band in self._rule_bands("carbon_level"):
            if band.limit is None or intensity <= band.limit:
                return band.result
        raise AssertionError("the last band is unbounded")  # pragma: no cover

    def personal_grade(self, points: int) -> str:
        """Return the personal grade of a resident who has earned ``points`` in total: the last
        band whose ``min_points`` it reaches."""
        if isinstance(points, bool) or not isinstance(points, int) or points < 0:
            raise MethodologyError(f"points must be a whole number >= 0, not {points!r}")
        grade = None
        for band in self._rule_bands("personal_grades"):
            if band.limit is not None and points >= band.limit:
                grade = band.result
        assert grade is not None  # the first band starts at 0
        return grade

    # -- internals --------------------------------------------------------------------------------

    def _adopt(self, methodology: Methodology) -> None:
        key = methodology.key
        if key in self._adopted:
            raise MethodologyError(f"{key} is adopted twice")
        self._adopted[key] = methodology
        where = _Where(key)
        rules = methodology.rules
        if methodology.kind == "grid":
            for region, parent in _regions(where, rules).items():
                if region in self._parents and self._parents[region] != parent:
                    raise MethodologyError(
                        f"{key} puts region {region!r} under {parent!r}, another adopted grid"
                        f" methodology under {self._parents[region]!r}"
                    )
                self._parents[region] = parent
        for factor in methodology.factors:
            if methodology.kind == "grid":
                assert factor.region is not None and factor.valid_from is not None
                self._put(self._grid, (factor.region, factor.valid_from.year), factor)
            elif methodology.kind == "fuel":
                carrier = factor.id.partition("/")[0]
                self._put(self._fuel, (carrier, factor.gas), factor)
            elif methodology.kind == "heat":
                self._put(self._heat, factor.id, factor)
            elif methodology.kind == "inclusion":
                self._put(self._inclusion, factor.id, factor)
            elif methodology.kind == "evaluation":
                self._put(self._benchmarks, factor.id, factor)
        if methodology.kind == "evaluation":
            parsers = {
                "labels": _label_bands,
                "efficiency_code": _code_bands,
                "carbon_level": _level_bands,
            }
            for rule, parse in parsers.items():
                if rule in rules:
                    self._claim_rule(rule, key)
                    self._bands[rule] = parse(where, rules)
        elif methodology.kind == "points":
            self._claim_rule("points", key)
            self._actions = _actions(where, rules)
            if "personal_grades" in rules:
                self._claim_rule("personal_grades", key)
                self._bands["personal_grades"] = _grade_bands(where, rules)

    def _put(self, index: dict[Any, Factor], key: Any, factor: Factor) -> None:
        if key in index:
            other = index[key]
            raise MethodologyError(
                f"{factor.methodology} factor {factor.id!r} and {other.methodology} factor"
                f" {other.id!r} answer the same lookup; adopt only one of them"
            )
        index[key] = factor

    def _claim_rule(self, rule: str, key: str) -> None:
        if rule in self._rule_source:
            raise MethodologyError(
                f"{key} and {self._rule_source[rule]} both give the {rule} rule; adopt only one"
            )
        self._rule_source[rule] = key

    def _find(self, index: Mapping[Any, Factor], key: Any, what: str) -> Factor:
        if key not in index:
            adopted = ", ".join(self._adopted) or "nothing"
            raise MethodologyError(f"no {what} in the adopted methodologies ({adopted})")
        return index[key]

    def _region_chain(self, region: str) -> list[str]:
        # A region no adopted grid methodology declares falls straight back to national.
        chain = [region]
        while chain[-1] != NATIONAL:
            parent = self._parents.get(chain[-1])
            chain.append(NATIONAL if parent is None else parent)
        return chain

    def _rule_bands(self, rule: str) -> tuple[_Band, ...]:
        if rule not in self._bands:
            raise MethodologyError(f"no adopted methodology gives the {rule} rule")
        return self._bands[rule]

    def _ratio_band(self, rule: str, intensity: Decimal, benchmark: Decimal) -> str:
        intensity = _exact(intensity, "intensity")
        benchmark = _exact(benchmark, "benchmark")
        if benchmark == 0:
            raise MethodologyError("benchmark must be greater than 0")
        for band in self._rule_bands(rule):
            # intensity / benchmark <= limit, compared without dividing so boundaries are exact.
            if band.limit is None or intensity <= band.limit * benchmark:
                return band.result
        raise AssertionError("the last band is unbounded")  # pragma: no cover


def _exact(value: Decimal | int, name: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise MethodologyError(
            f"{name} must be a Decimal (or int), not {type(value).__name__}: {value!r}"
        )
    number = Decimal(value)
    if not number.is_finite() or number < 0:
        raise MethodologyError(f"{name} must be a finite number >= 0, not {value}")
    return number


def _check_name(what: str, value: str) -> None:
    if not isinstance(value, str) or not _NAME.match(value):
        raise MethodologyError(f"{what} must be an id such as 'zhejiang', not {value!r}")


def _check_year(year: int) -> None:
    if isinstance(year, bool) or not isinstance(year, int):
        raise MethodologyError(f"year must be an int, not {year!r}")


# ---------------------------------------------------------------------------------------------
# Metered quantities


def emissions_kg(
    quantity: Decimal,
    unit: str,
    carrier: str,
    *,
    region: str,
    year: int,
    table: FactorTable,
) -> tuple[Decimal, Factor, int]:
    """Return the kg of CO2 for a metered ``quantity`` of ``carrier`` in ``unit``, the factor used
    and the scope: electricity (kWh, MWh) by the grid factor of ``region`` and ``year``, scope 2;
    natural gas (m3) and coal (t) by their fuel factors, scope 1; heat (GJ) and steam (t, or GJ of
    steam heat) by the heat factors, scope 2. The result is rounded to 0.001 kg, half to even.
    ``region`` and ``year`` matter only for electricity."""
    if carrier not in _CARRIERS:
        raise MethodologyError(
            f"unknown carrier {carrier!r} (known: {', '.join(sorted(_CARRIERS))})"
        )
    scope, units = _CARRIERS[carrier]
    unit = _UNIT_ALIASES.get(unit, unit)
    if unit not in units:
        raise MethodologyError(f"{carrier} is metered in {', '.join(sorted(units))}, not {unit!r}")
    amount = _exact(quantity, "quantity")
    if carrier == "electricity":
        factor = table.grid_factor(region, year)
    elif carrier in ("natural_gas", "coal"):
        factor = table.fuel_factor(carrier)
    elif carrier == "steam" and unit != "GJ":
        unit = "t_steam"
        factor = table.heat_factor("t_steam")
    else:
        factor = table.heat_factor("GJ")
    if factor.gas != "CO2":  # pragma: no cover - lookups above only return CO2 factors
        raise MethodologyError(f"{factor.methodology} {factor.id} is not a CO2 factor")
    mass, _, denominator = factor.unit.partition(" CO2/")
    quantity_dimension, quantity_size = _UNITS[unit]
    factor_dimension, factor_size = _UNITS[denominator]
    if quantity_dimension != factor_dimension:  # pragma: no cover - guarded by kind checks
        raise MethodologyError(
            f"{factor.methodology} {factor.id} is per {denominator}, the reading is in {unit}"
        )
    with localcontext() as context:
        context.prec = 60
        kilograms = amount * quantity_size / factor_size * factor.value * _MASS_IN_KG[mass]
        return kilograms.quantize(_KG_QUANTUM, rounding=ROUND_HALF_EVEN), factor, scope
