"""Importing members from chairs' spreadsheets through the gateway: the headers chairs write,
Windows-1251 CSV, Excel dates, merged cells, empty rows, a report row by row, nothing loaded
when there are errors unless asked, and the same file twice changing nothing."""

import csv
import io
import shutil
from datetime import datetime

import pytest
from openpyxl import Workbook
from sqlalchemy import text

from tests.factories import card, snils

HEADER = ["ФИО", "Дата рожд.", "Пол", "СНИЛС", "Телефон", "Электронная почта",
          "Дата вступления", "Категория", "Должность (категория)", "Согласие на обработку ПДн"]


def row(n: int, **over) -> list:
    c = card(n)
    values = {"fio": f"{c['surname']} {c['first_name']} {c['patronymic']}",
              "birth": datetime.strptime(c["birth_date"], "%Y-%m-%d").strftime("%d.%m.%Y"),
              "sex": "ж", "snils": c["snils"], "phone": c["phone"], "email": c["email"],
              "joined": "01.09.2015", "category": "работающий", "job": "педагог",
              "consent": "10.01.2024"} | over
    return list(values.values())


def to_csv(rows: list[list], encoding: str = "cp1251", title: bool = True) -> bytes:
    out = io.StringIO()
    w = csv.writer(out, delimiter=";")
    if title:
        w.writerow(["Список членов ППО МБОУ «СОШ № 1» на 01.11.2026"])
        w.writerow([])
    w.writerow(HEADER)
    w.writerows(rows)
    return out.getvalue().encode(encoding)


def upload(api, content: bytes, name: str, org_id: int = 5, user: str = "chair", **params):
    return api.as_user(user).post(f"/api/v1/organizations/{org_id}/members/import",
                                  files={"file": (name, content)}, params=params)


def count(engine) -> int:
    with engine.connect() as c:
        return c.execute(text("SELECT count(*) FROM membership.member")).scalar()


def test_cp1251_csv_loads_and_twice_changes_nothing(api, synced_tree, engine):
    content = to_csv([row(n) for n in range(1, 41)])
    r = upload(api, content, "члены.csv")
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["rows_loaded"] == 40 and report["errors_total"] == 0
    assert count(engine) == 40
    again = upload(api, content, "члены.csv").json()
    assert again["rows_loaded"] == 0 and again["rows_unchanged"] == 40
    assert again["errors_total"] == 0 and count(engine) == 40
    status = api.as_user("chair").get(f"/api/v1/member-imports/{report['import_id']}").json()
    assert status["status"] == "loaded" and status["rows_done"] == 40
    # the split full name and Russian words arrived as codes
    member = api.as_user("chair").get("/api/v1/members", params={"q": card(1)["surname"]}
                                      ).json()["items"][0]
    assert member["patronymic"] == "Петровна" and member["sex"] == "female"
    assert member["job_category"] == "teacher" and member["source"] == "import"
    with engine.connect() as c:
        events = c.execute(text("SELECT event_type, payload FROM membership.outbox")).all()
    # the load once (the second changed nothing); each import's outcome to whoever started it
    assert [e[0] for e in events] == ["members_imported", "members_import_finished",
                                      "members_import_finished"]
    assert events[0][1]["org_ids"] == [5] and events[0][1]["count"] == 40


def test_xlsx_with_excel_dates_merged_cells_and_empty_rows(api, synced_tree, engine):
    book = Workbook()
    sheet = book.active
    sheet.append(["Список членов профсоюза"])
    sheet.merge_cells("A1:E1")
    sheet.append(HEADER)
    for n in range(1, 6):
        values = row(n)
        values[1] = datetime.strptime(card(n)["birth_date"], "%Y-%m-%d")  # an Excel date
        sheet.append(values)
        sheet.append([])  # an empty row between people
    out = io.BytesIO()
    book.save(out)
    r = upload(api, out.getvalue(), "члены.xlsx")
    assert r.status_code == 200, r.text
    assert r.json()["rows_loaded"] == 5 and count(engine) == 5


