"""Fixtures of the API tests that report on dates in the past."""

import pytest


@pytest.fixture
def tree(api, engine):
    """The test tree (tests.factories.build_tree) made through the API, included in the
    registry on 1 January 2020, long before the reporting dates; once membership's read model
    has caught up."""
    from sqlalchemy import text

    from tests.factories import build_tree
    from tests.support.waiting import wait_until

    def create(data):
        r = api.post("/api/v1/organizations", json={**data, "included_on": "2020-01-01"})
        assert r.status_code == 201, r.text
        return r.json()
    ids = build_tree(create)

    def synced():
        with engine.connect() as c:
            return c.execute(text("SELECT count(*) FROM membership.org")).scalar() == len(ids)
    assert wait_until(synced), "membership's read model of the tree did not catch up"
    return ids
