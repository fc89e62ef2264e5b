"""Reading operators' spreadsheets (XLSX, XLS, ODS) and CSV files into rows keyed by column keys.

Shared by every bulk load. Files come from people: Excel or LibreOffice, UTF-8 (with or without
a byte-order mark) or Windows-1251, comma, semicolon or tab, dates as date cells or ДД.ММ.ГГГГ,
a title above the header, a header wrapped over two rows, totals and signatures below the list.
Whatever cannot be read at all is a file-level error with a Russian message; cell-level
problems are left to the caller's row checks. Rows are numbered as the spreadsheet shows them.
"""

import csv
import io
import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from services.common import sheets
from services.common.errors import ValidationFailed

MAX_FILE_BYTES = 200 * 1024 * 1024
HEADER_SEARCH_ROWS = 10
HEAD_BYTES = 65_536  # what the header search and the guess of the encoding read


def _norm(header: Any) -> str:
    return re.sub(r"\s+", " ", str(header or "")).strip().lower().replace("ё", "е")


@dataclass
class PlainCsv:
    """A CSV file with no quoting at all, where each line is one row: what a column engine
    (polars) can read directly. National files written by programs are like this.
    (`Table.csv` describes any CSV file the same way, `quoted` saying whether it has quotes.)"""

    data: bytes  # the file in UTF-8, without a byte-order mark
    delimiter: str
    header_line: int  # line number of the header (1-based); data starts on the next line
    keys: list[str]  # the column key of each field of the header ("" for unknown columns)
    quoted: bool = False


@dataclass
class Table:
    columns: list[str]  # keys, in file order
    unknown_columns: list[str]
    rows: Iterator[tuple[int, dict[str, Any]]]  # (row number as a spreadsheet shows it, values)
    encoding: str | None = None
    plain: PlainCsv | None = None
    # any CSV file, quoted or not, described as `plain` is (its text decoded when called)
    csv: Callable[[], PlainCsv] | None = None
    # the file's own header of each column, in file order: (its text, the key or "")
    headers: list[tuple[str, str]] = field(default_factory=list)
    header_rows: tuple[int, int] = (1, 1)  # first and last row of the header
    # rows passed over while `rows` is read: {"row", "reason": blank|totals|signature|numbering}
    skipped: list[dict[str, Any]] = field(default_factory=list)

    @property
    def titles(self) -> dict[str, str]:
        """key -> the header the file gives it: messages name a column as the file does."""
        return {key: text for text, key in self.headers if key}


def file_error(code: str, message: str) -> ValidationFailed:
    return ValidationFailed(code, message)


def read_table(content: bytes, filename: str, headers: dict[str, str],
               required: tuple[str, ...], aliases: dict[str, str] | None = None,
               max_bytes: int = MAX_FILE_BYTES, mapping: dict[str, str] | None = None) -> Table:
    """`headers` maps keys to their Russian headers; either is accepted in the file, and so is
    any of the `aliases` (other ways people head the same column -> key). `mapping`: the
    file's own headers -> keys as a person mapped them by hand ("" to leave a column out)."""
    if not content:
        raise file_error("file_empty", "Файл пустой")
    if len(content) > max_bytes:
        raise file_error("file_too_large", f"Файл больше {max_bytes // 2**20} МБ: "
                                           "разделите его на части")
    source = None
    if sheets.is_spreadsheet(content, filename):
        head_rows = sheets.rows(content, filename)
        encoding = None
    else:
        source = _CsvFile(content)
        head_rows, encoding = source.rows(head=True), source.encoding
    lookup = {_norm(k): k for k in headers} | {_norm(v): k for k, v in headers.items()} | {
        _norm(a): k for a, k in (aliases or {}).items()}
    by_hand = {_norm(h): k for h, k in (mapping or {}).items()}
    head: list[tuple[int, list[Any]]] = []
    try:
        for number, values in head_rows:
            head.append((number, values))
            if len(head) > HEADER_SEARCH_ROWS:  # one more: the header's second row
                break
    except ValidationFailed:
        if source is None:
            raise  # (a CSV file's rows are read again, and a cut one reported, below)
    first_line, header_line, titles, columns = _find_header(head, lookup, by_hand,
                                                             len(required))
    unknown = [t for t, key in zip(titles, columns, strict=True) if not key and t]
    if not any(columns):
        hint = " Проверьте кодировку: ожидается UTF-8 или Windows-1251." if encoding else ""
        raise file_error("file_header",
                         f"В первых {HEADER_SEARCH_ROWS} строках файла не найдены заголовки "
                         "столбцов реестра." + hint)
    missing = [headers[k] for k in required if k not in columns]
    if missing:
        raise file_error("file_columns", "В файле нет обязательных столбцов: " + ", ".join(missing))
    doubled = sorted({k for k in columns if k and columns.count(k) > 1})
    if doubled:
        names = [f"«{t}»" for t, k in zip(titles, columns, strict=True) if k in doubled]
        raise file_error("file_columns", "Столбцы " + ", ".join(names) + " означают одно и то "
                         "же: укажите при проверке файла, какой из них загружать")

    known = [(i, key) for i, key in enumerate(columns) if key]
    width = len(columns)
    skipped: list[dict[str, Any]] = []
    raw_rows = itertools.chain(head, head_rows) if source is None else source.rows()

    def rows() -> Iterator[tuple[int, dict[str, Any]]]:
        for number, values in raw_rows:
            if number <= header_line:
                continue  # the title and the header (a CSV file's rows are read again)
            first = values[0] if values else None
            if not (type(first) is str and first.strip()) and \
                    all(v is None or str(v).strip() == "" for v in values):
                skipped.append({"row": number, "reason": "blank"})
                continue  # empty rows between blocks are common in hand-made sheets
            reason = skip_reason(values)
            if reason:
                skipped.append({"row": number, "reason": reason,
                                "text": " ".join(cell_text(v) for v in values if v)[:200]})
                continue
            if len(values) < width:
                if encoding is not None:
                    yield number, {"__truncated__": len(values)}
                    continue
                values = list(values) + [None] * (width - len(values))
            yield number, {key: values[i] for i, key in known}

    plain = csv_file = None
    if source is not None and source.plain():
        plain = PlainCsv(source.utf8(), source.delimiter, header_line, columns)
    if source is not None:
        def csv_file() -> PlainCsv:
            return plain or PlainCsv(source.utf8(), source.delimiter, header_line, columns,
                                     quoted=True)
    return Table(columns=[c for c in columns if c], unknown_columns=unknown, rows=rows(),
                 encoding=encoding, plain=plain, csv=csv_file,
                 headers=list(zip(titles, columns, strict=True)),
                 header_rows=(first_line, header_line), skipped=skipped)


