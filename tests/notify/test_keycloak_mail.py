"""Keycloak's own e-mails through the same mail server: the realm configured from code
(Russian, «Забыли пароль?», the address confirmed, SMTP from the platform's variables), a
password reset asked for on the sign-in page, and the invitation of a chair named in a passport,
followed to a password that signs in."""

import html
import json
import re
import time
from urllib.parse import urljoin

import requests
from sqlalchemy import text

from services.sso.realm import PORTAL_CLIENT
from tests.conftest import SMTP_PORT, password_grant
from tests.support.waiting import wait_until

NEW_PASSWORD = "Reset-password-2"


def _cookies(session: requests.Session) -> dict[str, str]:
    # Keycloak marks its cookies Secure; requests would not send them to http://127.0.0.1
    return {"Cookie": "; ".join(f"{c.name}={c.value}" for c in session.cookies)}


def _browser_get(session: requests.Session, url: str) -> requests.Response:
    """GET, following redirects by hand so that each hop carries the cookies set so far."""
    for _ in range(10):
        r = session.get(url, headers=_cookies(session), allow_redirects=False, timeout=30)
        if r.status_code not in (301, 302, 303, 307):
            r.raise_for_status()
            return r
        url = urljoin(url, r.headers["Location"])
    raise AssertionError("too many redirects")


def _browser_post(session: requests.Session, url: str, data: dict) -> requests.Response:
    return session.post(url, headers=_cookies(session), data=data, allow_redirects=False,
                        timeout=30)


def _form_action(page: str) -> str:
    found = re.search(r'<form[^>]+action="([^"]+)"', page)
    assert found, page[:500]
    return html.unescape(found.group(1))


def _link(mail: dict, part: str) -> str:
    found = re.search(r'https?://[^\s"<>]*' + re.escape(part) + r'[^\s"<>]*', mail["Text"])
    assert found, mail["Text"][:500]
    return html.unescape(found.group(0))


def _fresh_user(admin, username: str, with_password: bool) -> str:
    for user in admin.get_users({"username": username, "exact": True}):
        admin.delete_user(user["id"])
    payload = {"username": username, "email": username, "enabled": True,
               "emailVerified": True, "firstName": "Сброс", "lastName": "Тестовый"}
    if with_password:
        payload["credentials"] = [{"type": "password", "value": "Old-password-1",
                                   "temporary": False}]
    return admin.create_user(payload)


def _set_password_on_page(browser: requests.Session, page: requests.Response) -> str:
    """Keycloak's «update password» page (maybe behind an «info» page with a link)."""
    if 'name="password-new"' not in page.text:
        proceed = re.search(r'href="([^"]+login-actions/action-token[^"]*)"', page.text)
        assert proceed, page.text[:800]
        page = _browser_get(browser, urljoin(page.url, html.unescape(proceed.group(1))))
    assert 'name="password-new"' in page.text, page.text[:800]
    answer = _browser_post(browser, urljoin(page.url, _form_action(page.text)), {
        "password-new": NEW_PASSWORD, "password-confirm": NEW_PASSWORD})
    assert answer.status_code in (200, 302, 303), answer.text[:500]
    return answer.headers.get("Location", "") or answer.text


def test_realm_is_configured_for_mail(keycloak):
    from services.sso.keycloak import admin_client

    realm = admin_client(keycloak).get_realm(keycloak.keycloak_realm)
    assert realm["resetPasswordAllowed"] is True and realm["verifyEmail"] is True
    assert realm["defaultLocale"] == "ru" and realm["internationalizationEnabled"] is True
    assert realm["smtpServer"]["port"] == SMTP_PORT
    assert realm["smtpServer"]["from"] == "noreply@reestr.local"


