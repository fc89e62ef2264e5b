"""The writing half of a members import: a thread that streams chunks of checked rows into one
COPY while the reading half checks the next chunk.

For each chunk it first looks up the chunk's people among those already on the register (on a
connection of its own: rows of earlier chunks of the same file are the reader's business), then
writes the new ones. A chunk comes either as tuples (row by row) or as a polars frame, which
renders itself as CSV without a Python loop per row. PostgreSQL stores and indexes on one core
while Python checks on the other.
"""

import io
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from services.common.load_report import Report
from services.membership.card import FIELDS

# the card's fields (card.FIELDS, in its order), then what the import adds
COPY_COLUMNS = (*FIELDS, "email_consent_on", "org_id", "region_id", "org_since",
                "registered_on", "person_key", "source", "import_id", "updated_by")
KEY_SEPARATOR = "\x1f"  # cannot occur in a checked name


@dataclass
class Chunk:
    """Checked rows of a file, new to the file: who they are, and their COPY values."""

    lines: list[int] = field(default_factory=list)
    snils: list[str | None] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    orgs: list[int] = field(default_factory=list)
    rows: list[tuple] = field(default_factory=list)  # COPY_COLUMNS values, row by row
    given: list[int] = field(default_factory=list)  # GIVEN bits: the fields the row's cells give
    # or a polars frame with `_line`, `_given` and COPY_COLUMNS (and no lists)
    frame: Any = None
    found: dict[str, dict] | None = None  # people on the register, if looked up already

    def add(self, line: int, snils: str | None, key: str, org: int, values: tuple,
            given: int = 0) -> None:
        self.lines.append(line)
        self.snils.append(snils)
        self.keys.append(key)
        self.orgs.append(org)
        self.rows.append(values)
        self.given.append(given)

    def card(self, i: int) -> tuple[dict[str, Any], int]:
        """The i-th row's card values (FIELDS) and the fields its cells gave (GIVEN bits)."""
        if self.frame is None:
            return dict(zip(FIELDS, self.rows[i][:len(FIELDS)], strict=True)), self.given[i]
        row = self.frame.row(i, named=True)
        return {f: row[f] for f in FIELDS}, row["_given"]

    def __len__(self) -> int:
        return len(self.lines) if self.frame is None else self.frame.height

    def people(self) -> tuple[list[int], list[str | None], list[str], list[int]]:
        """Lines, SNILS, person keys and organizations: taken from a frame only when someone
        asks (when some of its people are on the register already)."""
        if self.frame is not None and not self.lines:
            self.lines, self.snils, self.keys, self.orgs = (self.frame[c].to_list() for c in (
                "_line", "snils", "person_key", "org_id"))
        return self.lines, self.snils, self.keys, self.orgs

    def org_ids(self) -> set[int]:
        return set(self.orgs if self.frame is None else self.frame["org_id"].unique().to_list())


# the fields a file may correct on a card already registered, as an edit may (members.EDITABLE);
# a birth date or a SNILS other than the card's is a conflict instead, never overwritten
GIVEN = ("surname", "first_name", "patronymic", "sex", "birth_date", "snils", "phone", "email",
         "joined_on", "category", "job_category")
COMPARED = ", ".join(f"m.{f}" for f in GIVEN if f != "snils")


def given_bits(present: Any) -> int:
    """GIVEN bits of the fields named (those whose cells are not empty)."""
    return sum(1 << i for i, f in enumerate(GIVEN) if f in present)


def same_person(snils: str | None, other: str | None) -> bool:
    """Same name and birth date: the same person unless both have SNILS and they differ."""
    return snils is None or other is None or snils == other


def existing(conn: Connection, snils: list[str], keys: list[str]) -> dict[str, dict]:
    """People already on the register, by SNILS and by name and birth date. The lists travel
    as two strings (binding tens of thousands of array items costs more than the query) and
    are joined as unnested rows, which keeps the plan on the indexes: `= ANY(a long array)`
    turned into a scan of the whole table, ever slower as a national load grows it."""
    # the keys one at a time through the indexes, whatever the statistics say: during a load
    # into an empty table they would plan to hash the whole, growing table for every chunk
    conn.execute(text("SET LOCAL enable_hashjoin = off"))
    conn.execute(text("SET LOCAL enable_mergejoin = off"))
    rows = conn.execute(text(f"""
        SELECT m.id, m.snils, m.person_key, m.org_id, m.removed_on, o.name AS org_name,
            {COMPARED}
        FROM unnest(string_to_array(:snils, ',')) AS s (snils)
        JOIN membership.member m ON m.snils = s.snils
        JOIN membership.org o ON o.id = m.org_id
        UNION
        SELECT m.id, m.snils, m.person_key, m.org_id, m.removed_on, o.name AS org_name,
            {COMPARED}
        FROM unnest(string_to_array(:keys, :sep)) AS k (person_key)
        JOIN membership.member m ON m.person_key = k.person_key
        JOIN membership.org o ON o.id = m.org_id
    """), {"snils": ",".join(snils), "keys": KEY_SEPARATOR.join(keys),
           "sep": KEY_SEPARATOR}).mappings().all()
    found: dict[str, dict] = {}
    for r in rows:
        if r["snils"]:
            found["s:" + r["snils"]] = dict(r)
        # of namesakes born the same day, the one without a SNILS is the one to match
        if r["snils"] is None or "k:" + r["person_key"] not in found:
            found["k:" + r["person_key"]] = dict(r)
    return found


