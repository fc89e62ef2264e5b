"""Loading an organization tree from a file, set-based.

Every row is checked first (its fields, its place in the tree, against the file and the registry);
then either nothing is written (errors, unless the operator asked to load the good rows) or all
good rows go in with one COPY and their history with one INSERT … SELECT, in one transaction.
"""

import contextlib
import hashlib
import logging
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.orm import Session

from services.common import outbox, tabular
from services.common.load_report import Report
from services.common.validation import russian_errors
from services.registry.changes import SCHEMA
from services.registry.file_format import (
    COLUMNS,
    KIND_WORDS,
    LEVEL_WORDS,
    NO_WORDS,
    REQUIRED,
    YES_WORDS,
    Level,
)
from services.registry.hierarchy import (
    HierarchyError,
    Placement,
    check_kind,
    check_placement,
    find_cycle,
)
from services.registry.passport import Passport, passport_values
from services.registry.tree import start_of

log = logging.getLogger(__name__)

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
CHAIR_KEYS = {"surname", "first_name", "patronymic", "email", "phone", "elected_on",
              "term_until", "email_consent"}
EDU_KEYS = {"name": "edu_name", "type": "edu_type", "inn": "edu_inn"}


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
    # the parent is either a row of the same file or an organization already in the registry
    parent_row: "Row | None" = None
    parent_org: dict[str, Any] | None = None
    id: int = 0
    parent_id: int | None = None
    path: str = ""
    region_id: int | None = None


def _yes_no(value: Any, column: str) -> bool:
    word = tabular.cell_text(value).lower()
    if word in YES_WORDS:
        return True
    if word in NO_WORDS:
        return False
    raise _CellError(column, "bool_parsing", "Ожидается «да» или «нет»")


class _CellError(ValueError):
    def __init__(self, column: str, code: str, message: str) -> None:
        super().__init__(message)
        self.column, self.code, self.message = column, code, message


def _date(values: dict[str, Any], column: str) -> str | None:
    try:
        day = tabular.cell_date(values.get(column))
    except (ValueError, OverflowError):
        raise _CellError(column, "date_parsing",
                         "Дата не распознана: ожидается ДД.ММ.ГГГГ") from None
    return day.isoformat() if day else None


def _passport_data(values: dict[str, Any]) -> dict[str, Any]:
    """Cells of one row → the shape of a Passport, with Russian words turned into codes."""
    t = {k: tabular.cell_text(v) for k, v in values.items()}
    level_word = t.get("level", "").lower()
    if level_word not in LEVEL_WORDS and level_word not in {lv.value for lv in Level}:
        raise _CellError("level", "level_unknown", LEVEL_MESSAGE)
    kind_word = t.get("kind", "").lower()
    if kind_word and kind_word not in KIND_WORDS:
        raise _CellError("kind", "kind_unknown", "Неизвестный вид организации")
    data: dict[str, Any] = {
        "level": LEVEL_WORDS.get(level_word, level_word),
        "name": t.get("name", ""), "registry_number": t.get("registry_number", ""),
        "kind": KIND_WORDS.get(kind_word), "region_code": t.get("region_code") or None,
        "included_on": _date(values, "included_on"),
        "territorial_rights": _yes_no(values.get("territorial_rights"), "territorial_rights"),
        "legal_entity": _yes_no(values.get("legal_entity"), "legal_entity"),
        "ogrn": t.get("ogrn") or None, "inn": t.get("inn") or None,
    }
    chair = {k: t.get(f"chair_{k}") or None for k in CHAIR_KEYS}
    if any(chair.values()):
        chair["elected_on"] = _date(values, "chair_elected_on")
        chair["term_until"] = _date(values, "chair_term_until")
        chair["email_consent"] = _yes_no(values.get("chair_email_consent"),
                                         "chair_email_consent")
        data["chair"] = chair
    education = {k: t.get(column) or None for k, column in EDU_KEYS.items()}
    if any(education.values()):
        data["education"] = education
    return data


def outline_rows(table: tabular.Table, report: Report) -> list[Row]:
    """The first, cheap pass: what each row says about its place in the tree."""
    rows: list[Row] = []
    for number, cells in table.rows:
        report.rows_total += 1
        if "__truncated__" in cells:
            report.error(number, "", "row_truncated",
                         f"Строка неполная: {cells['__truncated__']} столбцов из "
                         f"{len(table.columns)} (файл обрезан?)")
            continue
        registry_number = tabular.cell_text(cells.get("registry_number"))
        level_word = tabular.cell_text(cells.get("level")).lower()
        try:
            if not registry_number:
                raise _CellError("registry_number", "missing",
                                 "Обязательное поле не заполнено")
            level = LEVEL_WORDS.get(level_word) or Level(level_word)
            rights = _yes_no(cells.get("territorial_rights"), "territorial_rights")
        except ValueError as exc:
            if isinstance(exc, _CellError):
                report.error(number, exc.column, exc.code, exc.message)
            else:
                report.error(number, "level", "level_unknown", LEVEL_MESSAGE)
            continue
        parent = tabular.cell_text(cells.get("parent_registry_number")) or None
        rows.append(Row(number, level, registry_number, rights, cells, parent))
    return rows


