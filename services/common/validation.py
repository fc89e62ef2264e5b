"""Turning pydantic's validation errors into Russian messages people can act on."""

from pydantic import ValidationError
from pydantic_core import PydanticCustomError

from services.common.errors import field_error
from services.common.identifiers import IdentifierError

MESSAGES = {
    "missing": "Обязательное поле не заполнено",
    "string_too_short": "Поле не может быть пустым",
    "string_too_long": "Слишком длинное значение",
    "date_parsing": "Дата не распознана: ожидается ДД.ММ.ГГГГ",
    "date_from_datetime_parsing": "Дата не распознана: ожидается ДД.ММ.ГГГГ",
    "date_type": "Дата не распознана: ожидается ДД.ММ.ГГГГ",
    "bool_parsing": "Ожидается «да» или «нет»",
    "bool_type": "Ожидается «да» или «нет»",
    "int_parsing": "Ожидается целое число",
    "int_type": "Ожидается целое число",
    "enum": "Недопустимое значение",
    "literal_error": "Недопустимое значение",
    "value_error": "Недопустимое значение",
    "string_pattern_mismatch": "Значение в неверном формате",
    "extra_forbidden": "Неизвестное поле",
    "model_type": "Ожидается объект",
    "list_type": "Ожидается список",
    "string_type": "Ожидается строка",
}


def from_identifier(exc: IdentifierError) -> PydanticCustomError:
    """Raise inside a pydantic validator so the code and the Russian message survive."""
    return PydanticCustomError(exc.code, exc.message)


def russian_errors(exc: ValidationError, prefix: str = "") -> list[dict[str, str]]:
    out = []
    for err in exc.errors():
        field = ".".join(str(p) for p in (prefix, *err["loc"]) if p != "")
        code = err["type"]
        message = MESSAGES.get(code) or err["msg"]
        out.append(field_error(field, code, message))
    return out
