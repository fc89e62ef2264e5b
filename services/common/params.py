"""Parsing the plain values an RPC receives (ids, dates, moments), with Russian errors."""

from datetime import date, datetime
from typing import Any

from services.common.errors import ValidationFailed, field_error


def parse_id(value: Any, field: str, what: str = "Идентификатор") -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValidationFailed(details=[field_error(
            field, "id_format", f"{what} — целое число")]) from None


def parse_day(value: Any, field: str) -> date:
    try:
        return date.fromisoformat(str(value))
    except (TypeError, ValueError):
        raise ValidationFailed(details=[field_error(
            field, "date_parsing", "Дата не распознана: ожидается ГГГГ-ММ-ДД")]) from None


def parse_moment(value: str | None, field: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValidationFailed(details=[field_error(
            field, "datetime_parsing", "Момент времени: ГГГГ-ММ-ДДTЧЧ:ММ")]) from None
