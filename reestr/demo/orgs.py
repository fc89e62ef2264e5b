"""A synthetic but realistic organization tree of the union, for demos and load tests.

`generate_orgs(75_000)` gives the national shape (the Central Council, 85 regional organizations,
about 2,300 territorial ones, about 72,000 primaries, a few hundred subdivisions); smaller sizes
keep the same density per region and take fewer regions. Rows are keyed by the file-format
columns and hold the text written in the file; the same seed always gives the same rows.
"""

from __future__ import annotations

import csv
import os
import random
import zipfile
from bisect import bisect
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import accumulate
from typing import Generic, TypeVar
from xml.sax.saxutils import escape

from openpyxl.utils import get_column_letter
from stdnum.ru.inn import calc_company_check_digit

from reestr.demo import names
from reestr.demo.regions import REGIONAL_ORGS, UNION_GENITIVE, District, RegionalOrg
from services.registry.file_format import (
    COLUMNS,
    DATE_FORMAT,
    EDU_TYPE_TITLES,
    KIND_TITLES,
    LEVEL_TITLES,
    LEVEL_WORDS,
    Level,
)

NATIONAL_ORGS = 75_000
MIN_ORGS = 30
MIN_REGIONS = 3
TERRITORIAL_SHARE = 2_300 / NATIONAL_ORGS
SUBDIVISION_SHARE = 350 / NATIONAL_ORGS
RIGHTS_SHARE = 0.01  # primaries holding the rights of a territorial organization

CENTRAL_NUMBER = "0000"
CENTRAL_NAME = "Общероссийский Профсоюз образования"
PRIMARY_PREFIX = "Первичная профсоюзная организация "
SHEET_TITLE = "Организации"
YES, NO = "да", "нет"

# a fixed "today" for terms of office, so that a seed gives the same file on any day
AS_OF = date(2026, 1, 1)
FOUNDED = date(1990, 9, 27)  # the union's founding congress
REGIONS_INCLUDED = (date(1990, 10, 1), date(1999, 12, 31))
LAST_INCLUDED = date(2024, 12, 31)
CAMPAIGN_START = date(2024, 3, 1)  # the 2024-2025 reporting-and-election campaign
TERM_YEARS = 5
CURRENT_TERMS_FROM = AS_OF.replace(year=AS_OF.year - TERM_YEARS) + timedelta(days=1)
NO_EDU_INN = 0.08  # primaries whose passport lacks the education organization's INN
EMAIL_CONSENT = 0.86

EDU_TYPES = ("school", "kindergarten", "college", "university", "additional", "other")
EDU_WEIGHTS = (55, 30, 6, 2, 5, 2)
# chance that a primary sits directly under its region: state colleges and universities mostly do
DIRECT_CHANCE = {
    "school": 0.09, "kindergarten": 0.04, "college": 0.9,
    "university": 0.9, "additional": 0.1, "other": 0.6,
}  # fmt: skip
PRIMARY_LEGAL_CHANCE = {
    "school": 0.12, "kindergarten": 0.12, "college": 0.4,
    "university": 0.7, "additional": 0.12, "other": 0.12,
}  # fmt: skip
RIGHTS_WEIGHT = {
    "school": 1, "kindergarten": 0.5, "college": 3, "university": 6, "additional": 1, "other": 8,
}  # fmt: skip
SUBDIVISION_WEIGHT = {
    "school": 1.5, "kindergarten": 0.7, "college": 8,
    "university": 30, "additional": 1, "other": 0.5,
}  # fmt: skip


@dataclass(frozen=True)
class _Profile:
    """How complete the passports of one level are, and who chairs them."""

    no_chair: float
    no_term: float  # among those with a chair
    expired: float  # among those with a term
    female: float
    legal: float = 0.0


T = TypeVar("T")


class _Dice(random.Random):
    """random.Random plus the cheap draws made for every row (randint and choice are slow)."""

    def below(self, n: int) -> int:
        return int(self.random() * n)

    def pick(self, items: Sequence[T]) -> T:
        return items[int(self.random() * len(items))]

    def day(self, first: date, last: date) -> date:
        start = first.toordinal()
        return date.fromordinal(start + int(self.random() * (last.toordinal() - start + 1)))


