"""Finding members within a subtree: search, filtered lists with paging, and the XLSX export.

Searches go through the per-region index (region, surname) when the scope lies in one region,
which is what keeps a region of fifty thousand members answering in milliseconds, and through
the person key (which begins with the surname) across regions.
"""

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.common.errors import ValidationFailed, field_error
from services.common.workbook import Sheet
from services.membership.card import (
    CATEGORY_TITLES,
    CONSENT_FORMS,
    JOB_TITLES,
    REMOVAL_TITLES,
    SEX_TITLES,
)
from services.membership.members import COLUMNS, shown

MAX_PAGE = 500
MAX_EXPORT = 300_000
TOTAL_CAP = 1_000  # beyond this a list says "more than 1 000" instead of counting on


@dataclass
class Filters:
    q: str = ""  # surname, or surname and first name, by their beginnings
    surname: str = ""
    first_name: str = ""
    birth_date: date | None = None
    card_number: str = ""
    category: str | None = None
    status: str = "active"  # active, removed, all
    snils: str = ""
    sort: str = "name"  # name, or the dates people sort by: joined, since (- for newest)
    swapped: bool = False  # q's words may be «Имя Фамилия»: tried that way when none match

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> "Filters":
        f = cls(q=" ".join(str(raw.get("q") or "").split()),
                surname=str(raw.get("surname") or "").strip(),
                first_name=str(raw.get("first_name") or "").strip(),
                card_number=_digits(str(raw.get("card_number") or "")),
                category=raw.get("category") or None, status=raw.get("status") or "active")
        if raw.get("birth_date"):
            try:
                f.birth_date = date.fromisoformat(str(raw["birth_date"]))
            except ValueError:
                raise ValidationFailed(details=[field_error(
                    "birth_date", "date_parsing", "Дата рождения: ГГГГ-ММ-ДД")]) from None
        f.sort = str(raw.get("sort") or "name")
        if f.sort not in SORTS:
            raise ValidationFailed(details=[field_error(
                "sort", "enum", "Порядок: name, joined, -joined, since или -since")])
        if f.status not in ("active", "removed", "all"):
            raise ValidationFailed(details=[field_error("status", "enum",
                                                        "Статус: active, removed или all")])
        if f.category and f.category not in CATEGORY_TITLES:
            raise ValidationFailed(details=[field_error("category", "enum",
                                                        "Категория: working, student, "
                                                        "pensioner или not_given")])
        digits = _digits(f.q)
        if f.q and digits.isdigit():  # a SNILS (11 digits) or a card's number
            if len(digits) == 11:
                f.snils = digits
            else:
                f.card_number = digits
        elif f.q and not (f.surname or f.first_name):
            words = f.q.split()
            f.surname = words[0]
            f.first_name = words[1] if len(words) > 1 else ""
            f.swapped = True
        return f

    def other_way(self) -> "Filters | None":
        """«Мария» finds no surname: a first name then; «Мария Иванова»: the words swapped."""
        if not self.swapped:
            return None
        return Filters(surname=self.first_name, first_name=self.surname,
                       birth_date=self.birth_date, card_number=self.card_number,
                       category=self.category, status=self.status, sort=self.sort)


def _digits(value: str) -> str:
    """A number as people type it: spaces, dashes and «№»/«No» left out."""
    return re.sub(r"[\s\-–.№#]|^N[oо]?", "", value, flags=re.IGNORECASE)


def _e_variants(word: str, cap: int = 4) -> list[str]:
    """The spellings of a word with ё and е read alike («елкина» and «ёлкина»); with more
    than `cap` such letters, only the word itself and its е-spelling."""
    base = word.lower().replace("ё", "е")
    spots = [i for i, ch in enumerate(base) if ch == "е"]
    if len(spots) > cap:
        return sorted({word.lower(), base})
    out = []
    for mask in range(1 << len(spots)):
        chars = list(base)
        for bit, i in enumerate(spots):
            if mask >> bit & 1:
                chars[i] = "ё"
        out.append("".join(chars))
    return out


