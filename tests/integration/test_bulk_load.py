"""Loading organization trees from files into a real PostgreSQL."""

import csv
import io

import openpyxl
import pytest
from sqlalchemy import text

from services.common.errors import ValidationFailed
from services.registry import bulk_load, tree
from services.registry.file_format import COLUMNS
from tests.factories import company_inn, ogrn

ACTOR = "loader"


def row(number, parent, level, name=None, **kw):
    return {"registry_number": number, "parent_registry_number": parent, "level": level,
            "name": name or f"Организация {number}", **kw}


GOOD = [
    row("0000", "", "ЦС", "Общероссийский Профсоюз образования"),
    row("59", "0000", "региональная", "Пермская краевая организация", region_code="59",
        legal_entity="да", inn=company_inn(1), ogrn=ogrn(1), included_on="12.03.1991"),
    row("59-Т-1", "59", "территориальная", "Кунгурская районная организация", kind="районная"),
    row("59-П-1", "59-Т-1", "первичная", "ППО СОШ № 1", edu_name="МБОУ «СОШ № 1»",
        edu_type="школа", edu_inn=company_inn(11), chair_surname="Иванова",
        chair_first_name="Мария", chair_patronymic="Петровна", chair_elected_on="01.09.2022",
        chair_term_until="01.09.2027", chair_email_consent="да"),
    row("59-С-1", "59-П-1", "структурное подразделение", "Профгруппа", kind="профгруппа"),
    row("59-П-2", "59", "первичная", "ППО университета", territorial_rights="да"),
    row("59-П-3", "59-П-2", "первичная", "ППО колледжа университета"),
]


def to_csv(rows, encoding="utf-8", delimiter=",") -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter)
    w.writerow(COLUMNS.values())
    for r in rows:
        w.writerow([r.get(k, "") for k in COLUMNS])
    return buf.getvalue().encode(encoding)


def to_xlsx(rows) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(list(COLUMNS.values()))
    for r in rows:
        sheet.append([r.get(k, "") for k in COLUMNS])
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def org_count(session) -> int:
    return session.execute(text("SELECT count(*) FROM registry.organization")).scalar_one()


@pytest.mark.parametrize("content, filename", [
    (to_csv(GOOD), "tree.csv"),
    (to_csv(GOOD, "cp1251", ";"), "tree-1251.csv"),
    (to_xlsx(GOOD), "tree.xlsx"),
])
def test_good_file_loads_whole_tree(session, content, filename):
    report = bulk_load.load(session, ACTOR, content, filename)
    assert report["errors"] == [] and report["rows_loaded"] == 7
    region = tree.search(session, "59")[0]
    assert region["level"] == "regional"
    sub = tree.subtree(session, region["id"])
    assert sub["total"] == 6
    school = tree.search(session, company_inn(11))[0]
    passport = tree.fetch(session, school["id"])
    assert passport["chair"]["surname"] == "Иванова"
    assert passport["education"]["type"] == "school"
    assert passport["region_id"] == region["id"]
    history = tree.history(session, region["id"])
    assert history[0]["change_kind"] == "imported"
    # the first version counts from the inclusion date, so reports of 1992 see the region
    from datetime import date
    assert tree.passport_as_of(session, region["id"], date(1992, 1, 1))["version"] == 1


def test_file_with_errors_loads_nothing_and_names_each_row(session):
    bad_inn = company_inn(11)[:-1] + str((int(company_inn(11)[-1]) + 1) % 10)
    rows = GOOD + [
        row("59-П-4", "59-П-1", "первичная"),  # under a primary without rights
        row("59-П-5", "59-Т-9", "первичная"),  # unknown parent
        row("59-П-1", "59-Т-1", "первичная"),  # duplicate number
        row("59-П-6", "59-Т-1", "первичная", edu_name="Школа", edu_type="школа",
            edu_inn=bad_inn),
        row("59-П-7", "59-Т-1", "первичная", legal_entity="да", inn=company_inn(3),
            ogrn="1025900000000"),
        row("59-П-8", "59-Т-1", "колхоз"),
        row("59-П-9", "59-Т-1", "первичная", included_on="31.02.2020"),
        row("A", "B", "территориальная"), row("B", "A", "территориальная"),  # a cycle
        row("59-С-9", "59-П-4", "структурное подразделение"),  # under a rejected row
    ]
    report = bulk_load.load(session, ACTOR, to_csv(rows), "bad.csv")
    assert report["rows_loaded"] == 0
    assert org_count(session) == 0
    by_row = {}
    for e in report["errors"]:
        by_row.setdefault(e["row"], set()).add(e["code"])
    assert by_row[9] == {"primary_without_rights"}
    assert by_row[10] == {"parent_unknown"}
    assert by_row[11] == {"registry_number_duplicate"}
    assert by_row[12] == {"inn_checksum"}
    assert by_row[13] == {"ogrn_checksum"}
    assert by_row[14] == {"level_unknown"}
    assert by_row[15] == {"date_parsing"}
    assert by_row[16] == by_row[17] == {"tree_cycle"}
    assert by_row[18] == {"parent_rejected"}
    assert all(e["message"] and e["column_title"] for e in report["errors"]
               if e["column"])
    edu = next(e for e in report["errors"] if e["row"] == 12)
    assert edu["column_title"] == "ИНН образовательной организации"


