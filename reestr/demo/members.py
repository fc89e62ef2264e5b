"""Synthetic members for the demo and the national load: a file in the members format.

Sizes follow the kind of education organization (a university's primary has hundreds of
members, most of them students; a kindergarten's a couple of dozen), which gives about 3.1
million members for the national 75,000 organizations and the source document's category mix:
about two thirds working, a quarter students, a few per cent non-working pensioners and about
4 % with no category given. Some primaries have no members or fewer than three, as in the seed.
The same seed always gives the same file; every person is unique by SNILS and by name and date
of birth, and every SNILS has valid check digits.
"""

from __future__ import annotations

import csv
import os
import random
from bisect import bisect
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import date, timedelta
from itertools import accumulate

from reestr.demo import names
from services.common.identifiers import snils_check_digits
from services.membership.file_format import COLUMNS

AS_OF = date(2026, 1, 1)
# mean members of a primary by the kind of education organization: (staff, students)
SIZE = {"школа": (43, 0), "детский сад": (21, 0), "колледж": (30, 92), "вуз": (100, 380),
        "дополнительное образование": (16, 0), "другое": (15, 0), "": (21, 0)}
EMPTY_SHARE = 0.03  # primaries with no members
TINY_SHARE = 0.04   # primaries with one or two
NOT_GIVEN = 0.04
PENSIONER_OF_OLDER_STAFF = 0.3  # of staff past sixty: non-working pensioners
JOBS = (("педагогический работник", 60), ("руководитель", 7),
        ("учебно-вспомогательный и обслуживающий персонал", 28), ("прочие работники", 5))
# the file has no «Должность» column: the generator draws the job category itself
FILE_COLUMNS = [k for k in COLUMNS if k not in ("full_name", "card_number", "position")]


def _draw(rng: random.Random, low: int, high: int) -> int:
    """randint's value without its cost (a few million rows draw many)."""
    return low + int(rng.random() * (high - low + 1))


def _d(day: date) -> str:
    return f"{day.day:02d}.{day.month:02d}.{day.year}"  # ДД.ММ.ГГГГ, without strftime's cost


def _sizes(rng: random.Random, edu_type: str) -> tuple[int, int]:
    staff, students = SIZE.get(edu_type, SIZE[""])
    roll = rng.random()
    if roll < EMPTY_SHARE:
        return 0, 0
    if roll < EMPTY_SHARE + TINY_SHARE:
        return rng.randint(1, 2), 0
    spread = rng.lognormvariate(0, 0.45) / 1.107  # mean 1
    return max(1, round(staff * spread)), round(students * spread)


class _People:
    """Unique people: SNILS from a sequence, names and birth dates drawn until unseen."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.seq = rng.randint(2_000_000, 9_000_000)
        self.keys: set[tuple] = set()

    def snils(self) -> str:
        self.seq += _draw(self.rng, 1, 40)
        base = f"{self.seq + 100_000_000:09d}"
        return f"{base[:3]}-{base[3:6]}-{base[6:]} {snils_check_digits(base)}"

    def person(self, student: bool) -> tuple[str, str, str, str, date]:
        rng = self.rng
        while True:
            female = rng.random() < (0.6 if student else 0.82)
            surname = rng.choice(names.SURNAMES)
            father = rng.choice(names.MALE_NAMES)
            if female:
                surname = names.feminine_surname(surname)
                first, patronymic = rng.choice(names.FEMALE_NAMES), father[2]
            else:
                first, patronymic = rng.choice(names.MALE_NAMES)[0], father[1]
            age = _draw(rng, 16, 24) if student else _draw(rng, 20, 72)
            birth = AS_OF - timedelta(days=age * 365 + _draw(rng, 0, 364))
            key = (surname, first, patronymic, birth)
            if key not in self.keys:
                self.keys.add(key)
                return surname, first, patronymic, "ж" if female else "м", birth


def _phone(rng: random.Random) -> str:
    n = f"{rng.getrandbits(30) % 10**9:09d}"
    return f"+7 9{n[:2]} {n[2:5]}-{n[5:7]}-{n[7:]}"


def generate_members(org_rows: Iterable[dict[str, str]], seed: int = 2026
                     ) -> Iterator[list[str]]:
    """Rows of the members file (values in FILE_COLUMNS order) for the primaries given."""
    rng = random.Random(seed)
    people = _People(rng)
    jobs, job_weights = zip(*JOBS, strict=True)
    job_cumulative = [w / sum(job_weights) for w in accumulate(job_weights)][:-1]
    for org in org_rows:
        if org.get("level") != "первичная":
            continue
        staff, students = _sizes(rng, org.get("edu_type", ""))
        for i in range(staff + students):
            student = i >= staff
            surname, first, patronymic, sex, birth = people.person(student)
            earliest = max(birth.year + 18, 1991) if not student else birth.year + 15
            joined = date(_draw(rng, min(earliest, 2025), 2025), _draw(rng, 1, 12),
                          _draw(rng, 1, 28))
            roll = rng.random()
            if roll < NOT_GIVEN:
                category, job = "не указана", ""
            elif student:
                category, job = "обучающийся", ""
            elif birth.year < 1966 and rng.random() < PENSIONER_OF_OLDER_STAFF:
                category, job = "неработающий пенсионер", ""
            else:
                category, job = "работающий", jobs[bisect(job_cumulative, rng.random())]
            email = ""
            if rng.random() < 0.55:
                login = names.transliterate(surname).lower() + str(birth.year % 100 + i % 7)
                email = f"{login}@{rng.choice(names.EMAIL_DOMAINS)}"
            consent = max(joined, date(2018, 1, 1)) + timedelta(days=_draw(rng, 0, 300))
            yield [
                org["registry_number"], surname, first, patronymic, sex, _d(birth),
                people.snils() if rng.random() < 0.85 else "",
                _phone(rng) if rng.random() < 0.7 else "",
                email, _d(joined), category, job,
                _d(min(consent, AS_OF)), "письменное",
                "да" if email and rng.random() < 0.6 else "нет",
            ]


def write_csv(rows: Iterable[list[str]], path: str | os.PathLike[str]) -> int:
    """The file as a chair's office would save it from Excel: semicolons, UTF-8 with BOM."""
    n = 0
    with open(path, "w", newline="", encoding="utf-8-sig") as f:
        w = csv.writer(f, delimiter=";")
        w.writerow([COLUMNS[k] for k in FILE_COLUMNS])
        for row in rows:
            w.writerow(row)
            n += 1
    return n


def category_mix(path: str | os.PathLike[str]) -> dict[str, float]:
    with open(path, encoding="utf-8-sig") as f:
        reader = csv.reader(f, delimiter=";")
        index = next(reader).index(COLUMNS["category"])
        counts = Counter(row[index] for row in reader)
    total = sum(counts.values()) or 1
    return {k: round(v / total, 3) for k, v in counts.items()}
