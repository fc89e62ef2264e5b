"""A chair whose report the level above sends back is told at once, with the reason; those
above see who has not submitted, with the chairs' contacts, and remind them."""

import re

from sqlalchemy import text

from tests.api.test_reports import DAY, generate
from tests.conftest import GATEWAY_ADDRESS
from tests.factories import register
from tests.support.portal import csrf_of

BASE = f"http://{GATEWAY_ADDRESS}"


def test_report_reopened_from_above_tells_the_chair(api, tree, mailbox):
    primary = tree["primary"]
    r = api.patch(f"/api/v1/organizations/{primary}", json={"chair": {
        "surname": "Отчётова", "first_name": "Нина", "email": "reopen.chair@example.org"}})
    assert r.status_code == 200, r.text
    register(api, primary, 1)
    rid = generate(api, primary, "chair").json()["id"]
    r = api.as_user("chair").patch(f"/api/v1/reports/{rid}",
                                   json={"values": {"20": 1, "22": 0, "23": 0}})
    assert r.status_code == 200, r.text
    assert api.as_user("chair").post(f"/api/v1/reports/{rid}/submit").status_code == 200
    r = api.as_user("regional").post(f"/api/v1/reports/{rid}/reopen",
                                     json={"reason": "Неверно указана численность"})
    assert r.status_code == 200, r.text
    mail = mailbox.wait_for_subject("reopen.chair@example.org", "Отчёт возвращён")
    assert "Причина: Неверно указана численность" in mail["Text"]
    day = DAY.split("-")
    assert f"на {int(day[2])} октября {day[0]}" in mail["Text"]
    assert f"/portal/reports/{rid}" in mail["Text"]
    assert "потому что вы председатель" in mail["Text"]


def test_region_sees_who_has_not_reported_and_reminds_their_chairs(api, tree, mailbox,
                                                                   signed_in, engine):
    primary = tree["primary"]
    r = api.patch(f"/api/v1/organizations/{primary}", json={"chair": {
        "surname": "Несдавшая", "first_name": "Вера", "email": "late.chair@example.org",
        "phone": "+7 912 345-67-89"}})
    assert r.status_code == 200, r.text
    register(api, primary, 1)
    assert generate(api, primary, "chair").status_code == 201
    rows = api.get(f"/api/v1/reports/tracking?day={DAY}&family=stat").json()
    expected = sum(r["expected"] - r["submitted"] for r in rows
                   if r["region_id"] == tree["region"])
    region = signed_in("regional")
    url = f"{BASE}/portal/reports/tracking?family=stat&day={DAY}&region_id={tree['region']}"
    page = region.get(url, timeout=30)
    assert page.status_code == 200, page.text
    listed = [int(i) for i in re.findall(r'name="org_id" value="(\d+)"', page.text)]
    assert primary in listed and len(listed) == expected
    assert "late.chair@example.org" in page.text and 'href="tel:' in page.text
    assert "черновик" in page.text  # the primary's report is generated, not submitted
    remind = {"csrf": csrf_of(page.text), "family": "stat", "day": DAY,
              "region_id": tree["region"], "org_id": [primary]}
    for _ in range(2):  # pressed twice: one letter
        r = region.post(f"{BASE}/portal/reports/tracking/remind", data=remind, timeout=30)
        assert r.status_code == 200 and "Напоминание отправлено председателям: 1 организация" \
            in r.text, r.text
    mail = mailbox.wait_for_subject("late.chair@example.org", "Напоминание")
    assert "Вышестоящая организация напоминает" in mail["Text"]
    assert f"/portal/reports?org_id={primary}" in mail["Text"]
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM notify.message WHERE kind = 'report_asked'"
                              )).scalar() == 1
    # another region's chair can neither see these chairs nor remind them
    other = signed_in("chair2")
    page = other.get(url, timeout=30)
    assert "late.chair@example.org" not in page.text
    r = other.post(f"{BASE}/portal/reports/tracking/remind",
                   data={**remind, "csrf": csrf_of(page.text)}, timeout=30)
    assert "Среди выбранных нет организаций вашей структуры" in r.text
