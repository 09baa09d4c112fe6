"""Methodologies and emission factors: every shipped file loads with a source for every value, the
published figures are the ones in the files, emissions are hand-computed, band boundaries are
exact, and malformed files are refused with messages that name the file and the field."""

from __future__ import annotations

import copy
import hashlib
import json
from decimal import ROUND_FLOOR, Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.errors import DomainError
from domain.methodology import (
    DATA_DIRECTORY,
    DEFAULT_ADOPTION,
    LABELS,
    Factor,
    FactorTable,
    Methodology,
    MethodologyError,
    canonical_json,
    emissions_kg,
    load_methodologies,
    parse_methodology,
)

SHIPPED = load_methodologies()
SHIPPED_FILES = sorted(DATA_DIRECTORY.glob("*.json"))

MEE = "cn-grid-mee-nbs@1.0"
ETS = "cn-grid-ets@1.0"
IPCC = "ipcc2006-fuel@1.0"
GUIDELINE = "cn-guideline-fuel@1.0"
HEAT = "cn-heat@1.0"
TRANSIT = "shenzhen-low-carbon-transit@1.0"
POINTS = "quzhou-points@1.0"
EVALUATION = "zhejiang-enterprise-evaluation@1.0"

DEFAULT = FactorTable.adopting(DEFAULT_ADOPTION, SHIPPED)
WITH_ETS = FactorTable.adopting([ETS, GUIDELINE, HEAT], SHIPPED)

D = Decimal


# --- walking JSON documents


def _text_paths(value: Any, path: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in _text_paths(item, (*path, key))]
    if isinstance(value, list):
        return [p for index, item in enumerate(value) for p in _text_paths(item, (*path, index))]
    return [path] if isinstance(value, str) else []


def _get(document: Any, path: Any) -> Any:
    for step in path:
        document = document[int(step) if isinstance(document, list) else step]
    return document


def _set(document: Any, path: Any, value: Any) -> None:
    parent = _get(document, list(path)[:-1])
    last = list(path)[-1]
    parent[int(last) if isinstance(parent, list) else last] = value


def _dotted(path: tuple[str | int, ...]) -> str:
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else step)
    return text


def table(*keys: str) -> FactorTable:
    return FactorTable.adopting(keys, SHIPPED)


def raw(key: str) -> dict[str, Any]:
    return json.loads((DATA_DIRECTORY / f"{key}.json").read_text("utf-8"))


def refusal(document: Any, name: str = "test.json") -> str:
    """Parse a document expected to be refused; return the message."""
    data = document if isinstance(document, bytes) else json.dumps(document).encode()
    with pytest.raises(MethodologyError) as caught:
        parse_methodology(data, name=name)
    return str(caught.value)


def minimal(kind: str = "inclusion") -> dict[str, Any]:
    return {
        "format": "carbonledger-methodology/1",
        "id": "test-method",
        "version": "1.0",
        "kind": kind,
        "title": "a test methodology",
        "source": "tests/test_methodology.py",
        "factors": [
            {
                "id": "bus_electric",
                "value": "26.9",
                "unit": "g CO2/person-km",
                "source": "a test source",
            }
        ],
        "rules": {},
    }


# --- the shipped files ----------------------------------------------------------------------------


def test_every_shipped_file_loads_under_its_own_name() -> None:
    assert {path.name for path in SHIPPED_FILES} == {f"{key}.json" for key in SHIPPED}
    assert set(SHIPPED) == {MEE, ETS, IPCC, GUIDELINE, HEAT, TRANSIT, POINTS, EVALUATION}
    for key, methodology in SHIPPED.items():
        assert methodology.key == key
        assert len(methodology.digest) == 64


def test_every_factor_has_a_source_and_an_exact_value() -> None:
    for key, methodology in SHIPPED.items():
        assert methodology.source.strip()
        for factor in methodology.factors:
            assert factor.source.strip(), f"{key} {factor.id}"
            assert type(factor.value) is Decimal
            assert factor.methodology == key


@pytest.mark.parametrize("path", SHIPPED_FILES, ids=lambda path: path.name)
def test_shipped_files_hold_no_json_numbers(path: Path) -> None:
    def refuse(literal: str) -> None:
        raise AssertionError(f"{path.name} has the JSON number {literal}")

    json.loads(path.read_text("utf-8"), parse_float=refuse, parse_int=refuse, parse_constant=refuse)


def test_the_default_adoption_is_shipped_and_unambiguous() -> None:
    assert DEFAULT.adopted == DEFAULT_ADOPTION
    assert DEFAULT.digests() == {key: SHIPPED[key].digest for key in DEFAULT_ADOPTION}


