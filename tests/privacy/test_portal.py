"""«Мои данные» and the retention pages of the portal over plain HTTP: the member downloads
their copy and withdraws consent; the chair answers a written request; the Central Council
sees what will be erased and holds a record."""

import re

import pytest
import requests
from sqlalchemy import text

from tests.conftest import GATEWAY_ADDRESS
from tests.factories import card
from tests.privacy.test_privacy import token_subject
from tests.support.portal import portal_session

BASE = f"http://{GATEWAY_ADDRESS}"




def _csrf(page: requests.Response) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)


@pytest.fixture
def member_id(api, synced_tree, engine, tokens) -> int:
    mid = api.as_user("chair").post("/api/v1/organizations/5/members",
                                    json=card(1, email_consent=True)).json()["id"]
    with engine.begin() as c:
        c.execute(text("UPDATE membership.member SET account_subject = :s WHERE id = :id"),
                  {"s": token_subject(tokens("member")), "id": mid})
    return mid


def test_member_downloads_and_withdraws(member_id, keycloak, engine):
    http = portal_session(keycloak, "member")
    account = http.get(f"{BASE}/portal/account", timeout=30)
    assert 'href="/portal/account/data"' in account.text
    page = http.get(f"{BASE}/portal/account/data", timeout=30)
    assert page.status_code == 200 and "Отозвать согласие" in page.text
    pdf = http.get(f"{BASE}/portal/account/data/pdf", timeout=60)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    js = http.get(f"{BASE}/portal/account/data/json", timeout=60)
    assert js.json()["card"]["surname"] == card(1)["surname"]
    # not confirmed: nothing changes
    r = http.post(f"{BASE}/portal/account/withdraw", data={"csrf": _csrf(page)}, timeout=30)
    assert r.status_code == 422 and "Подтвердите" in r.text
    with engine.connect() as c:
        assert c.execute(text("SELECT removed_on FROM membership.member WHERE id = :id"),
                         {"id": member_id}).scalar() is None
    r = http.post(f"{BASE}/portal/account/withdraw", data={"csrf": _csrf(page), "confirm": "1"},
                  timeout=30)
    assert r.status_code == 200 and "Согласие отозвано" in r.text
    with engine.connect() as c:
        assert c.execute(text("SELECT removal_reason FROM membership.member WHERE id = :id"),
                         {"id": member_id}).scalar() == "consent_withdrawn"


def test_chair_answers_a_written_request_and_council_holds(member_id, keycloak, engine):
    chair = portal_session(keycloak, "chair")
    page = chair.get(f"{BASE}/portal/privacy/requests", timeout=30)
    assert page.status_code == 200
    r = chair.post(f"{BASE}/portal/privacy/requests", data={
        "csrf": _csrf(page), "action": "copy", "member_id": str(member_id),
        "asked_on": "2026-01-15", "format": "pdf"}, timeout=60)
    assert r.status_code == 200 and r.content.startswith(b"%PDF")
    assert chair.get(f"{BASE}/portal/privacy", timeout=30).status_code == 403

    admin = portal_session(keycloak, "admin")
    council = admin.get(f"{BASE}/portal/privacy", timeout=30)
    assert council.status_code == 200 and "Что будет удалено" in council.text
    r = admin.post(f"{BASE}/portal/privacy/rule", data={
        "csrf": _csrf(council), "kind": "removed_member", "action": "reduce",
        "keep_days": "10"}, timeout=30)
    assert r.status_code == 422 and "не меньше 1095" in r.text
    r = admin.post(f"{BASE}/portal/privacy/hold", data={
        "csrf": _csrf(council), "member_id": str(member_id), "reason": "Дело № 1"}, timeout=30)
    assert r.status_code == 200 and "Запись удерживается" in r.text
    r = chair.post(f"{BASE}/portal/privacy/requests", data={
        "csrf": _csrf(page), "action": "withdraw", "member_id": str(member_id),
        "confirm": "1"}, timeout=30)
    assert r.status_code == 422 and "удерживается" in r.text
    reg = admin.get(f"{BASE}/portal/privacy/register.pdf", timeout=60)
    assert reg.status_code == 200 and reg.content.startswith(b"%PDF")


def test_a_reduced_card_shows_without_names(api, synced_tree, keycloak):
    from datetime import date, timedelta

    mid = api.as_user("chair").post("/api/v1/organizations/5/members", json=card(7)).json()["id"]
    assert api.as_user("chair").post(f"/api/v1/members/{mid}/remove", json={
        "removed_on": str(date.today() - timedelta(days=1830)),
        "reason": "own_will"}).status_code == 200
    assert api.as_user("admin").put("/api/v1/privacy/retention-rules/removed_member", json={
        "keep_days": 1825, "action": "reduce"}).status_code == 200
    assert api.as_user("admin").post("/api/v1/privacy/retention/run").json()["members"][
        "records"] == 1
    chair = portal_session(keycloak, "chair")
    listing = chair.get(f"{BASE}/portal/members", params={"status": "removed"}, timeout=30)
    assert listing.status_code == 200 and "(данные обезличены)" in listing.text
    assert "None" not in listing.text and card(7)["surname"] not in listing.text
    page = chair.get(f"{BASE}/portal/members/{mid}", timeout=30)
    assert page.status_code == 200 and "Обезличенная карточка" in page.text
    assert "None" not in page.text.split("<main", 1)[1]
