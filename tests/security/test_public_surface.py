"""The gateway's public surface as a prober sees it: the join form's answers for a new person, a
pending applicant and a registered member; rate limits (429, Retry-After, a Russian message) on
joining, sign-in and the transfer look-up; redirects after sign-in; security headers on every
page and answer; a planted draft cookie; CSRF tokens keyed apart; no start without secrets."""

import base64
import hashlib
import hmac
import html
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import text

from tests.conftest import AMQP, GATEWAY_ADDRESS, PASSWORD
from tests.factories import card
from tests.support.portal import portal_cookies

BASE = f"http://{GATEWAY_ADDRESS}"
ROOT = Path(__file__).resolve().parents[2]


def application(n: int, org_id: int = 5, **fields):
    c = card(n)
    data = {k: c[k] for k in ("surname", "first_name", "patronymic", "sex", "birth_date",
                              "snils", "phone", "category", "job_category")}
    return {**data, "org_id": org_id, "email": f"joiner{n}@example.ru", "pd_consent": True,
            "email_consent": True, **fields}


def russian(message: str) -> bool:
    return any("а" <= ch <= "я" for ch in message.lower())


@pytest.fixture
def limits(services):
    """Put tight limits in the running gateway (the session's are set past any test's reach);
    the previous limiter comes back afterwards."""
    from gateway import ratelimit
    from gateway.settings import GatewaySettings

    previous = ratelimit.use(None)

    def tighten(**rates: str) -> None:
        ratelimit.use(ratelimit.Limiter(ratelimit.rules_from(GatewaySettings(**rates))))
    yield tighten
    ratelimit.use(previous)


def claims_of(sealed: str) -> dict:
    from gateway.portal.session import box

    token = box().open(sealed)
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


# ---- the join form reveals nothing ----

def test_join_answers_alike_for_new_pending_and_registered(api, synced_tree):
    public = api.as_user(None)
    registered = api.as_user("chair").post("/api/v1/organizations/5/members", json=card(1))
    assert registered.status_code == 201
    first = public.post("/api/v1/join/applications", json=application(2))
    assert first.status_code == 201
    answers: dict[str, list] = {"new": [], "pending": [], "registered": []}
    for i in range(6):  # interleaved, so the machine's load falls on all three alike
        for kind, data in (("new", application(10 + i)), ("pending", application(2)),
                           ("registered", application(1))):
            started = time.perf_counter()
            r = public.post("/api/v1/join/applications", json=data)
            answers[kind].append((r, time.perf_counter() - started))
    shapes = set()
    for _kind, tries in answers.items():
        for r, _ in tries:
            assert r.status_code == 201, r.text
            body = r.json()
            assert body["status"] == "submitted" and body["status_title"] == "на рассмотрении"
            shapes.add((tuple(sorted(body)), tuple(type(body[k]).__name__ for k in sorted(body)),
                        r.headers["Content-Type"], tuple(sorted(r.headers.keys() - {"Date"})),
                        body["org_name"]))
    assert len(shapes) == 1, shapes
    medians = {kind: statistics.median(t for _, t in tries) for kind, tries in answers.items()}
    assert max(medians.values()) - min(medians.values()) < 0.05, medians
    # the chair sees who is who; the public caller never did
    queue = api.as_user("chair").get("/api/v1/applications", params={"limit": 100}).json()
    by_id = {a["id"]: a for a in queue}
    member_id = registered.json()["id"]
    for r, _ in answers["registered"]:
        assert by_id[r.json()["id"]]["duplicate_of_member"] == member_id
    for r, _ in answers["pending"]:
        flagged = by_id[r.json()["id"]]
        assert flagged["duplicate_of_application"] == first.json()["id"]
        assert flagged["duplicate_of_member"] is None
    for r, _ in answers["new"]:
        assert by_id[r.json()["id"]]["duplicate_of_member"] is None
        assert by_id[r.json()["id"]]["duplicate_of_application"] is None
    assert by_id[first.json()["id"]]["duplicate_of_application"] is None


