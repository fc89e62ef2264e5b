"""Checks of Russian identifiers (INN, OGRN) with python-stdnum, raising Russian messages."""

from stdnum.exceptions import InvalidChecksum, InvalidLength, ValidationError
from stdnum.ru import inn as stdnum_inn
from stdnum.ru import ogrn as stdnum_ogrn


class IdentifierError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _digits(value: str) -> str:
    return value.strip().replace(" ", "")


def check_company_inn(value: str) -> str:
    """A legal entity's INN: ten digits with a check digit."""
    value = _digits(value)
    if not value.isdigit() or len(value) != 10:
        raise IdentifierError("inn_format", "ИНН юридического лица — 10 цифр")
    try:
        stdnum_inn.validate(value)
    except InvalidChecksum:
        raise IdentifierError("inn_checksum", "ИНН введён с ошибкой: не сходится контрольная цифра")
    except ValidationError:
        raise IdentifierError("inn_format", "ИНН юридического лица — 10 цифр")
    return value


def check_ogrn(value: str) -> str:
    """OGRN of a legal entity: thirteen digits with a check digit."""
    value = _digits(value)
    if not value.isdigit() or len(value) != 13:
        raise IdentifierError("ogrn_format", "ОГРН юридического лица — 13 цифр")
    try:
        stdnum_ogrn.validate(value)
    except InvalidChecksum:
        raise IdentifierError("ogrn_checksum",
                              "ОГРН введён с ошибкой: не сходится контрольная цифра")
    except (InvalidLength, ValidationError):
        raise IdentifierError("ogrn_format", "ОГРН юридического лица — 13 цифр")
    return value
