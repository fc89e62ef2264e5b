"""A member's optional notifications: the transfer e-mail arrives, and switched off in the
personal account's page it stops (the message is kept as skipped, none is sent)."""

import re

import requests
from sqlalchemy import text

from tests.api.test_join import application
from tests.conftest import GATEWAY_ADDRESS, PASSWORD
from tests.factories import card, register
from tests.support.oidc import code_flow
from tests.support.waiting import wait_until

BASE = f"http://{GATEWAY_ADDRESS}"


def test_transfer_is_told(api, synced_tree, mailbox):
    member_id = register(api, 5, 3)
    moved = api.post(f"/api/v1/members/{member_id}/transfer",
                     json={"to_org_id": 9, "on": "2025-01-10"})
    assert moved.status_code == 200, moved.text
    mail = mailbox.wait_for_subject(card(3)["email"], "переведены")
    assert "С 10 января 2025 вы состоите на учёте" in mail["Text"]
    assert "Отключить такие письма" in mail["Text"]


def _member_signed_in(api, engine, keycloak, rpc) -> tuple[int, dict]:
    r = api.as_user(None).post("/api/v1/join/applications", json=application(7))
    assert r.status_code == 201, r.text
    accepted = api.as_user("chair").post(f"/api/v1/applications/{r.json()['id']}/accept")
    assert accepted.status_code == 200, accepted.text
    member_id = accepted.json()["id"]

    def linked():
        with engine.connect() as c:
            return c.execute(text("SELECT account_subject FROM membership.member "
                                  "WHERE id = :id"), {"id": member_id}).scalar()
    assert wait_until(linked, timeout=30), "no personal account"
    rpc.sso.set_password("joiner7@example.ru", PASSWORD, False)
    from gateway.portal.session import box

    tokens = code_flow(keycloak.issuer, "reestr-portal", f"{BASE}/portal/callback",
                       "joiner7@example.ru", PASSWORD)
    return member_id, {"rs_at": box().seal(tokens["access_token"]),
                       "rs_rt": box().seal(tokens["refresh_token"])}


def test_switched_off_in_the_personal_account_it_stops(api, synced_tree, engine, keycloak,
                                                       rpc, mailbox):
    member_id, cookies = _member_signed_in(api, engine, keycloak, rpc)
    page = requests.get(f"{BASE}/portal/account", cookies=cookies, timeout=30)
    assert page.status_code == 200, page.text[:300]
    assert "Уведомления по e-mail" in page.text
    assert re.search(r'name="n_transfer_done" value="1" checked', page.text)
    assert "n_applications_waiting" not in page.text  # a chair's, not a member's
    assert "отключить нельзя" in page.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    saved = requests.post(f"{BASE}/portal/account/notifications", data={"csrf": csrf},
                          cookies=cookies, allow_redirects=False, timeout=30)
    assert saved.status_code == 303
    page = requests.get(f"{BASE}/portal/account", cookies=cookies, timeout=30)
    assert re.search(r'name="n_transfer_done" value="1">', page.text)

    # accepted today, the member could only be transferred tomorrow: on the books since 2020
    with engine.begin() as c:
        c.execute(text("UPDATE membership.member SET org_since = '2020-01-01', "
                       "joined_on = '2020-01-01' WHERE id = :id"), {"id": member_id})
    moved = api.post(f"/api/v1/members/{member_id}/transfer",
                     json={"to_org_id": 9, "on": "2025-01-10"})
    assert moved.status_code == 200, moved.text

    def logged():
        kinds = {m["kind"]: m for m in rpc.notify.delivery_log(recipient="joiner7@example.ru")}
        return kinds.get("transfer_done")
    entry = wait_until(logged, timeout=20)
    assert entry and (entry["status"], entry["error"]) == ("skipped", "opted_out")
    rpc.notify.send_now()
    assert not [m for m in mailbox.to("joiner7@example.ru") if "переведены" in m["Subject"]]
