"""Targeted mailing against a real Mailpit, PostgreSQL and RabbitMQ: a campaign to a region
reaches exactly those with consent and an address, each once, with the RFC 8058 headers; the
one-click POST and the page withdraw without signing in; a forged token changes nothing;
withdrawal mid-campaign; approval by a second person; a chair beyond their organization and
bad input refused."""

import requests
from sqlalchemy import text

from tests.conftest import GATEWAY_ADDRESS
from tests.factories import register
from tests.support.waiting import wait_until

BASE = f"http://{GATEWAY_ADDRESS}"


def _members(api, tree) -> dict[str, int]:
    ids = {}
    ids["yes1"] = register(api, tree["primary"], 1, user="admin", email="yes1@example.ru",
                           email_consent=True)
    ids["yes2"] = register(api, tree["subdivision"], 2, user="admin", email="yes2@example.ru",
                           email_consent=True)
    ids["no"] = register(api, tree["primary"], 3, user="admin", email="no3@example.ru",
                         email_consent=False)
    ids["noemail"] = register(api, tree["primary"], 4, user="admin", email=None)
    ids["bounce"] = register(api, tree["rights"], 5, user="admin",
                             email="gone@bounce.invalid", email_consent=True)
    ids["other_region"] = register(api, tree["primary2"], 6, user="admin",
                                   email="far6@example.ru", email_consent=True)
    return ids


def _campaign(api, user, roots, **extra):
    r = api.as_user(user).post("/api/v1/mailing/campaigns", json={
        "subject": "Съезд Профсоюза", "body": "Приглашаем на **съезд**.\n\n"
        "<script>alert(1)</script> [программа](https://example.ru/p)",
        "audience": {"roots": roots, "members": {}}, **extra})
    return r


def _settled(engine, campaign_id):
    """Started (by the test or the timer, whichever came first) and nothing left queued."""
    with engine.connect() as c:
        return c.execute(text("SELECT status FROM notify.campaign WHERE id = :c"),
                         {"c": campaign_id}).scalar() == "done"


def test_region_campaign_reaches_those_with_consent_once(services, clean, api, tree, engine,
                                                         rpc, private_mailpit):
    _members(api, tree)
    admin = api.as_user("admin")
    r = admin.post("/api/v1/mailing/preview", json={
        "audience": {"roots": [tree["region"]], "members": {}}})
    assert r.status_code == 200, r.text
    # the address the server refuses is not known to bounce yet
    assert r.json() == {"with_consent": 3, "without_consent": 1, "bouncing": 0,
                        "without_email": 1, "total": 5}
    r = _campaign(api, "admin", [tree["region"]])
    assert r.status_code == 201, r.text
    camp = r.json()
    assert "<script>" not in camp["body_html"] and "&lt;script&gt;" in camp["body_html"]
    assert 'href="https://example.ru/p"' in camp["body_html"]
    r = admin.post(f"/api/v1/mailing/campaigns/{camp['id']}/submit")
    assert r.status_code == 200 and r.json()["status"] == "scheduled", r.text
    rpc.notify.start_due_now()
    assert wait_until(lambda: _settled(engine, camp["id"]), timeout=30)
    got: dict[str, int] = {}
    for m in private_mailpit.messages():
        for t in m["To"]:
            got[t["Address"]] = got.get(t["Address"], 0) + 1
    assert got == {"yes1@example.ru": 1, "yes2@example.ru": 1}  # each once, nobody else
    figures = admin.get(f"/api/v1/mailing/campaigns/{camp['id']}").json()["figures"]
    assert figures["total"] == {"queued": 0, "sent": 2, "bounced": 1, "unsubscribed": 0,
                                "refused": 0, "audience": 3}
    assert {r["region_id"] for r in figures["regions"]} == {tree["region"]}
    # the refused address is on hold: counted as bouncing, not written to again
    assert rpc.notify.address_states(["gone@bounce.invalid"]) == {
        "gone@bounce.invalid": "bouncing"}
    # the headers of RFC 2369 / 8058 and the one-click POST, without signing in
    first = private_mailpit.messages()[0]
    headers = requests.get(f"{private_mailpit.api}/api/v1/message/{first['ID']}/headers",
                           timeout=10).json()
    assert headers["List-Unsubscribe-Post"] == ["List-Unsubscribe=One-Click"]
    url = headers["List-Unsubscribe"][0].strip("<>")
    assert url.startswith(f"{BASE}/mailing/unsubscribe/")
    page = requests.get(url, timeout=10)
    assert page.status_code == 200 and "Какие письма получать" in page.text
    r = requests.post(url, data={"List-Unsubscribe": "One-Click"}, timeout=10)
    assert r.status_code == 200 and "Вы отписались" in r.text
    who = first["To"][0]["Address"]
    with engine.connect() as c:
        rows = c.execute(text("SELECT purpose, granted, channel FROM notify.consent "
                              "WHERE email = :e"), {"e": who}).all()
    assert sorted(rows) == [("partner_ads", False, "one_click"),
                            ("union_news", False, "one_click")]
    # a forged token: a clear page, nothing changed
    forged = url[:-3] + ("aaa" if not url.endswith("aaa") else "bbb")
    r = requests.post(forged, data={"List-Unsubscribe": "One-Click"}, timeout=10)
    assert r.status_code == 400 and "Ничего не изменено" in r.text
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM notify.consent")).scalar() == 2
    # the next campaign to the region leaves out the one who withdrew
    r = admin.post("/api/v1/mailing/preview", json={
        "audience": {"roots": [tree["region"]], "members": {}}})
    assert r.json()["with_consent"] == 1 and r.json()["bouncing"] == 1