class _Weighted(Generic[T]):
    """A weighted choice with its cumulative weights computed once."""

    def __init__(self, values: Sequence[T], weights: Sequence[float]) -> None:
        self.values = tuple(values)
        self.cumulative = list(accumulate(weights))
        self.last = len(self.values) - 1

    def draw(self, dice: random.Random) -> T:
        point = dice.random() * self.cumulative[-1]
        return self.values[bisect(self.cumulative, point, hi=self.last)]


EDU_TYPE_DRAW = _Weighted(EDU_TYPES, EDU_WEIGHTS)
PLACE_KIND_DRAW = _Weighted(("district", "city", "territorial"), (70, 22, 8))
EMAIL_DOMAIN_DRAW = _Weighted(names.EMAIL_DOMAINS, names.EMAIL_DOMAIN_WEIGHTS)
SCHOOL_OWNER_DRAW = _Weighted(("МБОУ", "МАОУ", "МКОУ"), (55, 35, 10))
KINDERGARTEN_OWNER_DRAW = _Weighted(("МБДОУ", "МАДОУ", "МКДОУ"), (50, 35, 15))
CITY_SCHOOL_DRAW = _Weighted(*zip(*names.CITY_SCHOOL_FORMS, strict=True))
VILLAGE_SCHOOL_DRAW = _Weighted(*zip(*names.VILLAGE_SCHOOL_FORMS, strict=True))
KINDERGARTEN_FORM_DRAW = _Weighted(*zip(*names.CITY_KINDERGARTEN_FORMS, strict=True))

PROFILES = {
    Level.CENTRAL: _Profile(0, 0, 0, 0.6, 1),
    Level.REGIONAL: _Profile(0, 0, 0.02, 0.65, 1),
    Level.TERRITORIAL: _Profile(0.01, 0.03, 0.06, 0.75, 0.6),
    Level.PRIMARY: _Profile(0.09, 0.12, 0.10, 0.82),  # legal: by education type
    Level.SUBDIVISION: _Profile(0.10, 0.20, 0.10, 0.8),
}


@dataclass(frozen=True)
class _Place:
    """Where a territorial organization works; its schools are named after it."""

    kind: str  # a KIND_WORDS code: district / city / territorial
    adjective: str  # Кунгурский
    org_suffix: str  # Кунгурского района, города Кунгура
    locality: str  # written after a municipal school's name
    urban: bool  # numbered schools rather than village ones
    state: bool  # a federal city: its schools are state ones (ГБОУ), not municipal
    subject: str
    weight: float


@dataclass
class _PrimaryPlan:
    edu_type: str
    place: int | None  # index of its territorial organization, None for the region itself
    rights: bool = False
    children: list[int] = field(default_factory=list)
    subdivisions: int = 0


@dataclass
class _RegionPlan:
    places: list[_Place]
    primaries: list[_PrimaryPlan]
    groups: list[list[int]]  # primaries under each place, then those directly under the region


def generate_orgs(n_orgs: int, seed: int = 2026) -> list[dict[str, str]]:
    """Exactly n_orgs rows, each parent before its children, the same for the same seed."""
    if n_orgs < MIN_ORGS:
        raise ValueError(f"n_orgs must be at least {MIN_ORGS}, got {n_orgs}")
    return _Generator(seed).run(n_orgs)


def write_csv(rows: Iterable[dict[str, str]], path: str | os.PathLike[str]) -> None:
    keys = list(COLUMNS)
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS.values())
        writer.writerows([row[k] for k in keys] for row in rows)


def write_xlsx(rows: Iterable[dict[str, str]], path: str | os.PathLike[str]) -> None:
    """One sheet, a frozen header row, every value a text cell (INNs and "0000" keep their
    digits, and stay text when edited in Excel); empty values are left blank.

    The sheet XML is streamed straight into the zip: openpyxl's write-only mode (without lxml,
    which the project does not install) takes about 25 s for the national 75,000 rows, this a
    few seconds; openpyxl and Excel read the result as usual.
    """
    table = rows if isinstance(rows, Sequence) else list(rows)
    keys = list(COLUMNS)
    letters = [get_column_letter(i) for i in range(1, len(keys) + 1)]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in _XLSX_PARTS.items():
            archive.writestr(name, text)
        with archive.open("xl/worksheets/sheet1.xml", "w") as sheet:
            last = f"{letters[-1]}{len(table) + 1}"
            sheet.write(_SHEET_START.format(last=last, columns=len(keys)).encode())
            sheet.write(_xlsx_row(1, letters, list(COLUMNS.values()), _HEADER_STYLE).encode())
            chunk: list[str] = []
            for number, row in enumerate(table, start=2):
                chunk.append(_xlsx_row(number, letters, [row[k] for k in keys], _TEXT_STYLE))
                if len(chunk) == 1000:
                    sheet.write("".join(chunk).encode())
                    chunk.clear()
            sheet.write(("".join(chunk) + _SHEET_END).encode())


