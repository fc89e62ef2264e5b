"""Single sign-on as an attacker on the platform would try it, against the real Keycloak:
naming someone else's e-mail in a passport, locking a chair out by guessing passwords, and
tokens of accounts disabled or signed out in Keycloak's own console."""

import time

import eventlet
import pytest
import requests

from services.sso import realm, revocations
from services.sso.keycloak import admin_client
from services.sso.naming import PROPOSALS
from services.sso.settings import sso_settings
from tests.conftest import PASSWORD, password_grant
from tests.factories import build_tree, org
from tests.support import oidc

REVOKED_WITHIN_S = 10.0


def wait_for(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        eventlet.sleep(0.2)
    return None


@pytest.fixture
def admin(keycloak):
    return admin_client(keycloak)


@pytest.fixture
def tree(api):
    return build_tree(lambda d: api.post("/api/v1/organizations", json=d).json())


def fresh_user(admin, username: str, roles=(), org_ids=(), **attributes) -> str:
    for user in admin.get_users({"username": username, "exact": True}):
        admin.delete_user(user["id"])
    user_id = admin.create_user({
        "username": username, "email": username, "enabled": True, "emailVerified": True,
        "firstName": "Тест", "lastName": "Тестов",
        "attributes": {"org_ids": [str(o) for o in org_ids], **attributes},
        "credentials": [{"type": "password", "value": PASSWORD, "temporary": False}]})
    if roles:
        admin.assign_realm_roles(user_id, [admin.get_realm_role(r) for r in roles])
    return user_id


def get(api, path: str, token: str) -> requests.Response:
    return requests.get(f"{api.base}{path}", headers={"Authorization": f"Bearer {token}"},
                        timeout=30)


def post(api, path: str, token: str, body: dict) -> requests.Response:
    return requests.post(f"{api.base}{path}", json=body, timeout=30,
                         headers={"Authorization": f"Bearer {token}"})


def platform_roles(admin, user_id: str) -> set[str]:
    return {r["name"] for r in admin.get_realm_roles_of_user(user_id)
            if not r["name"].startswith("default-roles-")}


def attribute(admin, user_id: str, name: str) -> list[str]:
    return (admin.get_user(user_id).get("attributes") or {}).get(name, [])


def subdivision(api, number: str, chair_email: str, user: str = "chair",
                parent_id: int = 5) -> int:
    """A chair includes a new subdivision beneath their organization, naming its chair."""
    r = api.as_user(user).post("/api/v1/organizations", json=org(
        "subdivision", number, f"Профгруппа {number}", parent_id, kind="union_group",
        chair={"surname": "Названный", "first_name": "Кто-то", "email": chair_email}))
    assert r.status_code == 201, r.text
    return r.json()["id"]


# ---- naming people gives rights only to them ----

def test_naming_an_auditor_as_chair_changes_nothing_and_ends_no_session(api, admin, keycloak,
                                                                         tree):
    email = "auditor-named@test.reestr"
    auditor = fresh_user(admin, email, roles=["auditor"])
    token = password_grant(keycloak, email)["access_token"]
    assert get(api, "/api/v1/audit", token).status_code == 200
    sessions = len(admin.get_sessions(auditor))

    new_org = subdivision(api, "59-С-АУД", email)
    assert wait_for(lambda: attribute(admin, auditor, PROPOSALS) == [f"chair:{new_org}"])
    assert platform_roles(admin, auditor) == {"auditor"}
    assert attribute(admin, auditor, "org_ids") == []
    # the account gained nothing: its (still valid) token reads no members of the subdivision
    assert get(api, f"/api/v1/organizations/{new_org}", token).status_code == 404

    # the chair names someone else: the proposal is withdrawn, and still no session ends
    r = api.as_user("chair").patch(f"/api/v1/organizations/{new_org}", json={"chair": {
        "surname": "Другой", "first_name": "Человек", "email": "other-named@test.reestr"}})
    assert r.status_code == 200, r.text
    assert wait_for(lambda: attribute(admin, auditor, PROPOSALS) == [])
    eventlet.sleep(sso_settings().revocation_poll_s + 1.5)  # the revocation feed has looked
    assert platform_roles(admin, auditor) == {"auditor"}
    assert len(admin.get_sessions(auditor)) == sessions
    assert get(api, "/api/v1/me", token).status_code == 200
    assert get(api, "/api/v1/audit", token).status_code == 200


def test_naming_a_new_email_creates_a_chair(api, admin, keycloak, tree):
    email = "brand-new-chair@test.reestr"
    for user in admin.get_users({"username": email, "exact": True}):
        admin.delete_user(user["id"])
    new_org = subdivision(api, "59-С-НОВ", email)

    def created():
        found = admin.get_users({"username": email, "exact": True})
        return found and platform_roles(admin, found[0]["id"]) == {"chair"} and \
            attribute(admin, found[0]["id"], "org_ids") == [str(new_org)]
    assert wait_for(created)


def test_a_chair_of_the_same_region_gets_the_organization_another_regions_waits(
        api, admin, keycloak, tree):
    same, other = "chair-region59@test.reestr", "chair-region66@test.reestr"
    same_id = fresh_user(admin, same, roles=["chair"], org_ids=[7])    # region 59
    other_id = fresh_user(admin, other, roles=["chair"], org_ids=[9])  # region 66
    token = password_grant(keycloak, other)["access_token"]
    first, second = subdivision(api, "59-С-СВ1", same), subdivision(api, "59-С-СВ2", other)
    assert wait_for(lambda: attribute(admin, same_id, "org_ids") == ["7", str(first)])
    assert wait_for(lambda: attribute(admin, other_id, PROPOSALS) == [f"chair:{second}"])
    assert attribute(admin, other_id, "org_ids") == ["9"]

    # the person accepts after signing in; nobody else can accept it for them
    assert get(api, "/api/v1/me/proposals", token).json() == [
        {"role": "chair", "org_id": second}]
    r = api.as_user("chair2").post("/api/v1/me/proposals/accept",
                                   json={"role": "chair", "org_id": second})
    assert r.status_code == 404 and r.json()["error"]["code"] == "proposal_not_found"
    r = post(api, "/api/v1/me/proposals/accept", token, {"role": "chair", "org_id": second})
    assert r.status_code == 200, r.text
    assert attribute(admin, other_id, "org_ids") == ["9", str(second)]
    assert attribute(admin, other_id, PROPOSALS) == []
    fresh = password_grant(keycloak, other)["access_token"]
    assert get(api, f"/api/v1/organizations/{second}", fresh).status_code == 200


def test_an_administrator_confirms_a_naming_of_staff(api, admin, tree):
    email = "operator-named@test.reestr"
    operator = fresh_user(admin, email, roles=["operator"])
    r = api.patch("/api/v1/organizations/2", json={"staff": [
        {"full_name": "Оператор Платформы", "position": "ais_responsible", "email": email}]})
    assert r.status_code == 200, r.text
    assert wait_for(lambda: attribute(admin, operator, PROPOSALS) == ["ais_responsible:2"])
    assert platform_roles(admin, operator) == {"operator"}
    listed = api.get("/api/v1/accounts/proposals").json()
    assert {"role": "ais_responsible", "org_id": 2} in next(
        a["proposals"] for a in listed if a["username"] == email)
    body = {"username": email, "role": "ais_responsible", "org_id": 2}
    r = api.as_user("chair").post("/api/v1/accounts/proposals/confirm", json=body)
    assert r.status_code == 403
    r = api.post("/api/v1/accounts/proposals/confirm", json=body)
    assert r.status_code == 200, r.text
    assert platform_roles(admin, operator) == {"operator", "ais_responsible"}
    assert attribute(admin, operator, "org_ids") == ["2"]
    r = api.post("/api/v1/accounts/proposals/confirm", json=body)  # nothing waits any more
    assert r.status_code == 404


# ---- brute force: temporary lockouts only ----

def test_brute_force_lockouts_are_temporary(keycloak, admin):
    settings = admin.get_realm(keycloak.keycloak_realm)
    assert settings["bruteForceProtected"] is True
    assert settings["permanentLockout"] is False
    assert settings["maxTemporaryLockouts"] == 0
    assert 0 < settings["waitIncrementSeconds"] <= settings["maxFailureWaitSeconds"] <= 900
    assert settings["failureFactor"] >= 5 and settings["maxDeltaTimeSeconds"] <= 43_200
    assert realm.BRUTE_FORCE.items() <= settings.items()

    email = "guessed-chair@test.reestr"
    user_id = fresh_user(admin, email, roles=["chair"], org_ids=[5])
    try:
        for _ in range(settings["failureFactor"] + 1):
            with pytest.raises(requests.HTTPError):
                password_grant(keycloak, email, password="wrong-guess")
        with pytest.raises(requests.HTTPError):  # locked now, even with the right password
            password_grant(keycloak, email)
        status = admin.get_bruteforce_detection_status(user_id)
        assert status["disabled"] is True  # locked for now...
        assert admin.get_user(user_id)["enabled"] is True  # ...but never disabled for good
    finally:
        admin.clear_bruteforce_attempts_for_user(user_id)
    assert password_grant(keycloak, email)["access_token"]


# ---- accounts disabled or signed out in Keycloak itself ----

def refused_within(api, token: str, code: str) -> float:
    started = time.monotonic()
    assert wait_for(lambda: get(api, "/api/v1/me", token).status_code == 401,
                    timeout=REVOKED_WITHIN_S)
    took = time.monotonic() - started
    print(f"{code}: refused {took:.1f} s after the change in Keycloak")
    assert get(api, "/api/v1/me", token).json()["error"]["code"] == code
    return took


def test_disabled_in_keycloak_is_refused_within_10_s_and_works_again_once_enabled(
        api, keycloak, admin, services):
    email = "disabled-in-console@test.reestr"
    user_id = fresh_user(admin, email, roles=["chair"], org_ids=[5])
    token = password_grant(keycloak, email)["access_token"]
    assert get(api, "/api/v1/me", token).status_code == 200
    admin.update_user(user_id, {**admin.get_user(user_id), "enabled": False})  # the console's way
    assert refused_within(api, token, "account_disabled") < REVOKED_WITHIN_S

    eventlet.sleep(1.1)  # a token of the next second on
    admin.update_user(user_id, {**admin.get_user(user_id), "enabled": True})
    fresh = password_grant(keycloak, email)["access_token"]
    assert get(api, "/api/v1/me", fresh).status_code == 200
    assert get(api, "/api/v1/me", token).status_code == 401  # the old one stays refused


def test_signed_out_in_keycloak_is_refused_within_10_s(api, keycloak, admin, services):
    email = "signed-out-in-console@test.reestr"
    user_id = fresh_user(admin, email, roles=["chair"], org_ids=[5])
    token = password_grant(keycloak, email)["access_token"]
    assert get(api, "/api/v1/me", token).status_code == 200
    admin.user_logout(user_id)  # "Sign out" of all the user's sessions
    assert refused_within(api, token, "signed_out") < REVOKED_WITHIN_S
    eventlet.sleep(1.1)
    again = password_grant(keycloak, email)
    assert get(api, "/api/v1/me", again["access_token"]).status_code == 200

    # one session ended by an administrator, another by its user: those tokens only
    other = password_grant(keycloak, email)
    session = next(s for s in admin.get_sessions(user_id)
                   if s["id"] != other_session(other))
    admin.connection.raw_delete(f"admin/realms/{keycloak.keycloak_realm}/sessions/"
                                f"{session['id']}")
    ended = again if other_session(again) == session["id"] else other
    kept = other if ended is again else again
    assert refused_within(api, ended["access_token"], "signed_out") < REVOKED_WITHIN_S
    assert get(api, "/api/v1/me", kept["access_token"]).status_code == 200
    requests.post(f"{keycloak.issuer}/protocol/openid-connect/logout", timeout=30, data={
        "client_id": "reestr-cli", "refresh_token": kept["refresh_token"]}).raise_for_status()
    assert refused_within(api, kept["access_token"], "signed_out") < REVOKED_WITHIN_S


def other_session(grant: dict) -> str:
    return oidc.claims(grant["access_token"])["sid"]


def test_revocations_survive_restarts(api, rpc, keycloak, admin, services):
    """A restarted sso service reads Keycloak's events back; a restarted gateway asks it."""
    from gateway.tokens import TokenRejected, TokenVerifier

    email = "restart-revoked@test.reestr"
    user_id = fresh_user(admin, email, roles=["chair"], org_ids=[5])
    token = password_grant(keycloak, email)["access_token"]
    admin.user_logout(user_id)
    feed = revocations.Feed(lifespan_s=sso_settings().access_token_lifespan_s)
    feed.start()  # as a new sso instance does
    assert any(r.key == user_id for r in revocations.poll(admin, feed)[0])

    def in_snapshot():
        snapshot = rpc.sso.revocations()
        return any(item["key"] == user_id for item in snapshot["revoked"]) and snapshot
    snapshot = wait_for(in_snapshot, timeout=REVOKED_WITHIN_S)
    assert snapshot
    restarted = TokenVerifier(issuer=keycloak.issuer, audience="reestr-api")
    restarted.revocations.add_all(snapshot)
    with pytest.raises(TokenRejected) as exc:
        restarted.verify(token)
    assert exc.value.code == "signed_out"