def _where(paths: list[str] | None, region_id: int | None,
           f: Filters) -> tuple[str, dict[str, Any]]:
    params: dict[str, Any] = {"paths": paths}
    if paths is None:
        sql = ["true"]
    elif len(paths) == 1:  # one subtree: the path index serves `<@ ltree`, not `<@ ltree[]`
        sql = ["o.path <@ CAST(:path AS ltree)"]
        params["path"] = paths[0]
    else:
        sql = ["o.path <@ CAST(:paths AS ltree[])"]
    if region_id is not None:
        sql.append("m.region_id = :region")
        params["region"] = region_id
    if f.surname:
        if region_id is None:  # across regions: the person key begins with the surname
            sql.append("m.person_key LIKE :key_prefix")
            params["key_prefix"] = _prefix(f.surname.replace("ё", "е").replace("Ё", "Е"))
        else:  # each spelling through the region's index of surnames
            spellings = _e_variants(f.surname)
            sql.append("(" + " OR ".join(f'lower(m.surname) COLLATE "C" LIKE :surname{i}'
                                         for i in range(len(spellings))) + ")")
            params.update({f"surname{i}": _prefix(w) for i, w in enumerate(spellings)})
    if f.first_name:
        sql.append("replace(lower(m.first_name), 'ё', 'е') LIKE :first_name")
        params["first_name"] = _prefix(f.first_name.replace("ё", "е").replace("Ё", "Е"))
    if f.snils:
        sql.append("m.snils = :snils")
        params["snils"] = f.snils
    if f.birth_date:
        sql.append("m.birth_date = :birth_date")
        params["birth_date"] = f.birth_date
    if f.card_number:
        if len(f.card_number) == 16:
            sql.append("m.card_number = :card_number")
            params["card_number"] = f.card_number
        else:  # the beginning of a number
            sql.append("m.card_number LIKE :card_number")
            params["card_number"] = _prefix(f.card_number)
    if f.category:
        sql.append("m.category = :category")
        params["category"] = f.category
    if f.status == "active":
        sql.append("m.removed_on IS NULL")
    elif f.status == "removed":
        sql.append("m.removed_on IS NOT NULL")
    return " AND ".join(sql), params


def _prefix(word: str) -> str:
    escaped = word.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


SORTS = {"name": None, "joined": "m.joined_on, m.id", "-joined": "m.joined_on DESC, m.id",
         "since": "m.org_since, m.id", "-since": "m.org_since DESC, m.id"}


def _order(region_id: int | None, sort: str = "name") -> str:
    if SORTS.get(sort):  # by a date: the scope's rows sorted, no index gives this order
        return str(SORTS[sort])
    """In a region, by surname and name through the region's index; across regions, by the
    person key (full name, ё read as е, then birth date), whose index serves the
    duplicate checks as well."""
    if region_id is None:
        return "m.person_key, m.id"
    return 'lower(m.surname) COLLATE "C", lower(m.first_name) COLLATE "C", m.id'


def search(session: Session, paths: list[str] | None, region_id: int | None, f: Filters,
           personal: bool, limit: int = 50, offset: int = 0) -> dict[str, Any]:
    if f.snils and not personal:  # who may not read a SNILS may not test one either
        raise ValidationFailed(details=[field_error("q", "snils_not_allowed",
                                                    "Поиск по СНИЛС вам недоступен")])
    result = _search(session, paths, region_id, f, personal, limit, offset)
    other = f.other_way()
    # a first name alone is looked for within a subtree, not across the whole union
    if not result["items"] and other is not None and not offset and \
            (paths is not None or other.surname):
        result = _search(session, paths, region_id, other, personal, limit, offset)
    return result


def _search(session: Session, paths: list[str] | None, region_id: int | None, f: Filters,
            personal: bool, limit: int, offset: int) -> dict[str, Any]:
    where, params = _where(paths, region_id, f)
    limit = min(max(int(limit), 1), MAX_PAGE)
    rows = session.execute(text(f"""
        SELECT {COLUMNS}, o.name AS org_name FROM membership.member m
        JOIN membership.org o ON o.id = m.org_id
        WHERE {where}
        ORDER BY {_order(region_id, f.sort)}
        LIMIT :limit OFFSET :offset
    """), {**params, "limit": limit, "offset": max(int(offset), 0)}).mappings().all()
    total = session.execute(text(f"""
        SELECT count(*) FROM (SELECT 1 FROM membership.member m
            JOIN membership.org o ON o.id = m.org_id WHERE {where} LIMIT {TOTAL_CAP + 1}) t
    """), params).scalar_one()
    return {"items": [shown(dict(r), personal) for r in rows], "limit": limit, "offset": offset,
            "total": min(total, TOTAL_CAP), "total_capped": total > TOTAL_CAP}


