"""Members files as chairs make them, saved by LibreOffice as .xlsx, .xls, .ods and CSV
(tests/corpus/make_corpus.py): every format read by the one reader to the same rows, numbered
as the spreadsheet shows them, and every row repaired to the same card."""

from datetime import date
from pathlib import Path

import pytest

from services.common import tabular
from services.membership import bulk_import
from services.membership.card import check_card
from services.membership.file_format import ALIASES, COLUMNS, REQUIRED

CORPUS = Path(__file__).parent.parent / "corpus"
FILES = ["chair_list.xlsx", "chair_list.xls", "chair_list.ods", "chair_list_cp1251.csv",
         "chair_list_utf8bom.csv"]
TODAY = date(2026, 11, 28)
EXPECTED = [  # row 5 to 9: surname, first, patronymic, birth, SNILS, phone, category, job
    ("Иванова", "Мария", "Петровна", date(1964, 6, 24), "08765430300", "+79123456789",
     "working", "teacher"),
    ("Петров-Водкин", "Иван", "Сергеевич", date(1985, 12, 31), "11223344595", "+79123456788",
     "working", "teacher"),
    ("Мамедов", "Эльдар", "Ибрагим оглы", date(1990, 2, 28), None, "+79123456787",
     "working", "teacher"),
    ("Королёва", "Анна", None, date(1959, 3, 15), None, "+79123456786", "pensioner", None),
    ("Сидоров", "Пётр", "Ильич", date(2003, 1, 10), None, "+73434221567", "student", None),
]


def cards(name: str) -> tuple[tabular.Table, list[tuple[int, dict]]]:
    table = tabular.read_table((CORPUS / name).read_bytes(), name, COLUMNS, REQUIRED, ALIASES)
    out = []
    for number, raw in table.rows:
        bulk_import._split_full_name(raw)
        bulk_import._position(raw)
        out.append((number, check_card(raw, TODAY, default_consent_on=TODAY,
                                       titles=table.titles)))
    return table, out


@pytest.mark.parametrize("name", FILES)
def test_every_format_gives_the_same_cards_with_the_rows_the_sheet_shows(name):
    table, got = cards(name)
    assert table.header_rows == (3, 4)  # a header wrapped over two rows under a title
    assert dict(table.headers)["Дата рожд."] == "birth_date"
    assert [n for n, _ in got] == [5, 6, 7, 8, 9]
    for (_, card), want in zip(got, EXPECTED, strict=True):
        assert (card["surname"], card["first_name"], card["patronymic"], card["birth_date"],
                card["snils"], card["phone"], card["category"], card["job_category"]) == want
    skipped = {s["row"]: s["reason"] for s in table.skipped}
    assert skipped == {10: "blank", 11: "totals", 12: "signature"}


def test_messages_name_the_column_as_the_file_does_and_list_the_allowed_values():
    from services.membership.card import CardErrors

    with pytest.raises(CardErrors) as exc:
        check_card({"surname": "", "first_name": "Анна", "birth_date": "24.06.2064",
                    "category": "космонавт", "pd_consent_on": "да"}, TODAY,
                   titles={"surname": "ФИО", "birth_date": "Дата рожд."})
    messages = {e["field"]: e["message"] for e in exc.value.errors}
    assert messages["surname"].startswith("ФИО:")
    assert messages["birth_date"] == "Дата рожд. 24.06.2064 — в будущем"
    assert "«работающий», «обучающийся», «неработающий пенсионер»" in messages["category"]


@pytest.mark.parametrize("typed, read", [("24.06.64", date(1964, 6, 24)),
                                         ("10.01.03", date(2003, 1, 10)),
                                         ("01.09.15", date(2015, 9, 1))])
def test_two_digit_years_read_to_a_plausible_century(typed, read):
    card = check_card({"surname": "Иванова", "first_name": "Анна", "birth_date": typed
                       if read.year < 2010 else "01.01.1990", "joined_on": typed
                       if read.year >= 2010 else "", "pd_consent_on": "01.01.2024"}, TODAY)
    assert read in (card["birth_date"], card["joined_on"])


def test_a_file_that_is_not_a_spreadsheet_named_ods_is_refused_in_its_own_words():
    from services.common.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as exc:
        tabular.read_table(b"PK\x03\x04 broken", "list.ods", COLUMNS, REQUIRED, ALIASES)
    assert exc.value.code == "file_truncated" and "ODS" in exc.value.message
