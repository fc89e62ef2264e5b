"""Members through the gateway: cards, one person one record, transfer, removal, history,
search and export within scope, against the real services, PostgreSQL, RabbitMQ and Keycloak.

Tree (tests.factories.build_tree): 1 ЦС → 2 Пермская (→ 4 районная → 5 ППО → 6 профгруппа;
7 ППО с правами ТПО → 8 ППО) and 3 Свердловская → 9 ППО.
"""

import io
import time

import pytest
from sqlalchemy import text

from tests.factories import card
from tests.support.waiting import wait_until


def register(api, org_id: int, n: int = 1, user: str = "chair", **fields):
    return api.as_user(user).post(f"/api/v1/organizations/{org_id}/members",
                                  json=card(n, **fields))


def test_register_read_and_audit(api, synced_tree, engine):
    r = register(api, 5)
    assert r.status_code == 201, r.text
    member = r.json()
    assert member["org_id"] == 5 and member["status"] == "active"
    assert member["category_title"] == "работающий" and member["snils"] == card(1)["snils"]
    got = api.as_user("chair").get(f"/api/v1/members/{member['id']}")
    assert got.status_code == 200 and got.json()["surname"] == card(1)["surname"]
    with engine.connect() as c:
        actions = set(c.execute(text(
            "SELECT action FROM membership.audit_log WHERE record_id = :id"),
            {"id": str(member["id"])}).scalars())
    assert {"register", "read_card"} <= actions
    # the auditor sees both services' logs through one endpoint
    log = api.as_user("auditor").get("/api/v1/audit", params={"record_id": str(member["id"])})
    assert {row["action"] for row in log.json()} >= {"register", "read_card"}


@pytest.mark.parametrize("fields, field, code", [
    ({"snils": "112-233-445 96"}, "snils", "snils_checksum"),
    ({"birth_date": "2099-01-01"}, "birth_date", "date_in_future"),
    ({"birth_date": "2020-01-01"}, "birth_date", "too_young"),
    ({"pd_consent_on": None}, "pd_consent_on", "consent_required"),
    ({"surname": ""}, "surname", "missing"),
    ({"email": "not-an-email"}, "email", "email_format"),
    ({"category": "student", "job_category": "teacher"}, "job_category", "job_without_work"),
])
def test_bad_cards_are_refused_with_russian_messages(api, synced_tree, engine, fields, field, code):
    r = register(api, 5, **fields)
    assert r.status_code == 422, r.text
    details = r.json()["error"]["details"]
    assert any(d["field"] == field and d["code"] == code for d in details), details
    assert all(any("а" <= ch <= "я" for ch in d["message"].lower()) for d in details)
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM membership.member")).scalar() == 0


def test_only_primaries_and_subdivisions_register(api, synced_tree):
    r = register(api, 4, user="regional")
    assert r.status_code == 422 and r.json()["error"]["code"] == "org_level"
    assert register(api, 6).status_code == 201  # the subdivision beneath the chair's primary


def test_one_person_one_record_offers_transfer(api, synced_tree):
    first = register(api, 5).json()
    # same SNILS in another region
    r = register(api, 9, user="chair2")
    assert r.status_code == 409
    error = r.json()["error"]
    assert error["code"] == "person_registered" and "перевод" in error["message"]
    assert error["details"]["org_id"] == 5 and error["details"]["transfer_offered"]
    # same full name and birth date without a SNILS
    r = register(api, 9, user="chair2", snils=None)
    assert r.status_code == 409 and r.json()["error"]["details"]["member_id"] == first["id"]
    # the receiving chair transfers with the person's papers (their date of birth)
    denied = api.as_user("chair2").post(f"/api/v1/members/{first['id']}/transfer",
                                        json={"to_org_id": 9, "on": "2025-01-10"})
    assert denied.status_code == 404
    moved = api.as_user("chair2").post(f"/api/v1/members/{first['id']}/transfer", json={
        "to_org_id": 9, "on": "2025-01-10", "birth_date": card(1)["birth_date"]})
    assert moved.status_code == 200, moved.text
    assert moved.json()["org_id"] == 9
    # the old chair no longer sees the card; the history keeps both organizations
    assert api.as_user("chair").get(f"/api/v1/members/{first['id']}").status_code == 404
    history = api.as_user("chair2").get(f"/api/v1/members/{first['id']}/history").json()
    assert [o["org_id"] for o in history["organizations"]] == [5, 9]
    assert history["changes"][-1]["change_kind"] == "transferred"


