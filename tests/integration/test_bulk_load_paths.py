"""A big file of organizations is checked column-wise (load_frame), a small one row by row: both
ways give the same report and write the same rows and history, whether polars reads a CSV file
itself or the file is read as the row path reads it (spreadsheets, odd CSV files)."""

from datetime import datetime

import pytest
from sqlalchemy import text

from services.common.errors import ValidationFailed
from services.registry import bulk_load, load_frame
from tests.factories import company_inn
from tests.integration.test_bulk_load import ACTOR, GOOD, row, to_csv, to_xlsx


def national_rows(n: int = 600) -> list[dict]:
    bad_inn = company_inn(11)[:-1] + str((int(company_inn(11)[-1]) + 1) % 10)
    rows = list(GOOD)
    for i in range(n):
        rows.append(row(f"59-П-{100 + i}", "59-Т-1", "первичная",
                        f'ППО школы № {i} "Родник", с. Кын' if i % 7 == 0 else None,
                        chair_surname="Петрова", chair_first_name="Анна",
                        chair_email=f"Anna{i}@Example.ru", chair_phone="8 912 345 67 89",
                        chair_elected_on="01.09.2022", chair_term_until="01.09.2027",
                        chair_email_consent="да" if i % 2 else "", edu_name=f"Школа № {i}",
                        edu_type="школа", edu_inn=company_inn(1000 + i)))
        rows.append(row(f"59-С-{100 + i}", f"59-П-{100 + i}", "структурное подразделение",
                        kind="профгруппа"))
    rows += [
        row("59-П-4", "59-П-1", "первичная"),                        # primary without rights
        row("59-С-4", "59-П-4", "структурное подразделение"),         # under a refused row
        row("59-П-5", "59-Т-9", "первичная"),                         # unknown parent
        row("59-П-1", "59-Т-1", "первичная"),                         # duplicate number
        row("59-П-6", "59-Т-1", "первичная", edu_name="Школа", edu_type="школа",
            edu_inn=bad_inn),                                         # bad checksum
        row("59-С-6", "59-П-6", "структурное подразделение"),         # under a bad row
        row("59-П-7", "59-Т-1", "первичная", included_on="1991-03-12"),  # an ISO date: good
        row("59-П-8", "59-Т-1", "колхоз"),                            # unknown level
        row("59-П-9", "59-Т-1", "первичная", included_on="31.02.2020"),
        row("59-П-10", "59-Т-1", "первичная", chair_surname="Сидоров"),  # no first name
        row("A", "B", "территориальная"), row("B", "A", "территориальная"),  # a cycle
        row("", "59-Т-1", "первичная"),                               # no number
    ]
    return rows


def national_csv(odd_line: bytes = b"") -> bytes:
    lines = to_csv(national_rows()).split(b"\r\n")
    lines.insert(40, b",,,  ,")                                      # a blank line
    lines.insert(50, odd_line)
    return b"\r\n".join(lines) + "59-П-99,59-Т-1,первичная,ППО".encode()  # cut short


def national_xlsx() -> bytes:
    rows = national_rows()
    for r in rows[7:100]:  # cells a spreadsheet types
        r["chair_elected_on"] = datetime(2022, 9, 1)
        r["edu_inn"] = int(r["edu_inn"]) if r.get("edu_inn") else ""
    rows[100]["chair_term_until"] = 46000.5  # an Excel date number: row_checks reads it
    rows[101]["name"] = datetime(2003, 2, 1)  # a date where text belongs: refused both ways
    return to_xlsx(rows)


FILES = {
    "csv": national_csv(),
    # the csv module reads a quoted field on to the next line; a lone carriage return ends a row
    # for it; str.strip takes \x1c for white space: polars is not asked to read these
    "quote over a line": national_csv(b'59-C-X,"59-T-1'),
    "lone carriage return": national_csv(b"59-C-Y,59-T-1\rR,"),
    "x1c": national_csv("59-C-Z,59-T-1,\x1cпервичная".encode()),
    "xlsx": national_xlsx(),
}


ROWS_SQL = """
    SELECT o.registry_number, p.registry_number AS parent, o.level, o.kind, o.name,
           o.region_code, o.territorial_rights, o.legal_entity, o.ogrn, o.inn, o.included_on,
           o.chair, o.education, o.staff, o.updated_by, nlevel(o.path) AS depth,
           o.region_id = r.id AS same_region,
           v.passport - 'id' - 'parent_id' - 'region_id' AS passport, v.change_kind,
           -- the snapshot as changes.record_versions takes it
           v.passport = to_jsonb(o) - 'path' - 'version' - 'updated_at' - 'updated_by'
               AS snapshot_is_the_row,
           v.valid_from = COALESCE(o.included_on::timestamp AT TIME ZONE 'UTC',
                                   v.valid_from) AS from_inclusion
    FROM registry.organization o
    LEFT JOIN registry.organization p ON p.id = o.parent_id
    LEFT JOIN registry.organization r ON r.id = o.region_id
    JOIN registry.organization_version v ON v.org_id = o.id
    ORDER BY o.registry_number
"""


def load(session, content: bytes, filename: str, frame_min: int, load_good_rows: bool,
         monkeypatch) -> dict:
    monkeypatch.setattr(load_frame, "FRAME_MIN_BYTES", frame_min)
    savepoint = session.begin_nested()
    try:
        report = bulk_load.load(session, ACTOR, content, filename, load_good_rows)
    except ValidationFailed as exc:  # a file refused as a whole
        savepoint.rollback()
        return {"refused": (exc.code, exc.message)}
    report.pop("import_id", None)
    report["written"] = [dict(r) for r in session.execute(text(ROWS_SQL)).mappings()]
    savepoint.rollback()
    return report


@pytest.mark.parametrize("name", FILES)
@pytest.mark.parametrize("load_good_rows", [False, True])
def test_both_ways_agree(session, monkeypatch, load_good_rows, name):
    filename = "national.xlsx" if name == "xlsx" else "national.csv"
    by_frame = load(session, FILES[name], filename, 0, load_good_rows, monkeypatch)
    by_rows = load(session, FILES[name], filename, 10**12, load_good_rows, monkeypatch)
    assert by_frame == by_rows
    if name == "quote over a line":
        assert by_frame["refused"][0] == "file_truncated"
        return
    if name == "csv":
        codes = {e["row"]: e["code"] for e in by_frame["errors"]}
        assert sorted(codes.values()) == sorted([
            "primary_without_rights", "parent_rejected", "parent_unknown",
            "registry_number_duplicate", "inn_checksum", "parent_rejected", "level_unknown",
            "date_parsing", "string_type", "tree_cycle", "tree_cycle", "missing",
            "row_truncated"])
        assert by_frame["rows_loaded"] == (1208 if load_good_rows else 0)
    assert len(by_frame["written"]) == by_frame["rows_loaded"]
    assert all(r["snapshot_is_the_row"] for r in by_frame["written"])
