"""Spreadsheets (.xlsx, .xls, .ods) read by one reader, python-calamine, into numbered rows.

Chairs make their lists in Excel or LibreOffice and save them in whichever format the program
offers; one well-kept reader (Rust, no per-format code of ours) reads all three. Rows are
numbered as the spreadsheet shows them, empty leading rows included.
"""

import io
import zipfile
from collections.abc import Iterator
from typing import Any

from python_calamine import CalamineError, CalamineWorkbook

from services.common.errors import ValidationFailed

# A spreadsheet zip (XLSX, ODS) packs XML about ten to one. What claims to inflate far more is
# a zip bomb: refused from the sizes its directory declares, before anything is inflated.
MAX_INFLATED = 2 * 1024**3
MAX_PART_RATIO, RATIO_FROM_BYTES = 100, 50 * 1024**2

OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls (Excel 97–2003)
ZIP = b"PK\x03\x04"
SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods")


def is_spreadsheet(content: bytes, filename: str) -> bool:
    return content.startswith((ZIP, OLE2)) or filename.lower().endswith(SUFFIXES)


def kind(content: bytes, filename: str) -> str:
    """The format's name as a chair knows it, for messages."""
    if content.startswith(OLE2) or filename.lower().endswith(".xls"):
        return "XLS"
    if filename.lower().endswith(".ods") or b"application/vnd.oasis.opendocument" in content[:100]:
        return "ODS"
    return "XLSX"


def _broken(content: bytes, filename: str) -> ValidationFailed:
    return ValidationFailed(
        "file_truncated", f"Файл {kind(content, filename)} повреждён или обрезан: откройте "
        "его в Excel или LibreOffice и сохраните заново (или сохраните как CSV)")


def refuse_bomb(content: bytes) -> None:
    try:
        parts = zipfile.ZipFile(io.BytesIO(content)).infolist()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        return  # not a zip at all: the reader says so below
    inflated = sum(p.file_size for p in parts)
    if inflated > MAX_INFLATED or any(
            p.file_size > RATIO_FROM_BYTES and p.file_size > MAX_PART_RATIO * p.compress_size
            for p in parts):
        raise ValidationFailed(
            "file_bomb", f"Файл распаковывается в {inflated // 2**20} МБ — так таблицы не "
            "сжимаются; сохраните таблицу заново или пришлите CSV")


def _value(v: Any) -> Any:
    """Empty cells as None, whole numbers as int (a SNILS or an INN typed as a number)."""
    if v == "":
        return None
    if type(v) is float and v.is_integer():
        return int(v)
    return v


def rows(content: bytes, filename: str) -> Iterator[tuple[int, list[Any]]]:
    """(row number as the spreadsheet shows it, values) of the first sheet."""
    if content.startswith(ZIP):
        refuse_bomb(content)
    try:
        book = CalamineWorkbook.from_filelike(io.BytesIO(content))
        sheet = book.get_sheet_by_index(0)
        it = sheet.iter_rows()
    except (CalamineError, ValueError, OSError, IndexError, Exception) as exc:
        if isinstance(exc, ValidationFailed):
            raise
        raise _broken(content, filename) from None

    def numbered() -> Iterator[tuple[int, list[Any]]]:
        try:
            for number, values in enumerate(it, start=1):
                yield number, [_value(v) for v in values]
        except (CalamineError, ValueError, OSError):
            raise _broken(content, filename) from None
        finally:
            book.close()

    return numbered()
