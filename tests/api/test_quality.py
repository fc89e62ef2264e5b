"""Data quality through the gateway against the real services: every check counted per region,
the drill-down to territorial and primary organizations, the organizations at fault with where
they are put right, a chair's own problems, the quarter's run kept for the trend, the
reconciliation with the statistical reports, usage, the workbook, and who may see what.

Tree (tests.factories.build_tree), included on 1 January 2020: 2 Пермская краевая → 4
Кунгурская районная → 5 ППО «СОШ № 1» (+ 6 профгруппа); 7 ППО университета with territorial
rights → 8 ППО колледжа; 3 Свердловская → 9 ППО школы № 5.
"""

import io

from openpyxl import Workbook, load_workbook
from sqlalchemy import text

from tests.factories import register


def test_quality_checks_drilldown_and_faults(api, tree, engine):
    primary, rights = tree["primary"], tree["rights"]
    register(api, primary, 1)
    register(api, tree["subdivision"], 2, category="not_given", job_category=None)
    register(api, tree["primary2"], 3, user="chair2")
    member = register(api, tree["primary2"], 4, user="chair2")
    # a chair without a term of office and without an e-mail (no account can be given)
    r = api.patch(f"/api/v1/organizations/{tree['primary2']}", json={"chair": {
        "surname": "Сидорова", "first_name": "Ольга"}})
    assert r.status_code == 200, r.text
    # a card delivered to the organization and not handed out
    r = api.as_user("chair2").post(f"/api/v1/members/{member}/card-requests")
    assert r.status_code in (200, 201), r.text
    with engine.begin() as c:
        c.execute(text("UPDATE cards.card SET status = 'delivered' WHERE member_id = :m"),
                  {"m": member})
    # the university's organization reported as a legal entity; the registry says it is not
    report = api.as_user("regional").post(f"/api/v1/organizations/{rights}/reports",
                                          json={"family": "stat", "day": "2026-10-01"}).json()
    assert report["form"] == "4-СП"
    r = api.as_user("regional").patch(f"/api/v1/reports/{report['id']}",
                                      json={"values": {"20": 10, "22": 0, "23": 1}})
    assert r.status_code == 200, r.text
    assert api.as_user("regional").post(
        f"/api/v1/reports/{report['id']}/submit").status_code == 200

    assert api.as_user("regional").post("/api/v1/quality/runs").status_code == 403
    r = api.post("/api/v1/quality/runs")
    assert r.status_code == 200, r.text

    summary = api.get("/api/v1/quality/summary").json()
    found = {(row["region_id"], row["check_code"]): (row["orgs"], row["records"])
             for row in summary["rows"]}
    perm, sverdl = tree["region"], tree["region2"]
    assert found[(perm, "no_chair")] == (3, 3)              # 5, 7, 8
    assert found[(perm, "no_edu_inn")] == (2, 2)            # 7, 8
    assert found[(perm, "no_members")] == (2, 2)            # 7, 8
    assert found[(perm, "few_members")] == (1, 2)           # 5: its own and its union group's
    assert found[(perm, "no_category")] == (1, 1)           # the union group's member
    assert found[(perm, "status_mismatch")] == (1, 1)       # 7
    assert found[(sverdl, "no_term")] == (1, 1)
    assert found[(sverdl, "chair_no_access")] == (1, 1)
    assert found[(sverdl, "cards_waiting")] == (1, 1)
    assert (sverdl, "no_chair") not in found

    # a region's user sees their region only
    mine = api.as_user("regional").get("/api/v1/quality/summary").json()
    assert {row["region_id"] for row in mine["rows"]} == {perm}

    down = api.as_user("regional").get(f"/api/v1/quality/orgs/{perm}").json()
    parts = {(p["part_id"], p["check_code"]): p["orgs"] for p in down["parts"]}
    assert parts[(tree["territorial"], "no_chair")] == 1      # 5, through its territorial
    assert parts[(rights, "no_chair")] == 2                    # 7 and the college under it
    assert api.as_user("chair2").get(f"/api/v1/quality/orgs/{perm}").status_code == 404

    faults = api.as_user("chair").get(f"/api/v1/quality/orgs/{primary}/faults").json()
    by_check = {f["check_code"]: f for f in faults["items"]}
    assert set(by_check) == {"no_chair", "few_members", "no_category"}
    assert by_check["no_chair"]["fix"] == f"/portal/org/{primary}/passport/chair"
    assert by_check["no_category"]["org_id"] == tree["subdivision"]
    assert by_check["no_category"]["fix"] == (
        f"/portal/members?within={tree['subdivision']}&category=not_given")
    only = api.as_user("chair").get(f"/api/v1/quality/orgs/{primary}/faults?check=no_chair")
    assert only.json()["total"] == 1
    assert api.as_user("chair").get(
        f"/api/v1/quality/orgs/{primary}/faults?check=nonsense").status_code == 404
    assert api.as_user("chair2").get(
        f"/api/v1/quality/orgs/{primary}/faults").status_code == 404

    # a second run in the quarter replaces the first: one run per quarter is kept
    assert api.post("/api/v1/quality/runs").status_code == 200
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM reports.quality_run")).scalar() == 1


