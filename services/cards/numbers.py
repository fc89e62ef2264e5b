"""Card numbers: sixteen digits, unique and never reused.

    PP RR SSSSSSSSSSS C
    77 59 00000012345 6

- PP: the union's issuer prefix (`CARD_PREFIX`, two digits);
- RR: the region's code, the first two digits of its registry number («59» for Пермская);
- S: eleven digits from one PostgreSQL sequence for the whole union (a sequence never hands out
  a value twice, even when the transaction that took it rolls back, so a number is never reused);
- C: the Luhn check digit over the fifteen before it (python-stdnum), which catches a mistyped
  digit and any swap of two neighbouring digits.
"""

import re

from stdnum import luhn

SEQUENCE_DIGITS = 11
NUMBER = re.compile(r"^[0-9]{16}$")


def region_code(registry_number: str | None) -> str:
    """The region's two digits from an organization's registry number («59-П-00012» → «59»)."""
    digits = re.match(r"\s*([0-9]{2})", registry_number or "")
    return digits.group(1) if digits else "00"


def compose(prefix: str, region: str, sequence: int) -> str:
    body = f"{prefix:0>2}"[:2] + f"{region:0>2}"[:2] + f"{sequence:0{SEQUENCE_DIGITS}d}"
    if len(body) != 15:
        raise ValueError(f"card sequence {sequence} does not fit {SEQUENCE_DIGITS} digits")
    return body + luhn.calc_check_digit(body)


def is_valid(number: str) -> bool:
    return bool(NUMBER.match(number)) and luhn.is_valid(number)


def normalize(number: str) -> str:
    """As people type it: spaces and dashes between groups of digits are dropped."""
    return re.sub(r"[\s-]", "", number or "")