def test_password_reset_from_sign_in_page(keycloak, mailbox):
    from services.sso.keycloak import admin_client

    username = "reset@example.org"
    _fresh_user(admin_client(keycloak), username, with_password=True)
    browser = requests.Session()
    login = _browser_get(browser, f"{keycloak.issuer}/protocol/openid-connect/auth?"
                         f"client_id={PORTAL_CLIENT}&response_type=code&scope=openid"
                         f"&redirect_uri={keycloak.portal_url}/&code_challenge_method=S256"
                         f"&code_challenge={'x' * 43}")
    forgot = re.search(r'<a[^>]+href="([^"]+reset-credentials[^"]*)"[^>]*>([^<]+)</a>',
                       login.text)
    assert forgot and forgot.group(2).strip() == "Забыли пароль?"
    page = _browser_get(browser, urljoin(login.url, html.unescape(forgot.group(1))))
    sent = _browser_post(browser, urljoin(page.url, _form_action(page.text)),
                         {"username": username})
    assert sent.status_code in (200, 302, 303)
    [mail] = mailbox.wait_for(username, timeout=30)
    page = _browser_get(browser, _link(mail, "login-actions/action-token"))
    _set_password_on_page(browser, page)
    assert password_grant(keycloak, username, NEW_PASSWORD)["access_token"]


def test_chair_named_in_passport_is_invited(api, keycloak, mailbox, synced_tree):
    from services.sso.keycloak import admin_client

    admin = admin_client(keycloak)
    email = "invited.chair@example.org"
    for user in admin.get_users({"username": email, "exact": True}):
        admin.delete_user(user["id"])
    r = api.patch("/api/v1/organizations/5", json={"chair": {
        "surname": "Приглашённая", "first_name": "Вера", "email": email}})
    assert r.status_code == 200, r.text
    [mail] = mailbox.wait_for(email, timeout=30)
    browser = requests.Session()
    page = _browser_get(browser, _link(mail, "login-actions/action-token"))
    _set_password_on_page(browser, page)
    user = admin.get_users({"username": email, "exact": True})[0]
    assert wait_until(lambda: admin.get_user(user["id"])["emailVerified"], timeout=10)
    token = password_grant(keycloak, email, NEW_PASSWORD)["access_token"]
    assert requests.get(f"{api.base}/api/v1/organizations/5",
                        headers={"Authorization": f"Bearer {token}"}).ok


def test_chairs_provisioned_in_bulk_are_invited_at_a_pace(api, rpc, engine, keycloak, mailbox,
                                                          tree):
    """A bulk load's chairs: accounts by partial import, invitations queued in notify and asked
    of Keycloak a few at a time; a second provisioning invites nobody again."""
    from services.sso.keycloak import admin_client

    admin = admin_client(keycloak)
    emails = {org_id: f"bulk.invite{org_id}@example.org" for org_id in (4, 7, 8)}
    for org_id, email in emails.items():
        for user in admin.get_users({"username": email, "exact": True}):
            admin.delete_user(user["id"])
        # as a bulk load leaves them: in the passport, no account yet (no chair_changed)
        with engine.begin() as c:
            c.execute(text("UPDATE registry.organization SET chair = CAST(:c AS jsonb) "
                           "WHERE id = :id"), {"id": org_id, "c": json.dumps({
                               "surname": "Массовая", "first_name": str(org_id),
                               "email": email})})
    assert rpc.sso.provision_chairs(list(emails))["created"] == 3
    for email in emails.values():
        mail = mailbox.wait_for_subject(email, "учетной записи", timeout=30)
        assert "login-actions/action-token" in mail["Text"]
    def invited():  # recorded once sso answers, after Keycloak has sent the mails
        return sorted(m["recipient"] for m in rpc.notify.delivery_log(status="sent")
                      if m["kind"] == "invitation")
    assert wait_until(lambda: invited() == sorted(emails.values()), timeout=10), invited()
    assert rpc.sso.provision_chairs(list(emails))["created"] == 0
    rpc.notify.send_now()
    time.sleep(1)
    assert all(len(mailbox.to(e)) == 1 for e in emails.values())