def _xlsx_row(number: int, letters: list[str], values: list[str], style: int) -> str:
    cells = "".join(
        f'<c r="{letter}{number}" s="{style}" t="inlineStr"><is><t>{escape(value)}</t></is></c>'
        for letter, value in zip(letters, values, strict=True)
        if value
    )
    return f'<row r="{number}">{cells}</row>'


def summary(rows: Iterable[dict[str, str]]) -> dict[Level, int]:
    """Organizations per level, in hierarchy order (keys are Level codes, e.g. "primary")."""
    counts = Counter(LEVEL_WORDS[row["level"].lower()] for row in rows)
    return {level: counts[level] for level in Level}


@dataclass(frozen=True)
class _Counts:
    regions: int
    territorial: int
    primary: int
    subdivision: int


def _level_counts(n_orgs: int) -> _Counts:
    full = len(REGIONAL_ORGS)
    regions = min(full, max(MIN_REGIONS, round(full * n_orgs / NATIONAL_ORGS)))
    territorial = max(regions, round(n_orgs * TERRITORIAL_SHARE))
    subdivision = max(1, round(n_orgs * SUBDIVISION_SHARE))
    primary = n_orgs - 1 - regions - territorial - subdivision
    return _Counts(regions, territorial, primary, subdivision)


def _apportion(total: int, weights: Sequence[float], minimums: Sequence[int]) -> list[int]:
    """Split total into parts no smaller than minimums, the rest in proportion to weights
    (largest remainders), so that the parts add up exactly."""
    spare = total - sum(minimums)
    if spare < 0:
        raise ValueError("too few to give every part its minimum")
    weight_sum = sum(weights)
    quotas = [spare * w / weight_sum for w in weights]
    counts = [int(q) for q in quotas]
    by_remainder = sorted(range(len(quotas)), key=lambda i: counts[i] - quotas[i])
    for i in by_remainder[: spare - sum(counts)]:
        counts[i] += 1
    return [m + c for m, c in zip(minimums, counts, strict=True)]


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


_DATE_TEXT: dict[date, str] = {}


def _text(day: date) -> str:
    """dd.mm.yyyy, cached: a few thousand distinct days are formatted 200,000 times."""
    text = _DATE_TEXT.get(day)
    if text is None:
        text = _DATE_TEXT[day] = day.strftime(DATE_FORMAT)
    return text


def _blank_row() -> dict[str, str]:
    return dict.fromkeys(COLUMNS, "")


