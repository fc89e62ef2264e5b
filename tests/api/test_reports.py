"""Reports through the gateway against the real services: drafts computed from the registry as
it stood on the reporting date, typing in with checks, submitting and locking, consolidation up
the tree, reopening from above, the national run, tracking, PDF and XLSX, and every refusal.

Tree (tests.factories.build_tree), all included on 1 January 2020: 4 Кунгурская районная
(59-Т-1) → 5 ППО «СОШ № 1» (the chair's) → 6 профгруппа; 7 ППО университета with territorial
rights → 8 ППО колледжа; 9 ППО in the other region (chair2).
"""

import io

from openpyxl import load_workbook
from pypdf import PdfReader

from tests.factories import register

DAY = "2026-10-01"


def generate(api, org_id: int, user: str, family: str = "stat", day: str = DAY):
    return api.as_user(user).post(f"/api/v1/organizations/{org_id}/reports",
                                  json={"family": family, "day": day})


def values(report: dict) -> dict:
    return {i["code"]: i["value"] for i in report["indicators"]}


def test_primary_report_counts_the_register_as_it_stood(api, tree):
    primary, sub = tree["primary"], tree["subdivision"]
    register(api, primary, 1, birth_date="1995-02-01")                 # young teacher on 1 Oct
    register(api, primary, 2, category="student", job_category=None, sex="male")
    register(api, sub, 3)                                                # counts in its primary
    changed = register(api, primary, 4, category="pensioner", job_category=None)
    moved = register(api, primary, 5)
    register(api, primary, 6, joined_on="2026-10-15")                   # joined after the date
    # changes made today, after the reporting date, do not rewrite it
    r = api.as_user("chair").patch(f"/api/v1/members/{changed}",
                                   json={"category": "working", "job_category": "head"})
    assert r.status_code == 200, r.text
    r = api.as_user("regional").post(f"/api/v1/members/{moved}/transfer",
                                     json={"to_org_id": tree["rights"], "on": "2026-11-01"})
    assert r.status_code == 200, r.text

    r = generate(api, primary, "chair")
    assert r.status_code == 201, r.text
    report = r.json()
    assert report["form"] == "5-СП" and report["form_year"] == 2026
    assert report["status"] == "draft" and report["auto"] is False   # the passport has no chair
    v = values(report)
    assert v["01"] == 5 and v["02"] == 4                  # 1, 2, 3, 4, 5 (not 6)
    assert v["04"] == 3 and v["05"] == 3 and v["06"] == 1 and v["07"] == 0
    assert v["09"] == 1 and v["10"] == 1 and v["11"] == 0
    assert report["missing"] == ["20", "22", "23"] and v["20"] is None

    # a year earlier the 2025 form had no youth line
    old = generate(api, primary, "chair", day="2025-10-01").json()
    assert old["form_year"] == 2025 and "03" not in values(old)


def test_typing_in_checks_submit_and_lock(api, tree):
    primary = tree["primary"]
    for n in range(1, 4):
        register(api, primary, n)
    report = generate(api, primary, "chair").json()
    rid = report["id"]

    r = api.as_user("chair").patch(f"/api/v1/reports/{rid}", json={"values": {"20": -1}})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["code"] == "value_not_count"
    r = api.as_user("chair").patch(f"/api/v1/reports/{rid}", json={"values": {"20": 2}})
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "report_checks_failed"
    assert "Работающих членов Профсоюза больше" in error["message"]
    r = api.as_user("chair").patch(f"/api/v1/reports/{rid}", json={"values": {"99": 1}})
    assert r.status_code == 422 and "нет показателя 99" in r.text
    assert values(api.as_user("chair").get(f"/api/v1/reports/{rid}").json())["20"] is None

    r = api.as_user("chair").post(f"/api/v1/reports/{rid}/submit")
    assert r.status_code == 409 and "не заполнены показатели 20, 22, 23" in r.text

    r = api.as_user("chair").patch(f"/api/v1/reports/{rid}",
                                   json={"values": {"20": 40, "22": 2, "23": 0}})
    assert r.status_code == 200, r.text
    assert values(r.json())["20"] == 40
    assert r.json()["history"][-1]["action"] == "edited"

    # another organization's chair reaches none of it
    assert api.as_user("chair2").get(f"/api/v1/reports/{rid}").status_code == 404
    assert api.as_user("chair2").post(f"/api/v1/reports/{rid}/submit").status_code == 404
    assert generate(api, primary, "chair2").status_code == 403

    r = api.as_user("chair").post(f"/api/v1/reports/{rid}/submit")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "submitted"
    r = api.as_user("chair").patch(f"/api/v1/reports/{rid}", json={"values": {"20": 41}})
    assert r.status_code == 409 and r.json()["error"]["code"] == "report_locked"
    assert values(api.get(f"/api/v1/reports/{rid}").json())["20"] == 40