def test_bounce_withdrawal_mid_campaign_and_page(services, clean, api, tree, engine, rpc,
                                                 private_mailpit):
    _members(api, tree)
    admin = api.as_user("admin")
    camp = _campaign(api, "admin", [tree["region"]]).json()
    assert admin.post(f"/api/v1/mailing/campaigns/{camp['id']}/submit").status_code == 200
    # paused straight after starting: nothing goes; a withdrawal meanwhile is honoured
    with engine.begin() as c:
        c.execute(text("UPDATE notify.campaign SET scheduled_at = now() + interval '1 hour' "
                       "WHERE id = :c"), {"c": camp["id"]})
    rpc.notify.start_due_now()
    from services.notify import unsubscribe
    from services.notify.settings import notify_settings
    token = unsubscribe.make(notify_settings(), "yes2@example.ru", camp["id"])
    r = requests.post(f"{BASE}/mailing/unsubscribe/{token}",
                      data={"form": "choice", "purpose": "union_news"}, timeout=10)
    assert r.status_code == 200, r.text
    with engine.begin() as c:
        c.execute(text("UPDATE notify.campaign SET scheduled_at = now() WHERE id = :c"),
                  {"c": camp["id"]})
    rpc.notify.start_due_now()
    assert wait_until(lambda: _settled(engine, camp["id"]), timeout=30)
    got = sorted(t["Address"] for m in private_mailpit.messages() for t in m["To"])
    assert got == ["yes1@example.ru"]
    with engine.connect() as c:
        row = c.execute(text("SELECT granted, channel, text_version FROM notify.consent "
                             "WHERE email = 'yes2@example.ru'")).one()
    assert tuple(row) == (False, "unsubscribe_link", "news-2026-1")


def test_withdrawal_while_sending_skips_queued(services, clean, api, tree, engine, rpc,
                                               private_mailpit):
    _members(api, tree)
    admin = api.as_user("admin")
    camp = _campaign(api, "admin", [tree["region"]]).json()
    admin.post(f"/api/v1/mailing/campaigns/{camp['id']}/submit")
    private_mailpit.stop()  # the server away: the queue waits
    rpc.notify.start_due_now()
    wait_until(lambda: admin.get(f"/api/v1/mailing/campaigns/{camp['id']}").json()["status"]
               == "sending", timeout=20)
    r = admin.post(f"/api/v1/mailing/campaigns/{camp['id']}/pause")
    assert r.status_code == 200 and r.json()["status"] == "paused", r.text
    from services.notify import unsubscribe
    from services.notify.settings import notify_settings
    token = unsubscribe.make(notify_settings(), "yes1@example.ru", camp["id"])
    assert requests.post(f"{BASE}/mailing/unsubscribe/{token}",
                         data={"List-Unsubscribe": "One-Click"}, timeout=10).status_code == 200
    private_mailpit.start()
    r = admin.post(f"/api/v1/mailing/campaigns/{camp['id']}/resume")
    assert r.status_code == 200, r.text
    assert wait_until(lambda: _settled(engine, camp["id"]), timeout=60)
    total = admin.get(f"/api/v1/mailing/campaigns/{camp['id']}").json()["figures"]["total"]
    assert total == {"queued": 0, "sent": 1, "bounced": 1, "unsubscribed": 1, "refused": 0,
                     "audience": 3}
    got = sorted(t["Address"] for m in private_mailpit.messages() for t in m["To"])
    assert got == ["yes2@example.ru"]


