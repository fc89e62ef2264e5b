"""Transactional outbox: events are rows written with the change, published after commit.

A change and its event commit together, so a broker outage delays events but loses none. The relay
publishes pending rows in order and marks them; a relay that dies between publishing and marking
publishes the row again, so every event carries `event_id` and consumers skip ids they have seen.
"""

import json
import logging
import uuid
from typing import Any

from nameko import serialization
from nameko.amqp.publish import Publisher
from nameko.extensions import DependencyProvider
from nameko.standalone.events import get_event_exchange
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from services.common import observability, trust
from services.common.db import make_engine

log = logging.getLogger(__name__)

BATCH = 500
# how long a publish waits for the broker's confirmation: a broker restarted mid-publish never
# sends it, and an unbounded wait held the relay (and a service's shutdown) for good; a publish
# that times out stays pending and goes out again (consumers skip ids they have seen)
CONFIRM_TIMEOUT_S = 10.0
# kombu's defaults retry connecting and publishing for tens of seconds while the broker is away,
# and the worker or timer that flushes (the cards' bucket poll, say) waited all that time; the
# outbox keeps the event, so one quick attempt is enough and the timer tries again
CONNECT_RETRY = {"max_retries": 1, "interval_start": 0.2, "interval_step": 0.2,
                 "interval_max": 0.5}
PUBLISH_RETRY = {"max_retries": 1, "interval_start": 0.2, "interval_step": 0.2,
                 "interval_max": 0.5}


def create_table_sql(schema: str) -> str:
    """DDL for a service's outbox, used by that service's migration."""
    return f"""
    CREATE TABLE {schema}.outbox (
        seq bigserial PRIMARY KEY,
        event_id uuid NOT NULL UNIQUE,
        event_type text NOT NULL,
        payload jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        published_at timestamptz
    );
    CREATE INDEX outbox_pending ON {schema}.outbox (seq) WHERE published_at IS NULL;
    """


def add_event(session: Session, schema: str, event_type: str, payload: dict[str, Any]) -> str:
    """Record an event in the current transaction; it is published only if the change commits."""
    event_id = str(uuid.uuid4())
    session.execute(
        text(f"INSERT INTO {schema}.outbox (event_id, event_type, payload) "
             "VALUES (:id, :type, CAST(:payload AS jsonb))"),
        {"id": event_id, "type": event_type,
         "payload": json.dumps(observability.with_request_id(payload), default=str)},
    )
    return event_id


class Relay:
    def __init__(self, engine: Engine, schema: str, service_name: str, dispatch) -> None:
        self.engine = engine
        self.schema = schema
        self.service_name = service_name
        self.dispatch = dispatch

    def flush(self) -> int:
        """Publish what is pending; returns how many were published. Safe to call concurrently."""
        total = 0
        while True:
            with self.engine.begin() as conn:
                rows = conn.execute(text(
                    f"SELECT seq, event_id, event_type, payload FROM {self.schema}.outbox "
                    "WHERE published_at IS NULL ORDER BY seq LIMIT :n FOR UPDATE SKIP LOCKED"
                ), {"n": BATCH}).all()
                if not rows:
                    return total
                done = []
                try:
                    for row in rows:
                        payload = dict(row.payload, event_id=str(row.event_id))
                        self.dispatch(self.service_name, row.event_type, payload)
                        done.append(row.seq)
                finally:
                    # mark what did reach the broker even when a later publish fails
                    if done:
                        conn.execute(text(
                            f"UPDATE {self.schema}.outbox SET published_at = now() "
                            "WHERE seq = ANY(:seqs)"), {"seqs": done})
                total += len(done)
            if len(rows) < BATCH:
                return total

    def try_flush(self) -> None:
        """Publish now if the broker is there; otherwise leave it to the timer."""
        try:
            self.flush()
        except Exception:
            log.warning("outbox relay: publishing failed, will retry", exc_info=True)


class OutboxRelay(DependencyProvider):
    """Gives workers a Relay; the service also runs `flush` on a timer to catch up after outages."""

    def __init__(self, schema: str) -> None:
        self.schema = schema

    def setup(self) -> None:
        self.engine = make_engine(pool_size=2, service=self.container.service_name)
        self.dispatch = quick_dispatcher(self.container.config)

    def stop(self) -> None:
        self.engine.dispose()

    def get_dependency(self, worker_ctx) -> Relay:
        return Relay(self.engine, self.schema, self.container.service_name, self.dispatch)


def quick_dispatcher(config: dict[str, Any]):
    """nameko's standalone event dispatcher, but giving up within a second or so when the
    broker is away (see CONNECT_RETRY) instead of holding its caller."""
    serializer, _ = serialization.setup(config)
    publisher = Publisher(config["AMQP_URI"], serializer=serializer,
                          ssl=config.get("AMQP_SSL"), login_method=config.get("LOGIN_METHOD"),
                          retry_policy=PUBLISH_RETRY, confirm_timeout=CONFIRM_TIMEOUT_S)
    publisher.transport_options = {**publisher.transport_options, **CONNECT_RETRY}

    def dispatch(service_name: str, event_type: str, event_data: dict[str, Any]) -> None:
        # declared here too: only a service's listeners declare its exchange, and events of a
        # service nobody listens to yet (reports') were refused by a fresh broker for good
        exchange = get_event_exchange(service_name, config)
        assertion = trust.sign(service_name, f"{service_name}.events", None,
                               event_id=str(event_data.get("event_id") or "") or None)
        publisher.publish(event_data, exchange=exchange, routing_key=event_type,
                          declare=[exchange], extra_headers={trust.HEADER: assertion})
    return dispatch
