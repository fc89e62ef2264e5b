"""The portal's Russian: plural forms and numbers by Babel's CLDR rules, gendered words,
SNILS and card numbers grouped, history values as the form shows them, search spellings."""

from gateway.portal.words import (
    by_sex,
    card_number,
    count,
    history_value,
    number,
    percent,
    plural,
    roles,
    snils,
)
from services.membership.applications import _join_words
from services.membership.lists import Filters, _e_variants


def test_plural_forms_follow_cldr():
    forms = ("заявление", "заявления", "заявлений")
    assert [plural(n, *forms) for n in (1, 2, 5, 11, 21, 22, 25, 111, 0)] == [
        "заявление", "заявления", "заявлений", "заявлений", "заявление", "заявления",
        "заявлений", "заявлений", "заявлений"]
    assert count(94, "член", "члена", "членов") == "94 члена"
    assert count(12345, "карта", "карты", "карт") == "12\u00a0345 карт"


def test_numbers_and_percent():
    assert number(1234567) == "1\u00a0234\u00a0567"
    assert number(None) == ""
    assert percent(0) == "0\u00a0%"
    assert percent(0.125) == "12,5\u00a0%"
    assert percent(1) == "100\u00a0%"
    assert percent(None) == "—"


def test_gendered_words_and_roles():
    assert by_sex("female", "Переведён", "Переведена") == "Переведена"
    assert by_sex("male", "Переведён", "Переведена") == "Переведён"
    assert by_sex(None, "снят", "снята") == "снят(а)"
    assert roles(["regional_staff"]) == "аппарат региональной организации"
    assert roles(["chair", "member"]) == "председатель, член Профсоюза"


def test_identifiers_as_people_write_them():
    assert snils("12345678901") == "123-456-789 01"
    assert snils("bad") == "bad"
    assert card_number("5901000000000017") == "5901 0000 0000 0017"


def test_history_values_in_the_forms_words():
    titles = {"removal_reason": {"own_will": "по собственному желанию"}}
    orgs = {"281": "ППО СОШ № 1 (рег. № 59-001)"}
    assert history_value("email_consent", True, titles, orgs) == "Да"
    assert history_value("email_consent", False, titles, orgs) == "Нет"
    assert history_value("removal_reason", "own_will", titles, orgs) == "по собственному желанию"
    assert history_value("removed_on", "2026-12-02", titles, orgs) == "02.12.2026"
    assert history_value("org_id", 281, titles, orgs) == "ППО СОШ № 1 (рег. № 59-001)"
    assert history_value("removed_on", None, titles, orgs) == "—"


def test_search_spellings():
    assert set(_e_variants("Елкина")) == {"елкина", "ёлкина"}
    assert Filters.parse({"q": "123-456-789 01"}).snils == "12345678901"
    assert Filters.parse({"q": "№ 5901 0000"}).card_number == "59010000"
    first = Filters.parse({"q": "Мария"}).other_way()
    assert first is not None and first.first_name == "Мария" and not first.surname
    assert _join_words("СОШ № 1") == _join_words("сош №1") == "сош №1"
    assert _join_words("школа N 12") == "школа №12"
