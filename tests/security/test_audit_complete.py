"""Every read that returns people records every id it returned, in one statement per answer;
a refused read is recorded too (issue 17)."""

from sqlalchemy import text

from tests.factories import members_csv


def last_audit_id(engine) -> int:
    """The log outlives the tests' emptied tables: each test reads only what came after."""
    with engine.connect() as c:
        return c.execute(text("SELECT coalesce(max(id), 0) FROM membership.audit_log")).scalar()


def audited(engine, action: str, actor: str, record_type: str = "member",
            after: int = 0) -> list[str]:
    """The ids the answers recorded; an answer of many records is one row holding them all."""
    with engine.connect() as c:
        rows = c.execute(text(
            "SELECT record_id, record_ids FROM membership.audit_log WHERE action = :a "
            "AND actor = :u AND record_type = :t AND id > :after"),
            {"a": action, "u": actor, "t": record_type, "after": after}).all()
    assert all(r.record_ids is not None for r in rows), "a list is audited as one row"
    return [i for r in rows for i in r.record_ids]


def member_ids(engine, org_id: int) -> set[str]:
    with engine.connect() as c:
        return {str(r[0]) for r in c.execute(text(
            "SELECT id FROM membership.member WHERE org_id = :o"), {"o": org_id})}


def test_a_list_of_hundreds_and_an_export_are_audited_whole(api, synced_tree, engine):
    r = api.as_user("chair").post("/api/v1/organizations/5/members/import",
                                  files={"file": ("members.csv", members_csv(range(1, 151)))})
    assert r.status_code in (200, 201), r.text
    ids = member_ids(engine, 5)
    assert len(ids) == 150
    start = last_audit_id(engine)
    page = api.as_user("chair").get("/api/v1/members", params={"limit": 500})
    assert page.status_code == 200, page.text
    got = {str(m["id"]) for m in page.json()["items"]}
    assert got == ids
    assert sorted(audited(engine, "search", "chair@test.reestr", after=start)) == sorted(ids), \
        "every one of the 150 ids returned, not the first hundred"
    export = api.as_user("chair").get("/api/v1/members/export.xlsx")
    assert export.status_code == 200
    assert sorted(audited(engine, "export", "chair@test.reestr", after=start)) == sorted(ids)


def test_an_auditor_finds_a_person_in_a_page_of_many(api, synced_tree, engine):
    r = api.as_user("chair").post("/api/v1/organizations/5/members/import",
                                  files={"file": ("members.csv", members_csv(range(1, 21)))})
    assert r.status_code in (200, 201), r.text
    one = sorted(member_ids(engine, 5))[7]
    assert api.as_user("chair").get("/api/v1/members", params={"limit": 500}).status_code == 200
    log = api.as_user("auditor").get("/api/v1/audit",
                                     params={"record_id": one, "actor": "chair@test.reestr"})
    assert log.status_code == 200, log.text
    searches = [e for e in log.json() if e["action"] == "search" and e["service"] == "membership"]
    assert searches and all(one in e["record_ids"] for e in searches)


def test_a_refused_read_is_audited(api, synced_tree, engine):
    r = api.as_user("chair").post("/api/v1/organizations/5/members/import",
                                  files={"file": ("members.csv", members_csv([1]))})
    assert r.status_code in (200, 201), r.text
    (member_id,) = member_ids(engine, 5)
    start = last_audit_id(engine)
    assert api.as_user("chair2").get(f"/api/v1/members/{member_id}").status_code == 404

    def refused() -> list[str]:
        with engine.connect() as c:
            return [r[0] for r in c.execute(text(
                "SELECT record_id FROM membership.audit_log WHERE action = 'refused' "
                "AND actor = 'chair2@test.reestr' AND id > :after"), {"after": start})]
    from tests.support.waiting import wait_until

    assert wait_until(lambda: any(f"get_member({member_id}" in r for r in refused()))


def test_the_applications_queue_is_audited_by_application(api, synced_tree, engine):
    from tests.api.test_join import application

    for n in (1, 2, 3):
        r = api.as_user(None).post("/api/v1/join/applications", json=application(n))
        assert r.status_code == 201, r.text
    start = last_audit_id(engine)
    queue = api.as_user("chair").get("/api/v1/applications")
    assert queue.status_code == 200, queue.text
    shown = sorted(a["id"] for a in queue.json())
    assert len(shown) == 3
    assert sorted(audited(engine, "read_applications", "chair@test.reestr",
                          "application", after=start)) == shown
