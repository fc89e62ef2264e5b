"""The tree and the member counts as they stood on a reporting date, kept by the reports.

The registry answers for the whole tree at once (`tree_as_of`) and membership for the counts of
many organizations at once (`counts_as_of`); both arrive as packed columns and go into the
snapshot tables by COPY. Reports of that date are then placed and consolidated with SQL alone.
"""

from datetime import date
from typing import Any

import polars as pl
from sqlalchemy import text
from sqlalchemy.orm import Session

from services.common.errors import NotFound
from services.common.packed import unpack_columns

CONSOLIDATORS = frozenset({"territorial", "regional", "central"})


def exists(session: Session, day: date) -> bool:
    return session.execute(text("SELECT 1 FROM reports.snapshot WHERE day = :d"),
                           {"d": day}).first() is not None


def _placed(rows: list[dict[str, Any]]) -> list[tuple[str, int, int | None]]:
    """(path, holder, consolidator) of each row, from the parents alone.

    A row whose parent is not in the tree that day (it did not exist yet) is a root."""
    by_id = {r["id"]: r for r in rows}
    placed: dict[int, tuple[str, int, int | None]] = {}

    def place(org_id: int) -> tuple[str, int, int | None]:
        chain = []
        oid: int | None = org_id
        while oid is not None and oid not in placed and oid in by_id:
            chain.append(oid)
            oid = by_id[oid]["parent_id"]
        above = placed.get(oid) if oid is not None else None
        for cid in reversed(chain):
            row, parent = by_id[cid], by_id.get(by_id[cid]["parent_id"])
            path = f"{above[0]}.{cid}" if above else str(cid)
            holder = above[1] if row["level"] == "subdivision" and above else cid
            if parent is None:
                consolidator = None
            elif parent["level"] in CONSOLIDATORS:
                consolidator = parent["id"]
            else:
                consolidator = above[2] if above else None
            placed[cid] = above = (path, holder, consolidator)
        return placed[org_id]

    return [place(r["id"]) for r in rows]


def tree_frame(packed_tree: str, day: date) -> pl.DataFrame:
    """The registry's answer as a frame of the organizations in force on `day`, each placed:
    `path`, `holder_id`, `consolidator_id` beside the registry's columns."""
    frame = pl.DataFrame(unpack_columns(packed_tree), infer_schema_length=None)
    if frame.is_empty():
        return frame.with_columns(path=pl.lit(None, pl.String), holder_id=pl.lit(None, pl.Int64),
                                  consolidator_id=pl.lit(None, pl.Int64))
    frame = frame.filter(pl.col("excluded_on").is_null()
                         | (pl.col("excluded_on").cast(pl.String).str.to_date() > day))
    placed = _placed(frame.select("id", "parent_id", "level").to_dicts())
    return frame.with_columns(
        path=pl.Series([p[0] for p in placed], dtype=pl.String),
        holder_id=pl.Series([p[1] for p in placed], dtype=pl.Int64),
        consolidator_id=pl.Series([p[2] for p in placed], dtype=pl.Int64))


def copy_frame(session: Session, table: str, frame: pl.DataFrame) -> None:
    """The frame into `table` (its columns by name) with one COPY of its CSV text: adapting
    75,000 rows value by value took seconds."""
    cursor = session.connection().connection.cursor()
    with cursor.copy(f"COPY {table} ({', '.join(frame.columns)}) FROM STDIN (FORMAT csv)"
                     ) as cp:
        cp.write(frame.write_csv(include_header=False))


def take(session: Session, day: date, packed_tree: str, actor: str) -> int:
    """Keep the tree of `day` (as the registry answered it); replaces an earlier one."""
    frame = tree_frame(packed_tree, day)
    session.execute(text("DELETE FROM reports.snapshot WHERE day = :d"), {"d": day})
    session.execute(text("INSERT INTO reports.snapshot (day, orgs, taken_by) "
                         "VALUES (:d, :n, :by)"), {"d": day, "n": frame.height, "by": actor})
    copy_frame(session, "reports.snapshot_org", frame.select(
        pl.lit(day).alias("day"), pl.col("id").alias("org_id"), "parent_id", "path", "level",
        "region_id", "name", "registry_number", "education_type", "territorial_rights",
        "legal_entity",
        (pl.col("has_chair").fill_null(False) & pl.col("chair_term_until").is_not_null()
         & ((pl.col("level") != "primary") | pl.col("education_inn").is_not_null())
         ).alias("passport_complete"),
        "holder_id", "consolidator_id"))
    return frame.height


def store_counts(session: Session, day: date, packed_counts: str,
                 org_ids: list[int] | None = None) -> int:
    """Keep membership's counts of `day`: of every organization, or of those named (the others
    keep theirs). An organization with nobody registered has no row."""
    cols = unpack_columns(packed_counts)
    keys = count_keys(session, day)
    if keys is None:
        keys = [k for k in cols if k != "org_id"]
        session.execute(text("UPDATE reports.snapshot SET count_keys = :k WHERE day = :d"),
                        {"k": keys, "d": day})
    zeros = [0] * len(cols["org_id"])
    columns = [cols.get(k, zeros) for k in keys]
    session.execute(text("DELETE FROM reports.snapshot_count WHERE day = :d "
                         "AND (CAST(:ids AS bigint[]) IS NULL OR org_id = ANY(:ids))"),
                    {"d": day, "ids": org_ids})
    cursor = session.connection().connection.cursor()
    with cursor.copy("COPY reports.snapshot_count (day, org_id, counts) FROM STDIN") as cp:
        # the text form written directly: adapting 70,000 lists one by one took seconds
        for org_id, *values in zip(cols["org_id"], *columns, strict=True):
            cp.write(f"{day}\t{int(org_id)}\t{{{','.join(str(int(v)) for v in values)}}}\n")
    return len(cols["org_id"])


def count_keys(session: Session, day: date) -> list[str] | None:
    return session.execute(text("SELECT count_keys FROM reports.snapshot WHERE day = :d"),
                           {"d": day}).scalar()


def org(session: Session, day: date, org_id: int) -> dict[str, Any]:
    """An organization as it stood on `day`; a clear error when it was not in the registry."""
    row = session.execute(text("""
        SELECT org_id, parent_id, ltree2text(path) AS path, level, region_id, name,
               registry_number, education_type, territorial_rights, legal_entity,
               passport_complete, holder_id, consolidator_id
        FROM reports.snapshot_org WHERE day = :d AND org_id = :id
    """), {"d": day, "id": org_id}).mappings().first()
    if row is None:
        raise NotFound("org_not_in_registry_on_date", (
            f"Организации {org_id} не было в реестре на {day:%d.%m.%Y} (ещё не включена "
            "или уже исключена): отчёт на эту дату не составляется"))
    return dict(row)


def within(session: Session, day: date, path: str) -> list[int]:
    """The organizations of the subtree at `path` on `day`."""
    return [r[0] for r in session.execute(text("""
        SELECT org_id FROM reports.snapshot_org WHERE day = :d AND path <@ CAST(:p AS ltree)
    """), {"d": day, "p": path})]
