"""Reading operators' spreadsheets (XLSX) and CSV files into rows keyed by column keys.

Shared by every bulk load. Files come from people: Excel or LibreOffice, UTF-8 or Windows-1251,
comma or semicolon, dates as Excel dates or ДД.ММ.ГГГГ. Whatever cannot be read at all is a
file-level error with a Russian message; cell-level problems are left to the caller's row checks.
"""

import csv
import io
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from services.common.errors import ValidationFailed

MAX_FILE_BYTES = 200 * 1024 * 1024
# An XLSX is a zip of XML, which packs about ten to one. What claims to inflate far more is a
# zip bomb: refused from the sizes its directory declares (zipfile never inflates a part past
# its declared size, so a lie there ends as a checksum error, not as memory).
MAX_XLSX_INFLATED = 2 * 1024**3
MAX_PART_RATIO, RATIO_FROM_BYTES = 100, 50 * 1024**2
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


def file_error(code: str, message: str) -> ValidationFailed:
    return ValidationFailed(code, message)


def read_table(content: bytes, filename: str, headers: dict[str, str],
               required: tuple[str, ...], aliases: dict[str, str] | None = None,
               max_bytes: int = MAX_FILE_BYTES) -> Table:
    """`headers` maps keys to their Russian headers; either is accepted in the file, and so is
    any of the `aliases` (other ways people head the same column -> key)."""
    if not content:
        raise file_error("file_empty", "Файл пустой")
    if len(content) > max_bytes:
        raise file_error("file_too_large", f"Файл больше {max_bytes // 2**20} МБ: "
                                           "разделите его на части")
    source = None
    if content[:4] == b"PK\x03\x04" or filename.lower().endswith((".xlsx", ".xlsm")):
        raw_rows = head_rows = _xlsx_rows(content)
        encoding = None
    else:
        source = _CsvFile(content)
        head_rows, raw_rows, encoding = source.rows(head=True), source.rows(), source.encoding
    lookup = {_norm(k): k for k in headers} | {_norm(v): k for k, v in headers.items()} | {
        _norm(a): k for a, k in (aliases or {}).items()}
    header_line, raw_header, columns = _find_header(head_rows, lookup, len(required))
    unknown = [str(h) for h, key in zip(raw_header, columns, strict=True) if not key and h]
    if not any(columns):
        hint = " Проверьте кодировку: ожидается UTF-8 или Windows-1251." if encoding else ""
        raise file_error("file_header",
                         f"В первых {HEADER_SEARCH_ROWS} строках файла не найдены заголовки "
                         "столбцов реестра." + hint)
    missing = [headers[k] for k in required if k not in columns]
    if missing:
        raise file_error("file_columns", "В файле нет обязательных столбцов: " + ", ".join(missing))

    known = [(i, key) for i, key in enumerate(columns) if key]
    width = len(columns)

    def rows() -> Iterator[tuple[int, dict[str, Any]]]:
        for number, values in raw_rows:
            if number <= header_line:
                continue  # (a CSV file's rows are read again from its start)
            first = values[0] if values else None
            if not (type(first) is str and first.strip()) and \
                    all(v is None or str(v).strip() == "" for v in values):
                continue  # empty rows between blocks are common in hand-made sheets
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
                 encoding=encoding, plain=plain, csv=csv_file)


def _find_header(raw_rows: Iterator[tuple[int, list[Any]]], lookup: dict[str, str],
                 enough: int) -> tuple[int, list[Any], list[str]]:
    """The header is the first row naming enough known columns: hand-made sheets often have a
    title or a date above it. Rows before it are skipped; returns its number, itself and its
    column keys."""
    best: tuple[int, list[Any], list[str]] | None = None
    for number, values in raw_rows:
        columns = [lookup.get(_norm(v), "") for v in values]
        known = sum(1 for c in columns if c)
        if known >= max(enough, 2):
            return number, list(values), columns
        if best is None or known > sum(1 for c in best[2] if c):
            best = (number, list(values), columns)
        if number >= HEADER_SEARCH_ROWS:
            break
    if best is None:
        raise file_error("file_empty", "Файл пустой")
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
            for values in reader:
                yield reader.line_num, values
        except csv.Error:
            raise file_error("file_truncated",
                             f"Файл CSV повреждён или обрезан около строки {reader.line_num}"
                             ) from None


def _refuse_bomb(content: bytes) -> None:
    try:
        parts = zipfile.ZipFile(io.BytesIO(content)).infolist()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        return  # not a zip at all: openpyxl says so in its own words below
    inflated = sum(p.file_size for p in parts)
    if inflated > MAX_XLSX_INFLATED or any(
            p.file_size > RATIO_FROM_BYTES and p.file_size > MAX_PART_RATIO * p.compress_size
            for p in parts):
        raise file_error("file_bomb", f"Файл XLSX распаковывается в {inflated // 2**20} МБ — "
                         "так таблицы не сжимаются; сохраните таблицу заново или пришлите CSV")


def _xlsx_rows(content: bytes) -> Iterator[tuple[int, list[Any]]]:
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    _refuse_bomb(content)
    try:
        book = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        it = book.worksheets[0].iter_rows(values_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, EOFError, ValueError,
            IndexError):
        raise file_error("file_truncated",
                         "Файл XLSX повреждён или обрезан: откройте и сохраните его заново"
                         ) from None

    def rows() -> Iterator[tuple[int, list[Any]]]:
        try:
            for number, values in enumerate(it, start=1):
                yield number, list(values)
        except (zipfile.BadZipFile, KeyError, OSError, EOFError, ValueError):
            raise file_error("file_truncated",
                             "Файл XLSX повреждён или обрезан: откройте и сохраните его заново"
                             ) from None
        finally:
            book.close()

    return rows()


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
