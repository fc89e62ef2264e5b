"""The member card's rules, without a database."""

from datetime import date

import pytest

from services.common.identifiers import IdentifierError, check_snils, snils_check_digits
from services.membership.card import CardErrors, check_card, person_key
from tests.factories import card

TODAY = date(2026, 11, 28)


@pytest.mark.parametrize("number, check", [
    ("112233445", "95"),   # the Pension Fund's own example
    ("087654303", "00"),   # a sum of exactly 101
    ("001001999", snils_check_digits("001001999")),
])
def test_snils_check_digits(number, check):
    assert snils_check_digits(number) == check


def test_snils_formats_and_old_numbers():
    assert check_snils("112-233-445 95") == "11223344595"
    assert check_snils(" 11223344595 ") == "11223344595"
    assert check_snils("001-001-997 12") == "00100199712"  # issued before check digits
    with pytest.raises(IdentifierError) as exc:
        check_snils("112-233-445 96")
    assert exc.value.code == "snils_checksum"
    with pytest.raises(IdentifierError) as exc:
        check_snils("1122334459")
    assert exc.value.code == "snils_format"


def test_a_good_card_is_cleaned():
    raw = card(1, surname="  Иванова  ", email="M1@Example.RU", category="работающий",
               job_category="учитель", sex="ж", birth_date="15.03.1961")
    clean = check_card(raw, TODAY)
    assert clean["surname"] == "Иванова" and clean["email"] == "m1@example.ru"
    assert clean["category"] == "working" and clean["job_category"] == "teacher"
    assert clean["sex"] == "female" and clean["birth_date"] == date(1961, 3, 15)


def errors_of(raw) -> dict[str, str]:
    with pytest.raises(CardErrors) as exc:
        check_card(raw, TODAY)
    return {e["field"]: e["code"] for e in exc.value.errors}


def test_every_bad_field_is_named_at_once():
    got = errors_of(card(1, surname="", snils="11223344596", birth_date="2030-01-01",
                         pd_consent_on=None, email="nope", card_number="123"))
    assert got == {"surname": "missing", "snils": "snils_checksum",
                   "birth_date": "date_in_future", "pd_consent_on": "consent_required",
                   "email": "email_format", "card_number": "card_format"}


@pytest.mark.parametrize("fields, field, code", [
    ({"birth_date": "2015-01-01"}, "birth_date", "too_young"),
    ({"birth_date": "1900-01-01"}, "birth_date", "too_old"),
    ({"joined_on": "1985-01-01"}, "joined_on", "date_too_early"),
    ({"birth_date": "2000-01-01", "joined_on": "2010-01-01"}, "joined_on", "too_young"),
    ({"category": "student", "job_category": "teacher"}, "job_category", "job_without_work"),
    ({"email_consent": True, "email": None}, "email_consent", "email_missing"),
    ({"sex": "другой"}, "sex", "enum"),
    ({"surname": "Иванов1"}, "surname", "name_format"),
])
def test_rules(fields, field, code):
    assert errors_of(card(1, **fields)).get(field) == code


def test_person_key_ignores_case_spaces_and_yo():
    assert person_key("Королёва", "Анна ", None, date(1990, 1, 2)) == \
        person_key("королева", "анна", "", date(1990, 1, 2))
