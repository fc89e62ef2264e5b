"""The demo organization tree: its size, shape, identifiers, gaps and files (no database)."""

import csv
import re
from collections import Counter
from datetime import date, datetime
from functools import cache

import openpyxl
import pytest
from stdnum.ru import inn, ogrn

from reestr.demo import names
from reestr.demo.orgs import (
    AS_OF,
    CENTRAL_NUMBER,
    MIN_ORGS,
    NATIONAL_ORGS,
    SHEET_TITLE,
    generate_orgs,
    summary,
    write_csv,
    write_xlsx,
)
from reestr.demo.regions import REGIONAL_ORGS, SUBJECTS
from services.registry.file_format import (
    COLUMNS,
    DATE_FORMAT,
    EDU_TYPE_WORDS,
    KIND_WORDS,
    LEVEL_KINDS,
    LEVEL_TITLES,
    LEVEL_WORDS,
    Level,
)

CENTRAL, REGIONAL, TERRITORIAL, PRIMARY, SUBDIVISION = (LEVEL_TITLES[level] for level in Level)
REGIONS = {r.code: r for r in REGIONAL_ORGS}


@pytest.fixture(scope="module")
def national() -> list[dict[str, str]]:
    return generate_orgs(NATIONAL_ORGS)


@pytest.fixture(scope="module")
def small() -> list[dict[str, str]]:
    return generate_orgs(500)


