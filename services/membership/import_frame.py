"""The reading half of a members import for big plain CSV files: polars reads the file and checks
every column at once (card_frame), the few rows that fail go through `check_card` one by one for
their precise messages, and the good rows leave in chunks that render themselves as CSV for COPY.
"""

from collections.abc import Callable, Iterator
from datetime import date

import polars as pl

from services.common import tabular
from services.common.errors import ValidationFailed
from services.common.load_report import Report
from services.membership.card import FIELDS, job_of_position
from services.membership.card_frame import check_frame, with_person_key
from services.membership.file_dupes import History
from services.membership.import_writer import GIVEN, Chunk

# checks one row the slow way: (org, SNILS, key, card values, GIVEN bits) or None, errors
# reported
CheckRow = Callable[[int, dict, date, Report], tuple | None]


BLOCK_BYTES = 20_000_000  # about 100,000 lines, checked as one frame while the block before
# it is being written


def _blocks(plain: tabular.PlainCsv) -> Iterator[tuple[int, bytes, bool]]:
    """(number of the block's first line, its bytes, whether it is the last): the data after
    the header, in blocks of whole lines."""
    data, pos = plain.data, 0
    for _ in range(plain.header_line):
        pos = data.index(b"\n", pos) + 1
    line = plain.header_line + 1
    while pos < len(data):
        end = data.find(b"\n", pos + BLOCK_BYTES) + 1 or len(data)
        yield line, data[pos:end], end == len(data)
        line += data.count(b"\n", pos, end)
        pos = end


def _short_last_line(block: bytes, first_line: int, plain: tabular.PlainCsv) -> int | None:
    """The number of the file's last line if it has too few fields: a file cut short usually
    ends in the middle of a row, which is then reported as cut. `block`: the file's last."""
    end = len(block.rstrip(b"\n"))
    start = block.rfind(b"\n", 0, end) + 1
    if block.count(plain.delimiter.encode(), start, end) < len(plain.keys) - 1:
        return first_line + block.count(b"\n", 0, start)
    return None


def _read_block(block: bytes, plain: tabular.PlainCsv, names: list[str],
                first_line: int) -> pl.DataFrame:
    try:
        table = pl.read_csv(block, separator=plain.delimiter, has_header=False,
                            new_columns=names, infer_schema=False, quote_char=None,
                            truncate_ragged_lines=True)
    except pl.exceptions.ComputeError as exc:
        if "utf-8" not in str(exc):
            raise
        last = first_line + block.count(b"\n") - 1
        raise ValidationFailed(
            "file_encoding", f"Строки {first_line}–{last}: "
            "текст не в кодировке UTF-8, как начало файла; сохраните весь файл в UTF-8"
        ) from None
    return table.with_row_index("_line", offset=first_line)


def chunks(plain: tabular.PlainCsv, resolve, check_row: CheckRow, today: date,
           report: Report, constants: dict[str, object], size: int,
           lookup: Callable[[pl.DataFrame], dict],
           default_consent_on: date | None = None) -> Iterator[Chunk]:
    """`resolve(number) -> org tuple or None`; `constants`: the COPY columns every row shares
    (import id, who, …); `lookup(rows)`: the people of a block already registered.
    polars works outside the interpreter's lock, so a block is checked while the writer
    thread streams the one before."""
    names = [key or f"_unknown_{i}" for i, key in enumerate(plain.keys)]
    keys = [k for k in plain.keys if k]
    orgs: dict[str, tuple | None] = {}
    history = History(report)
    for first_line, block, last in _blocks(plain):
        cut = _short_last_line(block, first_line, plain) if last else None
        table = _read_block(block, plain, names, first_line)
        rows = _checked(table, keys, first_line, cut, resolve, orgs, check_row, today, report,
                        default_consent_on)
        before = set(report.rejected_rows)
        checked_rows = rows
        rows = history.firsts(rows)
        _name_rejected(checked_rows, set(report.rejected_rows) - before, report)
        found = lookup(rows)
        rows = rows.with_columns(
            email_consent_on=pl.when(pl.col("email_consent")).then(pl.lit(today)),
            org_since=pl.col("joined_on"), registered_on=pl.lit(today),
            **{k: pl.lit(v) for k, v in constants.items()})
        for offset in range(0, rows.height, size):
            part = rows.slice(offset, size)
            yield Chunk(frame=part, found=found)