def check_fields(row: Row, report: Report) -> bool:
    """The second pass: every field of the row, by the passport's own rules."""
    try:
        passport = Passport.model_validate(_passport_data(row.cells))
        passport.kind = check_kind(passport.level, passport.kind)
    except _CellError as exc:
        report.error(row.number, exc.column, exc.code, exc.message)
        return False
    except HierarchyError as exc:
        report.error(row.number, "kind", exc.code, exc.message)
        return False
    except ValidationError as exc:
        for err in russian_errors(exc):
            column = FIELD_COLUMN.get(err["field"], err["field"].split(".")[0])
            report.error(row.number, column, err["code"], err["message"])
        return False
    row.values = passport_values(passport)
    return True


def _registry_lookup(session: Session, numbers: set[str]) -> dict[str, dict[str, Any]]:
    found = session.execute(text("""
        SELECT registry_number, id, ltree2text(path) AS path, level, territorial_rights,
               excluded_on, region_id
        FROM registry.organization WHERE registry_number = ANY(:numbers)
    """), {"numbers": list(numbers)}).mappings().all()
    return {r["registry_number"]: dict(r) for r in found}


def check_tree(session: Session, rows: list[Row], report: Report) -> list[Row]:
    """Place each row: unique number, known parent, allowed level, no cycles. Parents first."""
    by_number: dict[str, Row] = {}
    for row in rows:
        number = row.registry_number
        if number in by_number:
            report.error(row.number, "registry_number", "registry_number_duplicate",
                         f"Регистрационный номер {number} повторяется в файле "
                         f"(строка {by_number[number].number})")
        else:
            by_number[number] = row
    existing = _registry_lookup(session, set(by_number) | {r.parent_number for r in rows
                                                           if r.parent_number})
    central_in_registry = session.execute(text(
        "SELECT id FROM registry.organization WHERE level = 'central' AND excluded_on IS NULL"
    )).scalar()
    candidates: dict[str, Row] = {}
    for number, row in by_number.items():
        if number in existing:
            report.error(row.number, "registry_number", "registry_number_taken",
                         f"Организация с номером {number} уже есть в реестре")
        elif row.level is Level.CENTRAL and central_in_registry:
            report.error(row.number, "level", "central_exists",
                         "Центральный Совет в реестре уже есть")
        else:
            candidates[number] = row
    cycle = find_cycle({n: r.parent_number for n, r in candidates.items()})
    while cycle:
        for number in cycle:
            report.error(candidates.pop(number).number, "parent_registry_number", "tree_cycle",
                         "Организации ссылаются друг на друга по кругу: " + " → ".join(cycle))
        cycle = find_cycle({n: r.parent_number for n, r in candidates.items()})

    # breadth-first from the rows whose parent is in the registry or who need none
    children: dict[str, list[Row]] = defaultdict(list)
    queue: deque[tuple[Row, Placement | None]] = deque()
    for row in candidates.values():
        parent_number = row.parent_number
        if parent_number is None:
            queue.append((row, None))
        elif parent_number in candidates:
            children[parent_number].append(row)
        elif parent_number in existing:
            parent = existing[parent_number]
            placement = Placement(Level(parent["level"]), parent["territorial_rights"],
                                  parent["excluded_on"] is not None)
            row.parent_org = parent
            queue.append((row, placement))
        else:
            report.error(row.number, "parent_registry_number", "parent_unknown",
                         f"Вышестоящая организация {parent_number} не найдена ни в реестре, "
                         "ни в файле")
    placed: list[Row] = []
    while queue:
        row, placement = queue.popleft()
        try:
            check_placement(row.level, placement)
        except HierarchyError as exc:
            report.error(row.number, "parent_registry_number", exc.code, exc.message)
            _reject_descendants(row, children, report)
            continue
        placed.append(row)
        for child in children.pop(row.registry_number, []):
            child.parent_row = row
            queue.append((child, Placement(row.level, row.territorial_rights)))
    return placed


def _reject_descendants(row: Row, children: dict[str, list[Row]], report: Report) -> None:
    stack = list(children.pop(row.registry_number, []))
    while stack:
        child = stack.pop()
        report.error(child.number, "parent_registry_number", "parent_rejected",
                     "Строка вышестоящей организации содержит ошибки")
        stack.extend(children.pop(child.registry_number, []))


def _assign_ids(session: Session, placed: list[Row]) -> None:
    """Ids from the sequence in one round trip; paths and regions follow parents (placed first)."""
    ids = session.execute(text(
        "SELECT nextval('registry.organization_id_seq') FROM generate_series(1, :n)"
    ), {"n": len(placed)}).scalars().all()
    for row, new_id in zip(placed, ids, strict=True):
        row.id = new_id
        if row.parent_row is not None:
            p = row.parent_row
            parent_path, parent_region, row.parent_id = p.path, p.region_id, p.id
        elif row.parent_org is not None:
            p_org = row.parent_org
            parent_path, parent_region, row.parent_id = (p_org["path"], p_org["region_id"],
                                                         p_org["id"])
        else:
            parent_path, parent_region = "", None
        row.path = f"{parent_path}.{new_id}" if parent_path else str(new_id)
        row.region_id = new_id if row.level is Level.REGIONAL else parent_region


