"""Importing members from a file: a chair's spreadsheet or a national load of millions of rows.

Rows are read and checked in chunks. Each chunk's people are looked up among those already on the
register in one query, then its good rows go into the table with COPY (PostgreSQL writes one chunk
on its core while Python checks the next). Everything happens inside one savepoint: a file with
errors leaves nothing behind unless the operator asked for the good rows. A person already
registered in the same organization is counted as unchanged, which makes a second import of the
same file change nothing; registered elsewhere, the row is an error that offers a transfer.
"""

import hashlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from services.common import outbox, tabular
from services.common.errors import ValidationFailed
from services.common.load_report import Report
from services.membership import orgs
from services.membership.card import FIELDS, YES_WORDS, CardErrors, check_card, person_key
from services.membership.card_frame import check_frame, with_person_key
from services.membership.file_format import ALIASES, COLUMNS, REQUIRED
from services.membership.members import SCHEMA

log = logging.getLogger(__name__)

CHUNK = 25_000
FRAME_MIN_CHARS = 1_000_000  # smaller files: row by row is as fast and simpler to follow
# the card's fields (card.FIELDS, in its order), then what the import adds
COPY_COLUMNS = (*FIELDS, "email_consent_on", "org_id", "region_id", "org_since",
                "registered_on", "person_key", "source", "import_id", "updated_by")
EMAIL_CONSENT, JOINED_ON = FIELDS.index("email_consent"), FIELDS.index("joined_on")
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
            if org is None or not orgs.within_scope(org["path"], scope):
                raise orgs.org_not_found(default_org_id)
            self.default = (org["id"], org["path"], org["level"], org["region_id"],
                            org["excluded_on"] is not None)
        self.names: dict[int, str] = {}

    def resolve(self, number: str) -> tuple[tuple | None, str, str]:
        """(org, error code, message) for a row's registry number (or the default)."""
        if number:
            org = self.numbers.get(number)
            if org is None or not orgs.within_scope(org[1], self.scope):
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


def same_person(snils: str | None, other: str | None) -> bool:
    """Same name and birth date: the same person unless both have SNILS and they differ."""
    return snils is None or other is None or snils == other


def _existing(conn: Connection, snils: list[str], keys: list[str]) -> dict[str, dict]:
    """People of a chunk already on the register, by SNILS and by name and birth date."""
    rows = conn.execute(text("""
        SELECT m.id, m.snils, m.person_key, m.org_id, m.removed_on, o.name AS org_name
        FROM membership.member m JOIN membership.org o ON o.id = m.org_id
        WHERE m.snils = ANY(:snils) OR m.person_key = ANY(:keys)
    """), {"snils": snils, "keys": keys}).mappings().all()
    found: dict[str, dict] = {}
    for r in rows:
        if r["snils"]:
            found["s:" + r["snils"]] = dict(r)
        # of namesakes born the same day, the one without a SNILS is the one to match
        if r["snils"] is None or "k:" + r["person_key"] not in found:
            found["k:" + r["person_key"]] = dict(r)
    return found


Chunk = list[tuple[int, tuple, str | None, str, int]]  # (row, COPY values, SNILS, key, org)


