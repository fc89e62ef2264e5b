"""Single sign-on against the real Keycloak: tokens of every kind, accounts kept in step with
the registry, partners, disabled accounts, key rotation."""

import time

import eventlet
import pytest
import requests

from gateway.tokens import REFETCH_S
from services.sso.keycloak import admin_client
from services.sso.settings import sso_settings
from tests.conftest import PASSWORD, password_grant
from tests.factories import build_tree
from tests.support import oidc


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


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_only_access_tokens_are_accepted(api, keycloak):
    grant = password_grant(keycloak, "admin@test.reestr", scope="openid")
    base = api.base
    assert requests.get(f"{base}/api/v1/me", headers=bearer(grant["access_token"])).ok
    for other in (grant["id_token"], grant["refresh_token"]):
        r = requests.get(f"{base}/api/v1/me", headers=bearer(other))
        assert r.status_code == 401
        assert r.json()["error"]["code"] in ("token_type", "token_audience", "token_algorithm")
    master = requests.post(f"{keycloak.keycloak_url}/realms/master/protocol/openid-connect/token",
                           data={"grant_type": "password", "client_id": "admin-cli",
                                 "username": keycloak.keycloak_admin_user,
                                 "password": keycloak.keycloak_admin_password}).json()
    r = requests.get(f"{base}/api/v1/me", headers=bearer(master["access_token"]))
    assert r.status_code == 401  # another realm: unknown key, wrong issuer and audience


def test_disabled_account_is_refused_at_once(api, rpc, admin):
    username = "leaver@test.reestr"
    for user in admin.get_users({"username": username, "exact": True}):
        admin.delete_user(user["id"])
    admin.create_user({"username": username, "email": username, "enabled": True,
                       "emailVerified": True, "firstName": "Л", "lastName": "Уходящий",
                       "credentials": [{"type": "password", "value": PASSWORD,
                                        "temporary": False}]})
    token = password_grant(sso_settings(), username)["access_token"]
    assert requests.get(f"{api.base}/api/v1/me", headers=bearer(token)).ok
    rpc.sso.disable_user(username)
    refused = wait_for(lambda: requests.get(f"{api.base}/api/v1/me",
                                            headers=bearer(token)).status_code == 401)
    assert refused
    r = requests.get(f"{api.base}/api/v1/me", headers=bearer(token))
    assert r.json()["error"]["code"] == "account_disabled"
    with pytest.raises(requests.HTTPError):
        password_grant(sso_settings(), username)


def test_key_rotation_without_restart(api, admin, keycloak):
    api.get("/api/v1/me")  # the gateway has the current keys cached
    realm_id = admin.get_realm(keycloak.keycloak_realm)["id"]
    component = admin.create_component({
        "name": "rotated-key", "providerId": "rsa-generated",
        "providerType": "org.keycloak.keys.KeyProvider", "parentId": realm_id,
        "config": {"priority": ["500"], "enabled": ["true"], "active": ["true"],
                   "algorithm": ["RS256"], "keySize": ["2048"]}})
    try:
        token = password_grant(keycloak, "admin@test.reestr")["access_token"]
        new_kid = oidc.header(token)["kid"]
        keys = requests.get(f"{keycloak.issuer}/protocol/openid-connect/certs").json()["keys"]
        assert any(k["kid"] == new_kid for k in keys)
        eventlet.sleep(REFETCH_S + 0.1)
        r = requests.get(f"{api.base}/api/v1/me", headers=bearer(token))
        assert r.status_code == 200, r.text
    finally:
        admin.delete_component(component)


