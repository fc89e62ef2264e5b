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
from dataclasses import dataclass
from datetime import date
from typing import Any

import orjson
import polars as pl
from psycopg.errors import UniqueViolation
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.common import bulk_indexes, outbox, tabular
from services.common.caller import within_scope
from services.common.errors import DomainError, ValidationFailed
from services.common.identifiers import registry_key
from services.common.load_report import Report
from services.common.serialization import jsonable
from services.membership import import_frame, members, orgs
from services.membership.card import (
    FIELDS,
    YES_WORDS,
    CardErrors,
    check_card,
    job_of_position,
    person_key,
)
from services.membership.file_dupes import Seen
from services.membership.file_format import ALIASES, COLUMNS, CONSENT_VALUES, REQUIRED
from services.membership.import_writer import GIVEN, Chunk, Writer, existing, given_bits
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
MAX_ORIGINALS = 20_000  # rows whose cells are kept for the file of refused rows
PREVIEW_ROWS = 5  # the first rows as they will be stored, shown by the check before loading


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
            org = self.numbers.get(registry_key(number))
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


@dataclass
class Rules:
    """How a file's rows are checked beyond the card's rules."""

    titles: dict[str, str]  # key -> the file's own header, for messages
    require_consent: bool = True  # False when the file has no consent column (said once)
    default_consent_on: date | None = None  # consents kept on paper, confirmed for the file


def _titles(table: tabular.Table) -> dict[str, str]:
    titles = table.titles
    if "full_name" in titles:  # the name's parts are named as the one column is
        titles |= dict.fromkeys(("surname", "first_name", "patronymic"), titles["full_name"])
    return titles


def _position(raw: dict[str, Any]) -> None:
    """«Должность»: its job category where it is known (and then the member is working);
    an unknown position is no error, the category is left empty."""
    job = job_of_position(raw.pop("position", None))
    if job and not tabular.cell_text(raw.get("job_category")):
        raw["job_category"] = job
        if not tabular.cell_text(raw.get("category")):
            raw["category"] = "working"


def _as_written(value: Any) -> Any:
    """A cell as the file of refused rows gives it back (dates as a chair writes them)."""
    return value.strftime("%d.%m.%Y") if isinstance(value, date) else value


def _person(raw: dict[str, Any]) -> str:
    return " ".join(" ".join(tabular.cell_text(raw.get(k)) for k in (
        "surname", "first_name", "patronymic")).split())


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
               report: Report, rules: Rules) -> tuple[tuple, str | None, str, tuple, int] | None:
    """One row by the card's rules: (organization, SNILS, person key, the card's values in
    FIELDS order, the fields its cells give as GIVEN bits), or None with every error of the
    row reported at once."""
    if "__truncated__" in raw:
        report.error(number, "", "row_truncated", "В строке меньше столбцов, чем в заголовке")
        return None
    if len(report.originals) < MAX_ORIGINALS:
        report.originals[number] = {rules.titles.get(k) or COLUMNS[k]: _as_written(v)
                                    for k, v in raw.items() if k in COLUMNS}
    if "full_name" in raw:
        _split_full_name(raw)
    if "position" in raw:
        _position(raw)
    report.people[number] = _person(raw)
    given = given_bits([f for f in GIVEN if tabular.cell_text(raw.get(f))])
    org, code, message = target.resolve(tabular.cell_text(raw.get("org_registry_number")))
    if org is None:
        report.error(number, "org_registry_number", code, message)
    _consent_cell(raw, today)
    try:
        card = check_card(raw, today, rules.require_consent, rules.default_consent_on,
                          rules.titles)
    except CardErrors as exc:
        for e in exc.errors:
            report.error(number, e["field"], e["code"], e["message"])
        return None
    if org is None:
        return None
    key = person_key(card["surname"], card["first_name"], card["patronymic"],
                     card["birth_date"])
    return org, card["snils"], key, tuple(card[f] for f in FIELDS), given


