"""The portal's pages of reports and data quality over plain HTTP (the browser tests cover the
portal's sign-in): a chair generates their report, types in the figures with the messages next to
them, submits it and downloads it; a region's staff reads the data quality as tables and bar
charts and drills down; another organization's chair reaches none of it."""


import io
import re

import openpyxl

from tests.conftest import GATEWAY_ADDRESS
from tests.factories import register
from tests.support.portal import csrf_of

BASE = f"http://{GATEWAY_ADDRESS}"
DAY = "2026-10-01"


def test_chair_fills_in_submits_and_downloads_a_report(api, tree, signed_in):
    for n in range(1, 4):
        register(api, tree["primary"], n)
    chair = signed_in("chair")
    page = chair.get(f"{BASE}/portal/reports?family=stat&day={DAY}", timeout=30)
    assert page.status_code == 200 and "Сформировать отчёт" in page.text
    r = chair.post(f"{BASE}/portal/reports/generate", data={
        "csrf": csrf_of(page.text), "org_id": tree["primary"], "family": "stat", "day": DAY},
        allow_redirects=False, timeout=60)
    assert r.status_code == 303, r.text
    url = BASE + r.headers["Location"]
    page = chair.get(url, timeout=30)
    assert page.status_code == 200
    assert "5-СП на 01.10.2026" in page.text and 'name="v_20"' in page.text
    assert 'name="v_01"' not in page.text or "сформирован автоматически" not in page.text

    form = {"csrf": csrf_of(page.text), "version": "", "v_20": "1", "v_22": "1", "v_23": "0"}
    bad = chair.post(url, data=form, timeout=30)
    assert bad.status_code == 422
    assert "Работающих членов Профсоюза больше, чем работающих в организации" in bad.text
    bad = chair.post(url, data={**form, "v_20": "сорок"}, timeout=30)
    assert bad.status_code == 422 and 'id="err-v_20"' in bad.text
    assert 'value="сорок"' in bad.text  # what was typed stays in the field
    ok = chair.post(url, data={**form, "v_20": "40"}, allow_redirects=False, timeout=30)
    assert ok.status_code == 303
    r = chair.post(url + "/submit", data={"csrf": form["csrf"]}, allow_redirects=False,
                   timeout=30)
    assert r.status_code == 303
    page = chair.get(url, timeout=30)
    assert "Отчёт сдан" in page.text and "<b>сдан</b>" in page.text
    pdf = chair.get(url + "/file?format=pdf", timeout=60)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")

    other = signed_in("chair2")
    assert other.get(url, timeout=30).status_code == 404
    assert other.get(url + "/file", timeout=30).status_code == 404

    region = signed_in("regional")
    page = region.get(f"{BASE}/portal/reports/tracking?family=stat&day={DAY}", timeout=30)
    assert page.status_code == 200 and "Пермская краевая организация" in page.text
    assert 'class="bar"' in page.text


def test_region_reads_data_quality_as_tables_and_charts(api, tree, signed_in):
    register(api, tree["primary"], 1)
    assert api.post("/api/v1/quality/runs").status_code == 200
    region = signed_in("regional")
    page = region.get(f"{BASE}/portal/quality?check=no_chair", timeout=30)
    assert page.status_code == 200
    assert 'class="chart"' in page.text and "Пермская краевая организация" in page.text
    assert "Свердловская" not in page.text                    # another region's
    page = region.get(f"{BASE}/portal/quality/org/{tree['region']}", timeout=30)
    assert page.status_code == 200 and "Кунгурская районная организация" in page.text
    assert f'href="/portal/org/{tree["primary"]}/passport/chair"' in page.text
    assert region.get(f"{BASE}/portal/quality/reconciliation", timeout=30).status_code == 200
    xlsx = region.get(f"{BASE}/portal/quality/export.xlsx", timeout=30)
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    book = openpyxl.load_workbook(io.BytesIO(xlsx.content))
    for sheet in book.worksheets:  # a header people can filter on, as wide as it needs
        assert sheet["A1"].font.bold and sheet.auto_filter.ref.startswith("A1:"), sheet.title
        assert sheet.column_dimensions["A"].width >= 40 and sheet.freeze_panes == "A2"
    faults = book["Качество данных"]
    assert faults["F2"].number_format == "DD.MM.YYYY" and faults["F2"].is_date
    assert "Пермская краевая организация" in [c.value for c in faults["A"]]
    chair = signed_in("chair")
    assert chair.get(f"{BASE}/portal/quality/org/{tree['region']}",
                     timeout=30).status_code == 404
    page = chair.get(f"{BASE}/portal/quality/org/{tree['primary']}", timeout=30)
    assert page.status_code == 200 and "Первичные организации без председателя" in page.text
    # the chair's own problems on their organization's page
    page = chair.get(f"{BASE}/portal/org/{tree['primary']}", timeout=30)
    assert page.status_code == 200 and "Недостатки данных" in page.text
    assert f'href="/portal/org/{tree["primary"]}/passport/chair"' in page.text