# What chairs write under a list: totals and signatures, not people or organizations
TOTALS = re.compile(r"^(итого|всего)\b", re.IGNORECASE)
SIGNATURE = re.compile(r"^(председатель|руководитель|директор|заведующ|подпись|м\.\s?п\.?"
                       r"|исполнитель|составил|ответственный|главный бухгалтер|секретарь"
                       r"|дата составления)", re.IGNORECASE)
BLANKS = re.compile(r"_{3,}|/[^/]{2,}/")  # «____ /Г.А. Смирнова/»


def skip_reason(values: list[Any]) -> str | None:
    """Why a row below the header is not data (totals, a signature, the columns' numbers
    «1 2 3 …» under the header), or None."""
    texts = [cell_text(v) for v in values]
    filled = [t for t in texts if t]
    if not filled:
        return "blank"
    if len(filled) >= 3 and all(t.isdigit() for t in filled) and \
            [int(t) for t in filled] == list(range(int(filled[0]), int(filled[0]) + len(filled))):
        return "numbering"
    if len(filled) > 3:
        return None
    joined = " ".join(filled)
    if TOTALS.match(filled[0]) or (len(filled) > 1 and filled[0].isdigit()
                                   and TOTALS.match(filled[1])):
        return "totals"
    if SIGNATURE.match(filled[0]) or BLANKS.search(joined):
        return "signature"
    return None


def _header_of(top: list[Any] | None, bottom: list[Any], lookup: dict[str, str]
               ) -> tuple[list[str], list[str]]:
    """The titles and keys of a header in one row (`top` None) or wrapped over two: a group
    title merged over its columns above, or the second half of each title below."""
    width = max(len(bottom), len(top or []))
    titles, keys, carry = [], [], ""
    for j in range(width):
        b = cell_text(bottom[j]) if j < len(bottom) else ""
        t = cell_text(top[j]) if top is not None and j < len(top) else ""
        if t:
            carry = t
        elif not b:
            carry = ""
        up = t or (carry if b else "")
        candidates = [f"{up} {b}".strip(), b, up] if top is not None else [b]
        key = title = ""
        for text in candidates:
            if text and lookup.get(_norm(text)) is not None:
                key, title = lookup[_norm(text)], text
                break
        titles.append(" ".join(title.split()) or " ".join(f"{up} {b}".split()))
        keys.append(key)
    return titles, keys


def _find_header(head: list[tuple[int, list[Any]]], lookup: dict[str, str],
                 by_hand: dict[str, str], enough: int) -> tuple[int, int, list[str], list[str]]:
    """The header is the first row naming enough known columns: hand-made sheets often have a
    title or a date above it, and a header wrapped over two rows. Returns its first and last
    row numbers, its titles and their column keys."""
    if not head:
        raise file_error("file_empty", "Файл пустой")

    def known(keys: list[str]) -> int:
        return sum(1 for k in keys if k)

    def read(top, bottom) -> tuple[list[str], list[str]]:
        titles, keys = _header_of(top, bottom, lookup)
        for j, t in enumerate(titles):  # mapped by hand: the person knows best
            if _norm(t) in by_hand:
                keys[j] = by_hand[_norm(t)]
        return titles, keys

    best = None
    for i, (number, values) in enumerate(head[:HEADER_SEARCH_ROWS]):
        titles, keys = read(None, values)
        if known(keys) >= max(enough, 2):
            if i + 1 < len(head):
                below = read(values, head[i + 1][1])
                if known(below[1]) > known(keys):
                    return number, head[i + 1][0], *below
            if i > 0:
                above = read(head[i - 1][1], values)
                if known(above[1]) > known(keys):
                    return head[i - 1][0], number, *above
            return number, number, titles, keys
        if best is None or known(keys) > known(best[3]):
            best = (number, number, titles, keys)
    return best


