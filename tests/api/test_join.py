"""Online joining: the public form, the chair's queue, acceptance with a personal account made by
single sign-on in the real Keycloak, declining with a reason, reminders and expiry."""

from datetime import datetime, timedelta

import pytest
from sqlalchemy import text

from tests.factories import card
from tests.support.waiting import wait_until


def application(n: int = 1, org_id: int = 5, **fields):
    c = card(n)
    data = {k: c[k] for k in ("surname", "first_name", "patronymic", "sex", "birth_date",
                              "snils", "phone", "category", "job_category")}
    return {**data, "org_id": org_id, "email": f"joiner{n}@example.ru", "pd_consent": True,
            "email_consent": True, **fields}


def test_public_form_finds_region_and_organization(api, synced_tree):
    public = api.as_user(None)
    regions = public.get("/api/v1/join/regions").json()
    assert {r["name"] for r in regions} == {"Пермская краевая организация",
                                            "Свердловская областная организация"}
    found = public.get("/api/v1/join/organizations",
                       params={"region_id": 2, "q": "сош"}).json()
    assert [o["id"] for o in found] == [5]
    assert public.get("/api/v1/join/organizations",
                      params={"region_id": 2, "q": "ш"}).status_code == 422


def test_apply_accept_gives_member_and_personal_account(api, synced_tree, engine, keycloak):
    from services.sso.keycloak import admin_client

    public = api.as_user(None)
    r = public.post("/api/v1/join/applications", json=application())
    assert r.status_code == 201, r.text
    app_id = r.json()["id"]
    assert r.json()["status"] == "submitted" and r.json()["status_title"] == "на рассмотрении"
    # applying again is answered like the first time (the form tells nobody who has applied);
    # the chair sees the second flagged as a duplicate of the first
    again = public.post("/api/v1/join/applications", json=application())
    assert again.status_code == 201 and again.json().keys() == r.json().keys()
    assert again.json()["id"] != app_id and again.json()["status"] == "submitted"
    # the chair of the organization sees it; the chair of another does not
    queue = api.as_user("chair").get("/api/v1/applications").json()
    assert [(a["id"], a["duplicate_of_application"]) for a in queue] == [
        (app_id, None), (again.json()["id"], app_id)]
    assert api.as_user("chair2").get("/api/v1/applications").json() == []
    assert api.as_user("chair2").post(f"/api/v1/applications/{app_id}/accept").status_code == 404
    accepted = api.as_user("chair").post(f"/api/v1/applications/{app_id}/accept")
    assert accepted.status_code == 200, accepted.text
    member = accepted.json()
    assert member["source"] == "online" and member["pd_consent_form"] == "electronic"
    assert public.get(f"/api/v1/join/applications/{app_id}").json()["status"] == "accepted"
    # single sign-on makes the account, and membership learns whose it is
    def linked():
        with engine.connect() as c:
            return c.execute(text("SELECT account_subject FROM membership.member WHERE id = :id"),
                             {"id": member["id"]}).scalar()
    subject = wait_until(linked, timeout=30)
    assert subject, "no personal account was linked"
    user = admin_client(keycloak).get_user(subject)
    assert user["username"] == "joiner1@example.ru"
    assert user["attributes"]["member_id"] == [str(member["id"])]
    # deciding twice is refused
    assert api.as_user("chair").post(f"/api/v1/applications/{app_id}/accept").status_code == 409


def test_decline_tells_the_applicant_why(api, synced_tree):
    public = api.as_user(None)
    app_id = public.post("/api/v1/join/applications", json=application(2)).json()["id"]
    short = api.as_user("chair").post(f"/api/v1/applications/{app_id}/decline",
                                      json={"reason": ""})
    assert short.status_code == 422
    r = api.as_user("chair").post(f"/api/v1/applications/{app_id}/decline",
                                  json={"reason": "Вы не работаете в нашей школе"})
    assert r.status_code == 200
    status = public.get(f"/api/v1/join/applications/{app_id}").json()
    assert status["status"] == "declined"
    assert status["decline_reason"] == "Вы не работаете в нашей школе"
    # declined, the person may apply again
    assert public.post("/api/v1/join/applications", json=application(2)).status_code == 201


@pytest.mark.parametrize("fields, code", [
    ({"pd_consent": False}, "consent_required"),
    ({"snils": "123-456-789 00"}, "snils_checksum"),
    ({"birth_date": "2019-05-05"}, "too_young"),
    ({"birth_date": "2099-05-05"}, "date_in_future"),
    ({"email": ""}, "email_required"),
])
def test_bad_applications(api, synced_tree, engine, fields, code):
    r = api.as_user(None).post("/api/v1/join/applications", json=application(3, **fields))
    assert r.status_code == 422, r.text
    assert code in {d["code"] for d in r.json()["error"]["details"]}
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM membership.application")).scalar() == 0