class _Generator:
    def __init__(self, seed: int) -> None:
        self.rng = _Dice(seed)
        self.ids: set[str] = set()  # INNs and OGRNs handed out, all unique
        self.rows: list[dict[str, str]] = []
        self.included: dict[str, date] = {}  # registry number -> included_on

    def run(self, n_orgs: int) -> list[dict[str, str]]:
        counts = _level_counts(n_orgs)
        picked = sorted(self.rng.sample(range(len(REGIONAL_ORGS)), counts.regions))
        regions = [REGIONAL_ORGS[i] for i in picked]
        weights = [r.weight for r in regions]
        territorial = _apportion(counts.territorial, weights, [1] * len(regions))
        primary = _apportion(counts.primary, weights, [t + 2 for t in territorial])
        n_rights = max(1, round(counts.primary * RIGHTS_SHARE))
        rights = _apportion(n_rights, weights, [0] * len(regions))
        subdivision = _apportion(counts.subdivision, weights, [0] * len(regions))

        central = self._central()
        for i, region in enumerate(regions):
            plan = self._plan_region(region, territorial[i], primary[i], rights[i], subdivision[i])
            self._emit_region(region, plan, central)
        return self.rows

    # planning: who sits where

    def _plan_region(
        self, region: RegionalOrg, n_places: int, n_primary: int, n_rights: int, n_sub: int
    ) -> _RegionPlan:
        rng = self.rng
        places = self._places(region, n_places)
        types = [EDU_TYPE_DRAW.draw(rng) for _ in range(n_primary)]
        primaries = [_PrimaryPlan(t, None) for t in types]
        direct = [i for i, p in enumerate(primaries) if rng.random() < DIRECT_CHANCE[p.edu_type]]
        direct_set = set(direct)
        under = [i for i in range(n_primary) if i not in direct_set]
        while len(under) < n_places:  # every territorial organization gets a primary
            under.append(direct.pop())
        place_draw = _Weighted(range(n_places), [p.weight for p in places])
        groups: list[list[int]] = [[] for _ in places]
        for k, i in enumerate(under):
            place = k if k < n_places else place_draw.draw(rng)
            primaries[i].place = place
            groups[place].append(i)
        groups.append(direct)
        for group in groups:
            group.sort()
        self._grant_rights(primaries, groups, n_rights)
        sub_weights = [SUBDIVISION_WEIGHT[p.edu_type] for p in primaries]
        for i in rng.choices(range(n_primary), sub_weights, k=n_sub):
            primaries[i].subdivisions += 1
        return _RegionPlan(places, primaries, groups)

    def _grant_rights(
        self, primaries: list[_PrimaryPlan], groups: list[list[int]], n_rights: int
    ) -> None:
        """Give some primaries territorial rights and move a few of their neighbours beneath."""
        rng = self.rng
        for _ in range(n_rights):
            free = [[i for i in g if not primaries[i].rights] for g in groups]
            eligible = [k for k, g in enumerate(free) if len(g) >= 2]
            if not eligible:
                return
            k = rng.choices(eligible, [len(free[k]) for k in eligible])[0]
            candidates = free[k]
            weights = [RIGHTS_WEIGHT[primaries[i].edu_type] for i in candidates]
            holder = rng.choices(candidates, weights)[0]
            others = [i for i in candidates if i != holder]
            children = rng.sample(others, min(rng.randint(2, 5), len(others)))
            primaries[holder].rights = True
            primaries[holder].children = sorted(children)
            groups[k] = [i for i in groups[k] if i not in children]

    def _places(self, region: RegionalOrg, n_places: int) -> list[_Place]:
        """A federal city's real districts first, then the region's real districts and towns,
        then invented names; no name twice in a region while names last."""
        rng = self.rng
        towns = names.TOWNS.get(region.code, ())
        urban: list[District | tuple[str, str]] = [d for d in region.districts if d.city]
        real: list[District | tuple[str, str]] = [d for d in region.districts if not d.city]
        real += towns
        taken = {d.adjective for d in region.districts} | {stem + "ский" for stem, _ in towns}
        invented: list[District | tuple[str, str]] = [
            town for town in _INVENTED_TOWNS if town[0] + "ский" not in taken
        ]
        for group in (urban, real, invented):
            rng.shuffle(group)
        pool = [*urban, *real, *invented]
        picks = pool[:n_places]
        picks += [rng.pick(pool) for _ in range(n_places - len(picks))]  # past ~150 in a region
        return [
            self._real_place(p) if isinstance(p, District) else self._generated_place(region, *p)
            for p in picks
        ]

    def _real_place(self, district: District) -> _Place:
        genitive = names.adjective_genitive(district.adjective)
        locality = f"{genitive} района" + (f" г. {district.city}" if district.city else "")
        urban = bool(district.city)
        return _Place(
            kind="district",
            adjective=district.adjective,
            org_suffix=f"{genitive} района",
            locality=locality,
            urban=urban,
            state=urban,
            subject=district.subject,
            weight=self.rng.lognormvariate(0, 0.5) * (1.6 if urban else 1),
        )

    def _generated_place(self, region: RegionalOrg, stem: str, town: str) -> _Place:
        rng = self.rng
        adjective = stem + "ский"
        genitive = names.adjective_genitive(adjective)
        kind = PLACE_KIND_DRAW.draw(rng)
        if kind == "city":
            town_genitive = names.town_genitive(town)
            suffix, locality = f"города {town_genitive}", f"г. {town_genitive}"
        else:
            area = "района" if kind == "district" else "муниципального округа"
            suffix = locality = f"{genitive} {area}"
        return _Place(
            kind=kind,
            adjective=adjective,
            org_suffix=suffix,
            locality=locality,
            urban=kind == "city",
            state=False,
            subject=region.generated_subject,
            weight=rng.lognormvariate(0, 0.5) * (1.6 if kind == "city" else 1),
        )

    # emitting rows, parents first

    def _emit_region(self, region: RegionalOrg, plan: _RegionPlan, central: dict[str, str]) -> None:
        sequence: Counter[str] = Counter()
        namer = _EduNamer(self.rng, region, plan.places)
        regional = self._regional(region, central)
        for k, place in enumerate(plan.places):
            sequence["Т"] += 1
            territorial = self._territorial(region, place, regional, sequence["Т"])
            for i in plan.groups[k]:
                self._emit_primary(region, plan, i, territorial, namer, sequence)
        for i in plan.groups[-1]:
            self._emit_primary(region, plan, i, regional, namer, sequence)

    def _emit_primary(
        self,
        region: RegionalOrg,
        plan: _RegionPlan,
        index: int,
        parent: dict[str, str],
        namer: _EduNamer,
        sequence: Counter[str],
    ) -> None:
        primary = plan.primaries[index]
        place = None if primary.place is None else plan.places[primary.place]
        sequence["П"] += 1
        row = self._primary(region, primary, place, parent, namer, sequence["П"])
        if primary.subdivisions:
            for unit in self._units(primary):
                sequence["С"] += 1
                self._subdivision(region, unit, row, sequence["С"])
        for child in primary.children:
            self._emit_primary(region, plan, child, row, namer, sequence)

    def _units(self, primary: _PrimaryPlan) -> list[str]:
        """Distinct parts of the organization that have a subdivision or a union group."""
        units = names.SUBDIVISION_UNITS[primary.edu_type]
        picked = self.rng.sample(units, min(primary.subdivisions, len(units)))
        for n in range(len(picked) + 1, primary.subdivisions + 1):
            picked.append(f"структурного подразделения № {n}")
        return picked

    def _add(self, row: dict[str, str], included: date) -> dict[str, str]:
        row["included_on"] = _text(included)
        self.included[row["registry_number"]] = included
        self.rows.append(row)
        return row

    def _central(self) -> dict[str, str]:
        row = _blank_row()
        row.update(
            registry_number=CENTRAL_NUMBER,
            level=LEVEL_TITLES[Level.CENTRAL],
            name=CENTRAL_NAME,
        )
        self._fill_passport(row, Level.CENTRAL, "77", FOUNDED)
        return self._add(row, FOUNDED)

    def _regional(self, region: RegionalOrg, central: dict[str, str]) -> dict[str, str]:
        included = self.rng.day(*REGIONS_INCLUDED)
        row = _blank_row()
        row.update(
            registry_number=f"{region.code}-Р-001",
            parent_registry_number=central["registry_number"],
            level=LEVEL_TITLES[Level.REGIONAL],
            kind=KIND_TITLES[region.kind],
            name=region.name,
            region_code=region.code,
        )
        self._fill_passport(row, Level.REGIONAL, region.code, included)
        return self._add(row, included)

    def _territorial(
        self, region: RegionalOrg, place: _Place, parent: dict[str, str], seq: int
    ) -> dict[str, str]:
        included = self._child_date(parent)
        row = _blank_row()
        row.update(
            registry_number=f"{region.code}-Т-{seq:04d}",
            parent_registry_number=parent["registry_number"],
            level=LEVEL_TITLES[Level.TERRITORIAL],
            kind=KIND_TITLES[place.kind],
            name=f"{KIND_TITLES[place.kind].capitalize()} организация {UNION_GENITIVE} "
            f"{place.org_suffix}",
        )
        self._fill_passport(row, Level.TERRITORIAL, place.subject, included)
        return self._add(row, included)

    def _primary(
        self,
        region: RegionalOrg,
        primary: _PrimaryPlan,
        place: _Place | None,
        parent: dict[str, str],
        namer: _EduNamer,
        seq: int,
    ) -> dict[str, str]:
        rng = self.rng
        included = self._child_date(parent)
        subject = place.subject if place else region.code
        edu_name = namer.name(primary.edu_type, place)
        row = _blank_row()
        row.update(
            registry_number=f"{region.code}-П-{seq:05d}",
            parent_registry_number=parent["registry_number"],
            level=LEVEL_TITLES[Level.PRIMARY],
            name=PRIMARY_PREFIX + edu_name,
            territorial_rights=YES if primary.rights else NO,
            edu_name=edu_name,
            edu_type=EDU_TYPE_TITLES[primary.edu_type],
            edu_inn="" if rng.random() < NO_EDU_INN else self._inn(subject),
        )
        legal = PRIMARY_LEGAL_CHANCE[primary.edu_type]
        self._fill_passport(row, Level.PRIMARY, subject, included, legal)
        return self._add(row, included)

    def _subdivision(
        self, region: RegionalOrg, unit: str, parent: dict[str, str], seq: int
    ) -> dict[str, str]:
        included = self._child_date(parent)
        kind = "union_group" if self.rng.random() < 0.55 else "subdivision"
        prefix = "Профгруппа" if kind == "union_group" else "Профсоюзная организация"
        row = _blank_row()
        row.update(
            registry_number=f"{region.code}-С-{seq:04d}",
            parent_registry_number=parent["registry_number"],
            level=LEVEL_TITLES[Level.SUBDIVISION],
            kind=KIND_TITLES[kind],
            name=f"{prefix} {unit}",
        )
        self._fill_passport(row, Level.SUBDIVISION, region.code, included)
        return self._add(row, included)

    # passport tabs

    def _fill_passport(
        self,
        row: dict[str, str],
        level: Level,
        subject: str,
        included: date,
        legal: float | None = None,
    ) -> None:
        profile = PROFILES[level]
        chance = profile.legal if legal is None else legal
        if self.rng.random() < chance:
            row.update(legal_entity=YES, ogrn=self._ogrn(subject, included), inn=self._inn(subject))
        else:
            row["legal_entity"] = NO
        self._fill_chair(row, profile, included)

    def _fill_chair(self, row: dict[str, str], profile: _Profile, included: date) -> None:
        rng = self.rng
        if rng.random() < profile.no_chair:
            return
        father = rng.pick(names.MALE_NAMES)
        surname = rng.pick(names.SURNAMES)
        if rng.random() < profile.female:
            surname = names.feminine_surname(surname)
            first, patronymic = rng.pick(names.FEMALE_NAMES), father[2]
        else:
            first, patronymic = rng.pick(names.MALE_NAMES)[0], father[1]
        row.update(
            chair_surname=surname,
            chair_first_name=first,
            chair_patronymic=patronymic,
            chair_email=self._email(surname, first, patronymic),
            chair_phone=self._phone(),
            chair_email_consent=YES if rng.random() < EMAIL_CONSENT else NO,
        )
        if rng.random() >= profile.no_term:
            elected = self._elected_on(profile, included)
            row["chair_elected_on"] = _text(elected)
            row["chair_term_until"] = _text(_add_years(elected, TERM_YEARS))

    def _elected_on(self, profile: _Profile, included: date) -> date:
        rng = self.rng
        expired_until = CURRENT_TERMS_FROM - timedelta(days=1)
        if rng.random() < profile.expired and included < expired_until:
            lower = max(_add_years(AS_OF, -TERM_YEARS - 3), included)
            return rng.day(lower, expired_until)
        lower = max(CURRENT_TERMS_FROM, included)
        if rng.random() < 0.6:  # most chairs were elected in the last campaign
            lower = max(lower, CAMPAIGN_START)
        return self.rng.day(lower, AS_OF - timedelta(days=1))

    def _email(self, surname: str, first: str, patronymic: str) -> str:
        rng = self.rng
        s, f, p = (names.transliterate(x) for x in (surname, first, patronymic))
        year = 60 + rng.below(40)
        local = rng.pick(names.EMAIL_FORMS).format(
            s=s, f=f, p=p, f0=f[0], p0=p[0], s0=s[0], year=year
        )
        return f"{local}@{EMAIL_DOMAIN_DRAW.draw(rng)}"

    def _phone(self) -> str:
        n = self.rng.below(10**9)
        return f"+7 9{n // 10**7:02d} {n // 10**4 % 1000:03d}-{n // 100 % 100:02d}-{n % 100:02d}"

    # identifiers and dates

    def _inn(self, subject: str) -> str:
        """A legal entity's INN: tax office (subject + inspection), a number, the check digit."""
        while True:
            office, serial = divmod(self.rng.below(60 * 100_000), 100_000)
            body = f"{subject}{office + 1:02d}{serial:05d}"
            number = body + calc_company_check_digit(body)
            if number not in self.ids:
                self.ids.add(number)
                return number

    def _ogrn(self, subject: str, included: date) -> str:
        """1 (legal entity), the year of registration, subject, inspection, number, check."""
        # organizations older than the register got their OGRN when re-registered in 2002-2003
        year = included.year if included.year >= 2002 else self.rng.pick((2002, 2003))
        while True:
            office, serial = divmod(self.rng.below(60 * 100_000), 100_000)
            body = f"1{year % 100:02d}{subject}{office + 1:02d}{serial:05d}"
            ogrn = body + str(int(body) % 11 % 10)
            if ogrn not in self.ids:
                self.ids.add(ogrn)
                return ogrn

    def _child_date(self, parent: dict[str, str]) -> date:
        return self.rng.day(self.included[parent["registry_number"]], LAST_INCLUDED)