def by_number(rows: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    return {row["registry_number"]: row for row in rows}


def of_level(rows: list[dict[str, str]], level: str) -> list[dict[str, str]]:
    return [row for row in rows if row["level"] == level]


@cache  # strptime is slow, and a few thousand dates repeat across 75,000 rows
def day(text: str) -> date:
    return datetime.strptime(text, DATE_FORMAT).date()


def level_above_primaries(row: dict[str, str], index: dict[str, dict[str, str]]) -> str:
    while row["level"] == PRIMARY:
        row = index[row["parent_registry_number"]]
    return row["level"]


def region_of(row: dict[str, str], index: dict[str, dict[str, str]]) -> str:
    while row["level"] != REGIONAL:
        row = index[row["parent_registry_number"]]
    return row["region_code"]


# size and order


@pytest.mark.parametrize("n", [MIN_ORGS, 60, 500, 3_000])
def test_exact_row_count_and_every_level_present(n):
    rows = generate_orgs(n)
    assert len(rows) == n
    counts = summary(rows)
    assert sum(counts.values()) == n
    assert all(counts[level] >= 1 for level in Level), counts
    assert counts[Level.CENTRAL] == 1
    assert counts[Level.REGIONAL] >= 3
    primaries = of_level(rows, PRIMARY)
    assert any(p["territorial_rights"] == "да" for p in primaries)
    holders = {p["registry_number"] for p in primaries if p["territorial_rights"] == "да"}
    assert any(p["parent_registry_number"] in holders for p in primaries)


def test_too_small_is_refused():
    with pytest.raises(ValueError):
        generate_orgs(MIN_ORGS - 1)


def test_national_shape(national):
    assert len(national) == NATIONAL_ORGS
    counts = summary(national)
    assert counts[Level.CENTRAL] == 1
    assert counts[Level.REGIONAL] == len(REGIONAL_ORGS) == 85
    assert 2_200 <= counts[Level.TERRITORIAL] <= 2_400
    assert 71_000 <= counts[Level.PRIMARY] <= 73_000
    assert 200 <= counts[Level.SUBDIVISION] <= 600


def test_rows_hold_file_text_only(small):
    for row in small:
        assert list(row) == list(COLUMNS)
        assert all(isinstance(v, str) and v == v.strip() for v in row.values())
        assert LEVEL_WORDS[row["level"].lower()]
        assert row["legal_entity"] in ("да", "нет")
        assert row["chair_email_consent"] in ("да", "нет", "")


@pytest.mark.parametrize("fixture", ["small", "national"])
def test_parents_come_first_and_exist(fixture, request):
    seen: set[str] = set()
    for row in request.getfixturevalue(fixture):
        parent = row["parent_registry_number"]
        assert parent == "" if row["registry_number"] == CENTRAL_NUMBER else parent in seen
        seen.add(row["registry_number"])


# hierarchy


@pytest.mark.parametrize("fixture", ["small", "national"])
def test_hierarchy_rules(fixture, request):
    rows = request.getfixturevalue(fixture)
    index = by_number(rows)
    for row in rows:
        level = row["level"]
        parent = index.get(row["parent_registry_number"])
        kind = KIND_WORDS.get(row["kind"], "")
        assert kind in LEVEL_KINDS[LEVEL_WORDS[level.lower()]] or kind == row["kind"] == ""
        if level == CENTRAL:
            assert parent is None and row["registry_number"] == CENTRAL_NUMBER
        elif level == REGIONAL:
            assert parent["level"] == CENTRAL
        elif level == TERRITORIAL:
            assert parent["level"] == REGIONAL
        elif level == PRIMARY:
            assert parent["level"] in (TERRITORIAL, REGIONAL) or (
                parent["level"] == PRIMARY and parent["territorial_rights"] == "да"
            )
        else:
            assert level == SUBDIVISION and parent["level"] == PRIMARY


def test_real_regions_with_their_codes_and_forms(national):
    regional = of_level(national, REGIONAL)
    codes = [r["region_code"] for r in regional]
    assert len(set(codes)) == len(codes) == 85
    assert set(codes) <= set(SUBJECTS)
    assert all("организация Общероссийского Профсоюза образования" in r["name"] for r in regional)
    names_by_code = {r["region_code"]: r["name"] for r in regional}
    assert (
        names_by_code["59"] == "Пермская краевая организация Общероссийского Профсоюза образования"
    )
    assert names_by_code["77"].startswith("Московская городская организация")
    assert names_by_code["16"].endswith("в Республике Татарстан")
    assert names_by_code["78"].endswith("Санкт-Петербурга и Ленинградской области")
    kinds = Counter(r["kind"] for r in regional)
    assert kinds["межрегиональная"] >= 2 and kinds["окружная"] >= 2
    assert all(r["region_code"] == "" for r in national if r["level"] != REGIONAL)


def test_territorial_and_primary_names(small):
    for row in of_level(small, TERRITORIAL):
        assert re.fullmatch(
            r"(Районная|Городская|Территориальная) организация Общероссийского Профсоюза "
            r"образования (\S+ого района|города \S+|\S+ого муниципального округа)",
            row["name"],
        ), row["name"]
    for row in of_level(small, PRIMARY):
        assert row["name"] == "Первичная профсоюзная организация " + row["edu_name"]
        assert row["edu_type"] in EDU_TYPE_WORDS
        assert row["territorial_rights"] in ("да", "нет")


def test_national_proportions(national):
    index = by_number(national)
    primaries = of_level(national, PRIMARY)
    n = len(primaries)
    # the organization a primary belongs to through any primaries with territorial rights
    above = Counter(level_above_primaries(p, index) for p in primaries)
    assert 0.80 <= above[TERRITORIAL] / n <= 0.90
    assert above[REGIONAL] == n - above[TERRITORIAL]
    assert 0.005 <= sum(p["territorial_rights"] == "да" for p in primaries) / n <= 0.02
    types = Counter(p["edu_type"] for p in primaries)
    expected = {"школа": 0.55, "детский сад": 0.30, "колледж": 0.06, "вуз": 0.02,
                "дополнительное образование": 0.05, "другое": 0.02}  # fmt: skip
    for word, share in expected.items():
        assert abs(types[word] / n - share) < 0.015, (word, types[word] / n)
    legal = Counter((r["level"], r["legal_entity"]) for r in national)
    assert legal[(REGIONAL, "нет")] == 0
    assert 0.5 <= legal[(TERRITORIAL, "да")] / len(of_level(national, TERRITORIAL)) <= 0.7
    assert 0.11 <= legal[(PRIMARY, "да")] / n <= 0.19


# identifiers


@pytest.mark.parametrize("fixture", ["small", "national"])
def test_identifiers_valid_and_unique(fixture, request):
    rows = request.getfixturevalue(fixture)
    numbers = [r["registry_number"] for r in rows]
    assert len(set(numbers)) == len(numbers)
    edu_inns = [r["edu_inn"] for r in rows if r["edu_inn"]]
    assert len(set(edu_inns)) == len(edu_inns)
    org_inns = [r["inn"] for r in rows if r["inn"]]
    assert len(set(org_inns)) == len(org_inns) and not set(org_inns) & set(edu_inns)
    for row in rows:
        if row["legal_entity"] == "да":
            assert len(row["ogrn"]) == 13 and ogrn.is_valid(row["ogrn"]), row["ogrn"]
            assert len(row["inn"]) == 10 and inn.is_valid(row["inn"]), row["inn"]
        else:
            assert row["ogrn"] == row["inn"] == ""
    for value in edu_inns:
        assert len(value) == 10 and inn.is_valid(value), value


def test_inns_start_with_a_subject_of_their_region(national):
    index = by_number(national)
    for row in national:
        subjects = REGIONS[region_of(row, index)].subjects if row["level"] != CENTRAL else ("77",)
        for value in (row["inn"], row["edu_inn"]):
            assert not value or value[:2] in subjects, (row["registry_number"], value)
        assert not row["ogrn"] or row["ogrn"][3:5] in subjects


def test_registry_numbers_carry_region_and_level(small):
    letters = {REGIONAL: "Р", TERRITORIAL: "Т", PRIMARY: "П", SUBDIVISION: "С"}
    index = by_number(small)
    for row in small:
        if row["level"] != CENTRAL:
            code, letter, _ = row["registry_number"].split("-")
            assert code == region_of(row, index) and letter == letters[row["level"]]


# passports


def test_dates_and_terms(national):
    index = by_number(national)
    for row in national:
        included = day(row["included_on"])
        parent = index.get(row["parent_registry_number"])
        assert date(1990, 1, 1) <= included <= date(2024, 12, 31)
        assert parent is None or included >= day(parent["included_on"])
        if row["level"] == REGIONAL:
            assert 1990 <= included.year <= 1999
        assert bool(row["chair_elected_on"]) == bool(row["chair_term_until"])
        if row["chair_elected_on"]:
            elected, until = day(row["chair_elected_on"]), day(row["chair_term_until"])
            assert included <= elected < AS_OF
            assert (until.year - elected.year, until.month) == (5, elected.month)
    with_term = [r for r in national if r["chair_term_until"]]
    current = sum(day(r["chair_term_until"]) > AS_OF for r in with_term) / len(with_term)
    assert 0.85 <= current < 0.97  # mostly current, some expired


def test_chairs_agree_in_gender_and_have_contacts(national):
    female_names = set(names.FEMALE_NAMES)
    male_names = {first for first, _, _ in names.MALE_NAMES}
    for row in national:
        if not row["chair_surname"]:
            assert not any(row[k] for k in COLUMNS if k.startswith("chair_")), row
            continue
        surname, first = row["chair_surname"], row["chair_first_name"]
        if row["chair_patronymic"].endswith("на"):  # Петровна, Ильинична
            assert first in female_names
            assert not surname.endswith(("ов", "ев", "ин", "ский", "цкий"))
        else:
            assert row["chair_patronymic"].endswith("ич") and first in male_names
            assert not surname.endswith(("ова", "ева", "ина", "ская", "цкая"))
        assert re.fullmatch(r"[a-z0-9._-]+@[a-z]+\.(ru|com)", row["chair_email"]), row
        assert re.fullmatch(r"\+7 9\d\d \d{3}-\d\d-\d\d", row["chair_phone"])
    chairs = [r for r in national if r["chair_surname"]]
    consent = sum(r["chair_email_consent"] == "да" for r in chairs) / len(chairs)
    assert 0.75 <= consent <= 0.95
    women = sum(r["chair_patronymic"].endswith("на") for r in chairs) / len(chairs)
    assert 0.7 <= women <= 0.9


def test_incomplete_passports_as_the_seed_reports(national):
    primaries = of_level(national, PRIMARY)
    no_chair = sum(not p["chair_surname"] for p in primaries) / len(primaries)
    assert 0.075 <= no_chair <= 0.105
    with_chair = [p for p in primaries if p["chair_surname"]]
    no_term = sum(not p["chair_elected_on"] for p in with_chair) / len(with_chair)
    assert 0.10 <= no_term <= 0.14
    no_inn = sum(not p["edu_inn"] for p in primaries) / len(primaries)
    assert 0.065 <= no_inn <= 0.095
    for row in national:
        if row["level"] in (CENTRAL, REGIONAL):
            assert row["chair_surname"] and row["chair_elected_on"]


# determinism


def test_same_seed_same_rows_other_seed_other_rows(small):
    assert generate_orgs(500) == small
    assert generate_orgs(500, seed=2026) == small
    other = generate_orgs(500, seed=7)
    assert other != small
    assert [r["name"] for r in other] != [r["name"] for r in small]


# files


def test_csv_written_and_read_back(small, tmp_path):
    path = tmp_path / "orgs.csv"
    write_csv(small, path)
    assert not path.read_bytes().startswith(b"\xef\xbb\xbf")  # plain UTF-8, no BOM
    with path.open(encoding="utf-8", newline="") as f:
        table = list(csv.reader(f))
    assert table[0] == list(COLUMNS.values())
    assert [dict(zip(COLUMNS, values, strict=True)) for values in table[1:]] == small


@pytest.mark.parametrize("read_only", [False, True])
def test_xlsx_written_and_read_back(small, tmp_path, read_only):
    path = tmp_path / "orgs.xlsx"
    write_xlsx(small, path)
    book = openpyxl.load_workbook(path, read_only=read_only)
    assert book.sheetnames == [SHEET_TITLE]
    sheet = book[SHEET_TITLE]
    table = list(sheet.iter_rows(values_only=True))
    book.close()
    assert list(table[0]) == list(COLUMNS.values())
    read = [{k: v or "" for k, v in zip(COLUMNS, values, strict=True)} for values in table[1:]]
    assert read == small
    assert all(isinstance(v, str) for values in table for v in values if v is not None)


def test_xlsx_cells_are_text(small, tmp_path):
    path = tmp_path / "orgs.xlsx"
    write_xlsx(small[:5], path)
    sheet = openpyxl.load_workbook(path)[SHEET_TITLE]
    assert sheet["A2"].value == CENTRAL_NUMBER and sheet["A2"].number_format == "@"
    assert sheet["A1"].font.b
    assert sheet.freeze_panes == "A2"