def test_unknown_or_excluded_or_wrong_level_organization(api, synced_tree):
    public = api.as_user(None)
    r = public.post("/api/v1/join/applications", json=application(4, org_id=999))
    assert r.status_code == 404 and r.json()["error"]["code"] == "org_not_found"
    r = public.post("/api/v1/join/applications", json=application(4, org_id=4))
    assert r.status_code == 422 and r.json()["error"]["code"] == "org_level"
    assert public.get("/api/v1/join/applications/not-a-uuid").status_code == 404


def test_member_already_registered_is_flagged_for_the_chair_not_told(api, synced_tree):
    member = api.as_user("chair").post("/api/v1/organizations/5/members", json=card(5)).json()
    r = api.as_user(None).post("/api/v1/join/applications", json=application(5, org_id=9))
    assert r.status_code == 201 and r.json()["status"] == "submitted"
    queue = api.as_user("chair2").get("/api/v1/applications").json()
    assert [(a["id"], a["duplicate_of_member"]) for a in queue] == [(r.json()["id"],
                                                                     member["id"])]
    # accepting it would make a second card: refused, the chair transfers the member instead
    accept = api.as_user("chair2").post(f"/api/v1/applications/{r.json()['id']}/accept")
    assert accept.status_code == 409 and accept.json()["error"]["code"] == "person_registered"


def test_untouched_applications_remind_then_expire(api, synced_tree, engine, rpc):
    from services.membership import applications

    public = api.as_user(None)
    old = public.post("/api/v1/join/applications", json=application(6)).json()["id"]
    fresh = public.post("/api/v1/join/applications", json=application(7)).json()["id"]
    now = datetime.now().astimezone()
    with engine.begin() as c:
        c.execute(text("UPDATE membership.application SET submitted_at = :t WHERE id = :id"),
                  {"t": now - timedelta(days=4), "id": old})
    from sqlalchemy.orm import Session
    with Session(engine) as s, s.begin():
        done = applications.sweep(s, now, timedelta(hours=72), timedelta(days=30))
    assert done == {"expired": 0, "reminded": 1}
    with Session(engine) as s, s.begin():
        assert applications.sweep(s, now + timedelta(hours=1), timedelta(hours=72),
                                  timedelta(days=30)) == {"expired": 0, "reminded": 0}
        done = applications.sweep(s, now + timedelta(days=27), timedelta(hours=72),
                                  timedelta(days=30))
    assert done["expired"] == 1
    assert public.get(f"/api/v1/join/applications/{old}").json()["status"] == "expired"
    assert public.get(f"/api/v1/join/applications/{fresh}").json()["status"] == "submitted"
    with engine.connect() as c:
        events = c.execute(text("SELECT event_type FROM membership.outbox ORDER BY seq")
                           ).scalars().all()
    assert "applications_waiting" in events and events.count("application_decided") == 1


def test_account_consumer_is_idempotent(api, synced_tree, engine, keycloak):
    """application_decided delivered twice (a relay that died before marking its row sends it
    again): one account, linked once."""
    from services.common.outbox import quick_dispatcher
    from services.sso.keycloak import admin_client
    from tests.conftest import NAMEKO_CONFIG

    member = api.as_user("chair").post("/api/v1/organizations/5/members",
                                       json=card(8, email="twice@example.ru")).json()
    dispatch = quick_dispatcher(NAMEKO_CONFIG)  # signed as membership, as its relay does
    payload = {"application_id": "00000000-0000-0000-0000-000000000008", "org_id": 5,
               "region_id": 2, "decision": "accepted", "member_id": member["id"],
               "email": "twice@example.ru", "surname": "Дважды", "first_name": "Анна",
               "event_id": "9d0f4f0e-0000-4000-8000-000000000001"}
    dispatch("membership", "application_decided", payload)
    dispatch("membership", "application_decided", payload)

    def linked():
        with engine.connect() as c:
            return c.execute(text("SELECT account_subject FROM membership.member WHERE id = :id"),
                             {"id": member["id"]}).scalar()
    subject = wait_until(linked, timeout=30)
    assert subject
    wait_until(lambda: False, timeout=1.0)  # let the second delivery land
    users = admin_client(keycloak).get_users({"username": "twice@example.ru", "exact": True})
    assert [u["id"] for u in users] == [subject]


def test_the_queue_pages_with_its_total_and_the_last_one_can_be_opened(api, synced_tree,
                                                                       signed_in):
    from tests.conftest import GATEWAY_ADDRESS

    public = api.as_user(None)
    ids = [public.post("/api/v1/join/applications", json=application(100 + n)).json()["id"]
           for n in range(53)]
    chair = signed_in("chair")
    base = f"http://{GATEWAY_ADDRESS}/portal/applications"
    first = chair.get(base, timeout=30)
    assert "53 заявления" in first.text and "страница 1 из 2" in first.text
    assert first.text.count('class="box app"') == 50
    second = chair.get(f"{base}?status=submitted&page=2", timeout=30)
    assert second.text.count('class="box app"') == 3 and ids[-1] in second.text
    opened = chair.get(f"{base}/{ids[-1]}/accept", timeout=30)  # past where a list would stop
    assert opened.status_code == 200 and "Принять" in opened.text
    assert signed_in("chair2").get(f"{base}/{ids[-1]}/accept", timeout=30).status_code == 404
