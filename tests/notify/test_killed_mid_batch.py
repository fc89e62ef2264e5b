"""A notify replica killed (SIGKILL) in the middle of a delivery run: the replica left (the
test's own notify service) takes the queue over once the dead one's advisory lock goes with its
connection, and every message arrives; at most the one in flight on each of its connections
when the process died arrives twice (README, «At most once, except one»)."""

import time
from collections import Counter

from sqlalchemy import text

from services.notify.settings import notify_settings
from tests.notify.replica import DyingReplica
from tests.notify.test_delivery import _enqueue
from tests.support.waiting import wait_until


def _sent(engine) -> int:
    with engine.connect() as c:
        return c.execute(text("SELECT count(*) FROM notify.message WHERE status = 'sent'")
                         ).scalar()


def test_killed_mid_batch_loses_none(services, clean, engine, private_mailpit):
    n = 150
    with DyingReplica() as replica:
        ids = _enqueue(engine, [f"kill{i}@example.ru" for i in range(n)])
        replica.go()
        assert wait_until(lambda: _sent(engine) >= 20, timeout=30), "the replica sent nothing"
    died_at = _sent(engine)
    assert died_at < n, "the replica finished before it was killed: nothing was tested"

    def settled():
        with engine.connect() as c:
            return c.execute(text("SELECT count(*) FROM notify.message WHERE id = ANY(:i) "
                                  "AND status = 'queued'"), {"i": ids}).scalar() == 0
    assert wait_until(settled, timeout=60), "the queue was not taken over"
    time.sleep(1)  # the last message's way through Mailpit
    got = Counter(t["Address"] for m in private_mailpit.messages() for t in m["To"])
    assert set(got) == {f"kill{i}@example.ru" for i in range(n)}  # none lost
    repeated = {a: k for a, k in got.items() if k > 1}
    # at most the message in flight on each of the dead replica's connections, each once more
    lanes = notify_settings().send_connections
    assert len(repeated) <= lanes and all(k == 2 for k in repeated.values()), repeated
    with engine.connect() as c:
        attempts = c.execute(text("SELECT count(*) FROM notify.attempt a "
                                  "JOIN notify.message m ON m.id = a.message_id "
                                  "WHERE m.id = ANY(:i)"), {"i": ids}).scalar()
    assert attempts == n  # each recorded once: those in flight were not recorded by the dead
