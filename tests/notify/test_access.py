"""Chairs' access: the invitation of a chair named in a passport is queued by notify from the
registry's event (its outbox), the account's state follows it (invited, invitation expired,
active once the person signs in, bouncing), the quality check "chairs without access" counts
the chair until then, and the region sends the invitation again from its page — within its
subtree only, audited, and not twice in a row."""

from sqlalchemy import text

from tests.conftest import password_grant
from tests.notify.test_keycloak_mail import (
    NEW_PASSWORD,
    _browser_get,
    _link,
    _set_password_on_page,
)
from tests.support.waiting import wait_until

EMAIL = "access.chair@example.org"


def _state(api, org_id: int, user: str = "regional") -> dict:
    rows = api.as_user(user).get(f"/api/v1/organizations/{org_id}/chair-accounts?all=true")
    assert rows.status_code == 200, rows.text
    return {r["org_id"]: r for r in rows.json()}


def _fault(api, org_id: int) -> dict | None:
    assert api.post("/api/v1/quality/runs").status_code == 200
    faults = api.get(f"/api/v1/quality/orgs/{org_id}/faults?check=chair_no_access").json()
    return next((f for f in faults["items"] if f["org_id"] == org_id), None)


def test_chair_access_states_and_invitation_again(api, rpc, engine, keycloak, mailbox, tree):
    import requests

    from services.sso.keycloak import admin_client

    admin = admin_client(keycloak)
    for user in admin.get_users({"username": EMAIL, "exact": True}):
        admin.delete_user(user["id"])
    r = api.patch("/api/v1/organizations/5", json={"chair": {
        "surname": "Доступова", "first_name": "Нина", "email": EMAIL}})
    assert r.status_code == 200, r.text
    [mail] = mailbox.wait_for(EMAIL, timeout=40)
    # queued by notify from the registry's chair_changed (sso publishes no accounts_created)
    with engine.connect() as c:
        handled = set(c.execute(text("SELECT event_type FROM notify.handled_event")).scalars())
    assert "chair_changed" in handled and "accounts_created" not in handled
    assert wait_until(lambda: _state(api, 5)[5]["state"] == "invited", timeout=10)
    row = _state(api, 5)[5]
    assert row["email"] == EMAIL and row["invitation_expires_at"] and row["can_reinvite"]

    # the link's days have passed: expired, and the quality check counts the chair
    with engine.begin() as c:
        c.execute(text("UPDATE notify.message SET sent_at = now() - interval '8 days' "
                       "WHERE recipient = :e AND kind = 'invitation'"), {"e": EMAIL})
    assert _state(api, 5)[5]["state"] == "invitation_expired"
    fault = _fault(api, 5)
    assert fault and fault["detail"] == "invitation_expired", fault
    listed = api.as_user("regional").get("/api/v1/organizations/2/chair-accounts").json()
    assert [r["state"] for r in listed if r["org_id"] == 5] == ["invitation_expired"]

    # a chair of another region sees none of it and cannot invite
    assert api.as_user("chair2").get("/api/v1/organizations/5/chair-accounts").status_code \
        == 404
    assert api.as_user("chair2").post("/api/v1/organizations/5/chair/invitation"
                                      ).status_code == 404

    # the region invites again: a new e-mail; at once again: refused, nothing queued
    again = api.as_user("regional").post("/api/v1/organizations/5/chair/invitation")
    assert again.status_code == 202, again.text
    mails = mailbox.wait_for(EMAIL, count=2, timeout=40)
    twice = api.as_user("regional").post("/api/v1/organizations/5/chair/invitation")
    assert twice.status_code == 429 and twice.json()["error"]["code"] == "invitation_recent"
    with engine.connect() as c:
        queued = c.execute(text("SELECT count(*) FROM notify.message WHERE recipient = :e "
                                "AND kind = 'invitation'"), {"e": EMAIL}).scalar()
        audited = c.execute(text("SELECT count(*) FROM notify.audit_log "
                                 "WHERE action = 'reinvite' AND actor = 'regional@test.reestr'")
                            ).scalar()
    assert queued == 2 and audited >= 1
    assert _state(api, 5)[5]["state"] == "invited"

    # the person follows the newest link and signs in: active, and no longer counted
    browser = requests.Session()
    newest = max(mails, key=lambda m: m["Date"])
    _set_password_on_page(browser, _browser_get(browser,
                                                _link(newest, "login-actions/action-token")))
    assert password_grant(keycloak, EMAIL, NEW_PASSWORD)["access_token"]
    assert wait_until(lambda: _state(api, 5)[5]["state"] == "active", timeout=20)
    assert _fault(api, 5) is None
    refused = api.as_user("regional").post("/api/v1/organizations/5/chair/invitation")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "account_active"
    assert 5 not in {r["org_id"] for r in api.as_user("regional").get(
        "/api/v1/organizations/2/chair-accounts").json()}


def test_bouncing_and_missing_addresses(api, rpc, engine, tree, private_mailpit):
    from tests.notify.test_delivery import _enqueue, _settled

    bad = "chair.gone@bounce.invalid"
    r = api.patch("/api/v1/organizations/7", json={"chair": {
        "surname": "Отказная", "first_name": "Ирина", "email": bad}})
    assert r.status_code == 200, r.text
    r = api.patch("/api/v1/organizations/8", json={"chair": {
        "surname": "Безадресная", "first_name": "Анна"}})
    assert r.status_code == 200, r.text
    ids = _enqueue(engine, [bad])
    assert wait_until(lambda: _settled(engine, ids), timeout=20)
    states = _state(api, 2)
    assert states[7]["state"] == "bouncing" and not states[7]["can_reinvite"]
    assert states[8]["state"] == "no_email" and states[8]["email"] is None
    refused = api.as_user("regional").post("/api/v1/organizations/7/chair/invitation")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "address_bouncing"
    refused = api.as_user("regional").post("/api/v1/organizations/8/chair/invitation")
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "chair_no_email"
    assert _fault(api, 7)["detail"] == "bouncing"
    assert _fault(api, 8)["detail"] == "no_email"