# The published figures, as checked when the files were written (see each factor's note).
PUBLISHED = [
    (MEE, "electricity/national/2021", "0.5568", "kg CO2/kWh"),
    (MEE, "electricity/national/2022", "0.5366", "kg CO2/kWh"),
    (MEE, "electricity/national/2023", "0.5306", "kg CO2/kWh"),
    (MEE, "electricity/east_china/2021", "0.5992", "kg CO2/kWh"),
    (MEE, "electricity/east_china/2022", "0.5617", "kg CO2/kWh"),
    (MEE, "electricity/east_china/2023", "0.5500", "kg CO2/kWh"),
    (MEE, "electricity/zhejiang/2022", "0.5153", "kg CO2/kWh"),
    (ETS, "electricity/national/2021", "0.5810", "t CO2/MWh"),
    (ETS, "electricity/national/2022", "0.5703", "t CO2/MWh"),
    (HEAT, "heat", "0.11", "t CO2/GJ"),
    (TRANSIT, "bus_electric", "26.9", "g CO2/person-km"),
    (TRANSIT, "metro", "46.7", "g CO2/person-km"),
]


@pytest.mark.parametrize(("key", "factor_id", "value", "unit"), PUBLISHED)
def test_published_figures(key: str, factor_id: str, value: str, unit: str) -> None:
    factor = SHIPPED[key].factor(factor_id)
    assert (factor.value, factor.unit) == (D(value), unit)
    assert str(factor.value) == value  # written exactly as published, trailing zeros included


def test_points_rules_are_the_platform_figures() -> None:
    assert DEFAULT.points_for("bus_ride") == 10
    assert DEFAULT.points_unit("bus_ride") == "ride"
    assert DEFAULT.points_for("cardboard_recycling") == 5
    assert DEFAULT.points_unit("cardboard_recycling") == "kg"
    assert DEFAULT.points_for("online_government_service") == 122
    assert SHIPPED[POINTS].rules["redemptions"]["tissue_pack"]["points"] == "200"


def test_ipcc_factors_are_the_defaults_times_the_calorific_values() -> None:
    methodology = SHIPPED[IPCC]
    ncv = methodology.rules["net_calorific_values"]
    defaults = methodology.rules["ipcc_default_emission_factors"]
    assert defaults["unit"] == "kg/TJ"
    for carrier, per_tonne in (("natural_gas", False), ("coal", True)):
        assert ncv[carrier]["unit"] == ("GJ/t" if per_tonne else "GJ/m3")
        for gas in ("CO2", "CH4", "N2O"):
            factor = methodology.factor(f"{carrier}/{gas}")
            kilograms = D(defaults[carrier][gas]) / 1000 * D(ncv[carrier]["value"])
            mass = factor.unit.split(" ")[0]
            assert factor.value == (kilograms / 1000 if mass == "t" else kilograms), factor.id
    assert DEFAULT.fuel_factor("natural_gas").value == D("2.1840291")
    assert DEFAULT.fuel_factor("coal").value == D("1.9778968")


def test_guideline_gas_factor_is_ncv_times_carbon_content_times_oxidation() -> None:
    inputs = SHIPPED[GUIDELINE].rules["natural_gas"]
    assert inputs["co2_per_carbon"] == "44/12"
    tonnes_carbon = (
        D(inputs["net_calorific_value_GJ_per_m3"])
        * D(inputs["carbon_content_tC_per_GJ"])
        * D(inputs["oxidation_rate"])
    )
    kilograms_co2 = tonnes_carbon * 1000 * 44 / 12
    assert SHIPPED[GUIDELINE].factor("natural_gas/CO2").value == kilograms_co2
    assert kilograms_co2.quantize(D("0.0001")) == D("2.1622")  # the figure usually quoted


def test_steam_factor_follows_the_guidelines_enthalpy_formula() -> None:
    steam = SHIPPED[HEAT].rules["steam"]
    gigajoules_per_tonne = (
        D(steam["enthalpy_kJ_per_kg"]) - D(steam["feed_water_enthalpy_kJ_per_kg"])
    ) / 1000
    assert gigajoules_per_tonne == D("2.69338")
    assert SHIPPED[HEAT].factor("steam").value == gigajoules_per_tonne * D("0.11")


def test_rules_are_read_only() -> None:
    rules = SHIPPED[POINTS].rules
    with pytest.raises(TypeError):
        rules["actions"] = {}  # type: ignore[index]
    with pytest.raises(TypeError):
        rules["actions"]["bus_ride"]["points"] = "1000"  # type: ignore[index]


# --- digests --------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", SHIPPED_FILES, ids=lambda path: path.name)
def test_digest_is_sha256_of_the_canonical_form(path: Path) -> None:
    document = json.loads(path.read_text("utf-8"))
    expected = hashlib.sha256(
        json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    ).hexdigest()
    methodology = SHIPPED[path.stem]
    assert methodology.digest == expected
    # Reformatting keeps the digest; the digest names content, not layout.
    reformatted = json.dumps(document, indent=7, ensure_ascii=True).encode()
    assert parse_methodology(reformatted, name=path.name).digest == expected


def test_canonical_form_is_sorted_compact_utf8() -> None:
    assert canonical_json({"b": "华东", "a": ["x", None, True]}) == (
        '{"a":["x",null,true],"b":"华东"}'.encode()
    )