class Writer(threading.Thread):
    def __init__(self, raw_conn, engine: Engine, report: Report, load_good_rows: bool,
                 csv: bool, on_chunk: Callable[[], None], dry_run: bool = False) -> None:
        super().__init__(name="member-import-writer", daemon=True)
        self.dry_run = dry_run  # the check before loading: people looked up, nothing written
        self.raw_conn, self.engine, self.report = raw_conn, engine, report
        self.load_good_rows, self.csv, self.on_chunk = load_good_rows, csv, on_chunk
        # a whole block of the column-wise reader fits, so it can go on to the next block
        self.chunks: queue.Queue[Chunk | None] = queue.Queue(maxsize=12)
        self.loaded = self.unchanged = 0
        # (row, member id, the fields the row corrects): applied by the reader after the COPY
        self.updates: list[tuple[int, int, dict[str, Any]]] = []
        self.orgs: set[int] = set()
        self.failure: BaseException | None = None

    def run(self) -> None:
        sql = f"COPY membership.member ({', '.join(COPY_COLUMNS)}) FROM STDIN"
        finished = False  # the reader's last chunk (None) taken
        try:
            with self.engine.connect() as lookup, self.raw_conn.cursor() as cur, \
                    cur.copy(sql + (" (FORMAT csv)" if self.csv else "")) as copy:
                while (chunk := self.chunks.get()) is not None:
                    self._write(copy, lookup, chunk)
                    self.on_chunk()
                finished = True
        except BaseException as exc:  # handed to the reader, which raises it
            self.failure = exc
            while not finished and self.chunks.get() is not None:  # let the reader finish
                pass

    def _write(self, copy, lookup: Connection, chunk: Chunk) -> None:
        keep = self._new(lookup, chunk)
        if self.dry_run or self.report.file_errors or (
                self.report.errors and not self.load_good_rows):
            return  # the load will be undone (or is only a check): stop writing
        self.loaded += sum(keep)
        if chunk.frame is not None:
            import polars as pl

            frame = chunk.frame if all(keep) else chunk.frame.filter(pl.Series(keep))
            out = io.BytesIO()
            frame.select(COPY_COLUMNS).write_csv(out, include_header=False,
                                                 date_format="%Y-%m-%d")
            copy.write(out.getbuffer())
        else:
            for values, new in zip(chunk.rows, keep, strict=True):
                if new:
                    copy.write_row(values)

    def _new(self, lookup: Connection, chunk: Chunk) -> list[bool]:
        """Which rows are new people; the others are counted or reported."""
        if chunk.found is None:
            _, snils, keys, _ = chunk.people()
            found = existing(lookup, [s for s in snils if s], keys)
        else:
            found = chunk.found
        keep = [True] * len(chunk)
        if not found:
            self.orgs.update(chunk.org_ids())
            return keep
        report = self.report
        for i, (line, snils, key, org) in enumerate(zip(*chunk.people(), strict=True)):
            hit = found.get("s:" + snils) if snils else None
            if hit is None:
                hit = found.get("k:" + key)
                # the same name and birth date with another SNILS: a namesake elsewhere, but in
                # the same organization the file contradicts the card
                if hit is not None and not same_person(snils, hit["snils"]) and not (
                        hit["org_id"] == org and hit["removed_on"] is None):
                    hit = None
            if hit is None:
                self.orgs.add(org)
                continue
            keep[i] = False
            values, given = chunk.card(i)
            if line not in report.people:  # a frame's row, named as the row path names it
                report.people[line] = " ".join(
                    values[k] for k in ("surname", "first_name", "patronymic") if values[k])
            if hit["org_id"] == org and hit["removed_on"] is None:
                self._correct(line, hit, values, given)
            elif hit["removed_on"] is None:
                report.error(line, "surname", "person_registered",
                             f"Уже состоит на учёте в организации «{hit['org_name']}»: "
                             "оформите перевод")
            else:
                report.error(line, "surname", "person_removed_earlier",
                             f"Снят с учёта в организации «{hit['org_name']}» "
                             f"{hit['removed_on']:%d.%m.%Y}: восстановите карточку")
        return keep

    def _correct(self, line: int, hit: dict[str, Any], values: dict[str, Any],
                 given: int) -> None:
        """A row for a member of the same organization: the fields its cells give that differ
        from the card become an edit (applied after the COPY, with history); a birth date or
        a SNILS other than the card's is a conflict, reported on the row."""
        patch: dict[str, Any] = {}
        for bit, f in enumerate(GIVEN):
            if not given >> bit & 1 or values[f] is None or values[f] == hit[f]:
                continue
            if f == "birth_date":
                self.report.error(line, f, "card_conflict", (
                    f"В карточке члена Профсоюза другая дата рождения: {hit[f]:%d.%m.%Y}, "
                    f"в файле {values[f]:%d.%m.%Y}; исправьте файл или карточку"))
                return
            if f == "snils" and hit[f]:
                self.report.error(line, f, "card_conflict", (
                    f"В карточке члена Профсоюза другой СНИЛС: {hit[f]}, в файле {values[f]}; "
                    "исправьте файл или карточку"))
                return
            patch[f] = values[f]
        job_given = given >> GIVEN.index("job_category") & 1
        if patch.get("category", "working") != "working" and hit["job_category"] and \
                not job_given:
            patch["job_category"] = None  # a job category is only a working member's
        if patch:
            self.updates.append((line, hit["id"], patch))
        else:
            self.unchanged += 1
