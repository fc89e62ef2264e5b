"""Importing members from a file: a chair's spreadsheet or a national load of millions of rows.

The reading half checks rows by the card's rules: row by row (`check_card`) for spreadsheets
and small files, column-wise (`import_frame`, polars) for big plain CSV files. It also catches
the same person twice in the file. The writing half (`import_writer`, a thread) looks each chunk's
people up among those already registered and streams the new ones into one COPY while the next
chunk is checked. Everything happens inside one savepoint: a file with errors leaves nothing
behind unless the operator asked for the good rows. A person already
registered in the same organization is counted as unchanged, which makes a second import of the
same file change nothing; registered elsewhere, the row is an error that offers a transfer.
"""

import hashlib
import logging
import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Any

import polars as pl
from psycopg.errors import UniqueViolation
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.common import bulk_indexes, outbox, tabular
from services.common.caller import within_scope
from services.common.errors import ValidationFailed
from services.common.load_report import Report
from services.common.serialization import jsonable
from services.membership import import_frame, orgs
from services.membership.card import FIELDS, YES_WORDS, CardErrors, check_card, person_key
from services.membership.file_dupes import Seen
from services.membership.file_format import ALIASES, COLUMNS, REQUIRED
from services.membership.import_writer import Chunk, Writer, existing
from services.membership.members import SCHEMA

log = logging.getLogger(__name__)

CHUNK = 25_000
MEMBERS = "membership.member"
INITIAL_LOAD_BYTES = 20_000_000  # into an empty register, a larger file (some 100,000 rows)
# builds the indexes after the COPY
FRAME_MIN_BYTES = 1_000_000  # smaller files: row by row is as fast and simpler to follow
EMAIL_CONSENT, JOINED_ON = FIELDS.index("email_consent"), FIELDS.index("joined_on")
CARD_NUMBER = FIELDS.index("card_number")
Progress = Callable[[int, int], None]  # (rows done, rows loaded)


class Target:
    """Where rows may go: the organization named in the row (if the file has the column) or the
    one the import was started for, and in either case only inside the caller's scope."""

    def __init__(self, session: Session, default_org_id: int | None,
                 scope: list[str] | None, by_number: bool) -> None:
        self.scope = scope
        self.numbers = orgs.by_number(session) if by_number else {}
        self.default = None
        if default_org_id is not None:
            org = orgs.get(session, default_org_id)
            if org is None or not within_scope(org["path"], scope):
                raise orgs.org_not_found(default_org_id)
            self.default = (org["id"], org["path"], org["level"], org["region_id"],
                            org["excluded_on"] is not None)

    def resolve(self, number: str) -> tuple[tuple | None, str, str]:
        """(org, error code, message) for a row's registry number (or the default)."""
        if number:
            org = self.numbers.get(number)
            if org is None or not within_scope(org[1], self.scope):
                return None, "org_unknown", f"Организация с рег. номером {number} не найдена " \
                                            "в реестре (или не входит в вашу структуру)"
        elif self.default is not None:
            org = self.default
        else:
            return None, "org_missing", "Не указан рег. номер организации"
        if org[4]:
            return None, "org_excluded", "Организация исключена из реестра"
        if org[2] not in orgs.REGISTRATION_LEVELS:
            return None, "org_level", "На учёт ставят в первичной организации или "\
                                      "структурном подразделении"
        return org, "", ""


def _split_full_name(raw: dict[str, Any]) -> None:
    words = tabular.cell_text(raw.pop("full_name", "")).split()
    if words and not raw.get("surname"):
        raw["surname"] = words[0]
        raw["first_name"] = words[1] if len(words) > 1 else ""
        raw["patronymic"] = " ".join(words[2:])


def _consent_cell(raw: dict[str, Any], today: date) -> None:
    """«да» in the consent column means consent given, on the day of the import."""
    value = raw.get("pd_consent_on")
    if isinstance(value, str) and value.strip().lower() in YES_WORDS:
        raw["pd_consent_on"] = today