def test_errors_name_each_row_and_load_nothing_unless_asked(api, synced_tree, engine):
    rows = [row(1), row(2, snils="123-456-789 00"), row(3, birth="31.02.1980"),
            row(4, consent=""), row(5, fio="Петров"), row(6), row(6, email="x@y.ru"),
            row(7, category="космонавт")]
    r = upload(api, to_csv(rows), "ошибки.csv")
    assert r.status_code == 422
    report = r.json()
    assert report["rows_loaded"] == 0 and count(engine) == 0
    by_row = {e["row"]: e for e in report["errors"]}
    # rows are numbered as the spreadsheet shows them: title, empty line, header, then data
    assert by_row[5]["code"] == "snils_checksum" and by_row[5]["column_title"] == "СНИЛС"
    assert by_row[6]["code"] == "date_parsing"
    assert by_row[7]["code"] == "consent_required"
    assert by_row[8]["column"] == "first_name" and by_row[8]["code"] == "missing"
    assert by_row[10]["code"] == "duplicate_in_file" and "строке 9" in by_row[10]["message"]
    assert by_row[11]["code"] == "enum"
    assert set(report["errors_by_code"]) >= {"snils_checksum", "date_parsing", "missing"}
    good = upload(api, to_csv(rows), "ошибки.csv", load_good_rows="true").json()
    assert good["rows_loaded"] == 2 and count(engine) == 2


def test_person_registered_elsewhere_and_rows_outside_scope(api, synced_tree, engine):
    assert api.as_user("chair2").post("/api/v1/organizations/9/members",
                                      json=card(1)).status_code == 201
    r = upload(api, to_csv([row(1), row(2)]), "a.csv")
    report = r.json()
    assert report["errors"][0]["code"] == "person_registered"
    assert "перевод" in report["errors"][0]["message"]
    # a chair's file naming an organization outside their subtree
    content = ("Рег. номер организации;Фамилия;Имя;Дата рождения;Согласие на обработку ПДн\n"
               "66-П-1;Сидоров;Иван;01.01.1980;да\n59-П-1;Сидоров;Пётр;01.01.1981;да\n"
               ).encode()
    report = upload(api, content, "b.csv").json()
    assert [e["code"] for e in report["errors"]] == ["org_unknown"]
    assert report["errors"][0]["row"] == 2