def test_approval_and_refusals(services, clean, api, tree, engine):
    _members(api, tree)
    admin, chair = api.as_user("admin"), api.as_user("chair")
    # union-wide: waits for a second person; the author cannot approve it
    camp = _campaign(api, "admin", []).json()
    r = admin.post(f"/api/v1/mailing/campaigns/{camp['id']}/submit")
    assert r.json()["status"] == "awaiting_approval", r.text
    r = admin.post(f"/api/v1/mailing/campaigns/{camp['id']}/approve")
    assert r.status_code == 403 and "другой" in r.json()["error"]["message"]
    with engine.begin() as c:  # a second Central Council person approves
        c.execute(text("UPDATE notify.campaign SET author = 'someone-else' WHERE id = :c"),
                  {"c": camp["id"]})
    r = admin.post(f"/api/v1/mailing/campaigns/{camp['id']}/approve")
    assert r.status_code == 200 and r.json()["status"] == "scheduled", r.text
    # a chair: own organization's members only
    r = _campaign(api, "chair", [tree["primary2"]])
    assert r.status_code == 403 and "своей организации" in r.json()["error"]["message"]
    r = chair.post("/api/v1/mailing/campaigns", json={
        "subject": "x", "body": "y", "audience": {"roots": [], "chairs": {"levels": []}}})
    assert r.status_code == 403
    assert _campaign(api, "chair", [tree["primary"]]).status_code == 201
    # regional staff beyond their region
    assert _campaign(api, "regional", [tree["region2"]]).status_code == 403
    # bad input: no audience, an attachment, nothing to say
    r = admin.post("/api/v1/mailing/campaigns", json={"subject": "", "body": "",
                                                      "attachments": [{"name": "a.pdf"}]})
    assert r.status_code == 422
    fields = {d["field"] for d in r.json()["error"]["details"]}
    assert {"subject", "body", "attachments"} <= fields
    assert any(d["field"] == "audience" for d in r.json()["error"]["details"])
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM notify.campaign")).scalar() == 2


def test_chairs_bounce_becomes_quality_finding(services, clean, api, tree, engine, rpc,
                                               private_mailpit):
    admin = api.as_user("admin")
    for org, email in ((tree["primary"], "chair-gone@bounce.invalid"),
                       (tree["rights"], "chair-ok@example.ru")):
        r = admin.patch(f"/api/v1/organizations/{org}", json={"chair": {
            "surname": "Петрова", "first_name": "Анна", "email": email,
            "email_consent": True}})
        assert r.status_code == 200, r.text
    r = admin.post("/api/v1/mailing/campaigns", json={
        "subject": "Председателям", "body": "Совещание председателей.",
        "audience": {"roots": [tree["region"]], "chairs": {"levels": ["primary"]}}})
    assert r.status_code == 201, r.text
    camp = r.json()
    assert admin.post(f"/api/v1/mailing/campaigns/{camp['id']}/submit").status_code == 200
    rpc.notify.start_due_now()
    assert wait_until(lambda: _settled(engine, camp["id"]), timeout=30)
    total = admin.get(f"/api/v1/mailing/campaigns/{camp['id']}").json()["figures"]["total"]
    assert total["sent"] == 1 and total["bounced"] == 1
    assert admin.post("/api/v1/quality/runs").status_code == 200
    faults = admin.get(f"/api/v1/quality/orgs/{tree['region']}/faults?check=bad_email").json()
    assert [f["org_id"] for f in faults["items"]] == [tree["primary"]]


def test_members_bounce_becomes_quality_finding(services, clean, api, tree, engine, rpc,
                                                private_mailpit):
    """A member's address the relay refuses: «неверный e-mail» on their organization, counted
    (the chair's list to fix), and no finding where addresses are accepted."""
    _members(api, tree)
    admin = api.as_user("admin")
    camp = _campaign(api, "admin", [tree["region"]]).json()
    assert admin.post(f"/api/v1/mailing/campaigns/{camp['id']}/submit").status_code == 200
    rpc.notify.start_due_now()
    assert wait_until(lambda: _settled(engine, camp["id"]), timeout=30)
    assert admin.get(f"/api/v1/mailing/campaigns/{camp['id']}").json()[
        "figures"]["total"]["bounced"] == 1
    assert admin.post("/api/v1/quality/runs").status_code == 200
    faults = admin.get(f"/api/v1/quality/orgs/{tree['region']}/faults"
                       "?check=member_bad_email").json()
    assert [(f["org_id"], f["n"]) for f in faults["items"]] == [(tree["rights"], 1)]
