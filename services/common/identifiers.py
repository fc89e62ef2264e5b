"""Checks of Russian identifiers (INN, OGRN) with python-stdnum, raising Russian messages.

The format is checked here and the check digit computed by python-stdnum's own functions: its
`validate` also normalizes input through a slow generic cleaner, which dominated national loads.
"""

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
    if not (value.isdigit() and value.isascii() and len(value) == 10):
        raise IdentifierError("inn_format", "ИНН юридического лица — 10 цифр")
    if stdnum_inn.calc_company_check_digit(value[:9]) != value[9]:
        raise IdentifierError("inn_checksum", "ИНН введён с ошибкой: не сходится контрольная цифра")
    return value


def check_ogrn(value: str) -> str:
    """OGRN of a legal entity: thirteen digits with a check digit."""
    value = _digits(value)
    if not (value.isdigit() and value.isascii() and len(value) == 13) or value[0] == "0":
        raise IdentifierError("ogrn_format", "ОГРН юридического лица — 13 цифр")
    if stdnum_ogrn.calc_check_digit(value) != value[12]:
        raise IdentifierError("ogrn_checksum",
                              "ОГРН введён с ошибкой: не сходится контрольная цифра")
    return value