class _Writer(threading.Thread):
    """Looks up each chunk's people among those already registered (on a connection of its
    own: rows of earlier chunks are caught by the reader's own bookkeeping) and streams the new
    ones into one COPY on the load's connection, while the reader checks the next chunk. So
    PostgreSQL writes and indexes on one core while Python checks on the other."""

    def __init__(self, raw_conn, engine: Engine, report: Report, load_good_rows: bool,
                 on_chunk: Callable[[], None]) -> None:
        super().__init__(name="member-import-writer", daemon=True)
        self.raw_conn, self.engine, self.report = raw_conn, engine, report
        self.load_good_rows, self.on_chunk = load_good_rows, on_chunk
        self.chunks: queue.Queue[Chunk | None] = queue.Queue(maxsize=4)
        self.loaded = self.unchanged = 0
        self.orgs: set[int] = set()
        self.failure: BaseException | None = None

    def run(self) -> None:
        try:
            with self.engine.connect() as lookup, self.raw_conn.cursor() as cur, cur.copy(
                    f"COPY membership.member ({', '.join(COPY_COLUMNS)}) FROM STDIN") as copy:
                while (chunk := self.chunks.get()) is not None:
                    for values in self._new_rows(lookup, chunk):
                        copy.write_row(values)
                    self.on_chunk()
        except BaseException as exc:  # handed to the reader, which raises it
            self.failure = exc
            while self.chunks.get() is not None:  # let the reader finish putting
                pass

    def _new_rows(self, lookup: Connection, chunk: Chunk) -> list[tuple]:
        found = _existing(lookup, [c[2] for c in chunk if c[2]], [c[3] for c in chunk])
        rows = []
        report = self.report
        for number, values, snils, key, org in chunk:
            hit = found.get("s:" + snils) if snils else None
            if hit is None:
                hit = found.get("k:" + key)
                if hit is not None and not same_person(snils, hit["snils"]):
                    hit = None
            if hit is None:
                rows.append(values)
                self.orgs.add(org)
            elif hit["org_id"] == org and hit["removed_on"] is None:
                self.unchanged += 1
            elif hit["removed_on"] is None:
                report.error(number, "surname", "person_registered",
                             f"Уже состоит на учёте в организации «{hit['org_name']}»: "
                             "оформите перевод")
            else:
                report.error(number, "surname", "person_removed_earlier",
                             f"Снят с учёта в организации «{hit['org_name']}» "
                             f"{hit['removed_on']:%d.%m.%Y}: восстановите карточку")
        if not (self.load_good_rows or not report.errors):
            return []  # the load will be undone: stop writing
        self.loaded += len(rows)
        return rows


Checked = tuple[int, tuple, str | None, str, tuple]  # (row, org, SNILS, person key, card values)


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


def checked_cards(table: tabular.Table, target: Target, today: date,
                  report: Report) -> Iterator[Checked]:
    """Each good row, in file order; the errors of the others go to the report. Big plain CSV
    files are checked column-wise (card_frame.py)."""
    if table.plain is not None and len(table.plain.text) > FRAME_MIN_CHARS:
        yield from _checked_frame(table.plain, target, today, report)
        return
    for number, raw in table.rows:
        report.rows_total += 1
        checked = _check_row(number, raw, target, today, report)
        if checked is not None:
            yield number, *checked


def _checked_frame(plain: tabular.PlainCsv, target: Target, today: date,
                   report: Report) -> Iterator[Checked]:
    import polars as pl

    names = [key or f"_unknown_{i}" for i, key in enumerate(plain.keys)]
    start = 0
    for _ in range(plain.header_line):
        start = plain.text.index("\n", start) + 1
    table = pl.read_csv(plain.text[start:].encode(), separator=plain.delimiter,
                        has_header=False, new_columns=names, infer_schema=False,
                        quote_char=None, truncate_ragged_lines=True)
    keys = [k for k in plain.keys if k]
    frame = table.with_row_index("_line", offset=plain.header_line + 1).filter(
        pl.any_horizontal(pl.col(k).str.strip_chars() != "" for k in keys).fill_null(False))
    if "full_name" in keys and "surname" not in keys:
        words = pl.col("full_name").str.strip_chars().str.replace_all(r"\s+", " ").str.split(" ")
        frame = frame.with_columns(surname=words.list.get(0, null_on_oob=True),
                                   first_name=words.list.get(1, null_on_oob=True),
                                   patronymic=words.list.slice(2).list.join(" "))
    number_column = "org_registry_number" in keys
    if number_column:
        frame = frame.with_columns(pl.col("org_registry_number").fill_null(""))
    numbers = frame["org_registry_number"].unique().to_list() if number_column else [""]
    orgs_by_index = [target.resolve(n.strip())[0] for n in numbers]
    frame = frame.with_columns(_org=pl.col("org_registry_number").replace_strict(
        {n: i for i, n in enumerate(numbers)}, return_dtype=pl.Int64) if number_column
        else pl.lit(0, dtype=pl.Int64))
    checked = with_person_key(check_frame(frame, today))
    columns = [checked[c].to_list() for c in ("_line", "_org", "ok", "snils", "person_key",
                                              *FIELDS)]
    last_truncated = _last_line_short(plain)
    for number, org_index, ok, snils, key, *card in zip(*columns, strict=True):
        report.rows_total += 1
        org = None if org_index is None else orgs_by_index[org_index]
        if ok and org is not None and number != last_truncated:
            yield number, org, snils, key, tuple(card)
            continue
        row = {k: v for k, v in table.row(number - plain.header_line - 1, named=True).items()
               if k in keys}
        if number == last_truncated:
            row = {"__truncated__": 0}
        result = _check_row(number, row, target, today, report)
        if result is not None:
            yield number, *result