def test_portal_join_answers_alike_and_the_queue_flags_the_duplicate(api, synced_tree, keycloak):
    api.as_user("chair").post("/api/v1/organizations/5/members", json=card(1))
    requests.post(f"{BASE}/api/v1/join/applications", json=application(2), timeout=30)

    def submit(n: int) -> requests.Response:
        form = {**{k: str(v) for k, v in application(n).items() if k not in (
            "pd_consent", "email_consent")}, "region_id": "2", "q": "СОШ", "pd_consent": "on"}
        return requests.post(f"{BASE}/join", data=form, allow_redirects=False, timeout=30)
    answers = [submit(n) for n in (30, 2, 1)]  # new, pending, registered
    for r in answers:
        assert r.status_code == 303, r.text[:300]
        assert re.fullmatch(r"/join/applications/[0-9a-f-]{36}", r.headers["Location"])
        status = requests.get(BASE + r.headers["Location"], timeout=30)
        assert status.status_code == 200 and "на рассмотрении" in status.text
    assert len({len(r.content) for r in answers}) == 1
    http = requests.Session()
    http.cookies.update(portal_cookies(keycloak, "chair"))
    page = http.get(f"{BASE}/portal/applications", timeout=30)
    assert page.status_code == 200
    assert page.text.count('class="form-err duplicate"') == 2
    assert "уже состоит на учёте в Профсоюзе" in page.text and "уже ждёт решения" in page.text


def test_malformed_applications_still_say_what_is_wrong(api, synced_tree):
    r = api.as_user(None).post("/api/v1/join/applications",
                               json=application(3, snils="123-456-789 00"))
    assert r.status_code == 422
    assert "snils_checksum" in {d["code"] for d in r.json()["error"]["details"]}


# ---- rate limits ----

def assert_too_many(r: requests.Response, html_page: bool = False) -> None:
    assert r.status_code == 429, r.text[:300]
    assert int(r.headers["Retry-After"]) >= 1
    if html_page:
        assert r.headers["Content-Type"].startswith("text/html")
        assert "Слишком много попыток" in r.text
    else:
        error = r.json()["error"]
        assert error["code"] == "too_many_requests" and russian(error["message"])
        assert error["details"]["retry_after_s"] == int(r.headers["Retry-After"])


def test_join_is_limited_per_address_and_per_person(api, synced_tree, limits):
    public = api.as_user(None)
    limits(rate_join_address="3/minute")
    for n in (40, 41, 42):
        assert public.post("/api/v1/join/applications", json=application(n)).status_code == 201
    assert_too_many(public.post("/api/v1/join/applications", json=application(43)))
    # the portal's form counts in the same window
    form = {**{k: str(v) for k, v in application(44).items()}, "region_id": "2", "q": "СОШ"}
    assert_too_many(requests.post(f"{BASE}/join", data=form, allow_redirects=False,
                                  timeout=30), html_page=True)
    limits(rate_join_target="2/minute")
    for _ in range(2):
        assert public.post("/api/v1/join/applications", json=application(45)).status_code == 201
    assert_too_many(public.post("/api/v1/join/applications", json=application(45)))
    # the same person without the SNILS is the same person (name and date of birth)
    assert_too_many(public.post("/api/v1/join/applications",
                                json=application(45, snils=None)))
    assert public.post("/api/v1/join/applications", json=application(46)).status_code == 201


def test_sign_in_is_limited_per_address(api, limits):
    limits(rate_signin_address="2/minute")
    for _ in range(2):
        r = requests.get(f"{BASE}/portal/login?next=/portal/members", allow_redirects=False,
                         timeout=30)
        assert r.status_code == 303
    assert_too_many(requests.get(f"{BASE}/portal/login", allow_redirects=False, timeout=30),
                    html_page=True)
    assert_too_many(requests.get(f"{BASE}/portal/callback", params={"code": "x", "state": "y"},
                                 allow_redirects=False, timeout=30), html_page=True)