@settings(max_examples=50, deadline=None)
@given(st.data())
def test_changing_any_text_changes_the_digest(data: st.DataObject) -> None:
    key = data.draw(st.sampled_from(sorted(SHIPPED)))
    document = raw(key)
    path = data.draw(st.sampled_from(_text_paths(document)))
    changed = copy.deepcopy(document)
    _set(changed, path, _get(document, path) + " ")
    assert _get(changed, path) != _get(document, path)
    try:
        digest = parse_methodology(json.dumps(changed).encode(), name=key).digest
    except MethodologyError:
        return  # a value that must match a pattern; refused, which is also fine
    assert digest != SHIPPED[key].digest


# --- refusals -------------------------------------------------------------------------------------


def test_a_float_value_is_refused() -> None:
    document = minimal()
    text = json.dumps(document).replace('"26.9"', "26.9")
    message = refusal(text.encode(), name="bus.json")
    assert message.startswith("bus.json: factors[0].value: 26.9 is a JSON number")
    assert '("26.9")' in message


@pytest.mark.parametrize("literal", ["0.5703", "10", "5.7e-1", "NaN", "Infinity", "-1"])
def test_every_json_number_is_refused(literal: str) -> None:
    text = json.dumps(minimal()).replace('"26.9"', literal)
    assert f"factors[0].value: {literal} is a JSON number" in refusal(text.encode())


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_a_number_anywhere_in_a_shipped_file_is_refused(data: st.DataObject) -> None:
    key = data.draw(st.sampled_from(sorted(SHIPPED)))
    document = raw(key)
    path = data.draw(st.sampled_from(_text_paths(document)))
    number = data.draw(
        st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(10**6), 10**6)
    )
    _set(document, path, number)
    message = refusal(json.dumps(document).encode(), name=f"{key}.json")
    assert message.startswith(f"{key}.json: {_dotted(path)}: ")
    assert "is a JSON number" in message


def _without(document: dict[str, Any], *path: str | int) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    del _get(changed, list(path[:-1]))[path[-1]]
    return changed


def _with(document: dict[str, Any], value: Any, *path: str | int) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    _set(changed, list(path), value)
    return changed


REFUSALS = [
    (_without(minimal(), "source"), "test.json: source: missing"),
    (_with(minimal(), "  ", "source"), "test.json: source: must be non-empty text"),
    (_without(minimal(), "factors", 0, "source"), "test.json: factors[0].source: missing"),
    (_with(minimal(), "", "factors", 0, "source"), "factors[0].source: must be non-empty text"),
    (_with(minimal(), None, "factors", 0, "source"), "factors[0].source: must be non-empty text"),
    (_with(minimal(), "tariff", "kind"), "kind: unknown kind 'tariff'"),
    (_with(minimal(), "carbonledger-methodology/2", "format"), "format: expected"),
    (_with(minimal(), "Test Method", "id"), "id: 'Test Method' is not lower-case"),
    (_with(minimal(), "", "version"), "version: must be non-empty text"),
    (_with(minimal(), "x", "extra"), "test.json: extra: unknown field"),
    (_with(minimal(), "x", "factors", 0, "valu"), "factors[0].valu: unknown field"),
    (_with(minimal(), "2.69e1", "factors", 0, "value"), "factors[0].value: '2.69e1' is not"),
    (_with(minimal(), "-1", "factors", 0, "value"), "factors[0].value: '-1' is not a decimal"),
    (_with(minimal(), " 26.9", "factors", 0, "value"), "factors[0].value: ' 26.9' is not"),
    (_with(minimal(), "026.9", "factors", 0, "value"), "factors[0].value: '026.9' is not"),
    (_with(minimal(), True, "factors", 0, "value"), "factors[0].value: True is not a decimal"),
    (_with(minimal(), "2021-02-30", "factors", 0, "valid_from"), "not a calendar date"),
    (_with(minimal(), "2021/01/01", "factors", 0, "valid_from"), "is not a date written"),
    (_with(minimal(), "20210101", "factors", 0, "valid_to"), "factors[0].valid_to: '20210101'"),
    (
        _with(
            _with(minimal(), "2022-01-01", "factors", 0, "valid_from"),
            "2021-12-31",
            "factors",
            0,
            "valid_to",
        ),
        "factors[0].valid_to: 2021-12-31 is before valid_from 2022-01-01",
    ),
    (
        _with(minimal(), "g CH4/person-km", "factors", 0, "unit"),
        "is a factor for CH4, the factor is CO2",
    ),
    (_with(minimal(), "g CO2/furlong", "factors", 0, "unit"), "factors[0].unit: 'g CO2/furlong'"),
    (_with(minimal(), "SF6", "factors", 0, "gas"), "factors[0].gas: unknown gas 'SF6'"),
    (_with(minimal(), "Zhe Jiang", "factors", 0, "region"), "factors[0].region: 'Zhe Jiang'"),
    (
        _with(minimal(), "g CO2/kWh", "factors", 0, "unit"),
        "factors[0].unit: should be per person-km",
    ),
    (
        _with(minimal(), [], "factors"),
        "factors: a methodology of kind inclusion needs at least one factor",
    ),
    (_with(minimal(), {}, "factors"), "factors: must be a list"),
    (_with(minimal(), [], "rules"), "rules: must be an object"),
    ([], "test.json: (top level): a methodology file is one JSON object"),
]