def _rows(session: Session, paths: list[str] | None, region_id: int | None,
          f: Filters) -> Iterator[dict[str, Any]]:
    where, params = _where(paths, region_id, f)
    result = session.execute(text(f"""
        SELECT {COLUMNS}, o.name AS org_name, o.registry_number FROM membership.member m
        JOIN membership.org o ON o.id = m.org_id
        WHERE {where} ORDER BY o.registry_number, lower(m.surname), lower(m.first_name), m.id
        LIMIT {MAX_EXPORT + 1}
    """).execution_options(yield_per=5000), params)
    for row in result.mappings():
        yield dict(row)


EXPORT_COLUMNS = [
    ("registry_number", "Рег. номер организации"), ("org_name", "Организация"),
    ("surname", "Фамилия"), ("first_name", "Имя"), ("patronymic", "Отчество"), ("sex", "Пол"),
    ("birth_date", "Дата рождения"), ("snils", "СНИЛС"), ("phone", "Телефон"),
    ("email", "E-mail"), ("joined_on", "Дата вступления"), ("org_since", "На учёте с"),
    ("category", "Категория"), ("job_category", "Категория должности"),
    ("card_number", "Номер билета"), ("removed_on", "Снят с учёта"),
    ("removal_reason", "Причина снятия"), ("pd_consent_on", "Согласие на обработку ПДн"),
    ("pd_consent_form", "Форма согласия"), ("email_consent", "Согласие на рассылку"),
]  # headers the import reads back: the export, saved again, imports with no changes
WIDTHS = {"registry_number": 14, "org_name": 40, "surname": 18, "first_name": 14,
          "patronymic": 18, "sex": 9, "birth_date": 12, "snils": 15, "phone": 18, "email": 26,
          "joined_on": 12, "org_since": 12, "category": 16, "job_category": 18,
          "card_number": 20, "removed_on": 12, "removal_reason": 24, "pd_consent_on": 14,
          "pd_consent_form": 12, "email_consent": 10}
TITLES = {"sex": SEX_TITLES, "category": CATEGORY_TITLES, "job_category": JOB_TITLES,
          "removal_reason": REMOVAL_TITLES, "pd_consent_form": CONSENT_FORMS}
PERSONAL_COLUMNS = {"birth_date", "snils", "phone", "email"}


def export_xlsx(session: Session, paths: list[str] | None, region_id: int | None, f: Filters,
                personal: bool) -> tuple[bytes, list[int]]:
    """The workbook and the ids of the members in it (every one is audited)."""
    from openpyxl import Workbook

    columns = [(k, t) for k, t in EXPORT_COLUMNS if personal or k not in PERSONAL_COLUMNS]
    book = Workbook(write_only=True)
    sheet = Sheet(book, "Члены Профсоюза", [(t, WIDTHS.get(k, 14)) for k, t in columns])
    ids: list[int] = []
    for row in _rows(session, paths, region_id, f):
        ids.append(row["id"])
        if len(ids) > MAX_EXPORT:
            raise ValidationFailed("export_too_large",
                                   f"В выгрузке больше {MAX_EXPORT:,} строк: выберите "
                                   "организацию поменьше или добавьте отбор".replace(",", " "))
        values = []
        for key, _ in columns:
            value = row.get(key)
            if key in TITLES and value:
                value = TITLES[key].get(value, value)
            elif key == "email_consent":
                value = "да" if value else "нет"
            elif key == "snils" and value:
                value = f"{value[0:3]}-{value[3:6]}-{value[6:9]} {value[9:11]}"
            values.append(value)
        sheet.append(values)
    sheet.finish()
    out = io.BytesIO()
    book.save(out)
    return out.getvalue(), ids
