"""The events journey through the gateway against the real services: a region creates a seminar,
chairs register their members (several at once), the places run out and the rest wait, a member
cancels in the personal account and the first waiting gets the place to confirm; check-in by the
card's number and by the list, synced twice with the same ids (no duplicate); scope and the bad
input of issue 22.

Tree (tests.factories.build_tree): 2 Пермская краевая (the «regional» user), 5 ППО «СОШ № 1»
(«chair»), 9 ППО in the other region («chair2»)."""

import io
import uuid
from datetime import UTC, date, datetime, timedelta

from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import text

from tests.events.helpers import give_cards, link_account, members, seminar


def test_seminar_journey(api, synced_tree, engine, tokens):
    regional, chair, chair2 = api.as_user("regional"), api.as_user("chair"), api.as_user("chair2")
    r = regional.post("/api/v1/organizations/2/events", json=seminar())
    assert r.status_code == 201, r.text
    event = r.json()
    assert event["free"] == 3 and event["kind_title"] == "Семинар"
    eid = event["id"]

    ours = members(api, 5, 5, first=1)
    cards = give_cards(engine, ours)
    # the chair registers five at once: three places, two on the waiting list
    r = chair.post(f"/api/v1/events/{eid}/registrations",
                   json={"member_ids": ours, "answers": {"0": "да"}})
    assert r.status_code == 200, r.text
    got = {x["member_id"]: x for x in r.json()}
    assert [got[m]["status"] for m in ours] == ["registered"] * 3 + ["waiting"] * 2
    assert got[ours[0]]["answers"] == {"0": "да"}
    # registering again changes nothing
    again = chair.post(f"/api/v1/events/{eid}/registrations", json={"member_ids": ours[:1]})
    assert again.json()[0]["already"] is True
    assert regional.get(f"/api/v1/events/{eid}").json()["counts"]["registered"] == 3

    # the other region's chair: the event is the other region's, not found; nor their members
    assert chair2.get(f"/api/v1/events/{eid}").status_code == 404
    other = members(api, 9, 1, first=50, user="chair2")
    r = chair.post(f"/api/v1/events/{eid}/registrations", json={"member_ids": other})
    assert r.json()[0]["error"] == "member_not_found"
    # a region-2 event: someone of region 3 is outside its audience even for the admin
    r = api.post(f"/api/v1/events/{eid}/registrations", json={"member_ids": other})
    assert r.json()[0]["error"] == "not_in_audience"
    assert "другой организации" in r.json()[0]["message"]

    # a member cancels in the personal account: the first waiting is offered the place
    link_account(engine, tokens, ours[1])
    member = api.as_user("member")
    mine = member.get("/api/v1/my/events").json()
    assert [x["event_id"] for x in mine["registrations"]] == [eid]
    r = member.delete(f"/api/v1/events/{eid}/my-registration")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled" and r.json()["offered"] == [got[ours[3]]["id"]]
    listed = {x["member_id"]: x for x in
              chair.get(f"/api/v1/events/{eid}/registrations").json()}
    assert listed[ours[3]]["status"] == "offered" and listed[ours[3]]["offered_until"]
    assert listed[ours[4]]["status"] == "waiting"
    # the one offered confirms from their own account
    link_account(engine, tokens, ours[3])
    r = member.post(f"/api/v1/events/{eid}/my-registration/confirm")
    assert r.status_code == 200 and r.json()["status"] == "registered", r.text
    # the one who cancelled may register again: at the back of the queue
    link_account(engine, tokens, ours[1])
    assert member.post(f"/api/v1/events/{eid}/my-registration").json()["status"] == "waiting"

    # at the door: the list kept on the phone, then check-ins synced (twice: no duplicate)
    door = regional.get(f"/api/v1/events/{eid}/door-list").json()
    assert sorted(p["card_number"] for p in door["people"]) == sorted(
        cards[m] for m in (ours[0], ours[2], ours[3]))
    queued = [{"client_id": str(uuid.uuid4()), "card_number": cards[ours[0]],
               "scanned_at": datetime.now(UTC).isoformat()},
              {"client_id": str(uuid.uuid4()), "registration_id": got[ours[2]]["id"]},
              {"client_id": str(uuid.uuid4()), "card_number": cards[ours[4]]},  # waiting
              {"client_id": str(uuid.uuid4()), "card_number": cards[ours[0]]}]  # twice
    first = regional.post(f"/api/v1/events/{eid}/checkins", json={"checkins": queued}).json()
    assert [x["outcome"] for x in first] == ["checked_in", "checked_in", "not_registered",
                                              "already"]
    second = regional.post(f"/api/v1/events/{eid}/checkins", json={"checkins": queued}).json()
    assert [x["outcome"] for x in second] == [x["outcome"] for x in first]
    assert all(x["repeated"] for x in second)
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM events.checkin")).scalar() == 4
        assert c.execute(text("SELECT count(*) FROM events.registration "
                              "WHERE checked_in_at IS NOT NULL")).scalar() == 2
    counts = regional.get(f"/api/v1/events/{eid}").json()["counts"]
    assert counts["attended"] == 2 and counts["registered"] == 3

    # the participants' file and a certificate of one who came
    r = regional.get(f"/api/v1/events/{eid}/participants.xlsx")
    assert r.status_code == 200
    sheet = load_workbook(io.BytesIO(r.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[1][-1] == "Нужна ли гостиница?" and len(rows) == 2 + 5
    r = regional.get(f"/api/v1/events/{eid}/certificates/{got[ours[0]]['id']}")
    assert r.status_code == 200
    assert "СЕРТИФИКАТ" in PdfReader(io.BytesIO(r.content)).pages[0].extract_text()
    assert regional.get(f"/api/v1/events/{eid}/certificates/{got[ours[4]]['id']}"
                        ).status_code == 409  # never came

    # the figures per region: the seminar, its three registered and two who came
    fig = api.get("/api/v1/events/participation?depth=1").json()
    assert fig == [{"org_id": 2, "org_name": "Пермская краевая организация",
                    "held": 1, "registered": 3, "attended": 2, "reached": 2}]
    assert chair.get("/api/v1/events/participation").status_code == 403
    # every read of the lists is in the events service's audit log
    with engine.connect() as c:
        actions = {a for (a,) in c.execute(text("SELECT DISTINCT action FROM events.audit_log"))}
    assert {"register", "read_participants", "read_door_list", "check_in",
            "export_participants", "certificate", "cancel_self"} <= actions


def test_bad_input(api, synced_tree, engine):
    regional = api.as_user("regional")
    r = regional.post("/api/v1/organizations/2/events",
                      json=seminar(title="", kind="party", capacity=0, starts_at="завтра"))
    assert r.status_code == 422
    fields = {d["field"] for d in r.json()["error"]["details"]}
    assert {"title", "kind", "capacity", "starts_at"} <= fields
    # another region's organization: not found
    assert regional.post("/api/v1/organizations/3/events", json=seminar()).status_code == 404
    # past the deadline
    past = datetime.now(UTC) - timedelta(hours=1)
    eid = regional.post("/api/v1/organizations/2/events", json=seminar(
        registration_closes_at=past.isoformat())).json()["id"]
    (m,) = members(api, 5, 1, first=20)
    r = api.as_user("chair").post(f"/api/v1/events/{eid}/registrations", json={"member_ids": [m]})
    assert r.json()[0]["error"] == "registration_closed"
    assert "срок прошёл" in r.json()[0]["message"]
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM events.registration")).scalar() == 0
    # a check-in of someone not registered, and one with no id
    out = regional.post(f"/api/v1/events/{eid}/checkins", json={"checkins": [
        {"client_id": str(uuid.uuid4()), "card_number": "000"},
        {"client_id": "x", "card_number": "000"}]}).json()
    assert [x["outcome"] for x in out] == ["not_registered", "invalid"]


def test_an_event_for_young_members(api, synced_tree, engine, tokens):
    """«Молодые члены Профсоюза»: under 35 on the day they register, whether a chair registers
    them from the list or they register themselves in the personal account."""
    from tests.factories import card

    event = api.as_user("regional").post("/api/v1/organizations/2/events",
                                         json=seminar(audience={"young": True}, capacity=10))
    assert event.status_code == 201, event.text
    assert event.json()["audience"]["young"] is True
    eid = event.json()["id"]
    born = {"young": (date.today() - timedelta(days=30 * 365)).isoformat(),
            "older": (date.today() - timedelta(days=40 * 365)).isoformat()}
    ids = {}
    for n, (name, day) in enumerate(born.items(), start=700):
        r = api.as_user("chair").post("/api/v1/organizations/5/members",
                                      json=card(n, birth_date=day, joined_on="2015-09-01"))
        assert r.status_code == 201, r.text
        ids[name] = r.json()["id"]
    r = api.as_user("chair").post(f"/api/v1/events/{eid}/registrations",
                                  json={"member_ids": [ids["young"], ids["older"]]})
    got = {x["member_id"]: x for x in r.json()}
    assert got[ids["young"]]["status"] == "registered"
    assert got[ids["older"]]["error"] == "not_in_audience"
    assert "до 35 лет" in got[ids["older"]]["message"]
    # the older member in their own account: refused the same way, and not offered it
    link_account(engine, tokens, ids["older"])
    mine = api.as_user("member").post(f"/api/v1/events/{eid}/my-registration")
    assert mine.status_code == 409 and "до 35 лет" in mine.json()["error"]["message"]
    offered = api.as_user("member").get("/api/v1/my/events").json()
    assert eid not in [e["id"] for e in offered.get("open", [])]


def test_an_event_announced_by_a_mailing(api, synced_tree):
    """The draft of a campaign to the event's audience, made as the organizer: staff tell
    the chairs beneath and the members, a chair only their members; it is sent like any
    campaign (submitted here); an event beyond one's subtree cannot be announced."""
    from tests.factories import card

    regional, chair = api.as_user("regional"), api.as_user("chair")
    seminar_id = regional.post("/api/v1/organizations/2/events",
                               json=seminar(audience={"young": True})).json()["id"]
    r = regional.post(f"/api/v1/events/{seminar_id}/announcement")
    assert r.status_code == 201, r.text
    draft = r.json()
    assert draft["status"] == "draft" and draft["subject"] == "Семинар: Семинар председателей ППО"
    assert draft["audience"]["roots"] == [2] and draft["audience"]["chairs"] == {"levels": []}
    assert draft["audience"]["members"] == {"categories": [], "under_35": True}
    for words in ("Пермь, ул. Ленина, 51", "до 35 лет", "/portal/account/events"):
        assert words in draft["body_md"], words
    # somebody to send it to: a member under 35 with an address and the consent to news
    young = card(720, birth_date=(date.today() - timedelta(days=25 * 365)).isoformat(),
                 joined_on="2020-09-01", email="young-720@example.ru", email_consent=True)
    assert chair.post("/api/v1/organizations/5/members", json=young).status_code == 201
    submitted = regional.post(f"/api/v1/mailing/campaigns/{draft['id']}/submit")
    assert submitted.status_code == 200, submitted.text
    assert submitted.json()["status"] in ("scheduled", "awaiting_approval")

    meeting_id = chair.post("/api/v1/organizations/5/events", json=seminar(
        title="Собрание членов ППО", kind="meeting")).json()["id"]
    own = chair.post(f"/api/v1/events/{meeting_id}/announcement")
    assert own.status_code == 201, own.text
    assert own.json()["audience"]["roots"] == [5] and "chairs" not in own.json()["audience"]
    assert api.as_user("chair2").post(
        f"/api/v1/events/{seminar_id}/announcement").status_code == 404
    assert chair.post(f"/api/v1/events/{seminar_id}/announcement").status_code == 404