def _row_chunks(table: tabular.Table, target: Target, seen: Seen, today: date,
                report: Report, constants: tuple, rules: Rules,
                preview: list[dict[str, Any]]) -> Iterator[Chunk]:
    """The reading half row by row (spreadsheets, small or quoted CSV files)."""
    chunk = Chunk()
    for number, raw in table.rows:
        report.rows_total += 1
        checked = _check_row(number, raw, target, today, report, rules)
        if checked is None:
            continue
        org, snils, key, card, given = checked
        if len(preview) < PREVIEW_ROWS:
            preview.append({"row": number, **jsonable(dict(zip(FIELDS, card, strict=True)))})
        if not seen.first(number, snils, key, card[CARD_NUMBER]):
            continue
        chunk.add(number, snils, key, org[0], card + (
            today if card[EMAIL_CONSENT] else None, org[0], org[3], card[JOINED_ON], today,
            key, *constants), given)
        if len(chunk) >= CHUNK:
            yield chunk
            chunk = Chunk()
    if len(chunk):
        yield chunk


def load(session: Session, actor: str, content: bytes, filename: str,
         org_id: int | None = None, scope: list[str] | None = None,
         load_good_rows: bool = False, today: date | None = None,
         progress: Progress | None = None, progress_engine: Engine | None = None,
         max_bytes: int = tabular.MAX_FILE_BYTES, paper_consent: bool = False,
         mapping: dict[str, str] | None = None, check_only: bool = False) -> dict[str, Any]:
    """Check a members file and load it (all of it, or its good rows when asked).

    `org_id`: the organization rows without a registry number go to. `scope`: the subtrees the
    caller acts in (None: everywhere). `max_bytes`: national files loaded on the server (the
    command line) may be larger than what is uploaded. `paper_consent`: the caller confirms
    that the written consents of everyone in the file are kept in the organization (then a
    file without a consent column records them as given on paper today). `mapping`: the
    file's headers -> keys as mapped by hand. `check_only`: check and report, write nothing
    (the check before loading: how the columns were understood, the first rows, the errors).
    """
    started = time.perf_counter()
    today = today or date.today()
    with ThreadPoolExecutor(max_workers=1) as pool:  # hashing releases the interpreter
        digest = pool.submit(lambda: hashlib.sha256(content).hexdigest())
        table = tabular.read_table(content, filename, COLUMNS, REQUIRED, ALIASES, max_bytes,
                                   mapping)
    if not ({"surname", "first_name"} <= set(table.columns) or "full_name" in table.columns):
        raise ValidationFailed("file_columns", "В файле нет столбцов «Фамилия» и «Имя» "
                                               "(или одного столбца «ФИО»)")
    has_number = "org_registry_number" in table.columns
    if not has_number and org_id is None:
        raise ValidationFailed("file_columns", "В файле нет столбца «Рег. номер организации»: "
                                               "укажите организацию, в которую загружать")
    target = Target(session, org_id, scope, has_number)
    titles = _titles(table)
    report = Report(filename=filename, titles=COLUMNS | titles,
                    unknown_columns=table.unknown_columns, skipped=table.skipped)
    rules = Rules(titles=titles)
    if "pd_consent_on" not in table.columns:
        if paper_consent:
            rules.default_consent_on = today
        else:
            rules.require_consent = False  # said once for the file, not on every row
            report.file_error("consent_column_missing", (
                f"В файле нет столбца «{COLUMNS['pd_consent_on']}»: без согласия на обработку "
                "персональных данных поставить на учёт нельзя. Добавьте столбец (в нём "
                f"{CONSENT_VALUES}) или подтвердите, что письменные согласия всех членов из "
                "файла хранятся в организации"))
    preview: list[dict[str, Any]] = []
    run_id = None if check_only else _start_run(session, progress_engine, filename,
                                                digest.result(), org_id, actor)
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
            lambda line, raw, day, rep: _check_row(line, raw, target, day, rep, rules),
            today, report, {"source": "import", "import_id": run_id, "updated_by": actor},
            CHUNK, lookup, rules.default_consent_on)
    else:
        chunks = _row_chunks(table, target, Seen(report), today, report,
                             ("import", run_id, actor), rules, preview)

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
                    report, load_good_rows and not check_only, by_frame, on_chunk,
                    dry_run=check_only)
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
    updated = [] if report.file_errors else _correct_cards(session, actor, writer.updates,
                                                           report, today)
    if by_frame:
        _frame_originals(table, report, titles)
    refused = report.file_errors or (report.errors and not load_good_rows)
    report.loaded = 0 if refused or check_only else writer.loaded
    if refused or check_only or not (report.loaded or updated):
        savepoint.rollback()
    else:
        _rebuild_indexes(session, rebuild, started)
        savepoint.commit()
    unchanged = writer.unchanged
    status = "checked" if check_only else "loaded" if report.loaded or (
        updated and not refused) else "rejected"
    result = report.as_dict()
    result.update(import_id=run_id, rows_unchanged=unchanged, status=status,
                  rows_updated=len(updated) if check_only or not refused else 0,
                  updated_rows=updated[:MAX_ORIGINALS],
                  seconds=round(time.perf_counter() - started, 2),
                  columns=[{"header": h, "field": k, "field_title": COLUMNS.get(k, "")}
                           for h, k in table.headers if h or k],
                  header_rows=list(table.header_rows), preview=preview,
                  fields=[{"key": k, "title": t} for k, t in COLUMNS.items()],
                  paper_consent_on=rules.default_consent_on)
    result = jsonable(result)
    if check_only:
        return result
    # clock_timestamp: now() is when the load's transaction began, before the run was started
    session.execute(text("""
        UPDATE membership.import_run SET status = :status, rows_total = :total,
            rows_done = :total, rows_loaded = :loaded, rows_unchanged = :unchanged,
            rows_updated = :updated,
            rows_rejected = :rejected, rows_skipped = :skipped, finished_at = clock_timestamp(),
            report = CAST(:report AS jsonb), paper_consent_on = :paper
        WHERE id = :id
    """), {"status": status, "total": report.rows_total, "loaded": report.loaded,
           "unchanged": unchanged, "updated": result["rows_updated"],
           "rejected": len(report.rejected_rows),
           "skipped": result["rows_skipped"], "report": orjson.dumps(result).decode(),
           "paper": rules.default_consent_on, "id": run_id})
    if report.loaded:
        outbox.add_event(session, SCHEMA, "members_imported", {
            "import_id": run_id, "count": report.loaded, "org_ids": sorted(writer.orgs)})
    # whoever started it learns the outcome (notify writes if it took long: they have left)
    outbox.add_event(session, SCHEMA, "members_import_finished", {
        "import_id": run_id, "started_by": actor, "filename": filename, "status": status,
        "rows_total": report.rows_total, "loaded": report.loaded,
        "rejected": len(report.rejected_rows), "seconds": result["seconds"]})
    log.info("%s: %d rows, %d loaded, %d unchanged, %d rejected in %.1f s", filename,
             report.rows_total, report.loaded, unchanged, len(report.rejected_rows),
             result["seconds"])
    return result


