"""Writing the checked rows of a load: the organizations, then their first passport versions,
each with one COPY of the CSV text polars renders from a frame of the rows.

The passport values come as a frame in the shape of `passport_values` (chair and education as
structs): from the column-wise checks, or from the rows checked one by one. The
version's snapshot is the row as `changes.record_versions` takes it (the organization less its
path and bookkeeping), built here beside the row: deriving 75,000 snapshots back from the table
costs PostgreSQL more than reading them.

A big load (its indexes set aside, both tables locked: `write_staged`) uses the machine's second
core too: PostgreSQL parsing the versions' JSON is most of their COPY, so a second connection
COPYs them into an unlogged scratch table while the load's own connection files the
organizations and builds their indexes; then one INSERT moves them over, parsed already (on
75,000: 0.4 s in the load's transaction instead of 1.4 s).
"""

import contextlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import polars as pl
import psycopg
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from services.registry.row_checks import Row

CHAIR = pl.Struct({"email": pl.String, "phone": pl.String, "surname": pl.String,
                   "first_name": pl.String, "patronymic": pl.String, "elected_on": pl.String,
                   "term_until": pl.String, "email_consent": pl.Boolean})
EDUCATION = pl.Struct({"name": pl.String, "type": pl.String, "inn": pl.String})
PASSPORT = {"_line": pl.Int64, "level": pl.String, "kind": pl.String,
            "registry_number": pl.String, "name": pl.String, "region_code": pl.String,
            "territorial_rights": pl.Boolean, "legal_entity": pl.Boolean, "ogrn": pl.String,
            "inn": pl.String, "included_on": pl.Date, "chair": CHAIR, "education": EDUCATION}
TREE = {"_line": pl.Int64, "id": pl.Int64, "parent_id": pl.Int64, "path": pl.String,
        "region_id": pl.Int64}
ORGANIZATIONS = "registry.organization"
VERSIONS = "registry.organization_version"
# a big load's versions, parsed (an unlogged table of migration 0005); one load at a time
# stages (only the load holding both tables does), so the next one empties what a load that
# died left behind; emptied by the schema's owner (TRUNCATE is not the runtime login's)
SCRATCH = "registry.load_versions"
EMPTY_SCRATCH = "SELECT registry.empty_load_versions()"
# the organization's columns in its snapshot, in the table's order
SNAPSHOT = ("id", "parent_id", "level", "kind", "registry_number", "name", "region_id",
            "region_code", "territorial_rights", "legal_entity", "ogrn", "inn", "included_on",
            "excluded_on", "exclusion_reason", "reorganized_into_id", "chair", "education",
            "staff")


def _values(rows: list[Row]) -> pl.DataFrame:
    """The passport values of rows checked one by one, in the shape of the column-wise ones."""
    return pl.DataFrame([{**{k: row.values.get(k) for k in PASSPORT},
                          "_line": row.number, "level": row.level.value} for row in rows],
                        schema=PASSPORT)


def _json(struct: str) -> pl.Expr:
    return pl.when(pl.col(struct).is_not_null()).then(pl.col(struct).struct.json_encode())


def _copy(raw: psycopg.Connection, table: str, columns: list[str], data: bytes) -> None:
    with raw.cursor() as cur, cur.copy(
            f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT csv)") as copy:
        copy.write(data)


def _raw(session: Session) -> psycopg.Connection:
    return session.connection().connection.driver_connection


def _csv(frame: pl.DataFrame) -> bytes:
    return frame.write_csv(include_header=False).encode()


def _frames(rows: list[Row], passed: pl.DataFrame | None,
            actor: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The organizations' rows and their first versions' rows."""
    passports = _values([row for row in rows if not row.frame_ok])
    if passed is not None:
        passports = pl.concat([passed.select(list(PASSPORT)), passports])
    tree = pl.DataFrame([(r.number, r.id, r.parent_id, r.path, r.region_id) for r in rows],
                        schema=TREE, orient="row")
    frame = tree.join(passports, on="_line", maintain_order="left")
    gone = pl.lit(None, dtype=pl.String)
    frame = frame.with_columns(staff=pl.lit([], dtype=pl.List(pl.String)), excluded_on=gone,
                               exclusion_reason=gone, reorganized_into_id=gone)
    organizations = frame.select(
        "id", "parent_id", "path", "level", "kind", "registry_number", "name", "region_id",
        "region_code", "territorial_rights", "legal_entity", "ogrn", "inn", "included_on",
        chair=_json("chair"), education=_json("education"), staff=pl.lit("[]"),
        updated_by=pl.lit(actor))
    # the first version holds from the inclusion in the registry, for reports as of earlier
    inclusion = pl.col("included_on").cast(pl.Datetime("us", "UTC"))
    versions = frame.select(
        org_id="id", version=pl.lit(1),
        valid_from=pl.min_horizontal(pl.lit(datetime.now(UTC)), inclusion),
        passport=pl.struct(SNAPSHOT).struct.json_encode(), change_kind=pl.lit("imported"),
        changed_by=pl.lit(actor))
    return organizations, versions


def write(session: Session, rows: list[Row], passed: pl.DataFrame | None, actor: str) -> None:
    """`rows`: placed in the tree with their ids, parents first; `passed`: the values of those
    the column-wise checks passed (`frame_ok`), by `_line`; the others carry theirs."""
    organizations, versions = _frames(rows, passed, actor)
    with ThreadPoolExecutor(1) as pool:
        # the versions' text is made (by polars, outside the interpreter's lock) while
        # PostgreSQL files the organizations
        versions_csv = pool.submit(_csv, versions)
        _copy(_raw(session), ORGANIZATIONS, organizations.columns, _csv(organizations))
        _copy(_raw(session), VERSIONS, versions.columns, versions_csv.result())


def _stage(engine: Engine, versions: pl.DataFrame) -> None:
    data = _csv(versions)
    with engine.begin() as conn:
        conn.execute(text(EMPTY_SCRATCH))
        _copy(conn.connection.driver_connection, SCRATCH, versions.columns, data)


def write_staged(session: Session, rows: list[Row], passed: pl.DataFrame | None, actor: str,
                 meanwhile: Callable[[], None]) -> None:
    """`write` for a load holding both tables: the versions are staged on a second connection
    while this one files the organizations and runs `meanwhile` (their indexes)."""
    organizations, versions = _frames(rows, passed, actor)
    engine = session.get_bind()
    organizations_csv = _csv(organizations)  # first and alone: polars takes both cores
    with ThreadPoolExecutor(1) as pool:
        staged = pool.submit(_stage, engine, versions)
        try:
            _copy(_raw(session), ORGANIZATIONS, organizations.columns, organizations_csv)
            meanwhile()
            staged.result()
        except BaseException:
            # nothing of this load will be committed: its staged rows go once staged (if the
            # database is away, the next big load empties the table)
            pool.shutdown()
            with contextlib.suppress(SQLAlchemyError), engine.begin() as conn:
                conn.execute(text(EMPTY_SCRATCH))
            raise
    columns = ", ".join(versions.columns)
    session.execute(text(f"INSERT INTO {VERSIONS} ({columns}) SELECT {columns} FROM {SCRATCH}"))
    # in the load's transaction: a load rolled back after this point leaves the staged rows
    # (never committed anywhere else) to the next big load, which empties the table first
    session.execute(text(EMPTY_SCRATCH))