def transfer(api, member_id: int, birth_date: str | None):
    return api.as_user("chair2").post(f"/api/v1/members/{member_id}/transfer", json={
        "to_org_id": 9, "on": "2025-01-10", "birth_date": birth_date})


def test_transfer_lookup_is_limited_per_member_in_the_gateway(api, synced_tree, limits):
    member = api.as_user("chair").post("/api/v1/organizations/5/members", json=card(1)).json()
    other = api.as_user("chair").post("/api/v1/organizations/5/members", json=card(2)).json()
    limits(rate_transfer_target="3/minute")
    for day in ("1990-01-01", "1990-01-02", "1990-01-03"):
        assert transfer(api, member["id"], day).status_code == 404
    assert_too_many(transfer(api, member["id"], card(1)["birth_date"]))
    assert transfer(api, other["id"], "1990-01-01").status_code == 404  # another member


def test_wrong_birth_dates_are_audited_and_throttled_by_membership(api, synced_tree, engine,
                                                                   limits, monkeypatch):
    """The service's own count (its audit log) holds across gateway instances."""
    from sqlalchemy.orm import Session

    from services.membership.transfer_lookup import refusals

    member = api.as_user("chair").post("/api/v1/organizations/5/members", json=card(1)).json()
    with Session(engine) as s:  # the log outlives the tables emptied between tests
        already = {mid: refusals(s, mid, 3600)[0] for mid in (member["id"], 999_999)}
        last_id = s.execute(text("SELECT coalesce(max(id), 0) FROM membership.audit_log")
                            ).scalar()
    monkeypatch.setenv("TRANSFER_LOOKUP_LIMIT", str(already[member["id"]] + 3))
    assert transfer(api, member["id"], None).status_code == 404
    for day in ("1990-01-01", "1990-01-02"):
        r = transfer(api, member["id"], day)
        assert r.status_code == 404 and r.json()["error"]["code"] == "member_not_found"
    throttled = transfer(api, member["id"], card(1)["birth_date"])  # right, but too late
    assert_too_many(throttled)
    assert api.as_user("chair").get(f"/api/v1/members/{member['id']}").json()["org_id"] == 5
    # an id that does not exist is answered and throttled alike
    monkeypatch.setenv("TRANSFER_LOOKUP_LIMIT", str(already[999_999] + 3))
    for _ in range(3):
        assert transfer(api, 999_999, "1990-01-01").status_code == 404
    assert_too_many(transfer(api, 999_999, "1990-01-01"))
    with engine.connect() as c:
        rows = c.execute(text("""
            SELECT record_id, action, actor FROM membership.audit_log
            WHERE action LIKE 'transfer_lookup%' AND id > :last ORDER BY id"""),
                         {"last": last_id}).all()
    assert [(r.record_id, r.action) for r in rows] == (
        [(str(member["id"]), "transfer_lookup_refused")] * 3
        + [(str(member["id"]), "transfer_lookup_throttled")]
        + [("999999", "transfer_lookup_refused")] * 3 + [("999999", "transfer_lookup_throttled")])
    assert {r.actor for r in rows} == {"chair2@test.reestr"}


def test_limits_come_from_the_environment(monkeypatch):
    from gateway.ratelimit import rules_from
    from gateway.settings import GatewaySettings

    monkeypatch.setenv("GATEWAY_RATE_JOIN_ADDRESS", "7/minute;70/hour")
    monkeypatch.setenv("GATEWAY_RATE_TRANSFER_TARGET", "4 per 10 minutes")
    rules = rules_from(GatewaySettings())
    assert [(i.amount, i.get_expiry()) for i in rules["join"].per_address] == [(7, 60),
                                                                               (70, 3600)]
    assert [(i.amount, i.get_expiry()) for i in rules["transfer"].per_target] == [(4, 600)]


# ---- redirects after sign-in ----