@pytest.mark.parametrize(("document", "expected"), REFUSALS)
def test_refusals_name_the_file_and_field(document: Any, expected: str) -> None:
    message = refusal(document)
    assert message.startswith("test.json: ")
    assert expected in message


def test_duplicate_factor_ids_are_refused() -> None:
    document = minimal()
    document["factors"].append(dict(document["factors"][0], value="30"))
    assert "factors[1].id: duplicate factor id 'bus_electric' (also factors[0])" in refusal(
        document
    )


def test_duplicate_json_keys_are_refused() -> None:
    text = json.dumps(minimal()).replace('"title":', '"title": "first", "title":')
    assert "duplicate key 'title'" in refusal(text.encode())


def test_invalid_utf8_and_json_are_refused() -> None:
    assert "test.json: (top level): not UTF-8" in refusal(b'{"id": "\xff"}')
    assert "test.json: (top level): not JSON" in refusal(b'{"id": ')


def test_non_ascii_keys_are_refused() -> None:
    assert "rules.碳: object keys must be ASCII" in refusal(_with(minimal(), "x", "rules", "碳"))


def test_duplicate_methodologies_across_files_are_refused(tmp_path: Path) -> None:
    for name in ("a.json", "b.json"):
        (tmp_path / name).write_text(json.dumps(minimal()), "utf-8")
    with pytest.raises(MethodologyError) as caught:
        load_methodologies(tmp_path)
    assert str(caught.value) == (
        "b.json: id: test-method@1.0 is already defined by a.json"
        " (each id@version must be defined once)"
    )