def _invented_towns() -> tuple[tuple[str, str], ...]:
    """(adjective stem, town) pairs made of a nature root and a prefix: Новоборский, Новоборск."""
    stems = [
        prefix + root.lower() if prefix else root
        for root in names.NATURE_ROOTS
        for prefix in names.PLACE_PREFIXES
    ]
    return tuple((stem, stem + "ск") for stem in stems)


_INVENTED_TOWNS = _invented_towns()


class _EduNamer:
    """Names of the education organizations of one region, unique within it."""

    def __init__(self, rng: _Dice, region: RegionalOrg, places: list[_Place]) -> None:
        self.rng = rng
        self.region = region
        # towns that give their name to state colleges and branches (not a federal city's districts)
        self.towns = [p for p in places if not p.state]
        self.used: set[str] = set()
        self.numbers: Counter[tuple[str, str]] = Counter()

    def name(self, edu_type: str, place: _Place | None) -> str:
        for _ in range(20):
            name = self._state(edu_type) if place is None else self._municipal(edu_type, place)
            if name not in self.used:
                break
        else:
            name = self._numbered(edu_type, place)
        self.used.add(name)
        return name

    def _next(self, locality: str, series: str) -> int:
        """The next number of a series (schools, kindergartens) in a town, with gaps."""
        key = (locality, series)
        self.numbers[key] += 2 if self.rng.random() < 0.25 else 1
        return self.numbers[key]

    def _numbered(self, edu_type: str, place: _Place | None) -> str:
        """A numbered name, when the usual forms are used up in the region."""
        locality = place.locality if place else ""
        form = names.NUMBERED_FORMS[edu_type]
        if (place is None or place.state) and form.startswith("М"):
            form = "Г" + form[1:]  # МБОУ -> ГБОУ: the region's own organization
        if edu_type == "university":
            form = form.format(n="{n}", university=self._university())
        while True:
            number = self._next(locality, "numbered " + edu_type)
            name = f"{form.format(n=number)} {locality}".strip()
            if name not in self.used:
                return name

    def _adjective(self) -> str:
        return self.rng.pick(self.region.adjectives)

    def _college(self, adjective: str) -> str:
        form = self.rng.pick(names.COLLEGE_FORMS)
        return f"{self.rng.pick(names.COLLEGE_OWNERS)} «{form.format(adjective)}»"

    def _university(self) -> str:
        return self.rng.pick(names.UNIVERSITY_FORMS).format(self._adjective())

    def _state(self, edu_type: str) -> str:
        """Organizations of the region itself (ГБОУ, ГБПОУ) or federal ones (ФГБОУ ВО)."""
        rng = self.rng
        if edu_type == "college":
            near = rng.random() < 0.3 and self.towns
            return self._college(rng.pick(self.towns).adjective if near else self._adjective())
        if edu_type == "university":
            if rng.random() < 0.6 or not self.towns:
                return self._university()
            return f"{rng.pick(self.towns).adjective} филиал {self._university()}"
        if edu_type == "school":
            form, adjective = rng.pick(names.STATE_SCHOOL_FORMS), self._adjective()
            number = self._next("", "state school")
            return form.format(adj=adjective, adj_f=names.adjective_feminine(adjective), n=number)
        if edu_type == "kindergarten":
            return f"ГБДОУ «Детский сад № {self._next('', 'state kindergarten')}»"
        if edu_type == "additional":
            form = rng.pick(names.STATE_ADDITIONAL_FORMS)
            return f"ГБУ ДО «{form.format(self._adjective())}»"
        near = rng.random() < 0.5 and self.towns
        adjective = rng.pick(self.towns).adjective if near else self._adjective()
        return rng.pick(names.OTHER_STATE_FORMS).format(adj=adjective)

    def _municipal(self, edu_type: str, place: _Place) -> str:
        rng = self.rng
        if place.state and edu_type in ("college", "university"):
            return self._state(edu_type)  # a federal city's, named after the city
        if edu_type == "college":
            return self._college(place.adjective)
        if edu_type == "university":
            return f"{place.adjective} филиал {self._university()}"
        if edu_type == "school":
            return self._school(place)
        if edu_type == "kindergarten":
            return self._kindergarten(place)
        if edu_type == "additional":
            owner = "ГБУ ДО" if place.state else rng.pick(names.ADDITIONAL_OWNERS)
            form = rng.pick(names.ADDITIONAL_FORMS)
            if rng.random() < 0.4:
                form = f"{form} № {self._next(place.locality, form)}"
            return f"{owner} «{form}» {place.locality}"
        form = rng.pick(names.OTHER_MUNICIPAL_FORMS)
        return f"{'Г' + form[1:] if place.state else form} {place.locality}"

    def _school(self, place: _Place) -> str:
        rng = self.rng
        owner = "ГБОУ" if place.state else SCHOOL_OWNER_DRAW.draw(rng)
        if place.urban or rng.random() < 0.3:
            form = CITY_SCHOOL_DRAW.draw(rng)
            number = self._next(place.locality, "school")
            return f"{owner} «{form.format(number)}» {place.locality}"
        form = VILLAGE_SCHOOL_DRAW.draw(rng)
        return f"{owner} «{form.format(self._village() + 'ая')}» {place.locality}"

    def _kindergarten(self, place: _Place) -> str:
        rng = self.rng
        owner = "ГБДОУ" if place.state else KINDERGARTEN_OWNER_DRAW.draw(rng)
        title = rng.pick(names.KINDERGARTEN_NAMES)
        if place.urban or rng.random() < 0.3:
            number = self._next(place.locality, "kindergarten")
            form = KINDERGARTEN_FORM_DRAW.draw(rng).format(n=number, title=title)
        else:
            form = f"{self._village()}ий детский сад «{title}»"
        return f"{owner} «{form}» {place.locality}"

    def _village(self) -> str:
        """A village adjective without its ending: Ключевск, Новопокровск."""
        root = self.rng.pick(names.VILLAGE_ROOTS)
        prefix = self.rng.pick(names.VILLAGE_PREFIXES)
        return (prefix + root.lower() if prefix else root) + "ск"