BAD_NEXT = ["/%09/evil.example", "/%0A/evil.example", "/%0D%0ALocation:%20http://evil.example",
            "//evil.example", "/\\evil.example", "\\\\evil.example", "/%5Cevil.example",
            "https://evil.example/", "http:evil.example", "javascript:alert(1)",
            "%2F%2Fevil.example", "/%E2%80%A8/evil.example", "evil.example"]


def portal_sign_in(next_raw: str, username: str) -> requests.Response:
    """The portal's whole sign-in as a browser goes through it; the callback's answer."""
    start = requests.get(f"{BASE}/portal/login?next={next_raw}", allow_redirects=False,
                         timeout=30)
    assert start.status_code == 303, start.text[:300]
    browser = requests.Session()
    page = browser.get(start.headers["Location"], timeout=30)
    action = re.search(r'<form[^>]+id="kc-form-login"[^>]+action="([^"]+)"', page.text)
    assert action, page.text[:300]
    cookies = "; ".join(f"{c.name}={c.value}" for c in browser.cookies)
    answer = requests.post(html.unescape(action.group(1)), headers={"Cookie": cookies},
                           data={"username": username, "password": PASSWORD},
                           allow_redirects=False, timeout=30)
    back = answer.headers["Location"]
    assert back.startswith(f"{BASE}/portal/callback?"), back
    return requests.get(back, cookies={"rs_login": start.cookies["rs_login"]},
                        allow_redirects=False, timeout=30)


@pytest.mark.parametrize("next_raw", BAD_NEXT)
def test_a_crafted_next_goes_home(api, keycloak, next_raw):
    from gateway.portal.session import HOME, box

    start = requests.get(f"{BASE}/portal/login?next={next_raw}", allow_redirects=False,
                         timeout=30)
    assert start.status_code == 303
    assert box().open(start.cookies["rs_login"])["next"] == HOME


def test_after_sign_in_only_this_sites_paths(api, keycloak):
    from gateway.portal.session import HOME

    for next_raw in ("/%09/evil.example", "/%0A/evil.example", "//evil.example"):
        done = portal_sign_in(next_raw, "chair@test.reestr")
        assert done.status_code == 303 and done.headers["Location"] == HOME, next_raw
    done = portal_sign_in("/portal/members%3Fq%3D%D0%98%D0%B2", "chair@test.reestr")
    assert done.headers["Location"] == "/portal/members?q=%D0%98%D0%B2"


# ---- security headers ----

def assert_security_headers(r: requests.Response, where: str) -> None:
    policy = r.headers.get("Content-Security-Policy", "")
    directives = {d.split()[0]: d.split()[1:] for d in policy.split(";") if d.strip()}
    assert directives.get("script-src") == ["'self'"], (where, policy)
    assert directives.get("frame-ancestors") == ["'none'"], (where, policy)
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy, (where, policy)
    assert r.headers.get("X-Content-Type-Options") == "nosniff", where
    assert r.headers.get("Referrer-Policy") in ("same-origin", "no-referrer",
                                                "strict-origin"), where
    assert "Strict-Transport-Security" not in r.headers, where  # plain HTTP, no TLS in front


INLINE = [re.compile(r"<script(?![^>]*\bsrc=)", re.I), re.compile(r"<[^>]+\son[a-z]+\s*=", re.I),
          re.compile(r"<[^>]+\sstyle\s*=", re.I), re.compile(r"javascript:", re.I)]


def portal_routes() -> list[tuple[str, str]]:
    """Every page of the portal as (method, url rule), from the gateway's entrypoints."""
    from nameko.extensions import ENTRYPOINT_EXTENSIONS_ATTR

    from gateway.portal.web import PortalHandler
    from gateway.service import GatewayService

    routes = []
    for name in dir(GatewayService):
        for ext in getattr(getattr(GatewayService, name), ENTRYPOINT_EXTENSIONS_ATTR, ()):
            if isinstance(ext, PortalHandler):
                routes += [(m, ext.url) for m in ext.method.split(",")]
    return sorted(set(routes))


