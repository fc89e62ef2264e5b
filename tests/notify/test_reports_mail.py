"""A chair whose report the level above sends back is told at once, with the reason."""

from tests.api.test_reports import DAY, generate
from tests.factories import register


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