COPY_COLUMNS = ("id", "parent_id", "path", "level", "kind", "registry_number", "name",
                "region_id", "region_code", "territorial_rights", "legal_entity", "ogrn", "inn",
                "included_on", "chair", "education", "staff", "updated_by")
VERSION_COLUMNS = ("org_id", "version", "valid_from", "passport", "change_kind", "changed_by")


def _json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def _check_and_copy(session: Session, placed: list[Row], actor: str, report: Report,
                    write: bool) -> list[Row]:
    """Check each placed row's fields and, when `write`, stream it into COPY at once.

    PostgreSQL files and indexes one row (on its own core) while Python checks the next: the
    two halves of a load overlap instead of following each other. Parents come before their
    children, so a row whose parent failed its checks is refused before it is written. The first
    passport versions follow in a second COPY: the rows are at hand, and deriving 75,000
    snapshots back from the table costs more than the load itself.
    """
    raw = session.connection().connection.driver_connection
    now = datetime.now(UTC)
    failed: set[str] = set()
    loaded: list[Row] = []
    versions = []
    with raw.cursor() as cur:
        with contextlib.ExitStack() as stack:
            copy = stack.enter_context(cur.copy(
                f"COPY registry.organization ({', '.join(COPY_COLUMNS)}) FROM STDIN")
            ) if write else None
            for row in placed:
                if row.parent_row is not None and row.parent_row.registry_number in failed:
                    report.error(row.number, "parent_registry_number", "parent_rejected",
                                 "Строка вышестоящей организации содержит ошибки")
                    failed.add(row.registry_number)
                    continue
                if not check_fields(row, report):
                    failed.add(row.registry_number)
                    continue
                loaded.append(row)
                if copy is None:
                    continue
                v = row.values
                included = v["included_on"]
                snapshot = {
                    **v, "id": row.id, "parent_id": row.parent_id,
                    "level": row.level.value, "region_id": row.region_id,
                    "included_on": included and included.isoformat(), "excluded_on": None,
                    "exclusion_reason": None, "reorganized_into_id": None}
                copy.write_row((
                    row.id, row.parent_id, row.path, snapshot["level"], v["kind"],
                    v["registry_number"], v["name"], row.region_id, v["region_code"],
                    v["territorial_rights"], v["legal_entity"], v["ogrn"], v["inn"], included,
                    _json(v["chair"]), _json(v["education"]), _json(v["staff"]), actor))
                valid_from = min(now, start_of(included)) if included else now
                versions.append((row.id, 1, valid_from, _json(snapshot), "imported", actor))
        if versions:
            with cur.copy(f"COPY registry.organization_version ({', '.join(VERSION_COLUMNS)}) "
                          "FROM STDIN") as copy:
                for version in versions:
                    copy.write_row(version)
    return loaded


def load(session: Session, actor: str, content: bytes, filename: str,
         load_good_rows: bool = False) -> dict[str, Any]:
    """Check a file of organizations and load it: all of it, or (when asked) its good rows."""
    started = time.perf_counter()
    table = tabular.read_table(content, filename, COLUMNS, REQUIRED)  # file-level errors first
    report = Report(filename=filename, titles=COLUMNS, unknown_columns=table.unknown_columns)
    placed = check_tree(session, outline_rows(table, report), report)
    _assign_ids(session, placed)
    log.info("%s: %d rows read and placed in the tree in %.1f s", filename,
             report.rows_total, time.perf_counter() - started)
    # written inside a savepoint: a file with errors leaves nothing behind unless asked
    savepoint = session.begin_nested()
    # new names wait in the trigram index's pending list instead of being merged row by row;
    # autovacuum merges the list in one pass soon after (searches stay correct meanwhile)
    session.execute(text("SET LOCAL gin_pending_list_limit = '1GB'"))
    write = load_good_rows or not report.errors
    loaded = _check_and_copy(session, placed, actor, report, write)
    log.info("%s: %d rows checked%s in %.1f s", filename, len(placed),
             " and written" if write else "", time.perf_counter() - started)
    if not loaded or not write or (report.errors and not load_good_rows):
        savepoint.rollback()
        return report.as_dict()
    savepoint.commit()
    ids = [row.id for row in loaded]
    report.loaded = len(loaded)
    run_id = session.execute(text("""
        INSERT INTO registry.import_run
            (filename, sha256, rows_total, rows_loaded, rows_rejected, imported_by)
        VALUES (:f, :sha, :total, :loaded, :rejected, :actor) RETURNING id
    """), {"f": filename, "sha": hashlib.sha256(content).hexdigest(), "total": report.rows_total,
           "loaded": report.loaded, "rejected": len(report.rejected_rows),
           "actor": actor}).scalar_one()
    outbox.add_event(session, SCHEMA, "orgs_imported",
                     {"import_id": run_id, "count": len(ids), "org_ids": ids})
    result = report.as_dict(ids)
    result["import_id"] = run_id
    return result