def _last_line_short(plain: tabular.PlainCsv) -> int | None:
    """A file cut short usually ends in the middle of a row: that row is reported as cut."""
    body = plain.text.rstrip("\n")
    last = body.rsplit("\n", 1)[-1]
    if last.count(plain.delimiter) < len(plain.keys) - 1:
        return body.count("\n") + 1
    return None


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
    run_id = _start_run(session, progress_engine, filename, content, org_id, actor)
    seen_snils: dict[str, int] = {}  # SNILS -> row
    seen_keys: dict[str, tuple[int, str | None]] = {}  # name and birth date -> (row, SNILS)

    def on_chunk() -> None:
        _progress(progress_engine, run_id, report.rows_total, writer.loaded)
        if progress:
            progress(report.rows_total, writer.loaded)

    savepoint = session.begin_nested()
    writer = _Writer(session.connection().connection.driver_connection, session.get_bind(),
                     report, load_good_rows, on_chunk)
    writer.start()
    chunk: Chunk = []
    try:
        for number, org, snils, key, card in checked_cards(table, target, today, report):
            first = seen_snils.get(snils) if snils else None
            if first is None and key in seen_keys:
                prior, prior_snils = seen_keys[key]
                first = prior if same_person(snils, prior_snils) else None
            if first:
                report.error(number, "surname", "duplicate_in_file",
                             f"Тот же человек, что в строке {first}")
                continue
            seen_keys.setdefault(key, (number, snils))
            if snils:
                seen_snils[snils] = number
            chunk.append((number, card + (
                today if card[EMAIL_CONSENT] else None, org[0], org[3], card[JOINED_ON], today,
                key, "import", run_id, actor), snils, key, org[0]))
            if len(chunk) >= CHUNK:
                writer.chunks.put(chunk)
                chunk = []
            if writer.failure is not None:
                break
    finally:
        if chunk:
            writer.chunks.put(chunk)
        writer.chunks.put(None)
        log.info("%s: read and checked in %.1f s", filename, time.perf_counter() - started)
        writer.join()
    if writer.failure is not None:
        raise writer.failure
    report.loaded = 0 if report.errors and not load_good_rows else writer.loaded
    if not report.loaded:
        savepoint.rollback()
    else:
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


def _start_run(session: Session, engine: Engine | None, filename: str, content: bytes,
               org_id: int | None, actor: str) -> int:
    """The run's row is committed at once (when an engine is given) so progress can be read
    from other connections while the load's own transaction is still open."""
    params = {"f": filename, "sha": hashlib.sha256(content).hexdigest(), "org": org_id,
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
    return None if row is None else {k: (v.isoformat() if hasattr(v, "isoformat") else v)
                                     for k, v in row.items()}