def test_a_directory_of_valid_files_loads(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(json.dumps(minimal()), "utf-8")
    (tmp_path / "notes.txt").write_text("not a methodology", "utf-8")
    loaded = load_methodologies(tmp_path)
    assert list(loaded) == ["test-method@1.0"]
    assert loaded["test-method@1.0"].factor("bus_electric").value == D("26.9")
    with pytest.raises(MethodologyError, match="not a directory"):
        load_methodologies(tmp_path / "missing")


def test_methodology_error_is_a_domain_and_value_error() -> None:
    assert issubclass(MethodologyError, DomainError)
    assert issubclass(MethodologyError, ValueError)


def grid(**changes: Any) -> dict[str, Any]:
    document = raw(MEE)
    document["factors"] = [copy.deepcopy(document["factors"][0])]
    for path, value in changes.items():
        _set(document, path.split("__"), value)
    return document


GRID_REFUSALS = [
    (grid(factors__0__region="mars"), "factors[0].region: 'mars' is not declared in rules.regions"),
    (
        grid(factors__0__valid_to="2022-12-31"),
        "factors[0].valid_to: a grid factor is valid for one calendar year",
    ),
    (grid(factors__0__valid_from="2021-02-01"), "valid for one calendar year"),
    (
        grid(factors__0__id="electricity/national/2022"),
        "factors[0].id: 'electricity/national/2022' should be 'electricity/national/2021'",
    ),
    (grid(factors__0__unit="kg CO2/GJ"), "factors[0].unit: a grid factor is"),
    (grid(rules={}), "rules.regions: missing"),
    (
        grid(rules__regions__national__parent="east_china"),
        "rules.regions.national: missing, or has a parent",
    ),
    (grid(rules__regions__east_china__parent="zhejiang"), "regions form a cycle"),
    (
        grid(rules__regions__zhejiang__parent="atlantis"),
        "rules.regions.zhejiang.parent: 'atlantis' is not a region",
    ),
]


@pytest.mark.parametrize(("document", "expected"), GRID_REFUSALS)
def test_grid_refusals(document: dict[str, Any], expected: str) -> None:
    message = refusal(document, name="grid.json")
    assert message.startswith("grid.json: ")
    assert expected in message


def grid_without_factor_dates() -> dict[str, Any]:
    document = grid()
    del document["factors"][0]["valid_from"]
    return document


def test_grid_factors_need_their_year() -> None:
    assert "factors[0].valid_from: a grid factor needs valid_from and valid_to" in refusal(
        grid_without_factor_dates()
    )


def evaluation(rule: str, bands: list[dict[str, Any]]) -> dict[str, Any]:
    document = raw(EVALUATION)
    document["rules"][rule]["bands"] = bands
    return document


BAND_REFUSALS = [
    (
        evaluation(
            "labels",
            [
                {"max_ratio": "1.0", "label": "dark_green"},
                {"max_ratio": "0.8", "label": "light_green"},
                {"max_ratio": None, "label": "red"},
            ],
        ),
        "rules.labels.bands[1].max_ratio: bands must rise strictly",
    ),
    (
        evaluation(
            "labels",
            [{"max_ratio": "0.8", "label": "dark_green"}, {"max_ratio": "1.2", "label": "red"}],
        ),
        "rules.labels.bands[1].max_ratio: the last band is unbounded (null)",
    ),
    (
        evaluation(
            "labels", [{"max_ratio": "0.8", "label": "green"}, {"max_ratio": None, "label": "red"}]
        ),
        "rules.labels.bands[0].label: 'green' is not one of dark_green",
    ),
    (
        evaluation(
            "labels", [{"max_ratio": "0.8", "label": "red"}, {"max_ratio": None, "label": "red"}]
        ),
        "rules.labels.bands[1].label: 'red' appears twice",
    ),
    (
        evaluation(
            "efficiency_code", [{"max_ratio": "0.6", "code": "2"}, {"max_ratio": None, "code": "1"}]
        ),
        "rules.efficiency_code.bands: codes must be",
    ),
    (evaluation("carbon_level", []), "rules.carbon_level.bands: must be a non-empty list"),
]


@pytest.mark.parametrize(("document", "expected"), BAND_REFUSALS)
def test_band_refusals(document: dict[str, Any], expected: str) -> None:
    assert expected in refusal(document)


def test_points_refusals() -> None:
    document = raw(POINTS)
    assert "rules.actions.bus_ride.points: '10.5' is not a whole-number string" in refusal(
        _with(document, "10.5", "rules", "actions", "bus_ride", "points")
    )
    assert "rules.actions: missing" in refusal(_with(document, {}, "rules", "actions"))
    assert "factors: a points methodology has rules, not factors" in refusal(
        _with(document, minimal()["factors"], "factors")
    )
    grades = document["rules"]["personal_grades"]["bands"]
    assert 'rules.personal_grades.bands[0].min_points: the first band starts at "0"' in refusal(
        _with(document, "1", "rules", "personal_grades", "bands", 0, "min_points")
    )
    assert "rules.personal_grades.bands[2].min_points: bands must rise strictly" in refusal(
        _with(
            document, grades[1]["min_points"], "rules", "personal_grades", "bands", 2, "min_points"
        )
    )


def test_fuel_and_heat_ids_are_checked() -> None:
    fuel = raw(IPCC)
    assert "factors[0].id: 'diesel/CO2' should be '<carrier>/CO2'" in refusal(
        _with(fuel, "diesel/CO2", "factors", 0, "id")
    )
    assert "factors[1].id: 'natural_gas/SF6' should be '<carrier>/CH4'" in refusal(
        _with(fuel, "natural_gas/SF6", "factors", 1, "id")
    )
    assert "factors[3].unit: coal factors are per t" in refusal(
        _with(fuel, "t CO2/m3", "factors", 3, "unit")
    )
    heat = raw(HEAT)
    assert "factors[1].unit: the steam factor is '<mass> CO2/t_steam'" in refusal(
        _with(heat, "t CO2/t", "factors", 1, "unit")
    )
    assert "factors[0].id: 'hot_water' should be 'heat' or 'steam'" in refusal(
        _with(heat, "hot_water", "factors", 0, "id")
    )


# --- emissions ------------------------------------------------------------------------------------


READINGS = [
    # (adopted, quantity, unit, carrier, region, year, kg CO2, scope, factor used)
    (
        WITH_ETS,
        "1000",
        "kWh",
        "electricity",
        "zhejiang",
        2022,
        "570.300",
        2,
        "electricity/national/2022",
    ),
    (
        WITH_ETS,
        "2.5",
        "MWh",
        "electricity",
        "national",
        2021,
        "1452.500",
        2,
        "electricity/national/2021",
    ),
    (
        DEFAULT,
        "1000",
        "kWh",
        "electricity",
        "zhejiang",
        2022,
        "515.300",
        2,
        "electricity/zhejiang/2022",
    ),
    (
        DEFAULT,
        "1",
        "kWh",
        "electricity",
        "east_china",
        2021,
        "0.599",
        2,
        "electricity/east_china/2021",
    ),
    # 2.5 x 0.5306 = 1.3265: half to even keeps 1.326.
    (
        DEFAULT,
        "2.5",
        "kWh",
        "electricity",
        "national",
        2023,
        "1.326",
        2,
        "electricity/national/2023",
    ),
    # 3.5 x 0.5306 = 1.8571 rounds up.
    (
        DEFAULT,
        "3.5",
        "kWh",
        "electricity",
        "national",
        2023,
        "1.857",
        2,
        "electricity/national/2023",
    ),
    (DEFAULT, "100", "m3", "natural_gas", "zhejiang", 2022, "218.403", 1, "natural_gas/CO2"),
    (DEFAULT, "100", "m³", "natural_gas", "zhejiang", 2022, "218.403", 1, "natural_gas/CO2"),
    (WITH_ETS, "100", "m3", "natural_gas", "zhejiang", 2022, "216.219", 1, "natural_gas/CO2"),
    (DEFAULT, "1", "t", "coal", "zhejiang", 2022, "1977.897", 1, "coal/CO2"),
    (DEFAULT, "10", "GJ", "heat", "zhejiang", 2022, "1100.000", 2, "heat"),
    (DEFAULT, "1", "t", "steam", "zhejiang", 2022, "296.272", 2, "steam"),
    (DEFAULT, "2", "t_steam", "steam", "zhejiang", 2022, "592.544", 2, "steam"),
    (DEFAULT, "5", "GJ", "steam", "zhejiang", 2022, "550.000", 2, "heat"),
    (DEFAULT, "0", "kWh", "electricity", "zhejiang", 2022, "0.000", 2, "electricity/zhejiang/2022"),
]


@pytest.mark.parametrize(
    ("adopted", "quantity", "unit", "carrier", "region", "year", "expected", "scope", "factor_id"),
    READINGS,
)
def test_hand_computed_emissions(
    adopted: FactorTable,
    quantity: str,
    unit: str,
    carrier: str,
    region: str,
    year: int,
    expected: str,
    scope: int,
    factor_id: str,
) -> None:
    kilograms, factor, got_scope = emissions_kg(
        D(quantity), unit, carrier, region=region, year=year, table=adopted
    )
    assert str(kilograms) == expected
    assert (factor.id, got_scope) == (factor_id, scope)
    assert factor.methodology in adopted.adopted


@pytest.mark.parametrize(
    ("quantity", "unit", "carrier", "expected"),
    [
        (D(1), "kWh", "natural_gas", "natural_gas is metered in m3, not 'kWh'"),
        (D(1), "m3", "electricity", "electricity is metered in MWh, kWh, not 'm3'"),
        (D(1), "GJ", "coal", "coal is metered in t, not 'GJ'"),
        (
            D(1),
            "t",
            "diesel",
            "unknown carrier 'diesel' (known: coal, electricity, heat, natural_gas, steam)",
        ),
        (1.5, "kWh", "electricity", "quantity must be a Decimal (or int), not float: 1.5"),
        (True, "kWh", "electricity", "quantity must be a Decimal (or int), not bool: True"),
        (D(-1), "kWh", "electricity", "quantity must be a finite number >= 0, not -1"),
        (D("NaN"), "kWh", "electricity", "quantity must be a finite number >= 0, not NaN"),
    ],
)
def test_emissions_refusals(quantity: Any, unit: str, carrier: str, expected: str) -> None:
    with pytest.raises(MethodologyError) as caught:
        emissions_kg(quantity, unit, carrier, region="zhejiang", year=2022, table=DEFAULT)
    assert str(caught.value) == expected


def test_a_year_without_a_factor_is_refused() -> None:
    with pytest.raises(MethodologyError) as caught:
        emissions_kg(D(1), "kWh", "electricity", region="zhejiang", year=2030, table=DEFAULT)
    assert str(caught.value) == (
        "no grid factor for region 'zhejiang' or its parents in 2030"
        " (adopted grid factors cover: 2021, 2022, 2023)"
    )


def test_a_carrier_without_adopted_factors_is_refused() -> None:
    only_grid = table(MEE)
    with pytest.raises(MethodologyError, match=r"no fuel factor for coal \(CO2\)"):
        emissions_kg(D(1), "t", "coal", region="zhejiang", year=2022, table=only_grid)
    with pytest.raises(MethodologyError, match="no heat factor per t_steam"):
        emissions_kg(D(1), "t", "steam", region="zhejiang", year=2022, table=only_grid)


@settings(max_examples=200, deadline=None)
@given(
    st.decimals(min_value=0, max_value=10**9, places=3),
    st.sampled_from(["zhejiang", "east_china", "shanghai", "national", "quzhou"]),
    st.sampled_from([2021, 2022, 2023]),
)
def test_kwh_and_mwh_agree(megawatt_hours: Decimal, region: str, year: int) -> None:
    in_mwh = emissions_kg(
        megawatt_hours, "MWh", "electricity", region=region, year=year, table=DEFAULT
    )
    in_kwh = emissions_kg(
        megawatt_hours * 1000, "kWh", "electricity", region=region, year=year, table=DEFAULT
    )
    assert in_mwh == in_kwh
    kilograms, factor, _ = in_kwh
    assert kilograms == (megawatt_hours * 1000 * factor.value).quantize(D("0.001"))
    assert kilograms.as_tuple().exponent == -3


# --- region fallback ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("adopted", "region", "year", "used", "value"),
    [
        (DEFAULT, "zhejiang", 2022, "zhejiang", "0.5153"),
        (DEFAULT, "shanghai", 2022, "east_china", "0.5617"),
        (DEFAULT, "fujian", 2023, "east_china", "0.5500"),
        (DEFAULT, "east_china", 2021, "east_china", "0.5992"),
        (DEFAULT, "quzhou", 2021, "national", "0.5568"),
        (DEFAULT, "national", 2023, "national", "0.5306"),
        (WITH_ETS, "zhejiang", 2022, "national", "0.5703"),
        (WITH_ETS, "east_china", 2021, "national", "0.5810"),
    ],
)
def test_region_falls_back_and_says_which_was_used(
    adopted: FactorTable, region: str, year: int, used: str, value: str
) -> None:
    factor = adopted.grid_factor(region, year)
    assert (factor.region, factor.value) == (used, D(value))
    assert factor.valid_from is not None and factor.valid_from.year == year


