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
# (line, SNILS, key, card number) -> False (and reported) for a person or card seen before
Seen = Callable[[int, str | None, str, str | None], bool]


BLOCK_LINES = 100_000  # checked as one frame while the block before it is being written


def _blocks(plain: tabular.PlainCsv) -> Iterator[tuple[int, str]]:
    """(number of the block's first line, its text): the data after the header, in blocks."""
    text, pos = plain.text, 0
    for _ in range(plain.header_line):
        pos = text.index("\n", pos) + 1
    line = plain.header_line + 1
    while pos < len(text):
        end = pos
        for _ in range(BLOCK_LINES):
            end = text.find("\n", end) + 1
            if end == 0:
                end = len(text)
                break
        yield line, text[pos:end]
        line += text.count("\n", pos, end)
        pos = end


def _last_line_short(plain: tabular.PlainCsv) -> int | None:
    """A file cut short usually ends in the middle of a row: that row is reported as cut."""
    body = plain.text.rstrip("\n")
    if body.rsplit("\n", 1)[-1].count(plain.delimiter) < len(plain.keys) - 1:
        return body.count("\n") + 1
    return None


def chunks(plain: tabular.PlainCsv, resolve, check_row: CheckRow, seen: Seen, today: date,
           report: Report, constants: dict[str, object], size: int,
           lookup: Callable[[list[str], list[str]], dict]) -> Iterator[Chunk]:
    """`resolve(number) -> org tuple or None`; `constants`: the COPY columns every row shares
    (import id, who, …); `lookup(snils, keys)`: the people of a block already registered.
    polars works outside the interpreter's lock, so a block is checked while the writer
    thread streams the one before."""
    names = [key or f"_unknown_{i}" for i, key in enumerate(plain.keys)]
    keys = [k for k in plain.keys if k]
    cut = _last_line_short(plain)
    orgs: dict[str, tuple | None] = {}
    for first_line, block in _blocks(plain):
        table = pl.read_csv(block.encode(), separator=plain.delimiter, has_header=False,
                            new_columns=names, infer_schema=False, quote_char=None,
                            truncate_ragged_lines=True).with_row_index("_line",
                                                                       offset=first_line)
        rows = _checked(table, keys, first_line, cut, resolve, orgs, check_row, today, report)
        first = [seen(*person) for person in zip(
            *(rows[c].to_list() for c in ("_line", "snils", "person_key", "card_number")),
            strict=True)]
        if not all(first):
            rows = rows.filter(pl.Series(first))
        found = lookup([s for s in rows["snils"].to_list() if s], rows["person_key"].to_list())
        rows = rows.with_columns(
            email_consent_on=pl.when(pl.col("email_consent")).then(pl.lit(today)),
            org_since=pl.col("joined_on"), registered_on=pl.lit(today),
            **{k: pl.lit(v) for k, v in constants.items()})
        for offset in range(0, rows.height, size):
            part = rows.slice(offset, size)
            yield Chunk(lines=part["_line"].to_list(), snils=part["snils"].to_list(),
                        keys=part["person_key"].to_list(), orgs=part["org_id"].to_list(),
                        frame=part, found=found)


def _checked(table: pl.DataFrame, keys: list[str], first_line: int, cut: int | None,
             resolve, orgs: dict[str, tuple | None], check_row: CheckRow, today: date,
             report: Report) -> pl.DataFrame:
    """A block's good rows, with their organization and person key, in line order; the bad
    ones are checked again one by one (their errors reported, the odd one rescued)."""
    frame = table.filter(
        pl.any_horizontal(pl.col(k).str.strip_chars() != "" for k in keys).fill_null(False))
    report.rows_total += frame.height
    if "full_name" in keys and "surname" not in keys:
        words = pl.col("full_name").str.strip_chars().str.replace_all(r"\s+", " ").str.split(" ")
        frame = frame.with_columns(surname=words.list.get(0, null_on_oob=True),
                                   first_name=words.list.get(1, null_on_oob=True),
                                   patronymic=words.list.slice(2).list.join(" "))
    number = pl.lit("")
    if "org_registry_number" in keys:
        number = pl.col("org_registry_number").fill_null("")
        for n in frame["org_registry_number"].fill_null("").unique().to_list():
            if n not in orgs:
                orgs[n] = resolve(n.strip())
    else:
        orgs.setdefault("", resolve(""))
    known = {n: o for n, o in orgs.items() if o is not None}
    frame = frame.with_columns(
        org_id=number.replace_strict({n: o[0] for n, o in known.items()}, default=None,
                                     return_dtype=pl.Int64),
        region_id=number.replace_strict({n: o[3] for n, o in known.items()}, default=None,
                                        return_dtype=pl.Int64))
    checked = with_person_key(check_frame(frame, today))
    good = pl.col("ok") & pl.col("org_id").is_not_null() & (pl.col("_line") != (cut or -1))
    rows = checked.filter(good).select(["_line", "org_id", "region_id", "person_key", *FIELDS])
    rescued = []
    for line in checked.filter(~good)["_line"].to_list():  # few: the slow way, with messages
        raw = {k: v for k, v in table.row(line - first_line, named=True).items() if k in keys}
        result = check_row(line, {"__truncated__": 0} if line == cut else raw, today, report)
        if result is not None:
            org, _, key, card = result
            rescued.append((line, org[0], org[3], key, *card))
    if rescued:
        rows = pl.concat([rows, pl.DataFrame(rescued, schema=rows.schema, orient="row")]
                         ).sort("_line")
    return rows