def test_two_people_with_same_name_and_birth_but_other_snils(api, synced_tree):
    assert register(api, 5, n=1).status_code == 201
    other = card(1, snils=card(2)["snils"])
    r = api.as_user("chair").post("/api/v1/organizations/5/members", json=other)
    assert r.status_code == 201, r.text


def test_remove_keeps_history_and_refuses_bad_dates(api, synced_tree):
    member = register(api, 5).json()
    url = f"/api/v1/members/{member['id']}/remove"
    early = api.as_user("chair").post(url, json={"removed_on": "2010-01-01", "reason": "own_will"})
    assert early.status_code == 422
    assert early.json()["error"]["details"][0]["code"] == "date_before_joining"
    bad_reason = api.as_user("chair").post(url, json={"removed_on": "2025-01-01",
                                                      "reason": "bored"})
    assert bad_reason.status_code == 422
    done = api.as_user("chair").post(url, json={"removed_on": "2025-06-30",
                                                "reason": "по собственному желанию"})
    assert done.status_code == 200 and done.json()["status"] == "removed"
    assert done.json()["removal_reason"] == "own_will"
    again = api.as_user("chair").post(url, json={"removed_on": "2025-07-01",
                                                 "reason": "own_will"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "member_removed"
    # a removed member is no longer in current lists but is among removed ones
    active = api.as_user("chair").get("/api/v1/members").json()
    removed = api.as_user("chair").get("/api/v1/members", params={"status": "removed"}).json()
    assert active["total"] == 0 and removed["items"][0]["id"] == member["id"]


def test_edit_category_history_and_card_as_of(api, synced_tree, engine):
    member = register(api, 5).json()
    before = time.strftime("%Y-%m-%d")
    r = api.as_user("chair").patch(f"/api/v1/members/{member['id']}", json={
        "category": "pensioner", "job_category": None, "phone": "+7 900 000-00-00"})
    assert r.status_code == 200, r.text
    assert r.json()["category"] == "pensioner" and r.json()["version"] == 2
    history = api.as_user("chair").get(f"/api/v1/members/{member['id']}/history").json()
    assert history["changes"][0]["diff"]["category"] == ["working", "pensioner"]
    # the card as of yesterday did not exist; as of today it is the current one
    yesterday = api.as_user("chair").get(f"/api/v1/members/{member['id']}/card",
                                         params={"as_of": "2000-01-01"})
    assert yesterday.status_code == 422 and yesterday.json()["error"]["code"] == \
        "not_registered_then"
    today = api.as_user("chair").get(f"/api/v1/members/{member['id']}/card",
                                     params={"as_of": before})
    assert today.json()["category"] == "pensioner"
    with engine.connect() as c:
        events = c.execute(text("SELECT event_type FROM membership.outbox ORDER BY seq")
                           ).scalars().all()
    assert events == ["member_registered", "member_category_changed"]
    # the earlier state is kept: versions hold it
    with engine.connect() as c:
        kept = c.execute(text("SELECT card ->> 'category' FROM membership.member_version "
                              "WHERE member_id = :id"), {"id": member["id"]}).scalar()
    assert kept == "working"


def test_consents_withdrawn_and_given(api, synced_tree):
    member = register(api, 5, email_consent=True).json()
    assert member["email_consent"] is True
    url = f"/api/v1/members/{member['id']}/consents"
    r = api.as_user("chair").post(url, json={"kind": "email", "given": False})
    assert r.status_code == 200 and r.json()["email_consent"] is False
    r = api.as_user("chair").post(url, json={"kind": "personal_data", "given": False})
    assert r.json()["pd_consent_withdrawn_on"] is not None
    assert api.as_user("chair").post(url, json={"kind": "sms", "given": True}).status_code == 422


def test_search_and_lists_stay_in_scope(api, synced_tree):
    for n, org_id, user in ((1, 5, "chair"), (2, 6, "chair"), (3, 8, "regional"),
                            (4, 9, "chair2")):
        assert register(api, org_id, n=n, user=user).status_code == 201
    def ids(user, **params):
        r = api.as_user(user).get("/api/v1/members", params=params)
        assert r.status_code == 200, r.text
        return {m["org_id"] for m in r.json()["items"]}
    assert ids("admin") == {5, 6, 8, 9}
    assert ids("regional") == {5, 6, 8}
    assert ids("chair") == {5, 6}
    assert ids("chair2") == {9}
    assert ids("chair", within=6) == {6}
    assert api.as_user("chair").get("/api/v1/members", params={"within": 9}).status_code == 404
    for user in ("member", "auditor", "nobody"):
        assert api.as_user(user).get("/api/v1/members").status_code == 403
    # search by surname prefix, birth date, card number
    surname = card(2)["surname"]
    found = api.as_user("regional").get("/api/v1/members", params={"q": surname[:8]}).json()
    assert [m["surname"] for m in found["items"]] == [surname]
    by_birth = api.as_user("admin").get("/api/v1/members",
                                        params={"birth_date": card(3)["birth_date"]}).json()
    assert {m["org_id"] for m in by_birth["items"]} == {8}


def test_out_of_scope_card_looks_missing(api, synced_tree):
    member = register(api, 9, user="chair2").json()
    for user in ("chair", "regional"):
        r = api.as_user(user).get(f"/api/v1/members/{member['id']}")
        assert r.status_code == 404 and r.json()["error"]["code"] == "member_not_found"
        r = api.as_user(user).patch(f"/api/v1/members/{member['id']}", json={"phone": "1"})
        assert r.status_code == 404


def test_export_has_only_what_the_user_may_see(api, synced_tree):
    from openpyxl import load_workbook

    register(api, 5, surname="=HYPERLINK(\"http://x\")")  # refused: not a name
    assert register(api, 5, n=7).status_code == 201
    r = api.as_user("chair").get("/api/v1/members/export.xlsx")
    assert r.status_code == 200 and r.headers["X-Rows"] == "1"
    sheet = load_workbook(io.BytesIO(r.content)).active
    header = [c.value for c in sheet[1]]
    assert "СНИЛС" in header and sheet.max_row == 2
    assert api.as_user("chair2").get("/api/v1/members/export.xlsx").headers["X-Rows"] == "0"


def test_exclusion_refused_while_members_are_registered(api, synced_tree):
    member = register(api, 6).json()  # the subdivision
    r = api.post("/api/v1/organizations/6/exclude",
                 json={"excluded_on": "2025-09-01", "reason": "liquidated"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "org_has_members"
    assert "1" in r.json()["error"]["message"]
    api.as_user("chair").post(f"/api/v1/members/{member['id']}/transfer",
                              json={"to_org_id": 5, "on": time.strftime("%Y-%m-%d")})
    r = api.post("/api/v1/organizations/6/exclude",
                 json={"excluded_on": "2025-09-01", "reason": "liquidated"})
    assert r.status_code == 200, r.text
    # membership learns of the exclusion and registers nobody there any more
    assert wait_until(lambda: register(api, 6, n=5).status_code == 409)
    assert register(api, 6, n=5).json()["error"]["code"] == "org_excluded"