# the fixed parts of the XLSX package (one sheet, a text style and a bold text style)
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
_DOC_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml"
_XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_TEXT_STYLE, _HEADER_STYLE = 1, 2  # cellXfs below; number format 49 is "@", text
_XLSX_PARTS: dict[str, str] = {
    "[Content_Types].xml": _XML_DECLARATION
    + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package'
    '.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    f'<Override PartName="/xl/workbook.xml" ContentType="{_TYPE}.sheet.main+xml"/>'
    f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{_TYPE}.worksheet+xml"/>'
    f'<Override PartName="/xl/styles.xml" ContentType="{_TYPE}.styles+xml"/>'
    "</Types>",
    "_rels/.rels": _XML_DECLARATION + f'<Relationships xmlns="{_RELS}">'
    f'<Relationship Id="rId1" Type="{_DOC_RELS}/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>",
    "xl/workbook.xml": _XML_DECLARATION
    + f'<workbook xmlns="{_MAIN}" xmlns:r="{_DOC_RELS}"><sheets>'
    f'<sheet name="{SHEET_TITLE}" sheetId="1" r:id="rId1"/></sheets></workbook>',
    "xl/_rels/workbook.xml.rels": _XML_DECLARATION + f'<Relationships xmlns="{_RELS}">'
    f'<Relationship Id="rId1" Type="{_DOC_RELS}/worksheet" Target="worksheets/sheet1.xml"/>'
    f'<Relationship Id="rId2" Type="{_DOC_RELS}/styles" Target="styles.xml"/>'
    "</Relationships>",
    "xl/styles.xml": _XML_DECLARATION + f'<styleSheet xmlns="{_MAIN}">'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="3"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="49" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="49" fontId="1" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"'
    ' applyFont="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>",
}
_SHEET_START = (
    _XML_DECLARATION + f'<worksheet xmlns="{_MAIN}"><dimension ref="A1:{{last}}"/>'
    '<sheetViews><sheetView workbookViewId="0">'
    '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
    "</sheetView></sheetViews>"
    '<cols><col min="1" max="{columns}" width="24" customWidth="1"/></cols><sheetData>'
)
_SHEET_END = "</sheetData></worksheet>"
