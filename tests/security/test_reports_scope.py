"""Reports: the caller's scope is checked before any work (no snapshot of the union's tree is
taken for someone else's organization), and reporting dates ahead are refused (issue 17)."""

from sqlalchemy import text


def snapshots(engine) -> int:
    with engine.connect() as c:
        return c.execute(text("SELECT count(*) FROM reports.snapshot")).scalar()


def test_a_report_of_another_region_takes_no_snapshot(api, tree, engine):
    before = snapshots(engine)
    r = api.as_user("chair2").post(f"/api/v1/organizations/{tree['primary']}/reports",
                                   json={"family": "stat", "day": "2026-07-01"})
    assert r.status_code in (403, 404), r.text
    assert snapshots(engine) == before, "the tree was snapshotted for a refused caller"


def test_a_reporting_date_ahead_is_refused(api, tree):
    for user in ("chair", "admin"):
        r = api.as_user(user).post(f"/api/v1/organizations/{tree['primary']}/reports",
                                   json={"family": "stat", "day": "2031-01-01"})
        assert r.status_code == 422, r.text
        assert r.json()["error"]["details"][0]["code"] == "day_in_future"
        assert "ещё не наступила" in r.json()["error"]["details"][0]["message"]
