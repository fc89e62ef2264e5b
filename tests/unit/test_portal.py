"""The portal's pure parts: form fields to service dictionaries, passport gaps, sealed cookies,
safe redirects, the menu by role, and messages by field."""

from datetime import date

import pytest
from werkzeug.datastructures import MultiDict

from gateway.portal import forms, gaps, nav
from gateway.portal.session import HOME, Box, safe_next
from gateway.portal.web import field_errors
from gateway.portal.words import ru_date as _ru_date
from services.common.caller import Caller
from services.common.errors import ValidationFailed, field_error


def test_section_is_none_when_nothing_typed_and_flags_become_booleans():
    form = MultiDict({"chair.surname": " Петрова ", "chair.first_name": "Анна",
                      "chair.email_consent": "on", "chair.phone": ""})
    chair = forms.section(form, "chair", ("surname", "first_name", "phone"),
                          flags=("email_consent",))
    assert chair == {"surname": "Петрова", "first_name": "Анна", "phone": None,
                     "email_consent": True}
    assert forms.section(MultiDict({"chair.surname": "  "}), "chair", ("surname",)) is None


def test_rows_keep_order_and_drop_rows_without_their_key():
    form = MultiDict({"staff.10.full_name": "Третий", "staff.2.full_name": "Второй",
                      "staff.2.position": "treasurer", "staff.0.full_name": "",
                      "staff.0.position": "deputy_chair", "staff.x.full_name": "мусор"})
    rows = forms.rows(form, "staff", ("full_name", "position"), key="full_name")
    assert rows == [{"full_name": "Второй", "position": "treasurer"},
                    {"full_name": "Третий", "position": None}]


def test_flatten_gives_the_names_forms_use():
    values = forms.flatten({"name": "ППО", "legal_entity": True, "ogrn": None,
                            "territorial_rights": False,
                            "chair": {"surname": "Иванова", "email_consent": False},
                            "staff": [{"full_name": "А", "position": "treasurer"}]})
    assert values == {"name": "ППО", "legal_entity": "on", "chair.surname": "Иванова",
                      "staff.0.full_name": "А", "staff.0.position": "treasurer"}


def primary(**fields):
    return {"level": "primary", "included_on": "2020-01-01", "excluded_on": None,
            "chair": {"surname": "И", "first_name": "А", "email": "a@b.ru",
                      "term_until": "2027-01-01"},
            "education": {"name": "Школа", "type": "school", "inn": "5900000017"}, **fields}


def test_gaps_name_what_the_monitoring_counts():
    today = date(2026, 11, 28)
    assert gaps.missing(primary(), today) == []
    texts = [g["text"] for g in gaps.missing(primary(chair=None, education={
        "name": "Школа", "type": "school", "inn": None}), today)]
    assert texts == ["Не указан председатель", "Не указан ИНН образовательной организации"]
    expired = gaps.missing(primary(chair={"surname": "И", "first_name": "А", "email": None,
                                          "term_until": "2025-05-01"}), today)
    assert [g["tab"] for g in expired] == ["chair", "chair"]
    assert "истёк" in expired[0]["text"]
    # only a primary has an education organization; an excluded one has no to-do list
    assert gaps.missing(primary(level="territorial", education=None), today) == []
    assert gaps.missing(primary(chair=None, excluded_on="2026-01-01"), today) == []


def test_sealed_cookie_opens_only_unaltered_and_in_time():
    box = Box("secret-1")
    sealed = box.seal({"path": "/portal/x", "fields": {"surname": "Орлова"}})
    assert "Орлова" not in sealed
    assert box.open(sealed) == {"path": "/portal/x", "fields": {"surname": "Орлова"}}
    assert box.open(sealed[:-3] + "AAA") is None
    assert Box("secret-2").open(sealed) is None
    assert box.open(sealed, ttl=-1) is None
    assert box.open(None) is None and box.open("not a token") is None


@pytest.mark.parametrize("target, expected", [
    ("/portal/org/5?q=1", "/portal/org/5?q=1"), ("//evil.example/", HOME),
    ("https://evil.example/", HOME), ("/\\evil.example", HOME), (None, HOME), ("", HOME),
    ("/\t/evil.example", HOME), ("/\n/evil.example", HOME), ("/ /evil.example", HOME),
    ("javascript:alert(1)", HOME),
    ("/portal/members?q=Иванов", "/portal/members?q=%D0%98%D0%B2%D0%B0%D0%BD%D0%BE%D0%B2")])
def test_next_stays_on_this_site(target, expected):
    assert safe_next(target) == expected


def test_menu_by_role():
    assert [e.title for e in nav.entries(None)] == ["Вступить в Профсоюз"]
    chair = [e.title for e in nav.entries(Caller("c", roles=("chair",), org_ids=(5,)))]
    assert chair[:6] == ["Главная", "Члены Профсоюза", "Заявления", "Билеты", "Переводы",
                         "Отчёты"]
    assert "Личный кабинет" not in chair
    member = [e.title for e in nav.entries(Caller("m", roles=("member",)))]
    assert member == ["Личный кабинет", "Мои рассылки", "Мероприятия", "Библиотека"]


def test_field_errors_put_each_message_by_its_field():
    exc = ValidationFailed(details=[field_error("chair.email", "email_format", "Неверный e-mail"),
                                    field_error("", "legal_entity_ids", "Нужны ОГРН и ИНН"),
                                    field_error("chair.email", "other", "второе сообщение")])
    assert field_errors(exc) == {"chair.email": "Неверный e-mail", "_form": "Нужны ОГРН и ИНН"}
    assert field_errors(ValidationFailed("x", "Общая ошибка")) == {"_form": "Общая ошибка"}


def test_dates_in_russian_order():
    assert _ru_date("2024-01-10") == "10.01.2024"
    assert _ru_date("2026-11-28T07:04:05.123+00:00") == "28.11.2026 07:04"
    assert _ru_date(None) == "" and _ru_date("нет") == "нет"
