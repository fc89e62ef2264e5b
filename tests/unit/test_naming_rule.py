"""The naming rule (services.sso.naming) and the reading of Keycloak's events
(services.sso.revocations), without a server."""

import json

import pytest

from services.sso.naming import GRANT, PROPOSE, Account, Regions, decide, parse_proposal
from services.sso.revocations import Feed, from_admin_event, from_user_event

REGIONS = {2: 2, 4: 2, 5: 2, 6: 2, 3: 3, 9: 3, 1: None}


def account(roles=(), orgs=(), client_roles=False, region=None) -> Account:
    return Account(id="u", org_ids=list(orgs), roles={"default-roles-x", "offline_access",
                                                      "uma_authorization", *roles},
                   client_roles=client_roles, member_region=region)


@pytest.mark.parametrize("acc, target, expected", [
    (account(), 2, GRANT),                                   # an account with no rights yet
    (account({"chair"}, [5]), 2, GRANT),                     # a chair in the same region
    (account({"regional_staff"}, [2]), 2, GRANT),
    (account({"member"}, region=2), 2, GRANT),
    (account({"chair"}, [9]), 2, PROPOSE),                   # another region's chair
    (account({"regional_staff"}, [3]), 2, PROPOSE),          # another region's staff
    (account({"member"}, region=3), 2, PROPOSE),
    (account({"member"}), 2, PROPOSE),                       # a member of no known region
    (account({"auditor"}), 2, PROPOSE),
    (account({"operator"}), 2, PROPOSE),
    (account({"central_admin"}), 2, PROPOSE),
    (account({"someone-elses-role"}), 2, PROPOSE),
    (account(client_roles=True), 2, PROPOSE),                # realm-management, say
    (account({"chair"}, [5]), None, PROPOSE),                # the top of the tree
    (account({"chair"}, [777]), 2, PROPOSE),                 # an organization unknown
])
def test_who_may_get_an_organization_silently(acc, target, expected):
    assert decide(acc, target, REGIONS) == expected


def test_regions_are_asked_once_for_what_is_missing():
    asked = []

    def lookup(ids):
        asked.append(ids)
        return {i: REGIONS.get(i) for i in ids}
    regions = Regions(lookup, {5: 2})
    assert regions.of([5, 9, 3]) == {5: 2, 9: 3, 3: 3}
    assert regions.of([9, 777]) == {9: 3, 777: None}
    assert asked == [[3, 9], [777]]


def test_proposal_values():
    assert parse_proposal("chair:17") == ("chair", 17)
    assert parse_proposal("chair:") is None and parse_proposal(":5") is None


def admin_event(kind, operation, path, representation=None, at=1_700_000_000_123):
    return {"id": f"{kind}{operation}{path}", "time": at, "resourceType": kind,
            "operationType": operation, "resourcePath": path,
            "representation": json.dumps(representation) if representation else None}


def test_admin_events_that_revoke():
    disabled = from_admin_event(admin_event("USER", "UPDATE", "users/u1", {"enabled": False}),
                                300)
    assert (disabled.kind, disabled.key, disabled.reason) == ("subject", "u1",
                                                              "account_disabled")
    assert disabled.before == 1_700_000_000 and disabled.until == 1_700_000_000 + 300 + 60
    assert from_admin_event(admin_event("USER", "UPDATE", "users/u1", {"enabled": True}),
                            300) is None
    assert from_admin_event(admin_event("USER", "DELETE", "users/u1"), 300).reason \
        == "account_disabled"
    assert from_admin_event(admin_event("USER", "ACTION", "users/u1/logout"), 300).reason \
        == "signed_out"
    assert from_admin_event(admin_event("USER", "ACTION", "users/u1/reset-password"),
                            300) is None
    ended = from_admin_event(admin_event("USER_SESSION", "DELETE", "sessions/s1"), 300)
    assert (ended.kind, ended.key) == ("session", "s1")
    assert from_admin_event(admin_event("REALM", "ACTION", "logout-all"), 300).key == "*"
    assert from_user_event({"type": "LOGOUT", "sessionId": "s2", "time": 1}, 300).key == "s2"
    assert from_user_event({"type": "LOGIN", "sessionId": "s2", "time": 1}, 300) is None


def test_feed_publishes_each_revocation_once():
    feed = Feed(lifespan_s=300)
    feed.start(now_ms=1_700_000_000_000)
    events = [("admin", admin_event("USER", "ACTION", "users/u1/logout")),
              ("admin", admin_event("USER", "UPDATE", "users/u1", {"firstName": "x"}))]
    assert len(feed.take(events)) == 1
    assert feed.take(events) == []  # read again in the overlap: nothing new
    later = admin_event("USER", "ACTION", "users/u1/logout", at=1_700_000_009_000)
    later["id"] = "again"
    assert [r.before for r in feed.take([("admin", later)])] == [1_700_000_009]
    assert len(feed.snapshot(now_s=1_700_000_100)) == 1
    assert feed.snapshot(now_s=1_700_001_000) == []  # lapsed
