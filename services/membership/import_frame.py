"""The reading half of a members import for big plain CSV files: polars reads the file and checks
every column at once (card_frame), the few rows that fail go through `check_card` one by one for
their precise messages, and the good rows leave in chunks that render themselves as CSV for COPY.
"""

from collections.abc import Callable, Iterator
from datetime import date

import polars as pl

from services.common import tabular
from services.common.load_report import Report
from services.membership.card import FIELDS
from services.membership.card_frame import check_frame, with_person_key
from services.membership.import_writer import Chunk

# checks one row the slow way: (org, SNILS, key, card values) or None, errors reported
CheckRow = Callable[[int, dict, date, Report], tuple | None]
Seen = Callable[[int, str | None, str], bool]  # False (and reported) for a person seen before


def _read(plain: tabular.PlainCsv) -> tuple[pl.DataFrame, list[str]]:
    names = [key or f"_unknown_{i}" for i, key in enumerate(plain.keys)]
    start = 0
    for _ in range(plain.header_line):
        start = plain.text.index("\n", start) + 1
    table = pl.read_csv(plain.text[start:].encode(), separator=plain.delimiter,
                        has_header=False, new_columns=names, infer_schema=False,
                        quote_char=None, truncate_ragged_lines=True)
    return table.with_row_index("_line", offset=plain.header_line + 1), \
        [k for k in plain.keys if k]


def _last_line_short(plain: tabular.PlainCsv) -> int | None:
    """A file cut short usually ends in the middle of a row: that row is reported as cut."""
    body = plain.text.rstrip("\n")
    if body.rsplit("\n", 1)[-1].count(plain.delimiter) < len(plain.keys) - 1:
        return body.count("\n") + 1
    return None


def chunks(plain: tabular.PlainCsv, resolve, check_row: CheckRow, seen: Seen, today: date,
           report: Report, constants: dict[str, object], size: int) -> Iterator[Chunk]:
    """`resolve(number) -> org tuple or None`; `constants`: the COPY columns every row shares
    (import id, who, …)."""
    table, keys = _read(plain)
    frame = table.filter(
        pl.any_horizontal(pl.col(k).str.strip_chars() != "" for k in keys).fill_null(False))
    report.rows_total += frame.height
    if "full_name" in keys and "surname" not in keys:
        words = pl.col("full_name").str.strip_chars().str.replace_all(r"\s+", " ").str.split(" ")
        frame = frame.with_columns(surname=words.list.get(0, null_on_oob=True),
                                   first_name=words.list.get(1, null_on_oob=True),
                                   patronymic=words.list.slice(2).list.join(" "))
    if "org_registry_number" in keys:
        numbers = frame["org_registry_number"].fill_null("").unique().to_list()
    else:
        numbers = [""]
    found = {n: resolve(n.strip()) for n in numbers}
    org_ids = {n: o[0] for n, o in found.items() if o is not None}
    region_ids = {n: o[3] for n, o in found.items() if o is not None}
    number = pl.col("org_registry_number").fill_null("") if "org_registry_number" in keys \
        else pl.lit("")
    frame = frame.with_columns(
        org_id=number.replace_strict(org_ids, default=None, return_dtype=pl.Int64),
        region_id=number.replace_strict(region_ids, default=None, return_dtype=pl.Int64))
    checked = with_person_key(check_frame(frame, today))
    cut = _last_line_short(plain)
    good = pl.col("ok") & pl.col("org_id").is_not_null() & (pl.col("_line") != (cut or -1))
    columns = ["_line", "org_id", "region_id", "person_key", *FIELDS]
    rows = checked.filter(good).select(columns)
    rescued = []
    for line in checked.filter(~good)["_line"].to_list():  # few: the slow way, with messages
        raw = {k: v for k, v in table.row(line - plain.header_line - 1, named=True).items()
               if k in keys}
        result = check_row(line, {"__truncated__": 0} if line == cut else raw, today, report)
        if result is not None:
            org, _, key, card = result
            rescued.append((line, org[0], org[3], key, *card))
    if rescued:
        rows = pl.concat([rows, pl.DataFrame(rescued, schema=rows.schema, orient="row")]
                         ).sort("_line")
    lines, snils, person_keys = (rows[c].to_list() for c in ("_line", "snils", "person_key"))
    first = [seen(line, s, k) for line, s, k in zip(lines, snils, person_keys, strict=True)]
    if not all(first):
        rows = rows.filter(pl.Series(first))
    rows = rows.with_columns(
        email_consent_on=pl.when(pl.col("email_consent")).then(pl.lit(today)),
        org_since=pl.col("joined_on"), registered_on=pl.lit(today),
        **{k: pl.lit(v) for k, v in constants.items()})
    for offset in range(0, rows.height, size):
        part = rows.slice(offset, size)
        yield Chunk(lines=part["_line"].to_list(), snils=part["snils"].to_list(),
                    keys=part["person_key"].to_list(), orgs=part["org_id"].to_list(),
                    frame=part)
