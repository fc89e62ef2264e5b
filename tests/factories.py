"""Valid identifiers and small organization trees for tests."""

import csv
import io
from datetime import date, timedelta
from typing import Any

from stdnum.ru import inn as stdnum_inn


def company_inn(n: int, region: str = "59") -> str:
    base = f"{region}{n:07d}"[:9]
    return base + stdnum_inn.calc_company_check_digit(base)


def ogrn(n: int) -> str:
    base = f"1025900{n:05d}"[:12]
    return base + str(int(base) % 11 % 10)


def org(level: str, number: str, name: str | None = None, parent_id: int | None = None,
        **fields: Any) -> dict[str, Any]:
    return {"level": level, "registry_number": number, "name": name or f"Организация {number}",
            "parent_id": parent_id, **fields}


def build_tree(create) -> dict[str, int]:
    """ЦС → Пермская краевая → районная → школа (+ подразделение); ППО с правами ТПО с ППО внутри;
    вторая региональная. `create(data) -> dict` is the domain function or an RPC/API call."""
    ids: dict[str, int] = {}
    ids["central"] = create(org("central", "0000", "Общероссийский Профсоюз образования"))["id"]
    ids["region"] = create(org("regional", "59-Р", "Пермская краевая организация",
                               ids["central"], region_code="59", legal_entity=True,
                               inn=company_inn(1), ogrn=ogrn(1)))["id"]
    ids["region2"] = create(org("regional", "66-Р", "Свердловская областная организация",
                                ids["central"], region_code="66"))["id"]
    ids["territorial"] = create(org("territorial", "59-Т-1", "Кунгурская районная организация",
                                    ids["region"], kind="district"))["id"]
    ids["primary"] = create(org("primary", "59-П-1", "ППО МБОУ «СОШ № 1» г. Кунгура",
                                ids["territorial"], education={
                                    "name": "МБОУ «СОШ № 1»", "type": "school",
                                    "inn": company_inn(11)}))["id"]
    ids["subdivision"] = create(org("subdivision", "59-С-1", "Профгруппа начальной школы",
                                    ids["primary"], kind="union_group"))["id"]
    ids["rights"] = create(org("primary", "59-П-2", "ППО Пермского университета",
                               ids["region"], territorial_rights=True))["id"]
    ids["under_rights"] = create(org("primary", "59-П-3", "ППО колледжа при университете",
                                     ids["rights"]))["id"]
    ids["primary2"] = create(org("primary", "66-П-1", "ППО школы № 5 Екатеринбурга",
                                 ids["region2"]))["id"]
    return ids


def snils(n: int) -> str:
    """A valid SNILS (with check digits) from a number."""
    from services.common.identifiers import snils_check_digits

    base = f"{100_000_000 + n:09d}"[-9:]
    if base <= "001001998":
        base = f"{int(base) + 2_000_000:09d}"
    return base + snils_check_digits(base)


def card(n: int = 1, **fields: Any) -> dict[str, Any]:
    """A member's card as a chair fills it in."""
    return {"surname": f"Иванова{'абвгдежзиклмнопрстуфхцчшщэюя'[n % 28]}", "first_name": "Мария",
            "patronymic": "Петровна", "sex": "female", "birth_date": f"19{60 + n % 40}-03-15",
            "snils": snils(n), "phone": "+7 912 345-67-89", "email": f"m{n}@example.ru",
            "joined_on": "2015-09-01", "category": "working", "job_category": "teacher",
            "pd_consent_on": "2024-01-10", "pd_consent_form": "paper", **fields}


def person(n: int) -> dict[str, Any]:
    """card(n) with a birth date of its own, old enough to have joined in 2015: card(n) repeats
    a person every 280 numbers, and one person is one record (apart for n up to 15,000)."""
    return card(n, birth_date=(date(1950, 1, 1) + timedelta(days=n % 15_000)).isoformat())


def members_csv(ns: list[int]) -> bytes:
    """A chair's file of members: person(n) for each n, in the columns the import reads."""
    out = io.StringIO()
    w = csv.writer(out, delimiter=";")
    w.writerow(["ФИО", "Дата рожд.", "Пол", "СНИЛС", "Дата вступления", "Категория",
                "Должность (категория)", "Согласие на обработку ПДн"])
    for n in ns:
        c = person(n)
        y, m, d = c["birth_date"].split("-")
        w.writerow([f"{c['surname']} {c['first_name']} {c['patronymic']}", f"{d}.{m}.{y}", "ж",
                    c["snils"], "01.09.2015", "работающий", "педагог", "10.01.2024"])
    return out.getvalue().encode("utf-8")


def register(api, org_id: int, n: int, user: str = "chair", **fields: Any) -> int:
    """A member registered through the gateway by `user` (see card for the fields)."""
    r = api.as_user(user).post(f"/api/v1/organizations/{org_id}/members",
                               json=card(n, **fields))
    assert r.status_code == 201, r.text
    return r.json()["id"]
