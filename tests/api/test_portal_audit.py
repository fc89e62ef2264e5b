"""The auditor's page: the access log of the services with filters, and its XLSX export with
real dates, a bold header, filters and widths; nobody else reaches it; members' exports keep
phones as typed, dates as dates."""

import io
import re
from datetime import datetime

from openpyxl import load_workbook

from tests.conftest import GATEWAY_ADDRESS
from tests.factories import register

BASE = f"http://{GATEWAY_ADDRESS}"


def test_auditor_reads_and_exports_the_log(api, synced_tree, signed_in):
    member = register(api, synced_tree["primary"], 3)
    chair, auditor = signed_in("chair"), signed_in("auditor")
    assert chair.get(f"{BASE}/portal/members/{member}", timeout=30).status_code == 200

    landing = auditor.get(f"{BASE}/portal/home", timeout=30)
    assert landing.url.endswith("/portal/audit") and "Журнал доступа" in landing.text
    page = auditor.get(f"{BASE}/portal/audit", params={"record_id": member,
                                                       "actor": "chair@test.reestr"},
                       timeout=30)
    assert page.status_code == 200
    assert "открыл(а) карточку" in page.text and "chair@test.reestr" in page.text
    assert "admin@test.reestr" not in page.text  # the filter by who holds
    assert re.search(r"\d{2}\.\d{2}\.\d{4} \d{2}:\d{2}", page.text)

    xlsx = auditor.get(f"{BASE}/portal/audit/export.xlsx", params={"record_id": member},
                       timeout=30)
    assert xlsx.status_code == 200
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet["A1"].value == "Когда" and sheet["A1"].font.b
    assert sheet.auto_filter.ref.startswith("A1:H")
    assert sheet.column_dimensions["B"].width >= 20
    assert isinstance(sheet["A2"].value, datetime) and sheet["A2"].number_format == \
        "DD.MM.YYYY HH:MM"
    assert any(c.value == "chair@test.reestr" for c in sheet["B"])

    # a chair does not read the log
    assert chair.get(f"{BASE}/portal/audit", timeout=30).status_code == 403


def test_members_export_as_people_use_it(api, synced_tree):
    register(api, synced_tree["primary"], 4, phone="+7 912 345-67-89")
    r = api.as_user("chair").get("/api/v1/members/export.xlsx")
    sheet = load_workbook(io.BytesIO(r.content)).active
    header = [c.value for c in sheet[1]]
    assert all(c.font.b for c in sheet[1])
    assert sheet.auto_filter.ref == f"A1:{sheet.cell(1, len(header)).column_letter}2"
    assert sheet.freeze_panes == "A2"
    row = {h: c for h, c in zip(header, sheet[2], strict=True)}
    assert isinstance(row["Дата рождения"].value, datetime)
    assert row["Дата рождения"].number_format == "DD.MM.YYYY"
    assert row["Телефон"].value.startswith("+7") and row["Телефон"].data_type == "s"
    assert re.fullmatch(r"\d{3}-\d{3}-\d{3} \d{2}", row["СНИЛС"].value)
    assert sheet.column_dimensions["B"].width >= 30