def test_region_and_year_must_be_well_formed() -> None:
    with pytest.raises(MethodologyError, match="region must be an id such as 'zhejiang'"):
        DEFAULT.grid_factor("Zhejiang", 2022)
    with pytest.raises(MethodologyError, match="year must be an int, not '2022'"):
        DEFAULT.grid_factor("zhejiang", "2022")  # type: ignore[arg-type]


# --- adoption -------------------------------------------------------------------------------------


def test_two_grid_methodologies_for_the_same_year_are_refused() -> None:
    with pytest.raises(MethodologyError) as caught:
        table(ETS, MEE)
    assert str(caught.value) == (
        "cn-grid-mee-nbs@1.0 factor 'electricity/national/2021' and cn-grid-ets@1.0 factor"
        " 'electricity/national/2021' answer the same lookup; adopt only one of them"
    )


def test_two_fuel_methodologies_for_the_same_gas_are_refused() -> None:
    with pytest.raises(MethodologyError, match="'natural_gas/CO2' answer the same lookup"):
        table(IPCC, GUIDELINE)


def test_adopting_twice_or_an_unknown_key_is_refused() -> None:
    with pytest.raises(MethodologyError, match=r"cn-heat@1\.0 is adopted twice"):
        table(HEAT, HEAT)
    with pytest.raises(MethodologyError, match=r"cannot adopt cn-heat@9: no such methodology"):
        table("cn-heat@9")


