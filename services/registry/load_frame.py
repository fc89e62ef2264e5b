"""The reading half of an organization load for big files: the file's rows become one frame of
cells, the passport's rules run over its columns (passport_frame), and the rows enter the tree
check as they would row by row; the few refused go through row_checks one by one.

A CSV file goes to polars as the bytes it is, unless a quoted field runs over its line or the
file is odd in some other way; then, as a spreadsheet, it is read as the row path reads it and
its cells are put in a frame.
"""

import csv
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import polars as pl

from services.common import tabular
from services.common.errors import ValidationFailed
from services.common.load_report import Report
from services.registry.file_format import DATE_COLUMNS, Level
from services.registry.passport_frame import outline_frame
from services.registry.row_checks import Row, outline_row

FRAME_MIN_BYTES = 1_000_000  # smaller files: row by row is as fast and simpler to follow
# characters Python's str.strip takes for white space and polars does not: files with them are
# read as the row path reads them, so that both ways read the same cells
NOT_WHITESPACE_TO_POLARS = (b"\x1c", b"\x1d", b"\x1e", b"\x1f")
LINES_ONLY = "\x1f"  # a separator no line then has: polars reads each line whole
LEVELS = {level.value: level for level in Level}


@dataclass
class Cells:
    """The file's non-blank rows after the header: `_line` (as the row path numbers it),
    `_fields` (how many fields the row has) and a text column per known key."""

    frame: pl.DataFrame
    # a spreadsheet's cells as read (dates, numbers): what row_checks gets for a refused row
    typed: dict[int, dict[str, Any]] = field(default_factory=dict)


def read(table: tabular.Table, size: int) -> Cells | None:
    """The cells of a big file; None for a small one: it goes row by row."""
    if size < FRAME_MIN_BYTES:
        return None
    frame = _read_csv(table)
    return Cells(frame) if frame is not None else _from_rows(table)


def _width(table: tabular.Table) -> int:
    """How many fields a row of a CSV file has (shorter rows are cut short)."""
    return len(table.csv().keys) if table.csv else 0


def _read_csv(table: tabular.Table) -> pl.DataFrame | None:
    """A CSV file's cells read by polars; None when it cannot read the file as the csv module
    does (not UTF-8, a quoted field over several lines, odd white space)."""
    try:
        layout = table.csv() if table.csv else None
    except ValidationFailed:
        return None  # reading its rows reports it where it always has
    if layout is None:
        return None
    data = layout.data
    if any(ch in data for ch in NOT_WHITESPACE_TO_POLARS):
        return None
    try:  # each line as it is (polars checks the UTF-8; a blank line reads as null)
        lines = pl.read_csv(data, has_header=False, separator=LINES_ONLY, quote_char=None,
                            new_columns=["raw"], infer_schema=False)
    except pl.exceptions.ComputeError:
        return None
    lines = lines.with_row_index("_line", offset=1).slice(layout.header_line).select(
        pl.col("_line").cast(pl.Int64), raw=pl.col("raw").str.strip_suffix("\r"))
    if lines["raw"].str.contains("\r", literal=True).any():
        return None  # a lone carriage return ends a row for the csv module, not for polars
    fields = pl.col("raw").str.split(layout.delimiter)
    if layout.quoted:
        quoted = _quoted_lines(lines, layout.delimiter)
        if quoted is None:
            return None
        lines = lines.join(quoted, on="_line", how="left", maintain_order="left")
        fields = pl.coalesce("parsed", fields)
    lines = lines.select("_line", fields=fields)
    return lines.filter(pl.col("fields").list.join("").str.strip_chars() != "").select(
        "_line", _fields=pl.col("fields").list.len(),
        **{key: pl.col("fields").list.get(i, null_on_oob=True)
           for i, key in enumerate(layout.keys) if key})


def _quoted_lines(lines: pl.DataFrame, delimiter: str) -> pl.DataFrame | None:
    """The fields of the lines with quotes (a few in a national file), as the csv module reads
    them; None if a quoted field runs over the end of its line (row numbers would shift)."""
    parsed = []
    quoted = lines.filter(pl.col("raw").str.contains('"', literal=True))
    for line, raw in quoted.iter_rows():
        try:
            parsed.append((line, next(csv.reader([raw], delimiter=delimiter, strict=True))))
        except csv.Error:
            return None
    return pl.DataFrame(parsed, schema={"_line": pl.Int64, "parsed": pl.List(pl.String)},
                        orient="row")


def _from_rows(table: tabular.Table) -> Cells:
    """The cells as the row path reads them, as text: a spreadsheet's dates as ДД.ММ.ГГГГ in the
    date columns, any other value as row_checks takes its text (tabular.cell_text)."""
    width = _width(table)
    records: list[dict[str, Any]] = []
    typed: dict[int, dict[str, Any]] = {}
    for number, cells in table.rows:
        if "__truncated__" in cells:
            records.append({"_line": number, "_fields": cells["__truncated__"]})
            continue
        record: dict[str, Any] = {"_line": number, "_fields": width}
        for key, value in cells.items():
            if isinstance(value, date) and key in DATE_COLUMNS:
                record[key] = f"{value.day:02d}.{value.month:02d}.{value.year:04d}"
            else:
                record[key] = tabular.cell_text(value)
            if not (value is None or type(value) is str):
                typed[number] = cells
        records.append(record)
    schema = {"_line": pl.Int64, "_fields": pl.Int64, **dict.fromkeys(table.columns, pl.String)}
    return Cells(pl.DataFrame(records, schema=schema), typed)


def outline(cells: Cells, table: tabular.Table, report: Report) -> list[Row]:
    """The rows placed in the tree as row_checks.outline_row places them: those it would refuse
    go through it, for their errors."""
    width = _width(table)
    outlined = outline_frame(cells.frame).with_columns(
        placed=(pl.col("_fields") >= width) & pl.col("registry_number").is_not_null()
        & pl.col("level").is_not_null() & pl.col("territorial_rights").is_not_null())
    rows: list[Row] = []
    for line, level, number, rights, parent, placed in outlined.select(
            "_line", "level", "registry_number", "territorial_rights", "parent_registry_number",
            "placed").iter_rows():
        if placed:
            report.rows_total += 1
            rows.append(Row(line, LEVELS[level], number, rights, {}, parent))
    for r in cells.frame.join(outlined.filter(~pl.col("placed")).select("_line"), on="_line"
                              ).to_dicts():
        given = {"__truncated__": r["_fields"]} if r["_fields"] < width else _cells(cells, r)
        outline_row(r["_line"], given, len(table.columns), report)
    return rows


def mark(rows: list[Row], cells: Cells, checked: pl.DataFrame) -> pl.DataFrame:
    """Mark the rows the column-wise checks passed (`frame_ok`); give the others their cells,
    for row_checks. Returns the passed rows' values."""
    passed = checked.filter("ok")
    ok = set(passed["_line"].to_list())
    for row in rows:
        row.frame_ok = row.number in ok
    refused = {row.number: row for row in rows if not row.frame_ok}
    if refused:
        lines = pl.DataFrame({"_line": list(refused)}, schema={"_line": pl.Int64})
        for r in cells.frame.join(lines, on="_line").to_dicts():
            refused[r["_line"]].cells = _cells(cells, r)
    return passed


def _cells(cells: Cells, r: dict[str, Any]) -> dict[str, Any]:
    """A row's cells for row_checks: as read from a spreadsheet, or from the frame."""
    return cells.typed.get(r["_line"]) or {k: v for k, v in r.items() if not k.startswith("_")}
