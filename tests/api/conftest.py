"""Fixtures of the API tests."""

import pytest
from sqlalchemy import text

from tests.factories import build_tree
from tests.support.waiting import wait_until


@pytest.fixture
def synced_tree(api, engine):
    """The test tree made through the API, once membership's read model has caught up."""
    def create(data):
        r = api.post("/api/v1/organizations", json=data)
        assert r.status_code == 201, r.text
        return r.json()
    ids = build_tree(create)

    def synced():
        with engine.connect() as c:
            return c.execute(text("SELECT count(*) FROM membership.org")).scalar() == len(ids)
    assert wait_until(synced), "membership's read model of the tree did not catch up"
    return ids