def test_two_rule_sources_are_refused() -> None:
    second = parse_methodology(
        json.dumps(dict(raw(POINTS), version="2.0")).encode(), name="points-2.json"
    )
    with pytest.raises(MethodologyError) as caught:
        FactorTable([SHIPPED[POINTS], second])
    assert str(caught.value) == (
        "quzhou-points@2.0 and quzhou-points@1.0 both give the points rule; adopt only one"
    )


def test_rules_say_which_methodology_answered() -> None:
    assert DEFAULT.rule_methodology("labels") == EVALUATION
    assert DEFAULT.rule_methodology("efficiency_code") == EVALUATION
    assert DEFAULT.rule_methodology("points") == POINTS
    assert DEFAULT.rule_methodology("personal_grades") == POINTS
    with pytest.raises(MethodologyError, match="no adopted methodology gives the labels rule"):
        WITH_ETS.rule_methodology("labels")
    with pytest.raises(MethodologyError, match="no adopted methodology gives the labels rule"):
        WITH_ETS.label_for(D(1), D(1))
    with pytest.raises(MethodologyError, match="no points rule for action 'bus_ride'"):
        WITH_ETS.points_for("bus_ride")


def test_factor_lookups() -> None:
    bus = DEFAULT.inclusion_factor("bus_electric")
    assert (bus.value, bus.unit, bus.methodology) == (D("26.9"), "g CO2/person-km", TRANSIT)
    assert DEFAULT.inclusion_factor("metro").value == D("46.7")
    assert DEFAULT.heat_factor("GJ").id == "heat"
    assert DEFAULT.heat_factor("t_steam").id == "steam"
    assert DEFAULT.fuel_factor("natural_gas", "CH4").unit == "kg CH4/m3"
    cement = DEFAULT.benchmark("cement")
    assert (cement.unit, cement.methodology) == ("t CO2/10^4 CNY", EVALUATION)
    assert "ILLUSTRATIVE" in cement.source
    with pytest.raises(MethodologyError, match="no carbon-inclusion factor for 'ferry'"):
        DEFAULT.inclusion_factor("ferry")
    with pytest.raises(MethodologyError, match="no benchmark for industry 'steel'"):
        DEFAULT.benchmark("steel")
    with pytest.raises(MethodologyError, match="heat factors are per GJ or per t_steam"):
        DEFAULT.heat_factor("t")
    with pytest.raises(MethodologyError, match="has no factor 'ferry'"):
        SHIPPED[TRANSIT].factor("ferry")


def test_factor_validity() -> None:
    factor = SHIPPED[MEE].factor("electricity/national/2022")
    assert isinstance(factor, Factor)
    assert factor.covers(factor.valid_from) and factor.covers(factor.valid_to)  # type: ignore[arg-type]
    assert not factor.covers(factor.valid_to.replace(year=2023, month=1, day=1))  # type: ignore[union-attr]
    assert SHIPPED[TRANSIT].factor("metro").covers(factor.valid_from)  # type: ignore[arg-type]


def test_methodologies_compare_by_content() -> None:
    again = parse_methodology((DATA_DIRECTORY / f"{HEAT}.json").read_bytes(), name="x")
    assert isinstance(again, Methodology)
    assert again == SHIPPED[HEAT]
    assert hash(again) == hash(SHIPPED[HEAT])


# --- points, labels, codes and grades: exact boundaries -------------------------------------------


def test_points_for_quantities_round_down() -> None:
    assert DEFAULT.points_for("cardboard_recycling", D("2.5")) == 12
    assert DEFAULT.points_for("cardboard_recycling", D("0.19")) == 0
    assert DEFAULT.points_for("bus_ride", 3) == 30
    with pytest.raises(MethodologyError, match="no points rule for action 'taxi_ride'"):
        DEFAULT.points_for("taxi_ride")
    with pytest.raises(MethodologyError, match="quantity must be a Decimal"):
        DEFAULT.points_for("bus_ride", 0.5)  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(st.decimals(min_value=0, max_value=10**6, places=4))
