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

    # the same link a second time, in another browser: a page in Russian that says the link no
    # longer works, and the way on to the sign-in page, whose «Забыли пароль?» sends a new one
    again = new_page(phone=True)
    again.goto(_invitation_link(mail))
    said = again.locator("body").inner_text()
    screens.shot(again, "4-link-used-again")
    assert again.locator("#password-new").count() == 0, said
    assert re.search(r"[А-Яа-яЁё]{4}", said) and not re.search(r"\b(expired|invalid)\b", said,
                                                              re.I), said
    again.locator(f"a[href='{base}/portal/login']").click()
    again.wait_for_selector("#kc-form-login")
    assert again.locator("a:has-text('Забыли пароль?')").count() == 1


def test_applicant_journey_by_email(api, keycloak, synced_tree, engine, new_page, base,
                                    mailbox, screens):
    """Applies at /join, gets the e-mail with the number, the chair accepts, the invitation
    comes, a password is set through it, and the personal account shows the card."""
    from sqlalchemy import text

    from services.sso.keycloak import admin_client

    email = "journey.joiner@example.ru"
    admin = admin_client(keycloak)
    for user in admin.get_users({"username": email, "exact": True}):  # an earlier run's
        admin.delete_user(user["id"])
    page = new_page(phone=True)
    page.goto(base + "/join")
    page.select_option("select[name=region_id]", label="Пермская краевая организация")
    page.fill("input[name=q]", "СОШ")
    page.click("button:has-text('Найти')")
    page.click("text=ППО МБОУ «СОШ № 1» г. Кунгура")
    page.fill("input[name=surname]", "Путешественникова")
    page.fill("input[name=first_name]", "Вера")
    page.fill("input[name=birth_date]", "2004-04-14")
    page.fill("input[name=email]", email)
    page.check("input[name=pd_consent]")
    page.click("button:has-text('Подать заявление')")
    page.wait_for_url(re.compile(r"/join/applications/[0-9a-f-]{36}$"))
    app_id = page.url.rsplit("/", 1)[1]
    number = app_id.split("-")[0].upper()
    received = mailbox.wait_for_subject(email, "получено", timeout=30)
    assert number in received["Subject"] + received["Text"]
    screens.shot(page, "1-applied")

    member = api.as_user("chair").post(f"/api/v1/applications/{app_id}/accept").json()
    assert api.as_user("chair").post(f"/api/v1/members/{member['id']}/card-requests"
                                     ).status_code in (200, 201)
    accepted = mailbox.wait_for_subject(email, "Вы приняты", timeout=30)
    assert number in accepted["Text"]
    invitation = next(m for m in mailbox.wait_for(email, count=3, timeout=40)
                      if "action-token" in m["Text"])
    page.goto(_invitation_link(invitation))
    _set_password(page)
    page.goto(base + "/portal/login")
    if page.locator("#kc-form-login").count():
        sign_in(page, email, PASSWORD)
    page.wait_for_url(f"{base}/portal/account")
    body = page.locator("main").inner_text()
    assert "Путешественникова Вера" in body and "ППО МБОУ «СОШ № 1» г. Кунгура" in body
    with engine.connect() as c:
        card_number = c.execute(text("SELECT number FROM cards.card WHERE member_id = :id"),
                                {"id": member["id"]}).scalar()
    shown = " ".join(card_number[i:i + 4] for i in range(0, 16, 4))
    assert page.locator(".vcard .vc-number").inner_text() == shown
    screens.shot(page, "2-account")
