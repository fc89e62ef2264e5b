"""Restarts of PostgreSQL and RabbitMQ under the running services: accepted changes survive,
events committed during a broker outage go out afterwards, the API answers again by itself.
Which cluster and node are restarted: see tests.support.faults (FAULT_PG_CLUSTER, ...)."""

import random
import time
from contextlib import contextmanager

import pytest
import requests
from sqlalchemy import text
from sqlalchemy.orm import Session

from services.common import outbox
from tests.conftest import password_grant
from tests.factories import build_tree, card
from tests.support.faults import (
    broker_stopped,
    infra_up,
    restart_database,
    retryable,
    stop_started_by_up,
    timed,
    wait_until,
)

pytestmark = pytest.mark.fault


@contextmanager
def broker_away(api):
    """RabbitMQ stopped for the block, then started; returns once the API answers again."""
    with broker_stopped():
        yield
    assert wait_until(lambda: api.get("/api/v1/organizations/5").status_code == 200, 90)


@pytest.fixture
def tree(api):
    return build_tree(lambda d: api.post("/api/v1/organizations", json=d).json())


def test_database_restart_loses_nothing(api, tree, keycloak):
    assert api.patch("/api/v1/organizations/5", json={"name": "До перезапуска"}).ok
    restart_database()
    # pooled connections died with the server; the services reconnect on their own
    assert wait_until(lambda: api.get("/api/v1/organizations/5").status_code == 200)
    assert api.get("/api/v1/organizations/5").json()["name"] == "До перезапуска"
    assert api.patch("/api/v1/organizations/5", json={"name": "После перезапуска"}).ok
    # Keycloak shares the server: it too drops its dead connections and signs people in again
    assert wait_until(lambda: bool(password_grant(keycloak, "chair@test.reestr")), 120)


def test_events_committed_while_the_broker_is_down_go_out_after(api, tree, engine):
    with engine.begin() as conn:
        before = conn.execute(text("SELECT max(seq) FROM registry.outbox")).scalar() or 0
    # a change accepted while the broker is away: its event waits in the outbox
    with broker_away(api), engine.begin() as conn, Session(bind=conn) as session:
        outbox.add_event(session, "registry", "org_updated", {"org_id": 5, "fields": ["name"]})
        session.flush()
        # clients are told to retry, at once: the request could not reach the services
        r = timed("read", api.get, "/api/v1/organizations/5")
        assert retryable(r) and r.seconds < 5, r
        assert r.code == "service_unavailable"

    def published():
        with engine.connect() as conn:
            return conn.execute(text(
                "SELECT count(*) FROM registry.outbox WHERE seq > :s AND published_at IS NULL"
            ), {"s": before}).scalar_one() == 0
    assert wait_until(published, 60)


def keycloak_answers(conf) -> bool:
    try:
        return requests.get(f"{conf.issuer}/.well-known/openid-configuration", timeout=2).ok
    except requests.RequestException:
        return False


def test_keycloak_down_and_back(api, keycloak):
    assert api.get("/api/v1/me").ok  # a fresh token, and the realm's keys kept by the gateway
    stop_started_by_up("keycloak")
    try:
        assert wait_until(lambda: not keycloak_answers(keycloak), 120)
        # signed-in users go on: the token is checked with the keys the gateway kept
        assert api.get("/api/v1/organizations", params={"q": "нет такой"}).status_code == 200
        # what needs Keycloak says so, clearly and at once
        r = api.post("/api/v1/partners", json={"code": "while-down", "name": "P",
                                               "redirect_uris": ["https://p.example/cb"]})
        assert r.status_code == 503, r.text
        assert r.json()["error"]["code"] == "identity_provider_unavailable"
        health = api.get("/healthz")
        assert health.status_code == 503 and health.json()["checks"]["keycloak"] == "unavailable"
    finally:
        infra_up()
    assert wait_until(lambda: keycloak_answers(keycloak), 180)
    r = api.post("/api/v1/partners", json={"code": "after-down", "name": "P",
                                           "redirect_uris": ["https://p.example/cb"]})
    assert r.status_code == 201, r.text


def test_members_survive_a_database_restart(api, synced_tree, engine, keycloak):
    from tests.factories import card

    first = api.as_user("chair").post("/api/v1/organizations/5/members", json=card(1))
    assert first.status_code == 201
    restart_database()
    assert wait_until(lambda: api.as_user("chair").get(
        f"/api/v1/members/{first.json()['id']}").status_code == 200)
    assert api.as_user("chair").post("/api/v1/organizations/5/members",
                                     json=card(2)).status_code == 201
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM membership.member")).scalar() == 2
    assert wait_until(lambda: bool(password_grant(keycloak, "chair@test.reestr")), 120)


