"""A primary's profcom meeting through the gateway: the body and its members' terms, attendance,
quorum on the meeting's date, votes per item (counts and named), the protocol PDF read back with
pypdf, numbered per body and year, signed off (final) and a later change as a new version, the
extract of one item, the admission decision applied to the register; without quorum the protocol
is marked and nothing is applied."""

import io

from pypdf import PdfReader
from sqlalchemy import text

from tests.api.test_join import application
from tests.events.helpers import members


def _text(content: bytes) -> str:
    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(content)).pages)


def test_profcom_meeting(api, synced_tree, engine):
    chair = api.as_user("chair")
    r = chair.post("/api/v1/organizations/5/bodies", json={"kind": "profcom"})
    assert r.status_code == 201, r.text
    body = r.json()
    ours = members(api, 5, 4, first=100)
    r = chair.post(f"/api/v1/bodies/{body['id']}/members", json={
        "from_date": "2024-01-01", "to_date": "2029-01-01", "member_ids": ours[:1],
        "role": "chair"})
    assert r.status_code == 200, r.text
    chair.post(f"/api/v1/bodies/{body['id']}/members", json={
        "from_date": "2024-01-01", "member_ids": ours[1:], "role": "member"})
    chair.post(f"/api/v1/bodies/{body['id']}/members", json={
        "from_date": "2024-01-01", "people": [{"full_name": "Секретарёва Анна Ивановна"}],
        "role": "secretary"})
    # a member whose term ended before the meeting does not count
    chair.post(f"/api/v1/bodies/{body['id']}/members", json={
        "from_date": "2020-01-01", "to_date": "2023-12-31",
        "people": [{"full_name": "Прежний Пётр Петрович"}]})
    assert len(chair.get(f"/api/v1/bodies/{body['id']}").json()["members"]) == 6
    # the chair from the passport of another organization's body (its own body, here)
    other = api.post("/api/v1/organizations/6/bodies", json={"kind": "committee"}).json()
    r = api.patch("/api/v1/organizations/6", json={"chair": {
        "surname": "Паспортова", "first_name": "Ольга", "elected_on": "2024-03-01",
        "term_until": "2029-03-01"}})
    assert r.status_code == 200, r.text
    r = api.post(f"/api/v1/bodies/{other['id']}/members/from-passport",
                 json={"from_date": "2024-03-01"})
    assert r.status_code == 200, r.text
    assert [(m["full_name"], m["role"], m["to_date"]) for m in r.json()["members"]] == [
        ("Паспортова Ольга", "chair", "2029-03-01")]
    again = api.post(f"/api/v1/bodies/{other['id']}/members/from-passport",
                     json={"from_date": "2024-03-01"}).json()
    assert len(again["members"]) == 1
    # another region's chair does not see the body
    assert api.as_user("chair2").get(f"/api/v1/bodies/{body['id']}").status_code == 404

    # an application accepted at the meeting
    app = api.as_user(None).post("/api/v1/join/applications", json=application(900))
    assert app.status_code == 201, app.text
    app_id = app.json()["id"]
    r = chair.post(f"/api/v1/bodies/{body['id']}/meetings", json={
        "held_on": "2026-11-20", "place": "Учительская", "agenda": [
            {"title": "О приёме в Профсоюз", "speakers": "Председатель ППО",
             "action": {"type": "admit", "application_ids": [app_id]}},
            {"title": "О плане работы на 2027 год", "speakers": "Секретарёва А. И."}]})
    assert r.status_code == 201, r.text
    meeting = r.json()
    mid = meeting["id"]
    assert meeting["members_total"] == 5 and meeting["needed"] == 3 and not meeting["quorum"]
    roster = {p["full_name"]: p["id"] for p in meeting["roster"]}
    present = [p["id"] for p in meeting["roster"]][:3]
    r = chair.put(f"/api/v1/meetings/{mid}/attendance", json={"present": present})
    assert r.json()["quorum"] is True and r.json()["present"] == 3
    # a vote count larger than those present is refused, nothing kept
    item1, item2 = (i["id"] for i in r.json()["agenda"])
    bad = chair.put(f"/api/v1/meetings/{mid}/items/{item1}", json={"votes_for": 4})
    assert bad.status_code == 422 and "больше, чем присутствующих" in bad.json()["error"]["message"]
    assert chair.put(f"/api/v1/meetings/{mid}/items/{item1}", json={
        "heard": "о заявлении", "decided": "Принять в члены Профсоюза", "votes_for": 3}
    ).status_code == 200
    named = {str(present[0]): "for", str(present[1]): "for", str(present[2]): "against"}
    r = chair.put(f"/api/v1/meetings/{mid}/items/{item2}", json={
        "decided": "Утвердить план", "named_votes": named})
    assert r.status_code == 200, r.text
    assert [r.json()["agenda"][1][k] for k in ("votes_for", "votes_against")] == [2, 1]
    absent = next(i for i in roster.values() if i not in present)
    assert chair.put(f"/api/v1/meetings/{mid}/items/{item2}", json={
        "named_votes": {str(absent): "for"}}).status_code == 422

    r = chair.post(f"/api/v1/meetings/{mid}/protocol")
    assert r.status_code == 200, r.text
    assert (r.json()["number"], r.json()["version"]) == (1, 1)
    pdf = chair.get(f"/api/v1/meetings/{mid}/protocol.pdf")
    assert pdf.headers["Content-Type"] == "application/pdf"
    words = _text(pdf.content)
    for expected in ("ПРОТОКОЛ ЗАСЕДАНИЯ ПРОФСОЮЗНОГО КОМИТЕТА № 1", "20.11.2026",
                     "Присутствовали: 3", "О приёме в Профсоюз", "СЛУШАЛИ", "ПОСТАНОВИЛИ",
                     "Принять в члены Профсоюза", "«за» — 3", "Кворум имеется",
                     "Секретарёва Анна Ивановна"):
        assert expected in words.replace("\n", " "), expected
    assert "Прежний" not in words
    # signed off: final, and the admission decided is applied to the register
    r = chair.post(f"/api/v1/meetings/{mid}/protocol/sign")
    assert r.status_code == 200, r.text
    assert r.json()["applied"][0]["accepted"] == [app_id]
    with engine.connect() as c:
        assert c.execute(text("SELECT status FROM membership.application WHERE id = :id"),
                         {"id": app_id}).scalar() == "accepted"
    assert chair.post(f"/api/v1/meetings/{mid}/protocol/sign").status_code == 409
    # a change after sign-off: a new version, the signed one kept
    chair.put(f"/api/v1/meetings/{mid}/items/{item2}", json={"decided": "Утвердить план с "
                                                             "поправками"})
    r = chair.post(f"/api/v1/meetings/{mid}/protocol").json()
    assert (r["number"], r["version"], r["signed_at"]) == (1, 2, None)
    got = chair.get(f"/api/v1/meetings/{mid}").json()
    assert [v["version"] for v in got["versions"]] == [1, 2] and got["versions"][0]["signed_at"]
    assert "поправками" not in _text(
        chair.get(f"/api/v1/meetings/{mid}/protocol.pdf?version=1").content)
    assert "поправками" in _text(chair.get(f"/api/v1/meetings/{mid}/protocol.pdf").content)
    extract = _text(chair.get(f"/api/v1/meetings/{mid}/items/{item2}/extract.pdf").content)
    assert "ВЫПИСКА ИЗ ПРОТОКОЛА ЗАСЕДАНИЯ" in extract
    assert "2. СЛУШАЛИ" in extract and "1. СЛУШАЛИ" not in extract

    # the next meeting of the year, without quorum: protocol № 2, marked, nothing applied
    app2 = api.as_user(None).post("/api/v1/join/applications",
                                  json=application(901)).json()["id"]
    m2 = chair.post(f"/api/v1/bodies/{body['id']}/meetings", json={
        "held_on": "2026-12-10", "agenda": [{"title": "О приёме", "action": {
            "type": "admit", "application_ids": [app2]}}]}).json()
    chair.put(f"/api/v1/meetings/{m2['id']}/attendance", json={"present": present[:2]})
    chair.put(f"/api/v1/meetings/{m2['id']}/items/{m2['agenda'][0]['id']}",
              json={"votes_for": 2, "decided": "Принять"})
    p2 = chair.post(f"/api/v1/meetings/{m2['id']}/protocol").json()
    assert (p2["number"], p2["quorum"]) == (2, False)
    assert "КВОРУМА НЕТ" in _text(chair.get(f"/api/v1/meetings/{m2['id']}/protocol.pdf").content)
    assert chair.post(f"/api/v1/meetings/{m2['id']}/protocol/sign").json()["applied"] == []
    with engine.connect() as c:
        assert c.execute(text("SELECT status FROM membership.application WHERE id = :id"),
                         {"id": app2}).scalar() == "submitted"


