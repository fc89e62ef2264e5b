"""The organization-tree file format (CSV or XLSX), shared by the loader and the demo generator.

Each column has a stable key (used in code and accepted as a header) and the Russian header that an
operator sees; both are accepted when reading, the Russian one is written.
"""

from enum import StrEnum


class Level(StrEnum):
    CENTRAL = "central"
    REGIONAL = "regional"
    TERRITORIAL = "territorial"
    PRIMARY = "primary"
    SUBDIVISION = "subdivision"


# key -> Russian header, in file order
COLUMNS: dict[str, str] = {
    "registry_number": "Регистрационный номер",
    "parent_registry_number": "Вышестоящая организация (рег. номер)",
    "level": "Уровень",
    "kind": "Вид",
    "name": "Наименование",
    "region_code": "Код региона",
    "territorial_rights": "Права ТПО",
    "legal_entity": "Юридическое лицо",
    "ogrn": "ОГРН",
    "inn": "ИНН",
    "included_on": "Дата включения в реестр",
    "chair_surname": "Председатель: фамилия",
    "chair_first_name": "Председатель: имя",
    "chair_patronymic": "Председатель: отчество",
    "chair_email": "Председатель: e-mail",
    "chair_phone": "Председатель: телефон",
    "chair_elected_on": "Председатель: избран",
    "chair_term_until": "Председатель: полномочия до",
    "chair_email_consent": "Председатель: согласие на рассылку",
    "edu_name": "Образовательная организация",
    "edu_type": "Тип образовательной организации",
    "edu_inn": "ИНН образовательной организации",
}

REQUIRED = ("registry_number", "level", "name")
# the chair's and the education organization's columns: chair_<key>, and edu key -> column
CHAIR_KEYS = ("surname", "first_name", "patronymic", "email", "phone", "elected_on",
              "term_until", "email_consent")
EDU_COLUMNS = {"name": "edu_name", "type": "edu_type", "inn": "edu_inn"}
DATE_COLUMNS = ("included_on", "chair_elected_on", "chair_term_until")

# Russian words written in the file -> codes kept in the database
LEVEL_WORDS: dict[str, Level] = {
    "цс": Level.CENTRAL,
    "центральный совет": Level.CENTRAL,
    "региональная": Level.REGIONAL,
    "территориальная": Level.TERRITORIAL,
    "первичная": Level.PRIMARY,
    "структурное подразделение": Level.SUBDIVISION,
}
LEVEL_TITLES: dict[Level, str] = {
    Level.CENTRAL: "ЦС",
    Level.REGIONAL: "региональная",
    Level.TERRITORIAL: "территориальная",
    Level.PRIMARY: "первичная",
    Level.SUBDIVISION: "структурное подразделение",
}

KIND_WORDS: dict[str, str] = {
    "региональная": "regional",
    "межрегиональная": "interregional",
    "окружная": "okrug",
    "районная": "district",
    "городская": "city",
    "территориальная": "territorial",
    "профорганизация подразделения": "subdivision",
    "профгруппа": "union_group",
}
KIND_TITLES: dict[str, str] = {code: word for word, code in KIND_WORDS.items()}
# which kinds each level may have (the first is the default)
LEVEL_KINDS: dict[Level, tuple[str, ...]] = {
    Level.CENTRAL: (),
    Level.REGIONAL: ("regional", "interregional", "okrug"),
    Level.TERRITORIAL: ("territorial", "district", "city"),
    Level.PRIMARY: (),
    Level.SUBDIVISION: ("subdivision", "union_group"),
}

EDU_TYPE_WORDS: dict[str, str] = {
    "школа": "school",
    "детский сад": "kindergarten",
    "колледж": "college",
    "вуз": "university",
    "дополнительное образование": "additional",
    "другое": "other",
}
EDU_TYPE_TITLES: dict[str, str] = {code: word for word, code in EDU_TYPE_WORDS.items()}

YES_WORDS = frozenset({"да", "yes", "true", "1", "+", "д"})
NO_WORDS = frozenset({"нет", "no", "false", "0", "-", "н", ""})

DATE_FORMAT = "%d.%m.%Y"  # dates are written as ДД.ММ.ГГГГ; ISO dates and Excel dates are read too


def template_xlsx() -> bytes:
    """The organizations file to fill in: its columns, drop-downs of levels, kinds and yes/no."""
    from services.common.sheet_template import template

    yes_no = ["да", "нет"]
    choices = {"level": list(LEVEL_TITLES.values()), "kind": list(KIND_WORDS),
               "territorial_rights": yes_no, "legal_entity": yes_no,
               "chair_email_consent": yes_no}
    note = ("Заполните по строке на организацию начиная с 3-й строки; эту строку можно "
            "оставить. Вышестоящая организация — её регистрационный номер (из реестра или из "
            "этого же файла). Даты — ДД.ММ.ГГГГ. Согласие председателя на рассылку — «да» или "
            "«нет»: его персональные данные обрабатываются с его согласия.")
    return template(list(COLUMNS.items()), choices, note, dates=DATE_COLUMNS,
                    sheet_title="Организации")