def _decode(content: bytes) -> tuple[str, str]:
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        return content.decode("utf-16"), "utf-16"
    body = content[3:] if content.startswith(b"\xef\xbb\xbf") else content  # Excel's BOM
    try:
        return body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        if exc.reason == "unexpected end of data":
            # cut in the middle of a letter: keep what is whole, the short last row is reported
            return body[: exc.start].decode("utf-8"), "utf-8"
    try:
        text = content.decode("cp1251")
    except UnicodeDecodeError:
        raise file_error("file_encoding",
                         "Не удалось прочитать файл: ожидается кодировка UTF-8 или Windows-1251"
                         ) from None
    return text, "cp1251"


class _CsvFile:
    """A CSV file whose head is read at once (header, delimiter, encoding) and whose whole text
    is decoded only when its rows are read: a national file of gigabytes read column-wise goes
    to polars as the bytes it is, without a decoded copy."""

    def __init__(self, content: bytes) -> None:
        self.content = content
        self.utf16 = content.startswith((b"\xff\xfe", b"\xfe\xff"))
        self.body = content[3:] if content.startswith(b"\xef\xbb\xbf") else content
        self._text: str | None = None
        head = self.body[:HEAD_BYTES]
        if self.utf16 or len(self.body) <= HEAD_BYTES or b"\n" not in head:
            self.head, self.encoding = self.text, self._encoding  # small: decoded whole
        else:
            head = head[: head.rindex(b"\n") + 1]
            try:
                self.head, self.encoding = head.decode("utf-8"), "utf-8"
            except UnicodeDecodeError:
                self.head, self.encoding = head.decode("cp1251"), "cp1251"
            if b"\x00" in self.body:
                raise file_error("file_format", "Файл не похож на CSV или XLSX")
        self.delimiter = max((";", ",", "\t"), key=self.head[:20_000].count)

    @property
    def text(self) -> str:
        if self._text is None:
            self._text, self._encoding = _decode(self.content)
            if "\x00" in self._text:
                raise file_error("file_format", "Файл не похож на CSV или XLSX")
        return self._text

    def plain(self) -> bool:
        """No quoting and one row per line: fit for polars."""
        body = self.body
        return not self.utf16 and b'"' not in body and body.count(b"\r") == body.count(b"\r\n")

    def utf8(self) -> bytes:
        """The body in UTF-8. A head in Cyrillic that reads as UTF-8 settles the encoding (text
        in Windows-1251 almost never does); polars checks the rest as it reads it."""
        if self.encoding == "utf-8" and not self.head.isascii():
            return self.body
        return self.text.encode("utf-8")

    def rows(self, head: bool = False) -> Iterator[tuple[int, list[Any]]]:
        reader = csv.reader(io.StringIO(self.head if head else self.text, newline=""),
                            delimiter=self.delimiter, strict=True)
        try:
            # by record, not by line: a header cell wrapped over lines is still one row
            yield from enumerate(reader, start=1)
        except csv.Error:
            raise file_error("file_truncated",
                             f"Файл CSV повреждён или обрезан около строки {reader.line_num}"
                             ) from None


# ---- cell values -------------------------------------------------------------------------------

def cell_text(value: Any) -> str:
    if type(value) is str:  # the common case first: this runs for every cell of a national load
        return value.strip()
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # 7707083893 typed into Excel comes back as a float
    return str(value).strip()


def cell_date(value: Any) -> date | None:
    """A date from an Excel date cell, an Excel serial number, ДД.ММ.ГГГГ or ГГГГ-ММ-ДД."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int | float):
        from openpyxl.utils.datetime import from_excel

        return from_excel(value).date()
    text = str(value).strip()
    if len(text) == 10 and text[2] == "." and text[5] == ".":  # ДД.ММ.ГГГГ, without strptime
        return date(int(text[6:]), int(text[3:5]), int(text[:2]))
    for fmt in ("%d.%m.%Y", "%Y-%m-%d", "%d.%m.%y", "%d/%m/%Y"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    if text.isdigit():
        from openpyxl.utils.datetime import from_excel

        return from_excel(int(text)).date()
    raise ValueError(text)


def safe_cell(value: Any) -> Any:
    """No formula injection in what we write: text a spreadsheet would run as a formula stays
    text."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