def test_load_good_rows_when_asked(session):
    rows = GOOD + [row("59-П-4", "59-П-1", "первичная"),
                   row("59-С-9", "59-П-4", "структурное подразделение")]
    report = bulk_load.load(session, ACTOR, to_csv(rows), "partial.csv", load_good_rows=True)
    assert report["rows_loaded"] == 7
    assert report["rows_rejected"] == 2
    assert org_count(session) == 7


def test_same_numbers_again_are_reported_not_duplicated(session):
    bulk_load.load(session, ACTOR, to_csv(GOOD), "tree.csv")
    report = bulk_load.load(session, ACTOR, to_csv(GOOD), "tree.csv")
    assert report["rows_loaded"] == 0
    assert report["errors_by_code"] == {"registry_number_taken": 7}
    assert org_count(session) == 7


def test_rows_attach_to_organizations_already_in_registry(session):
    bulk_load.load(session, ACTOR, to_csv(GOOD[:3]), "top.csv")
    report = bulk_load.load(session, ACTOR, to_csv(GOOD[3:]), "bottom.csv")
    assert report["rows_loaded"] == 4
    chain = tree.ancestors(session, tree.search(session, "59-С-1")[0]["id"])
    assert [o["registry_number"] for o in chain] == ["0000", "59", "59-Т-1", "59-П-1", "59-С-1"]


def test_outbox_gets_one_event_for_the_import(session):
    bulk_load.load(session, ACTOR, to_csv(GOOD), "tree.csv")
    events = session.execute(text("SELECT event_type, payload FROM registry.outbox")).all()
    assert [e.event_type for e in events] == ["orgs_imported"]
    assert len(events[0].payload["org_ids"]) == 7


@pytest.mark.parametrize("content, filename, code", [
    (b"", "empty.csv", "file_empty"),
    ("Фамилия,Имя\nИванов,Иван\n".encode(), "people.csv", "file_header"),
    (to_xlsx(GOOD)[:500], "cut.xlsx", "file_truncated"),
    (to_csv(GOOD, "utf-16"), "u16.csv", None),  # UTF-16 with a BOM is read, not refused
    (to_csv(GOOD).decode().encode("koi8-r", "replace"), "koi8.csv", "file_header"),
])
def test_unreadable_files(session, content, filename, code):
    if code is None:
        assert bulk_load.load(session, ACTOR, content, filename)["rows_loaded"] == 7
        return
    with pytest.raises(ValidationFailed) as exc:
        bulk_load.load(session, ACTOR, content, filename)
    assert exc.value.code == code
    assert org_count(session) == 0


def test_truncated_csv_row_reported(session):
    content = to_csv(GOOD)
    cut = content[: content.rindex(b"\n", 0, len(content) - 1) + 20]
    report = bulk_load.load(session, ACTOR, cut, "cut.csv")
    assert report["errors_by_code"].get("row_truncated") == 1
    assert org_count(session) == 0


def test_registry_numbers_match_ignoring_case_and_latin_look_alikes(session):
    bulk_load.load(session, ACTOR, to_csv(GOOD), "tree.csv")
    report = bulk_load.load(session, ACTOR, to_csv([
        row("59-П-10", "59-T-1", "первичная"),          # a Latin T in the parent's number
        row("59-C-10", "59-п-10", "структурное подразделение", kind="профгруппа"),  # lower case
        row("59-с-1", "59-П-1", "структурное подразделение"),  # 59-С-1 already, in lower case
    ]), "more.csv", load_good_rows=True)
    assert report["rows_loaded"] == 2, report["errors"]
    assert [(e["row"], e["code"]) for e in report["errors"]] == [(4, "registry_number_taken")]
    assert "59-с-1 уже есть в реестре (59-С-1)" in report["errors"][0]["message"]


def test_every_error_of_a_row_at_once_and_children_keep_their_own(session):
    bulk_load.load(session, ACTOR, to_csv(GOOD), "tree.csv")
    report = bulk_load.load(session, ACTOR, to_csv([
        row("59-П-4", "59-Т-1", "первичная", kind="колхоз", included_on="31.02.2020",
            legal_entity="может быть"),
        row("59-С-4", "59-П-4", "структурное подразделение", included_on="99.99.2020"),
        row("59-П-5", "59-Т-9", "первичная", included_on="32.01.2020"),  # unknown parent too
    ]), "bad.csv")
    by_row: dict[int, set[str]] = {}
    for e in report["errors"]:
        by_row.setdefault(e["row"], set()).add(e["code"])
    assert by_row[2] == {"kind_unknown", "date_parsing", "bool_parsing"}
    assert by_row[3] == {"parent_rejected", "date_parsing"}
    assert by_row[4] == {"parent_unknown", "date_parsing"}
    assert "«профгруппа»" in next(e["message"] for e in report["errors"]
                                  if e["code"] == "kind_unknown")


def test_regional_staff_load_within_their_subtree_only(session):
    bulk_load.load(session, ACTOR, to_csv(GOOD), "tree.csv")
    district = tree.search(session, "59-Т-1")[0]["id"]
    report = bulk_load.load(session, ACTOR, to_csv([
        row("59-П-20", "59-Т-1", "первичная"),            # beneath their organization
        row("59-С-20", "59-П-20", "структурное подразделение", kind="профгруппа"),
        row("59-П-21", "59-П-2", "первичная"),            # elsewhere in the region
        row("60", "", "региональная"),                    # no parent: the Council's to load
    ]), "district.csv", load_good_rows=True, scope_roots=[district])
    assert report["rows_loaded"] == 2
    assert {(e["row"], e["code"]) for e in report["errors"]} == {
        (4, "outside_scope"), (5, "outside_scope"), (5, "region_code")}  # and its own error