def test_chair_in_passport_gets_account_and_old_chair_loses_it(api, rpc, admin, keycloak, tree):
    def user_orgs(username):
        found = admin.get_users({"username": username, "exact": True})
        if not found:
            return None
        user = admin.get_user(found[0]["id"])
        roles = {r["name"] for r in admin.get_realm_roles_of_user(user["id"])}
        return user.get("attributes", {}).get("org_ids", []), "chair" in roles

    first, second = "petrova@school1.test", "sidorov@school1.test"
    for name in (first, second):
        for user in admin.get_users({"username": name, "exact": True}):
            admin.delete_user(user["id"])
    r = api.patch("/api/v1/organizations/5", json={"chair": {
        "surname": "Петрова", "first_name": "Анна", "email": first}})
    assert r.status_code == 200, r.text
    assert wait_for(lambda: user_orgs(first) == (["5"], True))
    rpc.sso.set_password(first, PASSWORD, False)
    token = password_grant(keycloak, first)["access_token"]
    assert requests.get(f"{api.base}/api/v1/organizations/5", headers=bearer(token)).ok
    assert requests.get(f"{api.base}/api/v1/organizations/9",
                        headers=bearer(token)).status_code == 404
    # re-election: the new chair gets the organization, the old one loses it and the role
    api.patch("/api/v1/organizations/5", json={"chair": {
        "surname": "Сидоров", "first_name": "Пётр", "email": second}})
    assert wait_for(lambda: user_orgs(second) == (["5"], True))
    assert wait_for(lambda: user_orgs(first) == ([], False))


def test_bulk_provisioning_of_chairs(api, rpc, admin, tree):
    emails = {org_id: f"bulk{org_id}@chairs.test" for org_id in (4, 7, 8)}
    for org_id, email in emails.items():
        for user in admin.get_users({"username": email, "exact": True}):
            admin.delete_user(user["id"])
        api.patch(f"/api/v1/organizations/{org_id}", json={"chair": {
            "surname": "Председатель", "first_name": str(org_id), "email": email}})
    result = rpc.sso.provision_chairs(list(emails))
    assert result["created"] + result["updated"] == 3
    for org_id, email in emails.items():
        user = admin.get_users({"username": email, "exact": True})[0]
        assert admin.get_user(user["id"])["attributes"]["org_ids"] == [str(org_id)]


def test_partner_gets_only_membership_and_loses_it_on_refresh(api, rpc, keycloak):
    redirect = "https://profcards.example/callback"
    r = api.post("/api/v1/partners", json={"code": "profcards", "name": "PROFCARDS",
                                           "redirect_uris": [redirect]})
    assert r.status_code == 201, r.text
    partner = r.json()
    email = "student@member.test"
    admin = admin_client(keycloak)
    for user in admin.get_users({"username": email, "exact": True}):
        admin.delete_user(user["id"])
    rpc.sso.ensure_member_account({"member_id": "m-1", "email": email, "surname": "Студентова",
                                   "first_name": "Ольга", "region": "59",
                                   "card_number": "9643100012345678", "active": True})
    rpc.sso.set_password(email, PASSWORD, False)
    tokens = oidc.code_flow(keycloak.issuer, partner["client_id"], redirect, email, PASSWORD,
                            partner["client_secret"])
    seen = oidc.claims(tokens["access_token"])
    assert seen["member_active"] == "true"
    assert seen["card_number"] == "9643100012345678" and seen["region"] == "59"
    for private in ("email", "name", "family_name", "given_name", "preferred_username",
                    "org_ids", "realm_access"):
        assert private not in seen, private
    rpc.sso.set_member_active("m-1", False)
    again = oidc.refresh(keycloak.issuer, partner["client_id"], tokens["refresh_token"],
                         partner["client_secret"])
    assert oidc.claims(again["access_token"])["member_active"] == "false"
    # a partner's token opens nothing in the registry API
    r = requests.get(f"{api.base}/api/v1/me", headers=bearer(tokens["access_token"]))
    assert r.status_code == 401
    assert r.json()["error"]["code"] in ("token_audience", "token_invalid")  # no API audience


def test_regional_staff_get_rights_over_their_region(api, admin, tree):
    email = "ais@region59.test"
    for user in admin.get_users({"username": email, "exact": True}):
        admin.delete_user(user["id"])
    r = api.patch("/api/v1/organizations/2", json={"staff": [
        {"full_name": "Кузнецова Ирина", "position": "ais_responsible", "email": email}]})
    assert r.status_code == 200, r.text

    def granted():
        found = admin.get_users({"username": email, "exact": True})
        if not found:
            return False
        roles = {r["name"] for r in admin.get_realm_roles_of_user(found[0]["id"])}
        return "ais_responsible" in roles and admin.get_user(found[0]["id"])[
            "attributes"]["org_ids"] == ["2"]
    assert wait_for(granted)
    api.patch("/api/v1/organizations/2", json={"staff": []})
    assert wait_for(lambda: not granted())