def _correct_cards(session: Session, actor: str, updates: list[tuple[int, int, dict]],
                   report: Report, today: date) -> list[dict[str, Any]]:
    """The rows that correct cards of the organization's members, applied as edits are (with
    history and events): «Обновлено», with the fields changed. An edit the card's rules
    refuse (a job category for a pensioner) is that row's error."""
    done = []
    for line, member_id, patch in updates:
        member = members.fetch(session, member_id, lock=True)
        try:
            with session.begin_nested():
                members.update(session, actor, member, patch, today)
        except DomainError as exc:
            details = exc.details if isinstance(exc.details, list) else []
            for e in details or [{"field": next(iter(patch)), "code": exc.code,
                                  "message": exc.message}]:
                report.error(line, e.get("field", ""), e.get("code", exc.code), e["message"])
            continue
        done.append({"row": line, "member_id": member_id, "person": report.people.get(line, ""),
                     "status": "Обновлено", "fields": [report.titles.get(f) or f for f in patch]})
    return done


def _frame_originals(table: tabular.Table, report: Report, titles: dict[str, str]) -> None:
    """The cells of rows refused after the column-wise check passed them (registered
    elsewhere, a conflict with the card), read back from the file for the file of refused
    rows, as the row-by-row path keeps them."""
    plain = table.plain
    room = MAX_ORIGINALS - len(report.originals)
    missing = sorted(n for n in report.rejected_rows if n not in report.originals)[:room]
    if not missing:
        return
    lines = plain.data.split(b"\n", missing[-1])
    for n in missing:
        cells = lines[n - 1].decode().rstrip("\r").split(plain.delimiter)
        report.originals[n] = {titles.get(k) or COLUMNS[k]: v or None for k, v in zip(
            plain.keys, cells, strict=False) if k in COLUMNS}


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
