"""Loading an organization tree from a file, set-based.

Every row is checked first (its place in the tree, its fields, against the file and the registry);
then either nothing is written (errors, unless the operator asked to load the good rows) or all
good rows go in with one COPY and their history with another, in one transaction. A big file is
checked column-wise (load_frame), a small one row by row (row_checks): both give the same report
and load the same rows.
"""

import hashlib
import logging
import time
from collections import defaultdict, deque
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.common import identifiers, outbox, tabular
from services.common.caller import within_scope
from services.common.identifiers import registry_key
from services.common.load_report import Report
from services.registry import bulk_write, load_frame, load_indexes
from services.registry.changes import SCHEMA
from services.registry.file_format import COLUMNS, REQUIRED, Level
from services.registry.hierarchy import (
    HierarchyError,
    Placement,
    check_placement,
    find_cycle,
)
from services.registry.passport_frame import check_frame
from services.registry.row_checks import Row, check_fields, outline_rows

log = logging.getLogger(__name__)


def _registry_lookup(session: Session, numbers: set[str]) -> dict[str, dict[str, Any]]:
    """The registry's organizations by registry_key (numbers given as keys): the same
    translation in SQL, so «41-p-1» in a file finds «41-Р-1»."""
    # the numbers go as one string: a 75,000-item array parameter costs twice as much
    found = session.execute(text("""
        SELECT registry_number, id, ltree2text(path) AS path, level, territorial_rights,
               excluded_on, region_id
        FROM registry.organization
        WHERE upper(translate(registry_number, :lookalike, :cyrillic))
            = ANY(string_to_array(:numbers, E'\\n'))
    """), {"numbers": "\n".join(numbers), "lookalike": identifiers.LOOKALIKE_FROM,
           "cyrillic": identifiers.LOOKALIKE_TO}).mappings().all()
    return {registry_key(r["registry_number"]): dict(r) for r in found}