def test_points_are_the_floor_of_rate_times_quantity(kilograms: Decimal) -> None:
    expected = int((5 * kilograms).to_integral_value(rounding=ROUND_FLOOR))
    assert DEFAULT.points_for("cardboard_recycling", kilograms) == expected


TINY = D("0.000001")


@pytest.mark.parametrize(
    ("ratio", "label"),
    [
        (D(0), "dark_green"),
        (D("0.8"), "dark_green"),
        (D("0.8") + TINY, "light_green"),
        (D("1.0"), "light_green"),
        (D("1.0") + TINY, "yellow"),
        (D("1.2"), "yellow"),
        (D("1.2") + TINY, "red"),
        (D(50), "red"),
    ],
)
@pytest.mark.parametrize("benchmark", [D(1), D("0.85"), D("8.50")])
def test_label_boundaries(ratio: Decimal, label: str, benchmark: Decimal) -> None:
    assert DEFAULT.label_for(ratio * benchmark, benchmark) == label


@pytest.mark.parametrize(
    ("ratio", "code"),
    [
        (D(0), 1),
        (D("0.6"), 1),
        (D("0.6") + TINY, 2),
        (D("0.8"), 2),
        (D("0.8") + TINY, 3),
        (D("1.2"), 3),
        (D("1.2") + TINY, 4),
        (D("2.0"), 4),
        (D("2.0") + TINY, 5),
    ],
)
@pytest.mark.parametrize("benchmark", [D(1), D("1.30"), D("0.85")])
def test_efficiency_code_boundaries(ratio: Decimal, code: int, benchmark: Decimal) -> None:
    assert DEFAULT.efficiency_code(ratio * benchmark, benchmark) == code


@pytest.mark.parametrize(
    ("intensity", "level"),
    [(D("0.6"), "low"), (D("0.600001"), "medium"), (D("2.0"), "medium"), (D("2.01"), "high")],
)
def test_carbon_level_boundaries(intensity: Decimal, level: str) -> None:
    assert DEFAULT.carbon_level(intensity) == level


@pytest.mark.parametrize(
    ("points", "grade"),
    [
        (0, "seedling"),
        (999, "seedling"),
        (1000, "sapling"),
        (4999, "sapling"),
        (5000, "tree"),
        (19999, "tree"),
        (20000, "grove"),
        (99999, "grove"),
        (100000, "forest"),
        (10**12, "forest"),
    ],
)
def test_personal_grade_boundaries(points: int, grade: str) -> None:
    assert DEFAULT.personal_grade(points) == grade


@pytest.mark.parametrize("points", [-1, 1.0, True, "10"])
def test_personal_grade_refuses_what_is_not_points(points: Any) -> None:
    with pytest.raises(MethodologyError, match="points must be a whole number >= 0"):
        DEFAULT.personal_grade(points)


def test_ratio_lookups_refuse_bad_input() -> None:
    with pytest.raises(MethodologyError, match="benchmark must be greater than 0"):
        DEFAULT.label_for(D(1), D(0))
    with pytest.raises(MethodologyError, match="intensity must be a Decimal"):
        DEFAULT.efficiency_code(0.9, D(1))  # type: ignore[arg-type]
    with pytest.raises(MethodologyError, match="benchmark must be a finite number >= 0"):
        DEFAULT.label_for(D(1), D("-2"))


RATIOS = st.decimals(min_value=0, max_value=100, places=6)
BENCHMARKS = st.decimals(min_value=D("0.01"), max_value=100, places=4)


@settings(max_examples=300, deadline=None)
@given(RATIOS, RATIOS, BENCHMARKS)
def test_labels_and_codes_never_improve_as_intensity_rises(
    low: Decimal, high: Decimal, benchmark: Decimal
) -> None:
    low, high = sorted((low * benchmark, high * benchmark))
    assert LABELS.index(DEFAULT.label_for(low, benchmark)) <= LABELS.index(
        DEFAULT.label_for(high, benchmark)
    )
    assert DEFAULT.efficiency_code(low, benchmark) <= DEFAULT.efficiency_code(high, benchmark)


@settings(max_examples=300, deadline=None)
@given(RATIOS, BENCHMARKS, st.integers(min_value=1, max_value=1000))
def test_codes_depend_only_on_the_ratio(ratio: Decimal, benchmark: Decimal, scale: int) -> None:
    intensity = ratio * benchmark
    assert DEFAULT.efficiency_code(intensity, benchmark) == DEFAULT.efficiency_code(
        intensity * scale, benchmark * scale
    )
    assert DEFAULT.label_for(intensity, benchmark) == DEFAULT.label_for(
        intensity * scale, benchmark * scale
    )


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=10**7), st.integers(min_value=0, max_value=10**7))
def test_grades_never_fall_as_points_rise(first: int, second: int) -> None:
    grades = [band["grade"] for band in SHIPPED[POINTS].rules["personal_grades"]["bands"]]
    low, high = sorted((first, second))
    assert grades.index(DEFAULT.personal_grade(low)) <= grades.index(DEFAULT.personal_grade(high))