def test_member_registered_while_the_broker_is_down_is_announced_after(api, synced_tree,
                                                                       engine):
    """A registration accepted during a broker outage: its event waits in membership's outbox
    and goes out once the broker is back; nothing is lost, nothing sent twice."""
    from datetime import date

    from services.membership import members, orgs
    from services.membership.card import check_card
    from tests.factories import card

    with broker_away(api), Session(engine) as session, session.begin():
        member = members.register(session, "operator", orgs.get(session, 5),
                                  check_card(card(3), date.today()), date.today())

    def published():
        with engine.connect() as conn:
            return conn.execute(text(
                "SELECT count(*) FROM membership.outbox WHERE published_at IS NOT NULL "
                "AND event_type = 'member_registered' AND payload ->> 'member_id' = :id"
            ), {"id": str(member["id"])}).scalar_one() == 1
    assert wait_until(published, 60)


def test_object_store_away_loses_no_batch(api, synced_tree, engine):
    """The vendor's bucket stopped: a collected batch waits as `writing`, reading responses
    says the store is away (503), health says so; once the store is back, the service's timer
    writes the batch by itself, once."""
    for n in (1, 2):
        r = api.as_user("chair").post("/api/v1/organizations/5/members", json=card(n))
        assert r.status_code == 201, r.text
    api.as_user("chair").post("/api/v1/organizations/5/card-requests")
    stop_started_by_up("s3proxy")
    try:
        assert wait_until(lambda: api.get("/healthz").status_code == 503, 60)
        assert api.get("/healthz").json()["checks"]["object_store"] == "unavailable"
        (batch,) = api.post("/api/v1/card-batches").json()
        assert batch["status"] == "writing" and batch["cards"] == 2
        r = api.post("/api/v1/card-batches/responses")
        assert r.status_code == 503 and r.json()["error"]["code"] == "store_unavailable"
    finally:
        infra_up()

    def sent() -> bool:
        with engine.connect() as c:
            return c.execute(text("SELECT status FROM cards.batch WHERE id = :b"),
                             {"b": batch["id"]}).scalar() == "sent"
    assert wait_until(sent, 60)
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM cards.card WHERE batch_id = :b"),
                         {"b": batch["id"]}).scalar() == 2
    assert api.get("/healthz").status_code == 200



def test_vendor_response_during_a_broker_outage_reaches_membership_after(api, synced_tree,
                                                                         engine):
    """The vendor rejects a card while RabbitMQ is down: the cards service applies the response
    (it needs only the database and the bucket: its timer no longer waits on the broker), the
    event waits in the outbox, and once the broker is back membership clears the refused number
    from the member, once."""
    from services.cards.storage import Bucket
    from services.cards.vendor_sim import answer

    long_name = card(7, patronymic="Константиновна-Вильгельмина-Александровна-Маргарита")
    member = api.as_user("chair").post("/api/v1/organizations/5/members", json=long_name).json()
    api.as_user("chair").post(f"/api/v1/members/{member['id']}/card-requests")

    def number() -> str | None:
        with engine.connect() as c:
            return c.execute(text("SELECT card_number FROM membership.member WHERE id = :id"),
                             {"id": member["id"]}).scalar()
    assert wait_until(lambda: number() is not None, 30)
    with engine.begin() as c:  # a batch name of its own: earlier runs' files stay in the bucket
        c.execute(text("SELECT setval('cards.batch_id_seq', :n)"),
                  {"n": int(time.time() * 10) % 10**8})
    (batch,) = api.post("/api/v1/card-batches").json()
    assert batch["status"] == "sent"

    def refused() -> bool:
        with engine.connect() as c:
            return c.execute(text("SELECT status FROM cards.card WHERE member_id = :m"),
                             {"m": member["id"]}).scalar() == "refused"
    with broker_away(api):
        answer(Bucket(), batch["object_prefix"], random.Random(1), 0)  # the name is too long
        assert wait_until(refused, 20)  # the service's timer read the bucket
        assert number() is not None  # membership has not heard yet
    assert wait_until(lambda: number() is None, 30)
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM cards.outbox WHERE event_type = "
                              "'cards_refused' AND published_at IS NULL")).scalar() == 0
        assert c.execute(text("SELECT count(*) FROM cards.card_event e JOIN cards.card c "
                              "ON c.id = e.card_id WHERE c.member_id = :m AND e.status = "
                              "'refused'"), {"m": member["id"]}).scalar() == 1
