import io
from datetime import date, datetime

import openpyxl
import pytest

from services.common.errors import ValidationFailed
from services.common.tabular import cell_date, cell_text, read_table

HEADERS = {"number": "Номер", "name": "Наименование", "day": "Дата"}


def read(content: bytes, filename: str = "f.csv"):
    table = read_table(content, filename, HEADERS, ("number", "name"))
    return table, list(table.rows)


def test_utf8_comma_and_cp1251_semicolon_read_the_same():
    text = "Номер,Наименование,Дата\n1,Школа № 1,01.09.2020\n"
    _, rows_utf8 = read(text.encode("utf-8"))
    _, rows_1251 = read(text.replace(",", ";").encode("cp1251"))
    assert rows_utf8 == rows_1251 == [(2, {"number": "1", "name": "Школа № 1",
                                           "day": "01.09.2020"})]


def test_english_keys_accepted_and_unknown_columns_reported():
    table, rows = read(b"number,name,colour\n1,A,red\n")
    assert table.unknown_columns == ["colour"]
    assert rows == [(2, {"number": "1", "name": "A"})]


def test_wrong_encoding_is_a_clear_error():
    # KOI8-R bytes decode as Windows-1251 into nonsense: the headers are not found
    content = "Номер,Наименование\n1,Школа\n".encode("koi8-r")
    with pytest.raises(ValidationFailed) as exc:
        read(content)
    assert exc.value.code == "file_header"
    assert "кодировк" in exc.value.message


def test_missing_required_column():
    with pytest.raises(ValidationFailed) as exc:
        read("Номер,Дата\n1,01.01.2020\n".encode())
    assert exc.value.code == "file_columns"
    assert "Наименование" in exc.value.message


def test_empty_rows_skipped_and_short_rows_flagged():
    _, rows = read("Номер,Наименование,Дата\n\n,,\n1,A,\n2,B\n".encode())
    assert rows[0] == (4, {"number": "1", "name": "A", "day": ""})
    assert rows[1][1] == {"__truncated__": 2}


def test_unterminated_quote_is_truncation():
    table = read_table('Номер,Наименование\n1,"Школа'.encode(), "f.csv", HEADERS,
                       ("number", "name"))
    with pytest.raises(ValidationFailed) as exc:
        list(table.rows)
    assert exc.value.code == "file_truncated"
    assert "обрезан" in exc.value.message


def test_empty_and_binary_files():
    with pytest.raises(ValidationFailed) as exc:
        read(b"")
    assert exc.value.code == "file_empty"
    with pytest.raises(ValidationFailed) as exc:
        read(b"PK\x03\x04 this is not a zip", "f.xlsx")
    assert exc.value.code == "file_truncated"


def xlsx(rows) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    for r in rows:
        sheet.append(r)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def test_xlsx_with_dates_numbers_and_merged_cells():
    content = xlsx([["Номер", "Наименование", "Дата"],
                    [1, "Школа", datetime(2020, 9, 1)],
                    [None, None, None],
                    [2, "Сад", "01.10.2021"]])
    table, rows = read(content, "f.xlsx")
    assert [r[0] for r in rows] == [2, 4]
    assert cell_text(rows[0][1]["number"]) == "1"
    assert cell_date(rows[0][1]["day"]) == date(2020, 9, 1)
    assert cell_date(rows[1][1]["day"]) == date(2021, 10, 1)


def test_truncated_xlsx():
    content = xlsx([["Номер", "Наименование"], [1, "A"]])
    with pytest.raises(ValidationFailed) as exc:
        table = read_table(content[: len(content) // 2], "f.xlsx", HEADERS, ("number", "name"))
        list(table.rows)
    assert exc.value.code == "file_truncated"


def test_cell_date_forms():
    assert cell_date("2020-09-01") == date(2020, 9, 1)
    assert cell_date(44075) == date(2020, 9, 1)  # an Excel serial date
    assert cell_date("") is None
    with pytest.raises(ValueError):
        cell_date("31.02.2020")


def test_title_rows_above_the_header_are_skipped():
    content = xlsx([["Реестр организаций на 01.10.2026"], [None],
                    ["Номер", "Наименование", "Дата"], [1, "Школа", "01.09.2020"]])
    table, rows = read(content, "f.xlsx")
    assert rows == [(4, {"number": 1, "name": "Школа", "day": "01.09.2020"})]
    csv_text = "Реестр организаций\n;;\nНомер;Наименование;Дата\n1;Школа;01.09.2020\n"
    _, rows = read(csv_text.encode("cp1251"))
    assert rows == [(4, {"number": "1", "name": "Школа", "day": "01.09.2020"})]


def test_a_file_with_bom_cut_in_the_middle_of_a_letter_keeps_the_whole_rows():
    from services.common import tabular

    content = "\ufeffФамилия;Имя\nИванова;Мария\nПетрова;Анна\n".encode()
    cut = content[:-4]  # inside «Анна»
    table = tabular.read_table(cut, "x.csv", {"surname": "Фамилия", "first_name": "Имя"},
                               ("surname",))
    rows = list(table.rows)
    assert rows[0] == (2, {"surname": "Иванова", "first_name": "Мария"})
    assert rows[1][1]["surname"] == "Петрова" and len(rows) == 2
