"""Every privacy endpoint against every role, through the gateway with real Keycloak tokens:
who may ask for a person's copy, set the rules, see what retention does, hold a record and read
the register of processing. Out of the caller's scope looks like a missing member."""

import pytest

from tests.factories import card

ROLES = ("admin", "regional", "chair", "chair2", "member", "auditor", "nobody", None)
COUNCIL = {"admin": 200}
# (method, path, body, the statuses by role; any role not named gets 403, no token 401)
ENDPOINTS = [
    ("GET", "/api/v1/members/{mid}/data", None,
     {"admin": 200, "regional": 200, "chair": 200, "chair2": 404}),
    ("GET", "/api/v1/privacy/retention-rules", None, COUNCIL),
    ("PUT", "/api/v1/privacy/retention-rules/import_report",
     {"keep_days": 365, "action": "erase"}, COUNCIL),
    ("GET", "/api/v1/privacy/retention/preview", None, COUNCIL),
    ("GET", "/api/v1/privacy/retention/erased", None, COUNCIL),
    ("GET", "/api/v1/privacy/processing-register", None, {"admin": 200, "auditor": 200}),
    ("DELETE", "/api/v1/members/{mid}/legal-hold", None, {"admin": 422}),  # none placed
    ("POST", "/api/v1/members/{mid}/legal-hold", {"reason": "запрос суда"}, COUNCIL),
    ("POST", "/api/v1/me/consent-withdrawal", None, {"member": 404}),  # no card of their own
]


@pytest.mark.parametrize("method,path,body,allowed", ENDPOINTS,
                         ids=[f"{m} {p}" for m, p, _, _ in ENDPOINTS])
def test_who_may_call(api, synced_tree, method, path, body, allowed):
    r = api.as_user("chair").post("/api/v1/organizations/5/members", json=card(1))
    assert r.status_code == 201, r.text
    url = path.format(mid=r.json()["id"])
    for user in ROLES:
        got = getattr(api.as_user(user), method.lower())(url, json=body)
        want = 401 if user is None else allowed.get(user, 403)
        assert got.status_code == want, (user, got.status_code, got.text[:200])