def _check_row(number: int, raw: dict[str, Any], target: Target, today: date,
               report: Report) -> tuple[tuple, str | None, str, tuple] | None:
    """One row by the card's rules: (organization, SNILS, person key, the card's values in
    FIELDS order), or None with its errors reported."""
    if "__truncated__" in raw:
        report.error(number, "", "row_truncated", "В строке меньше столбцов, чем в заголовке")
        return None
    if "full_name" in raw:
        _split_full_name(raw)
    org, code, message = target.resolve(tabular.cell_text(raw.get("org_registry_number")))
    if org is None:
        report.error(number, "org_registry_number", code, message)
        return None
    _consent_cell(raw, today)
    try:
        card = check_card(raw, today)
    except CardErrors as exc:
        for e in exc.errors:
            report.error(number, e["field"], e["code"], e["message"])
        return None
    key = person_key(card["surname"], card["first_name"], card["patronymic"],
                     card["birth_date"])
    return org, card["snils"], key, tuple(card[f] for f in FIELDS)


def _row_chunks(table: tabular.Table, target: Target, seen: Seen, today: date,
                report: Report, constants: tuple) -> Iterator[Chunk]:
    """The reading half row by row (spreadsheets, small or quoted CSV files)."""
    chunk = Chunk()
    for number, raw in table.rows:
        report.rows_total += 1
        checked = _check_row(number, raw, target, today, report)
        if checked is None:
            continue
        org, snils, key, card = checked
        if not seen.first(number, snils, key, card[CARD_NUMBER]):
            continue
        chunk.add(number, snils, key, org[0], card + (
            today if card[EMAIL_CONSENT] else None, org[0], org[3], card[JOINED_ON], today,
            key, *constants))
        if len(chunk) >= CHUNK:
            yield chunk
            chunk = Chunk()
    if len(chunk):
        yield chunk


def load(session: Session, actor: str, content: bytes, filename: str,
         org_id: int | None = None, scope: list[str] | None = None,
         load_good_rows: bool = False, today: date | None = None,
         progress: Progress | None = None, progress_engine: Engine | None = None,
         max_bytes: int = tabular.MAX_FILE_BYTES) -> dict[str, Any]:
    """Check a members file and load it (all of it, or its good rows when asked).

    `org_id`: the organization rows without a registry number go to. `scope`: the subtrees the
    caller acts in (None: everywhere). `max_bytes`: national files loaded on the server (the
    command line) may be larger than what is uploaded.
    """
    started = time.perf_counter()
    today = today or date.today()
    with ThreadPoolExecutor(max_workers=1) as pool:  # hashing releases the interpreter
        digest = pool.submit(lambda: hashlib.sha256(content).hexdigest())
        table = tabular.read_table(content, filename, COLUMNS, REQUIRED, ALIASES, max_bytes)
    if not ({"surname", "first_name"} <= set(table.columns) or "full_name" in table.columns):
        raise ValidationFailed("file_columns", "В файле нет столбцов «Фамилия» и «Имя» "
                                               "(или одного столбца «ФИО»)")
    has_number = "org_registry_number" in table.columns
    if not has_number and org_id is None:
        raise ValidationFailed("file_columns", "В файле нет столбца «Рег. номер организации»: "
                                               "укажите организацию, в которую загружать")
    target = Target(session, org_id, scope, has_number)
    report = Report(filename=filename, titles=COLUMNS, unknown_columns=table.unknown_columns)
    run_id = _start_run(session, progress_engine, filename, digest.result(), org_id, actor)
    by_frame = table.plain is not None and len(table.plain.data) > FRAME_MIN_BYTES
    # nobody can be registered already if nobody was when the load began (the initial
    # national load): then no block needs looking up
    anyone = session.execute(text("SELECT EXISTS (SELECT 1 FROM membership.member)")
                             ).scalar_one()
    if by_frame:
        def lookup(rows: pl.DataFrame) -> dict[str, dict]:
            if not anyone:
                return {}
            with session.get_bind().connect() as conn:
                return existing(conn, [s for s in rows["snils"].to_list() if s],
                                rows["person_key"].to_list())

        chunks = import_frame.chunks(
            table.plain, lambda n: target.resolve(n)[0],
            lambda line, raw, day, rep: _check_row(line, raw, target, day, rep),
            today, report, {"source": "import", "import_id": run_id, "updated_by": actor},
            CHUNK, lookup)
    else:
        chunks = _row_chunks(table, target, Seen(report), today, report,
                             ("import", run_id, actor))

    def on_chunk() -> None:
        _progress(progress_engine, run_id, report.rows_total, writer.loaded)
        if progress:
            progress(report.rows_total, writer.loaded)

    savepoint = session.begin_nested()
    # the initial national load: the secondary indexes are built after the COPY (even the one
    # on organizations costs a COPY six times its build: members do not come in id order)
    rebuild = bulk_indexes.set_aside(session, MEMBERS) if by_frame and not anyone and \
        len(table.plain.data) > INITIAL_LOAD_BYTES else []
    writer = Writer(session.connection().connection.driver_connection, session.get_bind(),
                    report, load_good_rows, by_frame, on_chunk)
    writer.start()
    try:
        for chunk in chunks:
            writer.chunks.put(chunk)
            if writer.failure is not None:
                break
    finally:
        writer.chunks.put(None)
        log.info("%s: read and checked in %.1f s", filename, time.perf_counter() - started)
        writer.join()
    if isinstance(writer.failure, UniqueViolation):  # a card number another member holds
        value = re.search(r"\)=\((.*)\)", writer.failure.diag.message_detail or "")
        raise ValidationFailed("file_conflicts", "Номер билета или СНИЛС из файла уже записан в "
                               "реестре за другим человеком; ничего не загружено"
                               + (f": {value.group(1)}" if value else "")) from None
    if writer.failure is not None:
        raise writer.failure
    report.loaded = 0 if report.errors and not load_good_rows else writer.loaded
    if not report.loaded:
        savepoint.rollback()
    else:
        _rebuild_indexes(session, rebuild, started)
        savepoint.commit()
    unchanged = writer.unchanged
    status = "loaded" if report.loaded else "rejected"
    session.execute(text("""
        UPDATE membership.import_run SET status = :status, rows_total = :total,
            rows_done = :total, rows_loaded = :loaded, rows_unchanged = :unchanged,
            rows_rejected = :rejected, finished_at = now()
        WHERE id = :id
    """), {"status": status, "total": report.rows_total, "loaded": report.loaded,
           "unchanged": unchanged, "rejected": len(report.rejected_rows), "id": run_id})
    if report.loaded:
        outbox.add_event(session, SCHEMA, "members_imported", {
            "import_id": run_id, "count": report.loaded, "org_ids": sorted(writer.orgs)})
    result = report.as_dict()
    result.update(import_id=run_id, rows_unchanged=unchanged, status=status,
                  seconds=round(time.perf_counter() - started, 2))
    log.info("%s: %d rows, %d loaded, %d unchanged, %d rejected in %.1f s", filename,
             report.rows_total, report.loaded, unchanged, len(report.rejected_rows),
             result["seconds"])
    return result