def test_reconciliation_usage_and_workbook(api, tree):
    for n in range(1, 4):
        register(api, tree["primary"], n)
    register(api, tree["primary"], 4, category="student", job_category=None)
    assert api.post("/api/v1/reports/national",
                    json={"family": "stat", "day": "2026-10-01"}).status_code == 200
    register(api, tree["primary"], 5)        # on record since the report
    assert api.post("/api/v1/quality/runs").status_code == 200

    rows = {r["region_id"]: r for r in api.get("/api/v1/quality/reconciliation").json()["rows"]}
    perm = rows[tree["region"]]
    assert perm["members"] == 5 and perm["members_reported"] == 4
    assert perm["members_share"] == 1.25
    assert perm["students"] == 1 and perm["students_reported"] == 1
    assert perm["primaries"] == 3 and perm["primaries_reported"] == 3

    usage = {r["region_id"]: r for r in api.get("/api/v1/quality/usage").json()["rows"]}
    assert usage[tree["region"]]["members"] == 5
    assert usage[tree["region"]]["joined_online_share"] == 0
    assert usage[tree["region"]]["auto_share"] == 0          # no chair in any passport

    r = api.get("/api/v1/quality/export.xlsx")
    assert r.status_code == 200
    book = load_workbook(io.BytesIO(r.content))
    assert book.sheetnames == ["Качество данных", "Сверка со статотчётом", "Использование АИС"]
    rec = list(book["Сверка со статотчётом"].iter_rows(values_only=True))
    assert rec[1][:4] == ("Пермская краевая организация", 5, 4, 1.25)


def test_primary_that_stopped_reporting(api, tree):
    primary = tree["primary"]
    register(api, primary, 1)
    days = ("2026-01-01", "2026-07-01", "2026-10-01")
    ids = [api.as_user("chair").post(f"/api/v1/organizations/{primary}/reports",
                                     json={"family": "stat", "day": d}).json()["id"]
           for d in days]
    assert api.as_user("chair").patch(f"/api/v1/reports/{ids[0]}", json={
        "values": {"20": 10, "22": 0, "23": 0}}).status_code == 200
    assert api.as_user("chair").post(f"/api/v1/reports/{ids[0]}/submit").status_code == 200
    assert api.post("/api/v1/quality/runs").status_code == 200
    faults = api.get(f"/api/v1/quality/orgs/{primary}/faults?check=stopped_reporting").json()
    assert [f["org_id"] for f in faults["items"]] == [primary]
    # a report submitted on one of the last two dates: reporting again
    assert api.as_user("chair").patch(f"/api/v1/reports/{ids[2]}", json={
        "values": {"20": 10, "22": 0, "23": 0}}).status_code == 200
    assert api.as_user("chair").post(f"/api/v1/reports/{ids[2]}/submit").status_code == 200
    assert api.post("/api/v1/quality/runs").status_code == 200
    faults = api.get(f"/api/v1/quality/orgs/{primary}/faults?check=stopped_reporting").json()
    assert faults["total"] == 0


def test_reported_figures_loaded_from_a_file_reconcile_with_the_registry(api, tree):
    for n in range(1, 4):
        register(api, tree["primary"], n)
    register(api, tree["primary2"], 4, user="chair2")
    assert api.post("/api/v1/quality/runs").status_code == 200
    book = Workbook()
    sheet = book.active
    sheet.append(["Сведения о численности на 01.10.2026"])
    sheet.append(["Рег. номер", "Численность членов Профсоюза, всего", "Работающих",
                  "Обучающихся", "Неработающих пенсионеров"])
    sheet.append(["59-п-1", 4, 3, 1, 0])          # lower case: the same primary
    sheet.append(["59-P-2", 10, 8, 0, 2])         # a Latin P is the Cyrillic Р, not П
    content = io.BytesIO()
    book.save(content)
    refused = api.post("/api/v1/quality/reported-figures", params={"day": "2026-10-01"},
                       files={"file": ("статотчёт.xlsx", content.getvalue())})
    assert refused.status_code == 422
    assert [(e["row"], e["code"]) for e in refused.json()["errors"]] == [(4, "org_unknown")]
    sheet.delete_rows(4)
    sheet.append(["59-П-2", 10, 8, 0, 2])
    sheet.append(["59-П-3", "2 чел.", 1, 0, 0])   # not a number
    sheet.append(["66-П-1", 3, 4, 0, 0])          # more working than members
    content = io.BytesIO()
    book.save(content)
    r = api.post("/api/v1/quality/reported-figures", params={"day": "2026-10-01"},
                 files={"file": ("статотчёт.xlsx", content.getvalue())})
    assert r.status_code == 422
    by_row = {(e["row"], e["code"]) for e in r.json()["errors"]}
    assert by_row == {(5, "value_not_count"), (6, "parts_exceed_total")}
    sheet.delete_rows(5, 2)
    sheet.append(["66-П-1", 3, 3, 0, 0])
    content = io.BytesIO()
    book.save(content)
    r = api.post("/api/v1/quality/reported-figures", params={"day": "2026-10-01"},
                 files={"file": ("статотчёт.xlsx", content.getvalue())})
    assert r.status_code == 200 and r.json()["rows_loaded"] == 3, r.text
    rows = {r["region_id"]: r for r in api.get("/api/v1/quality/reconciliation").json()["rows"]}
    perm, sverdl = rows[tree["region"]], rows[tree["region2"]]
    assert perm["from_file"] and (perm["members"], perm["members_reported"]) == (3, 14)
    assert (perm["working_reported"], perm["pensioners_reported"]) == (11, 2)
    assert perm["primaries_reported"] == 2 and perm["members_share"] == round(3 / 14, 3)
    assert (sverdl["members"], sverdl["members_reported"]) == (1, 3)
    # only the Council's and regional staff load them, regional staff within their region
    assert api.as_user("chair").post(
        "/api/v1/quality/reported-figures", params={"day": "2026-10-01"},
        files={"file": ("f.xlsx", content.getvalue())}).status_code == 403
    regional = api.as_user("regional").post(
        "/api/v1/quality/reported-figures", params={"day": "2026-10-01"},
        files={"file": ("f.xlsx", content.getvalue())})
    assert regional.status_code == 422
    assert [(e["row"], e["code"]) for e in regional.json()["errors"]] == [(5, "org_unknown")]
