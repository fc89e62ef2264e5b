"""The portal over plain HTTP (no browser): where people without a session are sent, the
sign-in's state and PKCE, renewal of an expired access token, CSRF, tampered cookies, and the
status of every page a chair opens."""

from urllib.parse import parse_qs, urlparse

import pytest
import requests

from tests.conftest import GATEWAY_ADDRESS
from tests.factories import card
from tests.support.portal import portal_cookies

BASE = f"http://{GATEWAY_ADDRESS}"


@pytest.fixture
def chair_cookies(keycloak):
    return portal_cookies(keycloak, "chair")


def test_without_a_session_pages_lead_to_sign_in_and_public_pages_open(api, synced_tree):
    r = requests.get(f"{BASE}/portal/org/5?tab=1", allow_redirects=False, timeout=30)
    assert r.status_code == 303
    assert r.headers["Location"] == "/portal/login?next=%2Fportal%2Forg%2F5%3Ftab%3D1"
    assert requests.get(f"{BASE}/", timeout=30).status_code == 200
    join = requests.get(f"{BASE}/join", params={"region_id": 2, "q": "СОШ"}, timeout=30)
    assert join.status_code == 200 and "ППО МБОУ «СОШ № 1» г. Кунгура" in join.text


def test_sign_in_sends_state_and_pkce_and_refuses_a_foreign_state(api, keycloak):
    r = requests.get(f"{BASE}/portal/login?next=/portal/members", allow_redirects=False,
                     timeout=30)
    assert r.status_code == 303
    target = urlparse(r.headers["Location"])
    query = parse_qs(target.query)
    assert target.geturl().startswith(keycloak.issuer + "/protocol/openid-connect/auth")
    assert query["client_id"] == ["reestr-portal"] and query["code_challenge_method"] == ["S256"]
    assert query["redirect_uri"] == [f"{BASE}/portal/callback"]
    assert "rs_login" in r.cookies
    forged = requests.get(f"{BASE}/portal/callback", params={"code": "x", "state": "other"},
                          cookies={"rs_login": r.cookies["rs_login"]}, allow_redirects=False,
                          timeout=30)
    assert forged.status_code == 400 and "rs_at" not in forged.cookies


def test_chair_pages_answer_200(api, synced_tree, chair_cookies):
    member = api.as_user("chair").post("/api/v1/organizations/5/members", json=card(1)).json()
    api.as_user(None).post("/api/v1/join/applications", json={
        "org_id": 5, "surname": "Заявителева", "first_name": "Ирина", "birth_date": "2004-02-03",
        "email": "z@example.ru", "pd_consent": True, "category": "student"})
    http = requests.Session()
    http.cookies.update(chair_cookies)
    home = http.get(f"{BASE}/portal/home", allow_redirects=False, timeout=30)
    assert home.status_code == 303 and home.headers["Location"] == "/portal/org/5"
    for path in ("/portal/org/5", "/portal/org/5/passport",
                 "/portal/org/5/passport?as_of=2020-01-01", "/portal/org/5/passport/chair",
                 "/portal/org/5/passport/staff", "/portal/org/5/history",
                 "/portal/members", "/portal/members?within=5&category=working&page=2",
                 f"/portal/members/{member['id']}", f"/portal/members/{member['id']}/edit",
                 f"/portal/members/{member['id']}/remove",
                 f"/portal/members/{member['id']}/transfer", "/portal/org/5/members/new",
                 "/portal/org/5/members/import", "/portal/applications",
                 "/portal/applications?status=declined", "/portal/cards",
                 "/portal/cards?status=issued", "/portal/reports"):
        r = http.get(BASE + path, allow_redirects=False, timeout=30)
        assert r.status_code == 200, (path, r.status_code, r.text[:300])
        assert r.headers["Content-Type"].startswith("text/html")
    before = http.get(f"{BASE}/portal/org/5/passport?as_of=2001-01-01", timeout=30)
    assert 'id="err-as_of"' in before.text  # no passport that day: said next to the date
    export = http.get(f"{BASE}/portal/members/export.xlsx?within=5", timeout=30)
    assert export.status_code == 200 and export.content[:2] == b"PK"
    # a tab the organization does not have, and a page of someone else's organization
    assert http.get(f"{BASE}/portal/org/4/passport/education", timeout=30).status_code == 404
    assert http.get(f"{BASE}/portal/org/9", timeout=30).status_code == 404


def test_an_expired_access_token_is_renewed_with_the_refresh_token(api, synced_tree,
                                                                    chair_cookies):
    from gateway.portal.session import box

    cookies = {**chair_cookies, "rs_at": box().seal("expired.or.garbage")}
    r = requests.get(f"{BASE}/portal/org/5", cookies=cookies, allow_redirects=False, timeout=30)
    assert r.status_code == 200
    renewed = box().open(r.cookies["rs_at"])
    assert renewed and renewed.count(".") == 2  # a fresh JWT, sealed again
    # a cookie altered by hand is no session at all
    tampered = {**chair_cookies, "rs_at": chair_cookies["rs_at"][:-4] + "AAAA",
                "rs_rt": "x" + chair_cookies["rs_rt"][1:]}
    r = requests.get(f"{BASE}/portal/org/5", cookies=tampered, allow_redirects=False,
                     timeout=30)
    assert r.status_code == 303 and r.headers["Location"].startswith("/portal/login")


def test_a_post_without_the_session_csrf_token_changes_nothing(api, synced_tree, chair_cookies):
    form = {"chair.surname": "Подделкин", "chair.first_name": "Иван"}
    r = requests.post(f"{BASE}/portal/org/5/passport/chair", data=form, cookies=chair_cookies,
                      allow_redirects=False, timeout=30)
    assert r.status_code == 400
    r = requests.post(f"{BASE}/portal/org/5/passport/chair", data={**form, "csrf": "0" * 32},
                      cookies=chair_cookies, allow_redirects=False, timeout=30)
    assert r.status_code == 400
    assert api.get("/api/v1/organizations/5").json()["chair"] is None


def test_exclusion_from_the_portal_is_for_the_level_above(api, synced_tree, chair_cookies):
    http = requests.Session()
    http.cookies.update(chair_cookies)
    page = http.get(f"{BASE}/portal/org/6/exclude", timeout=30)
    assert page.status_code == 200
    csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
    missing = http.post(f"{BASE}/portal/org/6/exclude", data={"csrf": csrf,
                                                              "reason": "liquidated"},
                        allow_redirects=False, timeout=30)
    assert missing.status_code == 422 and 'id="err-excluded_on"' in missing.text
    assert api.get("/api/v1/organizations/6").json()["excluded_on"] is None
    done = http.post(f"{BASE}/portal/org/6/exclude", data={
        "csrf": csrf, "excluded_on": "2026-11-01", "reason": "liquidated"},
        allow_redirects=False, timeout=30)
    assert done.status_code == 303, done.text[:500]
    assert api.get("/api/v1/organizations/6").json()["excluded_on"] == "2026-11-01"
    # a chair cannot take their own organization out of the tree
    own = http.post(f"{BASE}/portal/org/5/exclude", data={
        "csrf": csrf, "excluded_on": "2026-11-01", "reason": "liquidated"},
        allow_redirects=False, timeout=30)
    assert own.status_code == 404
    assert api.get("/api/v1/organizations/5").json()["excluded_on"] is None
