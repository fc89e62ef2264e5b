"""What a file is, by its content: the first bytes (magic numbers, and for the Office formats the
parts inside the zip), read with `filetype`; the name a person gave it decides nothing."""

from pathlib import PurePath

import filetype

from services.common.errors import ValidationFailed, field_error
from services.library.contract import FILE_TYPES, KINDS

SNIFF_BYTES = 8192
TYPE_TITLES = {"pdf": "PDF", "docx": "DOCX (Word)", "xlsx": "XLSX (Excel)",
               "pptx": "PPTX (PowerPoint)", "mp4": "MP4", "webm": "WebM", "mkv": "MKV",
               "mov": "MOV"}


def sniff(head: bytes) -> str | None:
    """The file's type as its content shows it (`pdf`, `docx`, `mp4` …), or None."""
    if not head:
        return None
    found = filetype.guess(head)
    return found.extension if found else None


def check_type(kind: str, head: bytes, filename: str) -> tuple[str, str]:
    """(extension, media type) of an upload for a material of `kind`, or a Russian refusal: a
    type this kind does not take, or a name that promises one type over content of another."""
    allowed = FILE_TYPES.get(kind, {})
    titles = ", ".join(TYPE_TITLES[t] for t in allowed)
    if not head:
        raise ValidationFailed("file_empty", "Файл пуст", [field_error(
            "file", "file_empty", "Файл пуст: выберите файл с содержимым")])
    actual = sniff(head)
    named = PurePath(filename or "").suffix.lower().lstrip(".")
    if actual not in allowed:
        what = TYPE_TITLES.get(actual or "", "неизвестного типа")
        raise ValidationFailed("file_type", "Тип файла не подходит", [field_error(
            "file", "file_type",
            f"Содержимое файла — {what}; для материала «{KINDS[kind]}» подходят: {titles}")])
    if named and named != actual and named in TYPE_TITLES:
        raise ValidationFailed("file_type_mismatch", "Содержимое не совпадает с типом файла",
                               [field_error("file", "file_type_mismatch",
                                            f"Файл назван как {TYPE_TITLES[named]}, а по "
                                            f"содержимому это {TYPE_TITLES[actual]}")])
    return actual, allowed[actual]
