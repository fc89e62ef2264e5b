"""A big plain CSV file is checked column-wise (polars), a small or quoted one row by row: both
ways give the same report and load the same rows, against the real database."""

from datetime import date

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from services.membership import bulk_import
from tests.factories import snils

HEADER = ("Рег. номер организации;ФИО;Дата рождения;СНИЛС;Категория;Категория должности;"
          "Согласие на обработку ПДн;E-mail;Согласие на рассылку")


def national_file(n: int = 6000) -> bytes:
    lines = ["Выгрузка членов Профсоюза на 01.11.2026", "", HEADER]
    for i in range(n):
        day = date(1960, 1, 1).toordinal() + i * 3
        birth = date.fromordinal(day).strftime("%d.%m.%Y")
        number = ("59-П-1", "59-С-1", "66-П-1")[i % 3]
        line = (f"{number};Петрова Анна Сергеевна{'' if i % 2 else ' '};{birth};{snils(i)};"
                f"работающий;педагог;01.02.2020;anna{i}@example.ru;да")
        if i == 10:
            line = line.replace(snils(i), "123-456-789 00")        # bad SNILS
        if i == 21:
            line = line.replace("59-П-1", "99-П-9")                 # unknown organization
        if i == 30:
            line = line.replace("01.02.2020", "")                   # no consent
        if i == 40:
            line = line.replace("педагог", "пилот")                 # unknown job
        if i == 50:
            lines.append("")                                        # a blank line
        if i == 60:
            line = line.replace("работающий;педагог", "студент;педагог")  # job of a student
        if i == 70:
            line = line.replace(birth, "15/03/1961")                # a date the frame leaves
        lines.append(line)
    lines.append(lines[5])                                          # a person twice
    lines.append("59-П-1;Сидоров Иван;01.01.1980;")                 # cut short
    return "\n".join(lines).encode("cp1251")


def load(engine, content: bytes, frame_min: int, monkeypatch) -> dict:
    monkeypatch.setattr(bulk_import, "FRAME_MIN_BYTES", frame_min)
    with Session(engine) as session, session.begin():
        report = bulk_import.load(session, "test", content, "national.csv",
                                  load_good_rows=True)
        loaded = session.execute(text(
            "SELECT org_id, count(*) FROM membership.member GROUP BY org_id")).all()
        session.rollback()
    report["loaded_by_org"] = sorted(loaded)
    return report


@pytest.fixture
def tree_ready(synced_tree):
    return synced_tree


def test_both_ways_agree(engine, tree_ready, monkeypatch):
    content = national_file()
    by_frame = load(engine, content, 0, monkeypatch)
    by_rows = load(engine, content, 10**12, monkeypatch)
    for key in ("rows_total", "rows_loaded", "rows_rejected", "errors_total", "errors_by_code",
                "errors", "loaded_by_org"):
        assert by_frame[key] == by_rows[key], key
    codes = {e["row"]: e["code"] for e in by_frame["errors"]}
    assert codes == {14: "snils_checksum", 25: "org_unknown", 34: "consent_required",
                     44: "enum", 65: "job_without_work", 6005: "duplicate_in_file",
                     6006: "row_truncated"}
    assert by_frame["rows_loaded"] == 6000 - 5


def indexes(conn) -> set[str]:
    return set(conn.execute(text("SELECT indexdef FROM pg_indexes WHERE schemaname = "
                                 "'membership' AND tablename = 'member'")).scalars())


@pytest.mark.parametrize("load_good_rows", [False, True])
def test_initial_load_builds_the_indexes_after_the_copy(engine, tree_ready, monkeypatch,
                                                        load_good_rows):
    """Into an empty register a big file is written without the secondary indexes, which are
    built after; whether the load commits or is undone, the table keeps all its indexes."""
    monkeypatch.setattr(bulk_import, "INITIAL_LOAD_BYTES", 0)
    monkeypatch.setattr(bulk_import, "FRAME_MIN_BYTES", 0)
    with engine.connect() as conn:
        before = indexes(conn)
    with Session(engine) as session, session.begin():
        report = bulk_import.load(session, "test", national_file(), "national.csv",
                                  load_good_rows=load_good_rows)
    assert report["rows_loaded"] == (5995 if load_good_rows else 0)
    with engine.connect() as conn:
        assert indexes(conn) == before
        assert conn.execute(text("SELECT count(*) FROM membership.member")).scalar() == \
            report["rows_loaded"]


FIX_HEADER = "Рег. номер организации;Фамилия;Имя;Отчество;Дата рождения;СНИЛС;Телефон;" \
             "Категория;Категория должности;Согласие на обработку ПДн"


