"""A row of a file of organizations checked on its own: what it says about its place in the tree
(the outline), then each of its fields by the passport's own rules, with Russian messages.

Every row of a small file goes this way; of a big file, only the rows the column-wise checks
(passport_frame) refuse, for their precise messages.
"""

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from services.common import tabular
from services.common.load_report import Report
from services.common.validation import russian_errors
from services.registry.file_format import (
    CHAIR_KEYS,
    EDU_COLUMNS,
    KIND_WORDS,
    LEVEL_WORDS,
    NO_WORDS,
    YES_WORDS,
    Level,
)
from services.registry.hierarchy import HierarchyError, check_kind
from services.registry.passport import Passport, passport_values

LEVEL_MESSAGE = ("Уровень: ЦС, региональная, территориальная, первичная или "
                 "структурное подразделение")

# where a passport field's error points in the file
FIELD_COLUMN = {
    "chair.surname": "chair_surname", "chair.first_name": "chair_first_name",
    "chair.patronymic": "chair_patronymic", "chair.email": "chair_email",
    "chair.phone": "chair_phone", "chair.elected_on": "chair_elected_on",
    "chair.term_until": "chair_term_until", "chair.email_consent": "chair_email_consent",
    "education.name": "edu_name", "education.type": "edu_type", "education.inn": "edu_inn",
}


@dataclass
class Row:
    """A row of the file: what placing it in the tree needs, its cells, and once its fields are
    checked, the passport's column values."""

    number: int
    level: Level
    registry_number: str
    territorial_rights: bool
    cells: dict[str, Any]
    parent_number: str | None
    values: dict[str, Any] = field(default_factory=dict)
    # the column-wise checks accepted the row: its values are in their frame, not in `values`
    frame_ok: bool = False
    # the parent is either a row of the same file or an organization already in the registry
    parent_row: "Row | None" = None
    parent_org: dict[str, Any] | None = None
    id: int = 0
    parent_id: int | None = None
    path: str = ""
    region_id: int | None = None


class _CellError(ValueError):
    def __init__(self, column: str, code: str, message: str) -> None:
        super().__init__(message)
        self.column, self.code, self.message = column, code, message


def _yes_no(value: Any, column: str) -> bool:
    word = tabular.cell_text(value).lower()
    if word in YES_WORDS:
        return True
    if word in NO_WORDS:
        return False
    raise _CellError(column, "bool_parsing", "Ожидается «да» или «нет»")


def _date(values: dict[str, Any], column: str) -> str | None:
    try:
        day = tabular.cell_date(values.get(column))
    except (ValueError, OverflowError):
        raise _CellError(column, "date_parsing",
                         "Дата не распознана: ожидается ДД.ММ.ГГГГ") from None
    return day.isoformat() if day else None


def _passport_data(values: dict[str, Any], errors: list[_CellError]) -> dict[str, Any]:
    """Cells of one row → the shape of a Passport, with Russian words turned into codes. A cell
    that cannot be read is added to `errors` (and left empty), so that every problem of the
    row is found at once."""
    t = {k: tabular.cell_text(v) for k, v in values.items()}

    def cell(read, *args):
        try:
            return read(*args)
        except _CellError as exc:
            errors.append(exc)
            return None

    _date_of, _flag = (lambda c: cell(_date, values, c)), (lambda c: cell(
        _yes_no, values.get(c), c))
    level_word = t.get("level", "").lower()
    if level_word not in LEVEL_WORDS and level_word not in {lv.value for lv in Level}:
        errors.append(_CellError("level", "level_unknown", LEVEL_MESSAGE))
    kind_word = t.get("kind", "").lower()
    if kind_word and kind_word not in KIND_WORDS:
        errors.append(_CellError("kind", "kind_unknown", "Неизвестный вид организации: "
                                 + ", ".join(sorted({f"«{w}»" for w in KIND_WORDS}))))
    data: dict[str, Any] = {
        "level": LEVEL_WORDS.get(level_word, level_word),
        "name": t.get("name", ""), "registry_number": t.get("registry_number", ""),
        "kind": KIND_WORDS.get(kind_word), "region_code": t.get("region_code") or None,
        "included_on": _date_of("included_on"),
        "territorial_rights": _flag("territorial_rights"),
        "legal_entity": _flag("legal_entity"),
        "ogrn": t.get("ogrn") or None, "inn": t.get("inn") or None,
    }
    chair = {k: t.get(f"chair_{k}") or None for k in CHAIR_KEYS}
    if any(chair.values()):
        chair["elected_on"] = _date_of("chair_elected_on")
        chair["term_until"] = _date_of("chair_term_until")
        chair["email_consent"] = _flag("chair_email_consent")
        data["chair"] = chair
    education = {k: t.get(column) or None for k, column in EDU_COLUMNS.items()}
    if any(education.values()):
        data["education"] = education
    return data


def outline_row(number: int, cells: dict[str, Any], columns: int, report: Report) -> Row | None:
    """What a row says about its place in the tree, or None with its error reported."""
    report.rows_total += 1
    if "__truncated__" in cells:
        report.error(number, "", "row_truncated",
                     f"Строка неполная: {cells['__truncated__']} столбцов из {columns} "
                     "(файл обрезан?)")
        return None
    registry_number = tabular.cell_text(cells.get("registry_number"))
    level_word = tabular.cell_text(cells.get("level")).lower()
    try:
        if not registry_number:
            raise _CellError("registry_number", "missing", "Обязательное поле не заполнено")
        level = LEVEL_WORDS.get(level_word) or Level(level_word)
        rights = _yes_no(cells.get("territorial_rights"), "territorial_rights")
    except ValueError as exc:
        if isinstance(exc, _CellError):
            report.error(number, exc.column, exc.code, exc.message)
        else:
            report.error(number, "level", "level_unknown", LEVEL_MESSAGE)
        return None
    parent = tabular.cell_text(cells.get("parent_registry_number")) or None
    return Row(number, level, registry_number, rights, cells, parent)


def outline_rows(table: tabular.Table, report: Report) -> list[Row]:
    """The first, cheap pass over every row of a table."""
    rows = (outline_row(number, cells, len(table.columns), report)
            for number, cells in table.rows)
    return [row for row in rows if row is not None]


def check_fields(row: Row, report: Report) -> bool:
    """The second pass: every field of the row, by the passport's own rules; every error of
    the row reported at once (a cell that could not be read, then the passport's rules on the
    other fields)."""
    cell_errors: list[_CellError] = []
    data = _passport_data(row.cells, cell_errors)
    for e in cell_errors:
        report.error(row.number, e.column, e.code, e.message)
    bad = {e.column for e in cell_errors}
    try:
        passport = Passport.model_validate(data)
        passport.kind = check_kind(passport.level, passport.kind)
    except HierarchyError as exc:
        if "kind" not in bad:
            report.error(row.number, "kind", exc.code, exc.message)
        return False
    except ValidationError as exc:
        for err in russian_errors(exc):
            column = FIELD_COLUMN.get(err["field"], err["field"].split(".")[0])
            if column not in bad and not (column == "chair" and bad & set(FIELD_COLUMN.values())):
                report.error(row.number, column, err["code"], err["message"])
        return False
    if cell_errors:
        return False
    row.values = passport_values(passport)
    return True
