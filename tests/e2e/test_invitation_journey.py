"""The invitation in a real browser (Chromium): a chair named in a passport finds Keycloak's
e-mail in Mailpit, follows its link, sets a password on Keycloak's page, and is signed in to the
portal at their organization — and the region then sees the chair's account as in use."""

import html
import re

import pytest

from tests.e2e.conftest import sign_in
from tests.support.waiting import wait_until

pytestmark = pytest.mark.usefixtures("keycloak")


@pytest.fixture
def mailbox():
    """The test Mailpit read through its API (tests/notify/mailpit.py), emptied."""
    from tests.notify import mailpit

    mailpit.clear()
    return mailpit

EMAIL = "journey.chair@example.org"
PASSWORD = "Journey-password-3"


def _invitation_link(mail: dict) -> str:
    found = re.search(r'https?://[^\s"<>]*login-actions/action-token[^\s"<>]*', mail["Text"])
    assert found, mail["Text"][:500]
    return html.unescape(found.group(0))


def _set_password(page) -> None:
    """Keycloak's pages after the link: maybe an «info» page with a link on, then the new
    password (twice), then maybe a page saying the account is updated."""
    if page.locator("#password-new").count() == 0:
        page.locator("a[href*='action-token']").first.click()
    page.fill("#password-new", PASSWORD)
    page.fill("#password-confirm", PASSWORD)
    page.locator("form [type=submit]").first.click()
    page.wait_for_load_state()


def test_chair_follows_invitation_to_the_portal(api, keycloak, mailbox, synced_tree,
                                                new_page, base, screens):
    from services.sso.keycloak import admin_client

    admin = admin_client(keycloak)
    for user in admin.get_users({"username": EMAIL, "exact": True}):
        admin.delete_user(user["id"])
    r = api.patch("/api/v1/organizations/5", json={"chair": {
        "surname": "Путникова", "first_name": "Ольга", "email": EMAIL}})
    assert r.status_code == 200, r.text
    [mail] = mailbox.wait_for(EMAIL, timeout=40)
    assert "учетной записи" in mail["Subject"] or "учётной записи" in mail["Subject"]

    page = new_page(phone=True)
    page.goto(_invitation_link(mail))
    screens.shot(page, "1-invitation-link")
    _set_password(page)
    screens.shot(page, "2-password-set")
    page.goto(base + "/portal/login")
    if page.locator("#kc-form-login").count():  # Keycloak kept no session of the link
        sign_in(page, EMAIL, PASSWORD)
    page.wait_for_url(f"{base}/portal/org/5")
    assert page.locator("h1").inner_text() == "ППО МБОУ «СОШ № 1» г. Кунгура"
    screens.shot(page, "3-signed-in")

    def state():
        rows = api.as_user("regional").get("/api/v1/organizations/5/chair-accounts?all=true")
        return {r["org_id"]: r["state"] for r in rows.json()}.get(5)
    assert wait_until(lambda: state() == "active", timeout=20), state()
