"""A card number's region part cannot be changed by editing a registry number (issue 17)."""

import pytest

from tests.api.test_cards import bucket, members  # noqa: F401  (bucket: a fixture)
from tests.support.waiting import wait_until


def numbers_of(api, org_id: int) -> list[str]:
    r = api.as_user("regional").get("/api/v1/cards", params={"org_id": org_id, "limit": 500})
    assert r.status_code == 200, r.text
    return [c["number"] for c in r.json()["items"]]


@pytest.mark.usefixtures("bucket")
def test_editing_a_registry_number_changes_no_region_part(api, synced_tree):
    members(api, 5, 1)
    assert api.as_user("chair").post("/api/v1/organizations/5/card-requests").ok
    first = numbers_of(api, 5)
    assert len(first) == 1 and first[0][2:4] == "59"
    r = api.patch("/api/v1/organizations/5", json={"registry_number": "77-П-100"})
    assert r.status_code == 200, r.text
    assert wait_until(lambda: api.get("/api/v1/organizations/5").json()["registry_number"]
                      == "77-П-100")
    members(api, 5, 1, first=2)
    # membership's read model learns the new number: the next card is asked for after it has
    assert wait_until(lambda: api.as_user("chair").post(
        "/api/v1/organizations/5/card-requests").ok and len(numbers_of(api, 5)) == 2)
    assert {n[2:4] for n in numbers_of(api, 5)} == {"59"}