def test_who_has_not_submitted_with_the_chairs_contacts(api, tree, signed_in):
    chair = {"surname": "Сидорова", "first_name": "Ольга", "email": "olga@school.example",
             "phone": "+7 912 000-11-22", "elected_on": "2024-05-01"}
    r = api.patch(f"/api/v1/organizations/{tree['primary']}", json={"chair": chair})
    assert r.status_code == 200, r.text
    made = api.as_user("regional").post(f"/api/v1/organizations/{tree['territorial']}/reports",
                                        json={"family": "stat", "day": DAY})
    assert made.status_code == 201, made.text
    regional = signed_in("regional")
    page = regional.get(f"{BASE}/portal/reports/{made.json()['id']}", timeout=30)
    assert page.status_code == 200
    assert "Отчёты входящих организаций" in page.text
    assert "Сидорова Ольга" in page.text and "mailto:olga@school.example" in page.text

    # submitting asks first; the answer shows nothing was submitted yet
    ask = regional.get(f"{BASE}/portal/reports/{made.json()['id']}/submit", timeout=30)
    assert ask.status_code == 200 and ("Да, сдать отчёт" in ask.text
                                       or "пока нельзя сдать" in ask.text)
    assert api.get(f"/api/v1/reports/{made.json()['id']}").json()["status"] == "draft"


def test_a_draft_older_than_the_registry_says_what_changed_and_is_brought_up_to_date(
        api, tree, signed_in):
    for n in range(1, 3):
        register(api, tree["primary"], n)
    chair = signed_in("chair")
    page = chair.get(f"{BASE}/portal/reports?family=stat&day={DAY}", timeout=30)
    r = chair.post(f"{BASE}/portal/reports/generate", data={
        "csrf": csrf_of(page.text), "org_id": tree["primary"], "family": "stat", "day": DAY},
        allow_redirects=False, timeout=60)
    url = BASE + r.headers["Location"]
    page = chair.get(url, timeout=30)
    assert "изменились" not in page.text  # fresh: nothing to say
    register(api, tree["primary"], 3)  # on the register since 2015: counted on the day
    page = chair.get(url, timeout=30)
    assert "Данные реестра на 01.10.2026 изменились</b>" in page.text
    assert re.search(r"<li>01 «[^»]+»: было 2, станет 3</li>", page.text), page.text
    r = chair.post(f"{BASE}/portal/reports/generate", data={
        "csrf": csrf_of(page.text), "org_id": tree["primary"], "family": "stat", "day": DAY},
        allow_redirects=False, timeout=60)
    assert r.status_code == 303 and BASE + r.headers["Location"] == url
    page = chair.get(url, timeout=30)
    assert "изменились" not in page.text
    assert api.get(url.replace(f"{BASE}/portal", "/api/v1")).json()["indicators"][0]["value"] == 3


def test_quality_trend_is_drawn_per_quarter(api, tree, signed_in, engine):
    from sqlalchemy import text

    register(api, tree["primary"], 1)
    assert api.post("/api/v1/quality/runs").status_code == 200
    with engine.begin() as c:  # that run stands for the quarter before this one
        c.execute(text("UPDATE reports.quality_run SET quarter = quarter - interval '3 months'"))
    assert api.post("/api/v1/quality/runs").status_code == 200
    faults = api.as_user("regional").get("/api/v1/quality/summary").json()
    at_fault = sum(r["orgs"] for r in faults["rows"] if r["check_code"] == "no_chair")
    page = signed_in("regional").get(f"{BASE}/portal/quality?check=no_chair", timeout=30)
    label = re.search(r'<svg class="columns"[^>]*aria-label="([^"]+)"', page.text).group(1)
    shown = [int(re.sub(r"\D", "", v)) for v in re.findall(r"— ([\d\s\u202f\xa0]+)", label)]
    assert shown == [at_fault, at_fault] and at_fault > 0, label
    assert re.search(r"\d кв\. \d{4}", label)
