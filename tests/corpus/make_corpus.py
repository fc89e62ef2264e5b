"""Makes the corpus of members files as chairs make them, with LibreOffice (run once, the files
are committed: the tests do not need LibreOffice). A list written by openpyxl the way a chair
lays it out (a merged title, a header wrapped over two rows, date cells, a SNILS typed as a
number, CAPS names, phones in five forms, totals and a signature under it), then opened and
saved by LibreOffice as .xlsx, .xls, .ods and CSV (UTF-8 with BOM, cp1251).

    python tests/corpus/make_corpus.py   # needs soffice (Debian: libreoffice-calc-nogui)
"""

import shutil
import subprocess
import tempfile
from datetime import date
from pathlib import Path

import openpyxl

HERE = Path(__file__).parent
PEOPLE = [  # surname, first, patronymic, birth, snils (as typed), phone, category, position
    ("ИВАНОВА", "МАРИЯ", "ПЕТРОВНА", date(1964, 6, 24), 8765430300, "8 (912) 345-67-89",
     "работающий", "учитель"),
    ("петров-водкин", "иван", "сергеевич", date(1985, 12, 31), "112 233 445 95",
     "+7 912 345 67 88", "работающий", "воспитатель"),
    ("Мамедов", "Эльдар", "Ибрагим оглы", date(1990, 2, 28), "", "89123456787",
     "работающий пенсионер", "учитель математики"),
    ("Королёва", "Анна", "", date(1959, 3, 15), "", "9123456786", "пенсионер", ""),
    ("Сидоров", "Пётр", "Ильич", date(2003, 1, 10), "", "+7(34342)2-15-67", "студент", ""),
]


def sheet_book() -> openpyxl.Workbook:
    book = openpyxl.Workbook()
    ws = book.active
    ws["A1"] = "Список членов ППО МБОУ «СОШ № 1» на 01.11.2026"
    ws.merge_cells("A1:H1")
    ws.append([])
    ws.append(["ФИО", None, None, "Дата", "СНИЛС", "Телефон", "Категория", "Должность"])
    ws.append(["", None, None, "рожд.", None, None, None, None])
    for s, f, p, born, snils, phone, cat, job in PEOPLE:
        ws.append([f"{s} {f} {p}".strip(), None, None, born, snils, phone, cat, job])
        ws.cell(ws.max_row, 4).number_format = "DD.MM.YY"
    ws.append([])
    ws.append(["Итого членов Профсоюза: 5"])
    ws.append(["Председатель ППО ____ /Г.А. Смирнова/"])
    return book


def convert(source: Path, target: str, out: Path) -> Path:
    subprocess.run(["soffice", "--headless", "--convert-to", target, "--outdir", str(out),
                    str(source)], check=True, capture_output=True, timeout=120)
    return out


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        source = tmp_path / "chair_list.xlsx"
        sheet_book().save(source)
        for ext, target in (("xlsx", "xlsx:Calc MS Excel 2007 XML"),
                            ("xls", "xls:MS Excel 97"), ("ods", "ods")):
            out = tmp_path / ext
            out.mkdir()
            convert(source, target, out)
            shutil.copy(out / f"chair_list.{ext}", HERE / f"chair_list.{ext}")
        # CSV as LibreOffice writes it: ; in Windows-1251 (its encoding number 34), and , in
        # UTF-8 (76) with the byte-order mark Excel writes (LibreOffice 7.4 has no option for
        # it: added here)
        for name, options, bom in (("chair_list_cp1251.csv", "59,34,34,1", b""),
                                   ("chair_list_utf8bom.csv", "44,34,76,1", b"\xef\xbb\xbf")):
            out = tmp_path / name
            out.mkdir()
            convert(source, f"csv:Text - txt - csv (StarCalc):{options}", out)
            (HERE / name).write_bytes(bom + (out / "chair_list.csv").read_bytes())


if __name__ == "__main__":
    main()