def test_every_portal_page_has_the_headers_and_no_inline_script(api, synced_tree, keycloak):
    member = api.as_user("chair").post("/api/v1/organizations/5/members", json=card(1)).json()
    app_id = requests.post(f"{BASE}/api/v1/join/applications", json=application(2),
                           timeout=30).json()["id"]
    values = {"org_id": "5", "member_id": str(member["id"]), "app_id": app_id, "card_id": "1",
              "report_id": "1", "tab": "chair", "name": "portal.css", "target_id": "5",
              "material_id": "1", "run_id": "1"}
    routes = portal_routes()
    assert len(routes) > 30 and ("GET", "/join") in routes
    chair = portal_cookies(keycloak, "chair")
    seen = set()
    for cookies in ({}, chair):
        for method, rule in routes:
            if rule == "/portal/logout":
                continue  # would end the chair's session for the pages after it
            # an id the test made, else 1 (a page of a record that may not exist still
            # answers with the headers)
            url = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values.get(m.group(1), "1"), rule)
            r = requests.request(method, BASE + url, cookies=cookies, allow_redirects=False,
                                 timeout=60)
            where = f"{method} {url} ({'chair' if cookies else 'anonymous'}) {r.status_code}"
            assert r.status_code < 500, where
            assert_security_headers(r, where)
            seen.add(r.status_code)
            if r.headers.get("Content-Type", "").startswith("text/html"):
                for pattern in INLINE:
                    assert not pattern.search(r.text), (where, pattern.pattern)
    assert {200, 303, 400} <= seen
    r = requests.post(f"{BASE}/portal/logout", allow_redirects=False, timeout=30)
    assert_security_headers(r, "POST /portal/logout")


def test_api_answers_and_errors_have_the_headers(api, synced_tree):
    for method, path, user in (("GET", "/api/v1/openapi.json", None),
                               ("GET", "/api/v1/join/regions", None),
                               ("GET", "/api/v1/organizations/5", "chair"),
                               ("GET", "/api/v1/organizations/5", None),      # 401
                               ("GET", "/api/v1/organizations/abc", "chair"),  # routing 404
                               ("DELETE", "/api/v1/join/regions", None),      # 405
                               ("GET", "/no/such/page", None),
                               ("GET", "/healthz", None)):
        r = getattr(api.as_user(user), method.lower())(path)
        assert_security_headers(r, f"{method} {path} {r.status_code}")


def test_hsts_behind_tls(api):
    r = requests.get(f"{BASE}/", headers={"X-Forwarded-Proto": "https"}, timeout=30)
    assert r.headers["Strict-Transport-Security"].startswith("max-age=")
    r = requests.get(f"{BASE}/api/v1/join/regions", headers={"X-Forwarded-Proto": "https"},
                     timeout=30)
    assert "max-age=" in r.headers["Strict-Transport-Security"]


# ---- the draft cookie ----

def test_an_anonymous_cross_site_post_plants_no_draft(api, synced_tree):
    r = requests.post(f"{BASE}/portal/org/5/passport/chair",
                      data={"chair.surname": "Подделкин", "chair.first_name": "Иван"},
                      headers={"Origin": "https://evil.example"}, allow_redirects=False,
                      timeout=30)
    assert r.status_code == 303 and r.headers["Location"].startswith("/portal/login")
    assert "rs_draft" not in r.cookies and "rs_flash" not in r.cookies


