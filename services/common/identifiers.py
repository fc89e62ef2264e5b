"""Checks of Russian identifiers (INN, OGRN) with python-stdnum, raising Russian messages.

The format is checked here and the check digit computed by python-stdnum's own functions: its
`validate` also normalizes input through a slow generic cleaner, which dominated national loads.
"""

from operator import mul

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


SNILS_WEIGHTS = (9, 8, 7, 6, 5, 4, 3, 2, 1)


def snils_check_digits(number: str) -> str:
    """The two check digits of a SNILS from its first nine digits.

    python-stdnum has no SNILS module; the rule (Pension Fund of Russia): the digits weighted
    9 … 1 are summed; below 100 the sum is the check number, 100 and 101 give 00, above 101 the
    remainder of division by 101 (100 again giving 00).
    """
    total = sum(map(mul, map(int, number[:9]), SNILS_WEIGHTS))
    if total > 101:
        total %= 101
    return "00" if total in (100, 101) else f"{total:02d}"


def check_snils(value: str) -> str:
    """SNILS as 11 digits; written as 123-456-789 01 or with no separators.

    Numbers up to 001-001-998 were issued before check digits existed and carry none to check.
    """
    digits = value.replace("-", "").replace(" ", "").strip()
    if not (len(digits) == 11 and digits.isdigit() and digits.isascii()):
        raise IdentifierError("snils_format", "СНИЛС — 11 цифр, например 112-233-445 95")
    if digits[:9] > "001001998" and snils_check_digits(digits) != digits[9:]:
        raise IdentifierError("snils_checksum",
                              "СНИЛС введён с ошибкой: не сходятся контрольные цифры")
    return digits


# Latin letters that look like Cyrillic ones, as a registry number typed on the wrong keyboard
# layout has them («41-P-00004» with a Latin P), and Cyrillic lower case, to Cyrillic upper case
LOOKALIKE_FROM = "ABCEHKMOPTXYaceopxyk" + "абвгдеёжзийклмнопрстуфхцчшщъыьэюя"
LOOKALIKE_TO = "АВСЕНКМОРТХУАСЕОРХУК" + "АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ"
REGISTRY_KEY = str.maketrans(LOOKALIKE_FROM, LOOKALIKE_TO)


def registry_key(number: str | None) -> str:
    """A registry number as it is matched: case and Latin look-alike letters ignored, spaces
    around removed. «41-p-00004», «41-P-00004» (Latin) and «41-П-00004» are the same."""
    return (number or "").strip().translate(REGISTRY_KEY).upper()
