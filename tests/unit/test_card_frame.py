"""The column-wise checks of national files (card_frame) give the answers of check_card: a row
they accept, check_card accepts with the same values; a row they refuse goes to check_card."""

from datetime import date

import polars as pl
import pytest

from services.membership.card import FIELDS, CardErrors, check_card, person_key
from services.membership.card_frame import check_frame, with_person_key

TODAY = date(2026, 11, 28)
GOOD = {"surname": "Иванова", "first_name": "Мария", "patronymic": "Петровна", "sex": "ж",
        "birth_date": "15.03.1961", "snils": "112-233-445 95", "phone": "+7 912 345-67-89",
        "email": "M.Ivanova@Mail.ru", "joined_on": "01.09.2015", "category": "работающий",
        "job_category": "учитель", "pd_consent_on": "10.01.2024",
        "pd_consent_form": "письменное", "email_consent": "да", "card_number": ""}
VARIANTS = [
    {}, {"surname": "  Королёва  "}, {"first_name": "Анна  Мария"}, {"patronymic": ""},
    {"sex": ""}, {"sex": "женский"}, {"sex": "другой"}, {"birth_date": "1961-03-15"},
    {"birth_date": "15/03/1961"}, {"birth_date": "31.02.1961"}, {"birth_date": "01.01.2030"},
    {"birth_date": "01.01.2015"}, {"birth_date": "01.01.1900"}, {"birth_date": ""},
    {"snils": ""}, {"snils": "11223344595"}, {"snils": "112-233-445 96"}, {"snils": "1122334459"},
    {"snils": "001-001-997 12"}, {"phone": ""}, {"phone": "123"}, {"email": ""},
    {"email": "not-an-email"}, {"email": "", "email_consent": "да"}, {"email_consent": ""},
    {"email_consent": "может быть"}, {"joined_on": ""}, {"joined_on": "01.01.1985"},
    {"joined_on": "01.01.2030"}, {"birth_date": "01.01.2000", "joined_on": "01.01.2010"},
    {"category": ""}, {"category": "студент", "job_category": ""},
    {"category": "студент"}, {"category": "космонавт"}, {"job_category": "директор"},
    {"job_category": "пилот"}, {"pd_consent_on": ""}, {"pd_consent_on": "да"},
    {"pd_consent_on": "01.01.2030"}, {"pd_consent_form": "электронное"},
    {"pd_consent_form": "устное"}, {"card_number": "1234 5678 9012 3456"},
    {"card_number": "123"}, {"surname": ""}, {"surname": "Иванова1"}, {"first_name": "Мария-"},
    {"surname": "O'Brien"}, {"surname": "Иванова" * 20},
]


# dates in other forms than ДД.ММ.ГГГГ are rare in national files: check_card reads them
LEFT_TO_CHECK_CARD = [{"birth_date": "15/03/1961"}, {"birth_date": "1961-03-15"}]


def _check_card(raw: dict) -> dict | None:
    raw = dict(raw)
    if raw["pd_consent_on"].strip().lower() == "да":  # as the import does
        raw["pd_consent_on"] = TODAY
    try:
        return check_card(raw, TODAY)
    except CardErrors:
        return None


@pytest.fixture(scope="module")
def frame():
    rows = [GOOD | v for v in VARIANTS]
    df = pl.DataFrame({k: [r[k] for r in rows] for k in GOOD}, schema={k: pl.String
                                                                       for k in GOOD})
    return rows, with_person_key(check_frame(df, TODAY)).to_dicts()


@pytest.mark.parametrize("i", range(len(VARIANTS)))
def test_frame_agrees_with_check_card(frame, i):
    rows, checked = frame
    expected = _check_card(rows[i])
    got = checked[i]
    if got["ok"]:
        assert expected is not None, f"the frame accepts what check_card refuses: {VARIANTS[i]}"
        assert {f: got[f] for f in FIELDS} == {f: expected[f] for f in FIELDS}
        assert got["person_key"] == person_key(expected["surname"], expected["first_name"],
                                               expected["patronymic"], expected["birth_date"])
    else:
        assert expected is None or VARIANTS[i] in LEFT_TO_CHECK_CARD, \
            f"the frame refuses what check_card accepts: {VARIANTS[i]}"


def test_most_rows_take_the_fast_way(frame):
    _, checked = frame
    assert checked[0]["ok"] and sum(r["ok"] for r in checked) > len(VARIANTS) // 3


@pytest.mark.parametrize("absent", [("email_consent",), ("sex", "job_category", "email"),
                                    ("pd_consent_form", "card_number", "patronymic")])
def test_optional_columns_may_be_absent(absent):
    """A file without some optional columns: the frame reads them as empty, like check_card."""
    raw = {k: v for k, v in GOOD.items() if k not in absent}
    if "email" in absent:
        raw["email_consent"] = "нет"
    df = pl.DataFrame({k: [v] for k, v in raw.items()}, schema={k: pl.String for k in raw})
    got = with_person_key(check_frame(df, TODAY)).to_dicts()[0]
    expected = _check_card({k: raw.get(k, "") for k in GOOD})
    assert got["ok"] and expected is not None
    assert {f: got[f] for f in FIELDS} == {f: expected[f] for f in FIELDS}