def test_broken_files_are_refused_whole(api, synced_tree, engine):
    book = Workbook()
    book.active.append(HEADER)
    book.active.append(row(1))
    out = io.BytesIO()
    book.save(out)
    cut = upload(api, out.getvalue()[: len(out.getvalue()) // 2], "cut.xlsx")
    assert cut.status_code == 422 and cut.json()["error"]["code"] == "file_truncated"
    assert upload(api, b"", "empty.csv").json()["error"]["code"] == "file_empty"
    no_names = upload(api, "Дата рождения;Пол\n01.01.1980;м\n".encode(), "x.csv")
    assert no_names.json()["error"]["code"] == "file_columns"
    assert count(engine) == 0


def test_thousands_of_errors_keep_the_report_readable(api, synced_tree, engine):
    rows = [row(n, snils=f"{n:09d}99") for n in range(10_000_000, 10_006_000)]
    report = upload(api, to_csv(rows, title=False), "bad.csv").json()
    assert report["errors_total"] == 6000 and len(report["errors"]) == 5000
    assert report["errors_by_code"] == {"snils_checksum": 6000}
    assert report["rows_rejected"] == 6000 and count(engine) == 0


def test_national_file_with_registry_numbers(api, synced_tree, engine):
    content = ("Рег. номер организации;Фамилия;Имя;Дата рождения;СНИЛС;Категория;"
               "Согласие на обработку ПДн\n"
               f"59-П-1;Сидоров;Иван;01.01.1980;{snils(900)};студент;01.02.2020\n"
               f"66-П-1;Сидорова;Анна;02.02.1982;{snils(901)};пенсионер;01.02.2020\n"
               f"59-Т-1;Сидоров;Олег;03.03.1983;{snils(902)};;01.02.2020\n").encode()
    r = api.post("/api/v1/members/import", files={"file": ("all.csv", content)})
    report = r.json()
    assert [e["code"] for e in report["errors"]] == ["org_level"]
    r = api.post("/api/v1/members/import", files={"file": ("all.csv", content)},
                 params={"load_good_rows": "1"})
    assert r.json()["rows_loaded"] == 2
    with engine.connect() as c:
        orgs = dict(c.execute(text("SELECT org_id, category FROM membership.member")).all())
    assert orgs == {5: "student", 9: "pensioner"}
    # a chair cannot run a load across organizations outside their scope
    denied = upload(api, content, "all.csv", user="chair").json()
    assert {e["code"] for e in denied["errors"]} == {"org_unknown"}


def test_card_numbers_twice_in_a_file_or_taken_in_the_register(api, synced_tree, engine):
    head = "Фамилия;Имя;Дата рождения;Согласие на обработку ПДн;Номер профсоюзного билета\n"
    twice = (head + "Сидоров;Иван;01.01.1980;да;1234567890123452\n"
             "Сидоров;Пётр;01.01.1981;да;1234567890123452\n").encode()
    report = upload(api, twice, "twice.csv").json()
    assert [(e["row"], e["code"]) for e in report["errors"]] == [(3, "card_number_twice")]
    assert api.as_user("chair").post("/api/v1/organizations/5/members", json=card(
        1, card_number="9999888877776666")).status_code == 201
    taken = (head + "Сидоров;Олег;01.01.1982;да;9999888877776666\n").encode()
    r = upload(api, taken, "taken.csv")
    assert r.status_code == 422 and r.json()["error"]["code"] == "file_conflicts"
    assert count(engine) == 1


def test_a_chairs_list_without_consent_column_checked_then_loaded_on_paper_consent(
        api, synced_tree, engine):
    """The corpus list (LibreOffice .ods: no consent column, totals and a signature under it):
    one file-level message, nothing loaded; the check shows how the columns were understood;
    with paper consent confirmed it loads, and the run is kept with its report."""
    from pathlib import Path

    content = (Path(__file__).parent.parent / "corpus" / "chair_list.ods").read_bytes()
    refused = upload(api, content, "список.ods")
    assert refused.status_code == 422, refused.text
    body = refused.json()
    assert [e["code"] for e in body["file_errors"]] == ["consent_column_missing"]
    assert body["errors_total"] == 0 and body["rows_total"] == 5 and count(engine) == 0
    assert {s["row"]: s["reason"] for s in body["skipped"]} == {11: "totals", 12: "signature"}

    check = api.as_user("chair").post("/api/v1/organizations/5/members/import/check",
                                      files={"file": ("список.ods", content)},
                                      params={"paper_consent": "true"})
    assert check.status_code == 200, check.text
    checked = check.json()
    assert checked["status"] == "checked" and checked["import_id"] is None
    assert {c["header"]: c["field"] for c in checked["columns"]}["Дата рожд."] == "birth_date"
    assert checked["preview"][0]["surname"] == "Иванова" and count(engine) == 0

    loaded = upload(api, content, "список.ods", paper_consent="true")
    assert loaded.status_code == 200, loaded.text
    assert loaded.json()["rows_loaded"] == 5 and count(engine) == 5
    runs = api.as_user("chair").get("/api/v1/member-imports", params={"org_id": 5}).json()
    assert [r["status"] for r in runs["items"]][:2] == ["loaded", "rejected"]
    run = api.as_user("chair").get(f"/api/v1/member-imports/{runs['items'][1]['id']}").json()
    assert run["file_errors"][0]["code"] == "consent_column_missing"
    assert run["finished_at"] >= run["started_at"]
    assert api.as_user("chair").get("/api/v1/member-imports/999999").status_code == 404


def test_refused_rows_come_back_as_a_spreadsheet_with_every_error(api, synced_tree, engine):
    from openpyxl import load_workbook

    content = to_csv([row(1), row(2, birth="24.06.2064", category="космонавт"),
                      row(3, snils="123")])
    r = upload(api, content, "члены.csv")
    assert r.status_code == 422
    report = r.json()
    by_row: dict[int, set[str]] = {}
    for e in report["errors"]:
        by_row.setdefault(e["row"], set()).add(e["column"])
    assert by_row == {5: {"birth_date", "category"}, 6: {"snils"}}  # title, blank, header
    assert report["errors"][0]["person"].startswith(card(2)["surname"])
    xlsx = api.as_user("chair").get(f"/api/v1/member-imports/{report['import_id']}/errors.xlsx")
    assert xlsx.status_code == 200
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "Строка" and rows[0][-1] == "Ошибка"
    assert [r[0] for r in rows[1:]] == [5, 6]
    assert "в будущем" in rows[1][-1] and "допустимы" in rows[1][-1]


def test_templates_with_drop_downs_and_a_note_load_once_filled_in(api, synced_tree, engine):
    from openpyxl import load_workbook

    r = api.as_user("chair").get("/api/v1/members/import/template.xlsx")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    book = load_workbook(io.BytesIO(r.content))
    sheet = book["Члены"]
    assert "Согласие на обработку ПДн" in sheet["A1"].value  # the note row on consent
    headers = [c.value for c in sheet[2]]
    assert headers[:3] == ["Рег. номер организации", "Фамилия", "Имя"]
    lists = {str(v.sqref): v.formula1 for v in sheet.data_validations.dataValidation}
    category = headers.index("Категория") + 1
    rule = next(f for ref, f in lists.items() if ref.startswith(
        sheet.cell(3, category).column_letter + "3"))
    source = rule.split("!$")[1].split("$")[0]  # 'Допустимые значения'!$B$2:$B$4
    allowed = [c.value for c in book["Допустимые значения"][source] if c.value][1:]
    assert allowed == ["работающий", "обучающийся", "неработающий пенсионер"]
    for i, value in enumerate(["", "Иванова", "Мария", "Петровна", "женский", "24.06.1964",
                               "", "8 912 345-67-89", "", "", "работающий",
                               "педагогический работник", "да", "письменное", "нет"], start=1):
        sheet.cell(3, i, value)
    out = io.BytesIO()
    book.save(out)
    check = api.as_user("chair").post("/api/v1/organizations/5/members/import/check",
                                      files={"file": ("шаблон.xlsx", out.getvalue())}).json()
    assert check["errors"] == [] and check["file_errors"] == [], check
    assert check["preview"][0]["phone"] == "+79123456789"
    orgs = {u: api.as_user(u).get("/api/v1/organizations/import/template.xlsx").status_code
            for u in ("admin", "regional", "chair")}
    assert orgs == {"admin": 200, "regional": 200, "chair": 403}


@pytest.mark.skipif(not shutil.which("soffice"), reason="LibreOffice (deploy/up.sh installs it)")
@pytest.mark.parametrize("target, suffix", [("ods", "ods"),
                                            ("xlsx:Calc MS Excel 2007 XML", "xlsx"),
                                            ("xls:MS Excel 97", "xls")])
def test_the_platforms_export_saved_again_imports_with_no_errors_and_no_changes(
        api, synced_tree, engine, tmp_path, target, suffix):
    from tests.corpus.make_corpus import convert

    loaded = upload(api, to_csv([row(n) for n in range(1, 21)]), "члены.csv").json()
    assert loaded["rows_loaded"] == 20, loaded
    export = api.as_user("chair").get("/api/v1/members/export.xlsx", params={"within": 5})
    assert export.status_code == 200 and export.headers["X-Rows"] == "20"
    source = tmp_path / "выгрузка.xlsx"
    source.write_bytes(export.content)
    out = tmp_path / "saved"
    out.mkdir()
    convert(source, target, out)  # opened and saved again by LibreOffice
    content = (out / f"выгрузка.{suffix}").read_bytes()
    with engine.connect() as c:
        before = c.execute(text("SELECT max(version), count(*) FROM membership.member")).one()
    again = upload(api, content, f"выгрузка.{suffix}").json()
    assert again["file_errors"] == [] and again["errors"] == [], again
    assert (again["rows_loaded"], again["rows_updated"], again["rows_unchanged"]) == (0, 0, 20)
    with engine.connect() as c:
        assert c.execute(text("SELECT max(version), count(*) FROM membership.member")
                         ).one() == before