def test_a_draft_opens_only_for_the_account_whose_session_wrote_it(api, synced_tree, keycloak):
    from gateway.portal.session import box

    chair = portal_cookies(keycloak, "chair")
    sub = claims_of(chair["rs_at"])["sub"]
    path = "/portal/org/5/passport/chair"
    planted = {"chair.surname": "Подделкин", "chair.first_name": "Иван"}

    def form_page(draft: str) -> requests.Response:
        return requests.get(BASE + path, cookies={**chair, "rs_draft": draft},
                            allow_redirects=False, timeout=30)
    # sealed with our key but written for another account, or before drafts named one
    for draft in (box().seal({"path": path, "fields": planted, "owner": "someone-else"}),
                  box().seal({"path": path, "fields": planted})):
        page = form_page(draft)
        assert page.status_code == 200 and "Подделкин" not in page.text
        assert page.cookies.get("rs_draft", "") == ""  # dropped unread
    # the chair's own session, expired while they typed: kept, and typed back for them only
    def fake_jwt(claims: dict) -> str:
        body = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
        return f"eyJhbGciOiJub25lIn0.{body}.x"
    expired = {"rs_at": box().seal(fake_jwt({"sub": sub})), "rs_rt": box().seal("gone")}
    typed = {**planted, "chair.surname": "Своя"}
    posted = requests.post(BASE + path, data=typed, cookies=expired, allow_redirects=False,
                           timeout=30)
    assert posted.status_code == 303 and "rs_draft" in posted.cookies
    own = form_page(posted.cookies["rs_draft"])
    assert own.status_code == 200 and 'value="Своя"' in own.text
    # a draft of the chair's, for a page another chair opens: not theirs to read
    other_path = "/portal/org/9/passport/chair"
    posted = requests.post(BASE + other_path, data=typed, cookies=expired,
                           allow_redirects=False, timeout=30)
    page = requests.get(BASE + other_path, timeout=30, allow_redirects=False, cookies={
        **portal_cookies(keycloak, "chair2"), "rs_draft": posted.cookies["rs_draft"]})
    assert page.status_code == 200 and "Своя" not in page.text


# ---- CSRF and the portal's secrets ----

def test_csrf_token_is_not_derived_from_the_cookie_key(api, synced_tree, keycloak):
    chair = portal_cookies(keycloak, "chair")
    claims = claims_of(chair["rs_at"])
    path = f"{BASE}/portal/org/5/passport/chair"
    page = requests.get(path, cookies=chair, timeout=30)
    token = page.text.split('name="csrf" value="')[1].split('"')[0]
    for seed in (claims.get("sid") or "", claims["sub"]):  # the old scheme, and the like
        guessed = hmac.new(os.environ["PORTAL_SECRET"].encode(), seed.encode(),
                           hashlib.sha256).hexdigest()[:32]
        assert guessed != token
        r = requests.post(path, data={"csrf": guessed, "chair.surname": "Подделкин"},
                          cookies=chair, allow_redirects=False, timeout=30)
        assert r.status_code == 400
    assert api.get("/api/v1/organizations/5").json()["chair"] is None


@pytest.mark.parametrize("drop, needs", [
    (("PORTAL_SECRET",), "PORTAL_SECRET is not set"),
    (("PORTAL_CSRF_SECRET",), "PORTAL_CSRF_SECRET is not set")])
def test_gateway_refuses_to_start_without_its_secrets(drop, needs):
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(AMQP_URI=AMQP, WEB_SERVER_ADDRESS="127.0.0.1:0")
    done = subprocess.run(
        [str(Path(sys.executable).parent / "nameko"), "run", "--config",
         str(ROOT / "deploy" / "nameko.yml"), "gateway.service:GatewayService"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert needs in done.stderr + done.stdout, (done.stderr + done.stdout)[-2000:]


def test_a_short_or_published_secret_is_refused(monkeypatch):
    from gateway.portal.settings import MissingSecret, portal_settings

    for secret, csrf, says in (
            ("local-development-secret-change-me", "x" * 40, "PORTAL_SECRET must be"),
            ("x" * 40, "short", "PORTAL_CSRF_SECRET must be"),
            ("y" * 40, "y" * 40, "must differ")):
        monkeypatch.setenv("PORTAL_SECRET", secret)
        monkeypatch.setenv("PORTAL_CSRF_SECRET", csrf)
        portal_settings.cache_clear()
        with pytest.raises(MissingSecret, match=says):
            portal_settings()
    portal_settings.cache_clear()