def test_a_moved_organization_keeps_its_reports(api, tree):
    """A report belongs where its organization stood on its date: after the chair's
    organization moves to the other region, its chair and its old region still reach it."""
    primary = tree["primary"]
    rid = generate(api, primary, "chair").json()["id"]
    r = api.post(f"/api/v1/organizations/{primary}/move", json={"parent_id": tree["region2"]})
    assert r.status_code == 200, r.text
    for user in ("chair", "regional"):
        r = api.as_user(user).get(f"/api/v1/reports/{rid}")
        assert r.status_code == 200, (user, r.text)
        assert r.json()["org_id"] == primary
    r = api.as_user("chair").patch(f"/api/v1/reports/{rid}", json={"values": {"20": 0}})
    assert r.status_code == 200, r.text
    assert generate(api, primary, "chair").status_code in (200, 201)
    assert api.as_user("chair2").get(f"/api/v1/reports/{rid}").status_code == 404
    assert api.as_user("member").get(f"/api/v1/reports/{rid}").status_code == 404


def test_consolidation_reopen_and_tracking(api, tree):
    primary, territorial = tree["primary"], tree["territorial"]
    for n in range(1, 5):
        register(api, primary, n)
    rid = generate(api, primary, "chair").json()["id"]
    r = api.as_user("chair").patch(f"/api/v1/reports/{rid}",
                                   json={"values": {"20": 30, "22": 1, "23": 0}})
    assert r.status_code == 200, r.text

    r = generate(api, territorial, "regional")
    assert r.status_code == 201, r.text
    t = r.json()
    assert t["form"] == "2-СП"
    assert values(t)["01"] == 4 and values(t)["20"] == 30 and values(t)["30"] == 1
    assert [c["org_id"] for c in t["children"]] == [primary]
    assert t["children"][0]["status"] == "draft"
    r = api.as_user("regional").patch(f"/api/v1/reports/{t['id']}", json={"values": {"40": 3}})
    assert r.status_code == 200, r.text
    r = api.as_user("regional").post(f"/api/v1/reports/{t['id']}/submit")
    assert r.status_code == 409 and "не сданы отчёты 1 организаций" in r.text

    assert api.as_user("chair").post(f"/api/v1/reports/{rid}/submit").status_code == 200
    r = api.as_user("regional").post(f"/api/v1/reports/{t['id']}/submit")
    assert r.status_code == 200, r.text

    # only the organizations above reopen, and with a reason; the sums above reopen with it
    r = api.as_user("chair").post(f"/api/v1/reports/{rid}/reopen", json={"reason": "ошибка"})
    assert r.status_code == 403
    r = api.as_user("regional").post(f"/api/v1/reports/{rid}/reopen", json={"reason": " "})
    assert r.status_code == 422
    r = api.as_user("regional").post(f"/api/v1/reports/{rid}/reopen",
                                     json={"reason": "Неверно указана численность работающих"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "draft"
    assert r.json()["reopen_reason"] == "Неверно указана численность работающих"
    assert api.get(f"/api/v1/reports/{t['id']}").json()["status"] == "draft"
    assert api.as_user("chair").patch(f"/api/v1/reports/{rid}",
                                      json={"values": {"20": 35}}).status_code == 200
    assert values(api.get(f"/api/v1/reports/{t['id']}").json())["20"] == 35

    rows = api.get(f"/api/v1/reports/tracking?day={DAY}&family=stat").json()
    five = [r for r in rows if r["region_id"] == tree["region"] and r["form"] == "5-СП"][0]
    assert five["expected"] == 2 and five["generated"] == 1 and five["submitted"] == 0
    assert five["region_name"] == "Пермская краевая организация"
    # a chair's tracking covers their own subtree only
    mine = api.as_user("chair2").get(f"/api/v1/reports/tracking?day={DAY}&family=stat").json()
    assert {r["region_id"] for r in mine} == {tree["region2"]}


def test_national_run_consolidates_to_the_central_report(api, tree):
    register(api, tree["primary"], 1)
    register(api, tree["under_rights"], 2, user="regional", category="student",
             job_category=None)
    register(api, tree["primary2"], 3, user="chair2")
    assert api.as_user("regional").post("/api/v1/reports/national", json={
        "family": "stat", "day": DAY}).status_code == 403
    r = api.post("/api/v1/reports/national", json={"family": "stat", "day": DAY})
    assert r.status_code == 200, r.text
    run = r.json()
    # central, 2 regions, 1 territorial, 4 primaries (the subdivision reports in its primary)
    assert run["reports"] == 8 and run["made"] == 8
    found = api.get(f"/api/v1/organizations/{tree['central']}/reports?family=stat&day={DAY}")
    central = api.get(f"/api/v1/reports/{found.json()['id']}").json()
    assert central["form"] == "СП-ЦС"
    v = values(central)
    assert v["01"] == 3 and v["09"] == 1 and v["32"] == 2 and v["31"] == 1 and v["30"] == 4
    assert {c["org_id"] for c in central["children"]} == {tree["region"], tree["region2"]}
    under = api.get(f"/api/v1/organizations/{tree['under_rights']}/reports"
                    f"?family=stat&day={DAY}").json()
    assert api.get(f"/api/v1/reports/{under['id']}").json()["form"] == "5-СП"
    rights = api.get(f"/api/v1/organizations/{tree['rights']}/reports?family=stat&day={DAY}")
    assert api.get(f"/api/v1/reports/{rights.json()['id']}").json()["form"] == "4-СП"


def test_bad_dates_and_organizations(api, tree):
    r = generate(api, tree["primary"], "chair", day="2026-10-02")
    assert r.status_code == 422 and r.json()["error"]["code"] == "report_date_invalid"
    r = generate(api, tree["primary"], "chair", family="kdk", day="2026-10-01")
    assert r.status_code == 422
    r = generate(api, tree["primary"], "chair", family="nonsense")
    assert r.status_code == 404 and r.json()["error"]["code"] == "family_unknown"
    r = api.post("/api/v1/organizations", json={
        "level": "primary", "registry_number": "59-П-9", "name": "ППО новой школы",
        "parent_id": tree["territorial"], "included_on": "2026-11-01"})
    assert r.status_code == 201, r.text
    r = generate(api, r.json()["id"], "admin")
    assert r.status_code == 404 and r.json()["error"]["code"] == "org_not_in_registry_on_date"
    r = api.post(f"/api/v1/organizations/{tree['primary2']}/exclude",
                 json={"excluded_on": "2026-09-01", "reason": "liquidated"})
    assert r.status_code == 200, r.text
    r = generate(api, tree["primary2"], "admin")
    assert r.status_code == 404 and "уже исключена" in r.json()["error"]["message"]
    # a region's legal-defence form is not a primary's
    r = generate(api, tree["primary"], "chair", family="pi", day="2026-01-01")
    assert r.status_code == 403 and r.json()["error"]["code"] == "form_not_for_org"


def test_campaign_form_entered_and_consolidated(api, tree):
    day = "2026-01-01"
    kdk = generate(api, tree["primary"], "chair", family="kdk", day=day).json()
    assert kdk["form"] == "КДК-1" and kdk["auto"] is False
    r = api.as_user("chair").patch(f"/api/v1/reports/{kdk['id']}",
                                   json={"values": {"01": 1, "02": 50, "03": 40}})
    assert r.status_code == 422 and "Охваченных коллективным договором больше" in r.text
    r = api.as_user("chair").patch(f"/api/v1/reports/{kdk['id']}",
                                   json={"values": {"01": 1, "02": 38, "03": 40, "04": 1}})
    assert r.status_code == 200, r.text
    region = generate(api, tree["region"], "regional", family="kdk", day=day).json()
    assert region["form"] == "КДК-2"
    # summed through the territorial organization's draft, made with the region's; what no one
    # beneath has typed yet stays blank
    assert values(region)["02"] == 38 and values(region)["10"] is None


def test_report_files(api, tree):
    register(api, tree["primary"], 1)
    rid = generate(api, tree["primary"], "chair").json()["id"]
    r = api.as_user("chair").get(f"/api/v1/reports/{rid}/file")
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/pdf"
    pdf = PdfReader(io.BytesIO(r.content))
    fonts = str(pdf.pages[0]["/Resources"]["/Font"].get_object().values())
    page = pdf.pages[0].extract_text()
    assert "Форма 5-СП" in page and "Численность членов Профсоюза, всего" in page
    assert "ППО МБОУ «СОШ № 1» г. Кунгура" in page and "01.10.2026" in page
    assert all("DejaVu" in str(f.get_object()["/BaseFont"])
               for f in pdf.pages[0]["/Resources"]["/Font"].values()), fonts
    assert "5-%D0%A1%D0%9F" in r.headers["Content-Disposition"]
    r = api.as_user("chair").get(f"/api/v1/reports/{rid}/file?format=xlsx")
    assert r.status_code == 200
    sheet = load_workbook(io.BytesIO(r.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0].startswith("Форма 5-СП")
    assert ("01", "Численность членов Профсоюза, всего", 1) in rows
    assert api.as_user("chair2").get(f"/api/v1/reports/{rid}/file").status_code == 404
    assert api.as_user("chair").get(f"/api/v1/reports/{rid}/file?format=doc").status_code == 400
    territorial = generate(api, tree["territorial"], "regional").json()["id"]
    r = api.as_user("regional").get(f"/api/v1/reports/{territorial}/file")
    assert r.status_code == 200
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(r.content)).pages)
    assert "Форма 2-СП" in text and "Отчёты организаций, входящих в состав" in text