def check_tree(session: Session, rows: list[Row], report: Report,
               scope: list[str] | None = None) -> list[Row]:
    """Place each row: unique number, known parent, allowed level, no cycles. Parents first.
    `scope`: the tree paths the caller acts in (regional staff: their region), None for
    everywhere; a row placed outside them is refused."""
    by_number: dict[str, Row] = {}  # by registry_key: case and look-alike letters ignored
    for row in rows:
        number = registry_key(row.registry_number)
        if number in by_number:
            report.error(row.number, "registry_number", "registry_number_duplicate",
                         f"Регистрационный номер {row.registry_number} повторяется в файле "
                         f"(строка {by_number[number].number})")
        else:
            by_number[number] = row
    existing = _registry_lookup(session, set(by_number) | {
        registry_key(r.parent_number) for r in rows if r.parent_number})
    central_in_registry = session.execute(text(
        "SELECT id FROM registry.organization WHERE level = 'central' AND excluded_on IS NULL"
    )).scalar()
    candidates: dict[str, Row] = {}
    for number, row in by_number.items():
        if number in existing:
            report.error(row.number, "registry_number", "registry_number_taken",
                         f"Организация с номером {row.registry_number} уже есть в реестре"
                         + (f" ({existing[number]['registry_number']})"
                            if existing[number]["registry_number"] != row.registry_number
                            else ""))
        elif row.level is Level.CENTRAL and central_in_registry:
            report.error(row.number, "level", "central_exists",
                         "Центральный Совет в реестре уже есть")
        else:
            candidates[number] = row
    cycle = find_cycle({n: registry_key(r.parent_number) or None
                        for n, r in candidates.items()})
    while cycle:
        for number in cycle:
            report.error(candidates.pop(number).number, "parent_registry_number", "tree_cycle",
                         "Организации ссылаются друг на друга по кругу: " + " → ".join(cycle))
        cycle = find_cycle({n: registry_key(r.parent_number) or None
                        for n, r in candidates.items()})

    # breadth-first from the rows whose parent is in the registry or who need none
    children: dict[str, list[Row]] = defaultdict(list)
    queue: deque[tuple[Row, Placement | None]] = deque()
    for row in candidates.values():
        parent_number = registry_key(row.parent_number) or None
        if parent_number is None and scope is not None:
            report.error(row.number, "parent_registry_number", "outside_scope",
                         "Организацию без вышестоящей загружает только аппарат ЦС: укажите "
                         "вышестоящую организацию из вашей структуры")
        elif parent_number is None:
            queue.append((row, None))
        elif parent_number in candidates:
            children[parent_number].append(row)
        elif parent_number in existing and not within_scope(existing[parent_number]["path"],
                                                            scope):
            report.error(row.number, "parent_registry_number", "outside_scope",
                         f"Вышестоящая организация {row.parent_number} не входит в вашу "
                         "структуру: загружать можно только организации своего региона")
        elif parent_number in existing:
            parent = existing[parent_number]
            placement = Placement(Level(parent["level"]), parent["territorial_rights"],
                                  parent["excluded_on"] is not None)
            row.parent_org = parent
            queue.append((row, placement))
        else:
            report.error(row.number, "parent_registry_number", "parent_unknown",
                         f"Вышестоящая организация {row.parent_number} не найдена ни в реестре, "
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
        for child in children.pop(registry_key(row.registry_number), []):
            child.parent_row = row
            queue.append((child, Placement(row.level, row.territorial_rights)))
    return placed


def _reject_descendants(row: Row, children: dict[str, list[Row]], report: Report) -> None:
    stack = list(children.pop(registry_key(row.registry_number), []))
    while stack:
        child = stack.pop()
        report.error(child.number, "parent_registry_number", "parent_rejected",
                     "Строка вышестоящей организации содержит ошибки")
        stack.extend(children.pop(registry_key(child.registry_number), []))


def check_rows(placed: list[Row], report: Report) -> list[Row]:
    """The fields of each placed row (parents first) unless the column-wise checks passed it; a
    row whose parent is refused is refused too (with its own errors, if it has any)."""
    failed: set[str] = set()
    good: list[Row] = []
    for row in placed:
        if row.parent_row is not None and row.parent_row.registry_number in failed:
            report.error(row.number, "parent_registry_number", "parent_rejected",
                         f"Строка {row.parent_row.number} вышестоящей организации содержит "
                         "ошибки")
            failed.add(row.registry_number)
            if not row.frame_ok:  # the row's own errors too, not hidden behind its parent's
                check_fields(row, report)
        elif row.frame_ok or check_fields(row, report):
            good.append(row)
        else:
            failed.add(row.registry_number)
    return good


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


def load(session: Session, actor: str, content: bytes, filename: str,
         load_good_rows: bool = False, scope_roots: list[int] | None = None) -> dict[str, Any]:
    """Check a file of organizations and load it: all of it, or (when asked) its good rows.
    `scope_roots`: the organizations in whose subtrees the caller may add (None: anywhere)."""
    started = time.perf_counter()
    table = tabular.read_table(content, filename, COLUMNS, REQUIRED)  # file-level errors first
    report = Report(filename=filename, titles=COLUMNS, unknown_columns=table.unknown_columns)
    cells = load_frame.read(table, len(content))
    passed = None  # the values of the rows the column-wise checks passed
    scope = None if scope_roots is None else session.execute(text(
        "SELECT ltree2text(path) FROM registry.organization WHERE id = ANY(:ids)"),
        {"ids": list(scope_roots)}).scalars().all()
    if cells is None:
        outlined = outline_rows(table, report)
        placed = check_tree(session, outlined, report, scope)
    else:
        with ThreadPoolExecutor(1) as pool:
            # polars checks the fields outside the interpreter's lock while the tree is checked
            fields = pool.submit(check_frame, cells.frame, date.today())
            outlined = load_frame.outline(cells, table, report)
            placed = check_tree(session, outlined, report, scope)
            passed = load_frame.mark(outlined, cells, fields.result())
    good = check_rows(placed, report)
    in_tree = {id(row) for row in placed}
    for row in outlined:  # a row refused for its place: its own errors reported too, at once
        if id(row) not in in_tree and not row.frame_ok:
            check_fields(row, report)
    log.info("%s: %d rows checked in %.1f s", filename, report.rows_total,
             time.perf_counter() - started)
    if not good or (report.errors and not load_good_rows):
        return report.as_dict()
    _assign_ids(session, good)
    set_aside = (load_indexes.set_aside(session)
                 if load_indexes.worth_rebuilding(session, len(good)) else None)
    if set_aside is None:
        # new names wait in the trigram index's pending list instead of being merged row by
        # row; autovacuum merges the list in one pass soon after (searches stay correct)
        session.execute(text("SET LOCAL gin_pending_list_limit = '1GB'"))
        bulk_write.write(session, good, passed, actor)
    else:
        bulk_write.write_staged(session, good, passed, actor,
                                meanwhile=lambda: load_indexes.rebuild_organizations(session))
        load_indexes.rebuild_rest(session)
    log.info("%s: %d rows written in %.1f s", filename, len(good), time.perf_counter() - started)
    ids = [row.id for row in good]
    report.loaded = len(good)
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

