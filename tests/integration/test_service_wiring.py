"""The registry service over a real RabbitMQ: typed errors, events after commit, concurrency."""

import time

import eventlet
import pytest
from nameko.runners import ServiceRunner
from sqlalchemy import text

from services.common.errors import Conflict, NotFound, ValidationFailed
from services.common.rpc import event_handler
from tests.conftest import NAMEKO_CONFIG
from tests.factories import build_tree, org

RECEIVED: list[dict] = []


class Listener:
    """Stands for the other services: collects the registry's events."""

    name = "test_listener"

    @event_handler("registry", "org_created")
    def created(self, payload):
        RECEIVED.append(payload)

    @event_handler("registry", "org_excluded")
    def excluded(self, payload):
        RECEIVED.append(payload)


@pytest.fixture
def listener(services):
    RECEIVED.clear()
    runner = ServiceRunner(NAMEKO_CONFIG)
    runner.add_service(Listener)
    runner.start()
    yield RECEIVED
    runner.stop()


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        eventlet.sleep(0.05)
    return False


def test_errors_cross_rpc_as_types(rpc, clean):
    ids = build_tree(rpc.registry.create_organization)
    with pytest.raises(Conflict) as exc:
        rpc.registry.create_organization(org("primary", "59-П-1", parent_id=ids["territorial"]))
    assert exc.value.code == "registry_number_taken"
    assert "59-П-1" in exc.value.message
    with pytest.raises(NotFound):
        rpc.registry.get_organization(10**9)
    with pytest.raises(ValidationFailed) as exc:
        rpc.registry.get_organization("abc")
    assert exc.value.details[0]["code"] == "id_format"


def test_events_published_after_commit_with_ids(rpc, clean, listener):
    ids = build_tree(rpc.registry.create_organization)
    # the listener's queue may still hold events of earlier tests: look for this test's
    assert wait_for(lambda: set(ids.values()) <= {e["org_id"] for e in listener})
    assert all(e["event_id"] for e in listener)
    rpc.registry.exclude_organization(ids["subdivision"], "2025-01-10", "liquidated")
    assert wait_for(lambda: any(e.get("reason") == "liquidated" for e in listener))


def test_failed_change_publishes_nothing(rpc, clean, listener, engine):
    ids = build_tree(rpc.registry.create_organization)
    assert wait_for(lambda: set(ids.values()) <= {e["org_id"] for e in listener})
    eventlet.sleep(0.3)
    listener.clear()
    with pytest.raises(ValidationFailed):
        rpc.registry.create_organization(org("primary", "X", parent_id=ids["primary"]))
    eventlet.sleep(0.5)
    assert listener == []
    with engine.connect() as conn:
        pending = conn.execute(text(
            "SELECT count(*) FROM registry.outbox WHERE published_at IS NULL")).scalar_one()
    assert pending == 0


def test_outbox_row_left_pending_is_published_by_the_timer(rpc, clean, listener, engine):
    """As after a broker outage: an event committed but not yet published goes out later."""
    with engine.begin() as conn:
        conn.execute(text("""INSERT INTO registry.outbox (event_id, event_type, payload)
            VALUES (gen_random_uuid(), 'org_created', '{"org_id": 424242}')"""))
    assert wait_for(lambda: any(e["org_id"] == 424242 for e in listener))


def test_database_calls_run_concurrently(engine):
    """psycopg must yield to eventlet (PSYCOPG_WAIT_FUNC), or workers queue behind each other."""

    def sleep_in_db():
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_sleep(0.5)"))

    pool = eventlet.GreenPool()
    started = time.monotonic()
    for _ in range(4):
        pool.spawn(sleep_in_db)
    pool.waitall()
    assert time.monotonic() - started < 1.5