def _rebuild_indexes(session: Session, defs: list[str], started: float) -> None:
    if not defs:
        return
    try:
        bulk_indexes.rebuild(session, MEMBERS)
    except IntegrityError as exc:  # a SNILS or card number the register already had
        raise ValidationFailed("file_duplicates", "В файле и реестре повторяются СНИЛС или "
                                                  "номера билетов; загрузка отменена") from exc
    log.info("indexes built again after %.1f s", time.perf_counter() - started)


def _start_run(session: Session, engine: Engine | None, filename: str, sha256: str,
               org_id: int | None, actor: str) -> int:
    """The run's row is committed at once (when an engine is given) so progress can be read
    from other connections while the load's own transaction is still open."""
    params = {"f": filename, "sha": sha256, "org": org_id,
              "actor": actor}
    sql = text("INSERT INTO membership.import_run (filename, sha256, org_id, imported_by) "
               "VALUES (:f, :sha, :org, :actor) RETURNING id")
    if engine is None:
        return session.execute(sql, params).scalar_one()
    with engine.begin() as conn:
        return conn.execute(sql, params).scalar_one()


def _progress(engine: Engine | None, run_id: int, done: int, loaded: int) -> None:
    if engine is None:
        return
    with engine.begin() as conn:
        conn.execute(text("UPDATE membership.import_run SET rows_done = :d, rows_loaded = :l "
                          "WHERE id = :id"), {"d": done, "l": loaded, "id": run_id})


def run_status(session: Session, run_id: int) -> dict[str, Any] | None:
    row = session.execute(text("SELECT * FROM membership.import_run WHERE id = :id"),
                          {"id": run_id}).mappings().first()
    return None if row is None else jsonable(dict(row))
