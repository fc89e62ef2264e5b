"""A blank file to fill in for an import: the Russian headers the reader knows, the allowed
values of each list column as a drop-down (data validation, from a sheet of lists so long lists
are not cut at Excel's 255 characters), and a note row above the header (the reader passes over
title rows). Made with openpyxl; LibreOffice and Excel keep the drop-downs when saving."""

import io

import openpyxl
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

ROWS = 1000  # rows the drop-downs cover
DATE_FORMAT = "DD.MM.YYYY"


def template(headers: list[tuple[str, str]], choices: dict[str, list[str]], note: str,
             dates: tuple[str, ...] = (), sheet_title: str = "Список") -> bytes:
    """`headers`: (key, Russian header) in file order; `choices`: key -> allowed values;
    `dates`: keys of date columns (formatted ДД.ММ.ГГГГ)."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = sheet_title
    lists = book.create_sheet("Допустимые значения")
    sheet.append([note])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(headers))
    sheet.row_dimensions[1].height = 60
    sheet["A1"].alignment = Alignment(wrap_text=True, vertical="top")
    sheet["A1"].font = Font(italic=True)
    sheet.append([title for _, title in headers])
    for cell in sheet[2]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    sheet.freeze_panes = "A3"
    list_column = 0
    for i, (key, title) in enumerate(headers, start=1):
        letter = get_column_letter(i)
        sheet.column_dimensions[letter].width = max(14, min(40, len(title) + 2))
        if key in dates:
            for row in range(3, ROWS + 3):
                sheet.cell(row, i).number_format = DATE_FORMAT
        values = choices.get(key)
        if not values:
            continue
        list_column += 1
        source = get_column_letter(list_column)
        lists.cell(1, list_column, title).font = Font(bold=True)
        for n, value in enumerate(values, start=2):
            lists.cell(n, list_column, value)
        rule = DataValidation(
            type="list", formula1=f"'{lists.title}'!${source}$2:${source}${len(values) + 1}",
            allow_blank=True, showErrorMessage=True, errorTitle=title,
            error="Выберите значение из списка: " + ", ".join(values))
        rule.add(f"{letter}3:{letter}{ROWS + 2}")
        sheet.add_data_validation(rule)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
