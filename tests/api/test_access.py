"""Every endpoint against every role, through the gateway with real Keycloak tokens.

The tree (ids fixed by tests.factories.build_tree): 1 ЦС → 2 Пермская (→ 4 районная → 5 ППО
→ 6 профгруппа; 7 ППО с правами ТПО → 8 ППО) and 3 Свердловская → 9 ППО. The regional user
acts for 2, `chair` for 5, `chair2` for 9.
"""

import pytest

from tests.factories import build_tree, org
from tests.integration.test_bulk_load import GOOD, to_csv

ROLES = ("admin", "regional", "chair", "chair2", "member", "auditor", "nobody", None)

# which organizations each user may see (and change)
SEES = {"admin": {1, 2, 3, 4, 5, 6, 7, 8, 9}, "regional": {2, 4, 5, 6, 7, 8},
        "chair": {5, 6}, "chair2": {9}, "member": set(), "auditor": set(), "nobody": set()}

READS = [
    "/api/v1/organizations/{id}", "/api/v1/organizations/{id}/subtree",
    "/api/v1/organizations/{id}/ancestors", "/api/v1/organizations/{id}/children",
    "/api/v1/organizations/{id}/history",
    "/api/v1/organizations/{id}/passport?as_of=2100-01-01",
]


@pytest.fixture
def tree(api):
    def create(data):
        r = api.post("/api/v1/organizations", json=data)
        assert r.status_code == 201, r.text
        return r.json()
    ids = build_tree(create)
    assert ids["primary"] == 5 and ids["primary2"] == 9, "the matrix assumes these ids"
    return ids


def expect_denied_like_missing(r, org_id):
    """Out of scope must look exactly like a missing record: nothing is leaked."""
    assert r.status_code == 404, r.text
    error = r.json()["error"]
    assert error.pop("request_id") == r.headers["X-Request-ID"]  # each request's own
    assert error == {"code": "org_not_found",
                     "message": f"Организация {org_id} не найдена в реестре"}


@pytest.mark.parametrize("user", ROLES)
def test_reads(api, tree, user):
    client = api.as_user(user)
    for org_id in range(1, 10):
        for path in READS:
            r = client.get(path.format(id=org_id))
            if user is None:
                assert r.status_code == 401 and r.json()["error"]["code"] == "token_required"
            elif org_id in SEES[user]:
                assert r.status_code == 200, (user, path, org_id, r.text)
            else:
                expect_denied_like_missing(r, org_id)


@pytest.mark.parametrize("user", ROLES)
def test_lists_and_counts_stay_in_scope(api, tree, user):
    client = api.as_user(user)
    r = client.get("/api/v1/organizations", params={"q": "ППО"})
    counts = client.get("/api/v1/stats/organizations")
    if user is None:
        assert r.status_code == counts.status_code == 401
        return
    if not SEES[user]:
        assert r.status_code == counts.status_code == 403
        assert r.json()["error"]["code"] == "no_registry_access"
        return
    assert r.status_code == 200
    assert {o["id"] for o in r.json()} <= SEES[user]
    assert sum(c["count"] for c in counts.json()) == len(SEES[user])
    # asking for someone else's subtree through the parameters widens nothing
    for other in {1, 3, 9} - SEES[user]:
        expect_denied_like_missing(
            client.get("/api/v1/organizations", params={"q": "ППО", "within": other}), other)
        expect_denied_like_missing(
            client.get("/api/v1/stats/organizations", params={"within": other}), other)


@pytest.mark.parametrize("user", ROLES)
def test_changes(api, tree, user):
    client = api.as_user(user)
    sees = SEES.get(user, set())
    # editing a passport
    for org_id in (4, 5, 9):
        r = client.patch(f"/api/v1/organizations/{org_id}", json={"name": f"Новое имя {org_id}"})
        if user is None:
            assert r.status_code == 401
        elif org_id in sees:
            assert r.status_code == 200, (user, org_id, r.text)
        else:
            expect_denied_like_missing(r, org_id)
    # creating beneath: a union group under the school (5)
    r = client.post("/api/v1/organizations", json=org("subdivision", f"С-{user}",
                                                       parent_id=5, kind="union_group"))
    assert r.status_code == (401 if user is None else 201 if 5 in sees else 404), r.text
    # a chair cannot move or exclude their own organization, only what is beneath it
    r = client.post("/api/v1/organizations/5/exclude",
                    json={"excluded_on": "2025-01-01", "reason": "liquidated"})
    if user is None:
        assert r.status_code == 401
    elif user in ("admin", "regional"):
        assert r.status_code == 409 and r.json()["error"]["code"] == "org_has_children"
    else:
        expect_denied_like_missing(r, 5)
    r = client.post("/api/v1/organizations/6/exclude",
                    json={"excluded_on": "2025-01-01", "reason": "liquidated"})
    assert r.status_code == (401 if user is None else 200 if 6 in sees else 404), r.text


@pytest.mark.parametrize("user", ROLES)
def test_operator_and_auditor_endpoints(api, tree, user):
    client = api.as_user(user)
    # a region row under the Central Council ("0000" in the tree): only an operator may load it
    r = client.post("/api/v1/organizations/import", data=to_csv(GOOD[1:2]),
                    params={"filename": "one.csv"})
    # regional staff load their own region's organizations: this one is outside their subtree
    assert r.status_code == {None: 401, "admin": 200, "regional": 422}.get(user, 403), r.text
    if user == "regional":
        assert r.json()["errors"][0]["code"] == "outside_scope"
    r = client.get("/api/v1/audit")
    assert r.status_code == {None: 401, "admin": 200, "auditor": 200}.get(user, 403)
    r = client.post("/api/v1/partners", json={"code": f"p-{user or 'anon'}", "name": "P",
                                              "redirect_uris": ["https://partner.example/cb"]})
    assert r.status_code == {None: 401, "admin": 201}.get(user, 403), r.text
    r = client.get("/api/v1/me")
    if user is None:
        assert r.status_code == 401
    else:
        assert r.json()["user"] == f"{user}@test.reestr"


def test_a_guessed_id_tells_nothing(api, tree):
    """The same answer for an id that exists elsewhere and for one that does not exist."""
    chair = api.as_user("chair")
    missing = chair.get("/api/v1/organizations/999999")
    elsewhere = chair.get("/api/v1/organizations/9")
    assert missing.status_code == elsewhere.status_code == 404
    assert missing.json()["error"]["code"] == elsewhere.json()["error"]["code"]
