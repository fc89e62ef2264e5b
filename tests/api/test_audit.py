"""The audit log: every read and change of a passport (chairs and staff are personal data)."""

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.factories import build_tree


@pytest.fixture
def tree(api):
    return build_tree(lambda d: api.post("/api/v1/organizations", json=d).json())


def entries(api, record_id, since):
    r = api.as_user("auditor").get("/api/v1/audit", params={"record_id": record_id,
                                                            "since": since})
    assert r.status_code == 200, r.text
    return r.json()


def test_reads_and_changes_are_recorded_without_personal_data(api, tree, engine):
    with engine.connect() as conn:
        since = conn.execute(text("SELECT now()")).scalar_one().isoformat()
    chair = api.as_user("chair")
    chair.get("/api/v1/organizations/5")
    chair.get("/api/v1/organizations/5/history")
    chair.patch("/api/v1/organizations/5", json={"chair": {
        "surname": "Иванова", "first_name": "Мария", "phone": "+7 912 000-00-00"}})
    log = entries(api, "5", since)
    assert [e["action"] for e in reversed(log)] == ["read_passport", "read_history",
                                                     "update_passport"]
    for e in log:
        assert e["actor"] == "chair@test.reestr" and e["ip"] == "127.0.0.1"
        assert e["actor_subject"] and e["record_type"] == "organization"
        assert "Иванова" not in str(e) and "912" not in str(e)
    # out-of-scope attempts leave no trace of data, and no entry claiming a read
    api.as_user("chair").get("/api/v1/organizations/9")
    assert entries(api, "9", since) == []


def test_nobody_changes_the_log(api, tree, engine):
    api.get("/api/v1/organizations/5")
    for method in ("put", "patch", "delete"):
        assert getattr(api, method)("/api/v1/audit").status_code in (404, 405)
    with engine.begin() as conn, pytest.raises(DBAPIError, match="append-only"):
        conn.execute(text("DELETE FROM registry.audit_log"))
    with engine.begin() as conn, pytest.raises(DBAPIError, match="append-only"):
        conn.execute(text("UPDATE registry.audit_log SET actor = 'someone else'"))


def test_only_auditors_read_the_log(api, tree):
    for user in ("chair", "regional", "member", "nobody"):
        r = api.as_user(user).get("/api/v1/audit")
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