def _name_rejected(rows: pl.DataFrame, lines: set[int], report: Report) -> None:
    """Who the rows refused as repeats are, as the row-by-row path names them."""
    if not lines:
        return
    for r in rows.filter(pl.col("_line").is_in(list(lines))).iter_rows(named=True):
        report.people[r["_line"]] = " ".join(
            p for p in (r["surname"], r["first_name"], r["patronymic"]) if p)


def _checked(table: pl.DataFrame, keys: list[str], first_line: int, cut: int | None,
             resolve, orgs: dict[str, tuple | None], check_row: CheckRow, today: date,
             report: Report, default_consent_on: date | None) -> pl.DataFrame:
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
    if "position" in keys:
        frame = _position(frame)
    frame = frame.with_columns(_given=_given(frame))
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
    checked = with_person_key(check_frame(frame, today, default_consent_on))
    good = pl.col("ok") & pl.col("org_id").is_not_null() & (pl.col("_line") != (cut or -1))
    rows = checked.filter(good).select(["_line", "org_id", "region_id", "person_key", "_given",
                                        *FIELDS])
    rescued = []
    for line in checked.filter(~good)["_line"].to_list():  # few: the slow way, with messages
        values = table.row(line - first_line, named=True)
        reason = tabular.skip_reason([v for k, v in values.items() if k != "_line"])
        if reason and line != cut:  # totals or a signature under the list
            report.rows_total -= 1
            report.skipped.append({"row": line, "reason": reason, "text": " ".join(
                str(v) for k, v in values.items() if v and k != "_line")[:200]})
            continue
        raw = {k: v for k, v in values.items() if k in keys}
        result = check_row(line, {"__truncated__": 0} if line == cut else raw, today, report)
        if result is not None:
            org, _, key, card, given = result
            rescued.append((line, org[0], org[3], key, given, *card))
    if rescued:
        rows = pl.concat([rows, pl.DataFrame(rescued, schema=rows.schema, orient="row")]
                         ).sort("_line")
    return rows


def _position(frame: pl.DataFrame) -> pl.DataFrame:
    """«Должность» as bulk_import._position reads it: its job category where it is known,
    where the row has none, and then the member is working. Looked up once per distinct
    position."""
    jobs = {p: job_of_position(p) for p in frame["position"].unique().to_list() if p}
    job = pl.col("position").replace_strict(jobs, default=None, return_dtype=pl.String)
    missing = {c: pl.col(c).fill_null("").str.strip_chars() == "" if c in frame.columns
               else pl.lit(True) for c in ("job_category", "category")}
    return frame.with_columns(
        job_category=pl.when(missing["job_category"] & job.is_not_null()).then(job)
        .otherwise(pl.col("job_category") if "job_category" in frame.columns else None),
        category=pl.when(missing["job_category"] & job.is_not_null() & missing["category"])
        .then(pl.lit("working"))
        .otherwise(pl.col("category") if "category" in frame.columns else None),
    ).drop("position")


def _given(frame: pl.DataFrame) -> pl.Expr:
    """import_writer.GIVEN bits of the fields whose cells are not empty, as bulk_import
    counts them row by row."""
    bits = [(pl.col(f).fill_null("").str.strip_chars() != "").cast(pl.Int64) * (1 << i)
            for i, f in enumerate(GIVEN) if f in frame.columns]
    return pl.sum_horizontal(bits) if bits else pl.lit(0, dtype=pl.Int64)