def people_file(n: int, change: bool) -> bytes:
    """n members of 59-П-1; with `change`, the same people as a chair's file corrects them."""
    lines = [FIX_HEADER]
    for i in range(n):
        birth = date.fromordinal(date(1960, 1, 1).toordinal() + i * 5)
        row = ["59-П-1", "Петрова", "Анна", f"Сергеевна{'абвгдежзик'[i % 10]}"[:9] + "",
               birth.strftime("%d.%m.%Y"), snils(i) if i % 2 else "", "89120000000",
               "работающий", "педагог", "01.02.2020"]
        row[1] = f"Петрова{'абвгдежзиклмнопрстуф'[i % 20]}" if i % 7 else "Петрова"
        if change:
            if i == 2:
                row[5] = snils(i)                       # a SNILS the card lacks
            if i == 3:
                row[6] = "+7 (912) 555-11-22"            # another phone
            if i == 4:
                row[7], row[8] = "неработающий пенсионер", ""  # retired since
            if i == 5:
                row[4] = "02.01.1960"                    # another birth date, same SNILS
            if i == 7:
                row[5] = snils(10_000 + i)               # another SNILS, same name and birth
            if i == 9:
                row[1] = row[1].upper()                  # in capitals: the same after repair
            if i == 11:
                row[6], row[7], row[8] = "", "", ""      # empty cells correct nothing
        lines.append(";".join(row))
    return "\n".join(lines).encode("cp1251")


def corrected(engine, frame_min: int, monkeypatch) -> tuple[dict, list, int]:
    """The corrections loaded over the committed list, then undone."""
    monkeypatch.setattr(bulk_import, "FRAME_MIN_BYTES", frame_min)
    with Session(engine) as session, session.begin():
        report = bulk_import.load(session, "test", people_file(40, True), "list.csv",
                                  load_good_rows=True)
        cards = session.execute(text(
            "SELECT surname, birth_date, snils, phone, category, job_category, version "
            "FROM membership.member ORDER BY birth_date")).all()
        edits = session.execute(text("SELECT count(*) FROM membership.member_version "
                                     "WHERE change_kind = 'edited'")).scalar_one()
        session.rollback()
    for key in ("seconds", "import_id", "preview"):  # the first rows: shown by the row path
        report.pop(key)
    return report, cards, edits


def test_a_file_corrects_cards_the_same_way_on_both_paths(engine, tree_ready, monkeypatch):
    with Session(engine) as session, session.begin():  # the writer looks people up elsewhere
        first = bulk_import.load(session, "test", people_file(40, False), "list.csv")
        assert first["rows_loaded"] == 40, first["errors"]
    by_frame = corrected(engine, 0, monkeypatch)
    by_rows = corrected(engine, 10**12, monkeypatch)
    for key in set(by_frame[0]) | set(by_rows[0]):
        assert by_frame[0].get(key) == by_rows[0].get(key), key
    assert by_frame[1:] == by_rows[1:]
    report, cards, edits = by_rows
    assert report["rows_loaded"] == 0 and report["rows_updated"] == 3 and edits == 3
    assert report["rows_unchanged"] == 40 - 3 - 2
    assert [(u["row"], u["status"], u["fields"]) for u in report["updated_rows"]] == [
        (4, "Обновлено", ["СНИЛС"]), (5, "Обновлено", ["Телефон"]),
        (6, "Обновлено", ["Категория", "Категория должности"])]
    assert {e["row"]: (e["code"], e["column"]) for e in report["errors"]} == {
        7: ("card_conflict", "birth_date"), 9: ("card_conflict", "snils")}
    assert "другая дата рождения: 26.01.1960, в файле 02.01.1960" in report["errors"][0][
        "message"]
    assert cards[2][2] == snils(2) and cards[3][3] == "+79125551122"
    assert cards[4][4:] == ("pensioner", None, 2) and cards[5][1] == date(1960, 1, 26)
    assert cards[7][2] == snils(7) and len(cards) == 40  # the conflicts left the cards alone


def test_a_members_file_names_organizations_in_any_case_and_layout(engine, tree_ready):
    content = (FIX_HEADER + "\n" + ";".join([
        "59-c-1", "Петрова", "Анна", "Сергеевна", "01.01.1980", "", "", "работающий", "",
        "01.02.2020"])).encode("cp1251")  # 59-С-1 in lower case with a Latin c
    with Session(engine) as session, session.begin():
        report = bulk_import.load(session, "test", content, "list.csv")
        session.rollback()
    assert report["rows_loaded"] == 1 and report["errors"] == []
