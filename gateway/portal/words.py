"""Russian as people write it: plural forms and numbers from Babel's CLDR data (ru), gendered
words, SNILS and card numbers grouped, histories in the form's own words."""

import re
from datetime import date, datetime
from typing import Any

from babel import Locale
from babel.numbers import format_decimal, format_percent

from services.common.roles import (
    AIS_RESPONSIBLE,
    AUDITOR,
    CENTRAL_ADMIN,
    CHAIR,
    MEMBER,
    OPERATOR,
    REGIONAL_STAFF,
)

RU = Locale("ru")

# short names for the header; services.common.roles.ROLES says what each may do
ROLE_NAMES = {CENTRAL_ADMIN: "аппарат ЦС", AUDITOR: "аудитор", REGIONAL_STAFF:
              "аппарат региональной организации", AIS_RESPONSIBLE: "ответственный за АИС",
              CHAIR: "председатель", MEMBER: "член Профсоюза", OPERATOR: "оператор"}
ROLE_ORDER = (CENTRAL_ADMIN, AUDITOR, REGIONAL_STAFF, AIS_RESPONSIBLE, CHAIR, OPERATOR, MEMBER)


def plural(n: Any, one: str, few: str, many: str) -> str:
    """The word for a count by the CLDR rule: 1 заявление, 3 заявления, 5 заявлений;
    a fraction (1,5) takes the «other» form, which Russian writes as «few»."""
    try:
        value = abs(float(n))
    except (TypeError, ValueError):
        return many
    if value != int(value):
        return few
    form = RU.plural_form(int(value))
    return {"one": one, "few": few}.get(form, many)


def count(n: Any, one: str, few: str, many: str) -> str:
    """«94 члена Профсоюза»: the number as Russian writes it and the word in its form."""
    return f"{number(n)} {plural(n, one, few, many)}"


def number(value: Any) -> str:
    """12 345 (a narrow no-break space between groups, as CLDR's ru has it); 1,5."""
    if value is None or value == "":
        return ""
    try:
        return format_decimal(value, locale=RU)
    except (TypeError, ValueError, ArithmeticError):
        return str(value)


def percent(share: Any, digits: int = 1) -> str:
    """A share (0.25) as «25 %», «12,5 %»: no «.0», a decimal comma, CLDR's spacing."""
    if share is None or share == "":
        return "—"
    pattern = "#,##0" + ("." + "#" * digits if digits else "") + "\u00a0%"
    return format_percent(float(share), pattern, locale=RU)


def by_sex(sex: Any, male: str, female: str, either: str | None = None) -> str:
    """«Переведён», «Переведена», or «Переведён(а)» when the card does not say."""
    if sex == "female":
        return female
    if sex == "male":
        return male
    return either if either is not None else f"{male}(а)"


def snils(value: Any) -> str:
    """11 digits as «123-456-789 01»; anything else as it came."""
    digits = re.sub(r"\D", "", str(value or ""))
    if len(digits) != 11:
        return str(value or "")
    return f"{digits[0:3]}-{digits[3:6]}-{digits[6:9]} {digits[9:11]}"


def card_number(value: Any) -> str:
    """A card's 16 digits in four groups, as printed on it."""
    digits = re.sub(r"\s", "", str(value or ""))
    if len(digits) == 16 and digits.isdigit():
        return " ".join(digits[i:i + 4] for i in range(0, 16, 4))
    return str(value or "")


def roles(role_codes: Any) -> str:
    codes = set(role_codes or ())
    return ", ".join(ROLE_NAMES[r] for r in ROLE_ORDER if r in codes)


_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}")


def ru_date(value: Any) -> str:
    """2024-01-10 -> 10.01.2024; timestamps keep their time (minutes)."""
    if not value:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%d.%m.%Y %H:%M")
    if isinstance(value, date):
        return value.strftime("%d.%m.%Y")
    text = str(value)
    if _ISO_DAY.match(text):
        out = f"{text[8:10]}.{text[5:7]}.{text[0:4]}"
        if len(text) >= 16 and text[10] in "T ":
            out += " " + text[11:16]
        return out
    return text


def history_value(field: str, value: Any, titles: dict[str, dict[str, str]],
                  org_names: dict[str, str]) -> str:
    """A value of a card's history as the form shows it: Да/Нет, a reason or category by
    name, ДД.ММ.ГГГГ, an organization by name and number."""
    if value is None or value == "":
        return "—"
    if value is True or value == "True":
        return "Да"
    if value is False or value == "False":
        return "Нет"
    if field in ("org_id", "parent_id", "reorganized_into_id", "region_id"):
        return org_names.get(str(value), f"организация № {value}")
    if field == "snils":
        return snils(value)
    if field == "card_number":
        return card_number(value)
    table = titles.get(field)
    if table is not None:
        return table.get(str(value), str(value))
    if isinstance(value, str) and _ISO_DAY.match(value):
        return ru_date(value)
    return str(value)
