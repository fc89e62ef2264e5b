"""The column-wise checks (card_frame, files over a megabyte) and the row-by-row ones (check_card)
give the same verdict on every row: generated rows with the edge values that broke them once
(a December birthday wrapped polars' 8-bit month), birthdays on the day, 29 February, ages at the
limits, empty and malformed cells."""

import re
from datetime import date, timedelta

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.membership.card import FIELDS, MAX_AGE, MIN_AGE, CardErrors, check_card
from services.membership.card_frame import PHONE, check_frame

TODAYS = [date(2026, 11, 28), date(2028, 2, 29), date(2027, 2, 28), date(2026, 12, 31),
          date(2027, 1, 1)]
CANONICAL = re.compile(r"^\d\d\.\d\d\.\d\d\d\d$")  # the only form the frame reads itself


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=day.year - years, day=28)


def _edge_days(today: date) -> list[date]:
    days = [date(1961, 12, 31), date(1960, 2, 29), date(2000, 2, 29), date(1990, 12, 1),
            date(1990, 9, 27), date(1990, 9, 26), date(1975, 1, 1)]
    for years in (MIN_AGE, MAX_AGE, MAX_AGE + 1, 30):
        base = _years_before(today, years)
        days += [base + timedelta(days=n) for n in (-1, 0, 1, 20, 40, 70)]
    return days + [today, today + timedelta(days=1), today - timedelta(days=1)]


def _cell(today: date, extra: list[date]) -> st.SearchStrategy[str]:
    day = st.one_of(st.sampled_from(_edge_days(today) + extra),
                    st.dates(date(1900, 1, 1), date(2035, 12, 31)))
    malformed = st.sampled_from(["", " ", "31.02.1990", "29.02.2001", "00.01.1990",
                                 "1990-01-01", "15.3.1961", "абв", "01.13.1990", "12.12.12",
                                 "24.06.64", "1.9.15", "31.12.99"])
    return st.one_of(day.map(lambda d: d.strftime("%d.%m.%Y")), malformed)


@st.composite
def rows(draw, today: date) -> dict[str, str]:
    birth = draw(_cell(today, []))
    extra = []
    if CANONICAL.match(birth) and birth not in ("31.02.1990", "29.02.2001", "00.01.1990",
                                                 "01.13.1990"):
        b = date(int(birth[6:]), int(birth[3:5]), int(birth[:2]))
        fourteen = _years_before(b, -MIN_AGE) if b.year + MIN_AGE <= 9999 else b
        extra = [fourteen + timedelta(days=n) for n in (-70, -40, -20, -1, 0, 1)]
    return {
        "surname": draw(st.sampled_from(["Иванова", "", "Петров-Водкин", "Иванова1", "ИВАНОВА",
                                         "петров-водкин", "МакДональд", "O'Brien", "Королёва"])),
        "first_name": draw(st.sampled_from(["Мария", "Анна  Мария", "", "МАРИЯ", "А"])),
        "patronymic": draw(st.sampled_from(["Петровна", "", "Ибрагим оглы", "ИБРАГИМ ОГЛЫ"])),
        "sex": draw(st.sampled_from(["ж", "", "м", "другой"])),
        "birth_date": birth,
        "snils": draw(st.sampled_from(["", "112-233-445 95", "11223344596", "1122334459",
                                       "001-001-997 12", "112\u00a0233\u00a0445\u00a095",
                                       "087654303 00", "87654303 00", "8765430300",
                                       "876543030"])),
        "phone": draw(st.sampled_from(["", "+7 912 345-67-89", "123", "8 (912) 345-67-89",
                                       "89123456789", "79123456789", "9123456789",
                                       "+7(34342)2-15-67", "8 800 555-35-35", "+375 29 123-45-67",
                                       "+7 912 345 67 8", "+70123456789", "7123456789",
                                       "8-912-345-67-89 доб. 12", "(912)3456789"])),
        "email": draw(st.sampled_from(["", "a@b.ru", "nope"])),
        "joined_on": draw(st.one_of(_cell(today, extra), st.just(""))),
        "category": draw(st.sampled_from(["работающий", "", "студент", "космонавт"])),
        "job_category": draw(st.sampled_from(["", "учитель", "пилот"])),
        "pd_consent_on": draw(st.one_of(_cell(today, []), st.just("да"))),
        "pd_consent_form": draw(st.sampled_from(["", "письменное", "устное"])),
        "email_consent": draw(st.sampled_from(["", "да", "нет", "может быть"])),
        "card_number": draw(st.sampled_from(["", "1234 5678 9012 3456", "123"])),
    }


def _row_by_row(raw: dict[str, str], today: date) -> dict | None:
    raw = dict(raw)
    if raw["pd_consent_on"].strip().lower() == "да":  # as the import does
        raw["pd_consent_on"] = today
    try:
        return check_card(raw, today)
    except CardErrors:
        return None


def _left_to_rows(raw: dict[str, str]) -> bool:
    """Rows the column-wise path leaves to check_card by design: dates not in ДД.ММ.ГГГГ,
    names to put in proper case, phones in forms other than +7/8 and ten digits."""
    dates = [raw[k].strip() for k in ("birth_date", "joined_on", "pd_consent_on")]
    names = [" ".join(raw[k].split()) for k in ("surname", "first_name", "patronymic")]
    phone = re.sub(r"[\s\-().]", "", raw["phone"])
    return any(d and d.lower() != "да" and not CANONICAL.match(d) for d in dates) \
        or any(n and (n.isupper() or n.islower()) for n in names) \
        or bool(phone and not re.match(PHONE, phone))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), today=st.sampled_from(TODAYS))
def test_both_paths_give_the_same_verdict_row_by_row(data, today):
    batch = data.draw(st.lists(rows(today), min_size=1, max_size=40))
    df = pl.DataFrame({k: [r[k] for r in batch] for k in batch[0]},
                      schema={k: pl.String for k in batch[0]})
    checked = check_frame(df, today).to_dicts()
    for raw, got in zip(batch, checked, strict=True):
        expected = _row_by_row(raw, today)
        if got["ok"]:
            assert expected is not None, f"the column-wise path accepts a refused row: {raw}"
            assert {f: got[f] for f in FIELDS} == {f: expected[f] for f in FIELDS}, raw
        else:
            assert expected is None or _left_to_rows(raw), \
                f"the column-wise path refuses a row check_card accepts: {raw}"


def test_a_member_born_in_december_who_joined_at_thirteen_is_refused_by_both():
    """The defect itself: 13 at joining, born in December (month * 100 wrapped in 8 bits)."""
    raw = {"surname": "Иванова", "first_name": "Мария", "birth_date": "15.12.2005",
           "joined_on": "10.01.2019", "pd_consent_on": "10.01.2019"}
    df = pl.DataFrame({k: [raw.get(k, "")] for k in FIELDS},
                      schema={k: pl.String for k in FIELDS})
    assert check_frame(df, date(2026, 11, 28))["ok"].to_list() == [False]
    assert _row_by_row({k: raw.get(k, "") for k in FIELDS}, date(2026, 11, 28)) is None