def test_decisions_elect_a_chair_and_delegates(api, synced_tree):
    """Signed off with quorum, «избрать председателем» changes the passport (elected on the
    meeting's day) and «избрать делегатами» fills the region's conference; a conference
    beside the organization is refused and kept as the item's result; an unknown decision is
    refused when the agenda is written."""
    chair = api.as_user("chair")
    conference = api.as_user("regional").post("/api/v1/organizations/2/bodies",
                                              json={"kind": "conference"}).json()
    beside = api.post("/api/v1/organizations/9/bodies", json={"kind": "conference"}).json()
    body = chair.post("/api/v1/organizations/5/bodies", json={"kind": "profcom"}).json()
    ours = members(api, 5, 3, first=300)
    chair.post(f"/api/v1/bodies/{body['id']}/members", json={
        "from_date": "2024-01-01", "member_ids": ours, "role": "member"})
    bad = chair.post(f"/api/v1/bodies/{body['id']}/meetings", json={
        "held_on": "2026-11-25", "agenda": [{"title": "Разное", "action": {"type": "fire"}}]})
    assert bad.status_code == 422 and "Вопрос повестки 1" in bad.json()["error"]["message"]
    nameless = chair.post(f"/api/v1/bodies/{body['id']}/meetings", json={
        "held_on": "2026-11-25", "agenda": [{"title": "Выборы", "action": {
            "type": "elect_chair", "surname": "Новикова"}}]})
    assert nameless.status_code == 422
    r = chair.post(f"/api/v1/bodies/{body['id']}/meetings", json={
        "held_on": "2026-11-25", "agenda": [
            {"title": "Об избрании председателя", "action": {
                "type": "elect_chair", "surname": "Новикова", "first_name": "Елена",
                "patronymic": "Сергеевна", "term_until": "2031-11-25"}},
            {"title": "О делегатах краевой конференции", "action": {
                "type": "delegate", "body_id": conference["id"],
                "people": [{"full_name": "Делегатова Ирина Павловна"}]}},
            {"title": "О делегатах чужой конференции", "action": {
                "type": "delegate", "body_id": beside["id"],
                "people": [{"full_name": "Чужая Мария Ивановна"}]}}]})
    assert r.status_code == 201, r.text
    meeting = r.json()
    chair.put(f"/api/v1/meetings/{meeting['id']}/attendance",
              json={"present": [p["id"] for p in meeting["roster"]]})
    for item in meeting["agenda"]:
        assert chair.put(f"/api/v1/meetings/{meeting['id']}/items/{item['id']}", json={
            "decided": "Избрать", "votes_for": 3}).status_code == 200
    chair.post(f"/api/v1/meetings/{meeting['id']}/protocol")
    r = chair.post(f"/api/v1/meetings/{meeting['id']}/protocol/sign")
    assert r.status_code == 200, r.text
    applied = {a["type"] + str(a.get("body_id", "")): a for a in r.json()["applied"]}
    assert applied["elect_chair"]["elected"] == "Новикова Елена Сергеевна"
    passport_chair = api.get("/api/v1/organizations/5").json()["chair"]
    assert (passport_chair["surname"], passport_chair["elected_on"],
            passport_chair["term_until"]) == ("Новикова", "2026-11-25", "2031-11-25")
    assert applied[f"delegate{conference['id']}"]["added"] == 1
    delegates = api.as_user("regional").get(f"/api/v1/bodies/{conference['id']}").json()
    assert [(m["full_name"], m["from_date"]) for m in delegates["members"]] == [
        ("Делегатова Ирина Павловна", "2026-11-25")]
    refused = next(a for a in r.json()["applied"] if a["type"] == "delegate"
                   and not a.get("added"))
    assert "вышестоящей" in refused["message"]
    assert api.get(f"/api/v1/bodies/{beside['id']}").json()["members"] == []
