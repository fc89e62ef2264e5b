"""A notify replica killed (SIGKILL) in the middle of a delivery run: the replica left (the
test's own notify service) takes the queue over once the dead one's advisory lock goes with its
connection, and every message arrives; at most the one in flight on each of its connections
when the process died arrives twice (README, «At most once, except one»)."""

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import text

from services.notify.settings import notify_settings
from tests.notify.test_delivery import _enqueue
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
# the dying replica's run: the service's own delivery under the service's own lock
REPLICA = """
from services.common.db import Db, make_engine
from services.notify import delivery
from services.notify.settings import notify_settings
db = Db(make_engine())
with db.alone("notify.deliver") as mine:
    assert mine
    print("locked", flush=True)
    input()  # the test queues the messages now: nobody else can send them
    delivery.deliver(db, notify_settings())
"""


def _sent(engine) -> int:
    with engine.connect() as c:
        return c.execute(text("SELECT count(*) FROM notify.message WHERE status = 'sent'")
                         ).scalar()


def test_killed_mid_batch_loses_none(services, clean, engine, private_mailpit):
    n = 150
    # the dying replica is slow (20 a second) so that it dies with most of its batch unsent
    env = dict(os.environ, MAIL_RATE_PER_S="20", SEND_BATCH="200")
    replica = subprocess.Popen([sys.executable, "-c", REPLICA], cwd=ROOT, env=env,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        assert replica.stdout.readline().strip() == "locked", replica.stderr.read()
        ids = _enqueue(engine, [f"kill{i}@example.ru" for i in range(n)])
        replica.stdin.write("go\n")
        replica.stdin.flush()
        assert wait_until(lambda: _sent(engine) >= 20, timeout=30), "the replica sent nothing"
    finally:
        os.kill(replica.pid, signal.SIGKILL)
        replica.wait(timeout=10)
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
