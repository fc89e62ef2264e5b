"""The sending service killed (SIGKILL) and the mail server stopped in the middle of a campaign:
while the server is away nothing is lost and nothing is counted twice (sent + queued + refused =
audience); once it is back, the notify left takes the queue over and every address gets the
mailing, at most the message in flight on each of the dead one's connections twice (README)."""

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import text

from services.notify.settings import notify_settings
from tests.mailing.test_withdrawal_at_send import _campaign
from tests.notify.test_killed_mid_batch import REPLICA
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]


def _counts(engine, cid: int) -> dict[str, int]:
    with engine.connect() as c:
        return dict(c.execute(text("SELECT status, count(*) FROM notify.message "
                                   "WHERE campaign_id = :c GROUP BY status"), {"c": cid}).all())


def test_killed_and_server_stopped_mid_campaign(services, clean, engine, private_mailpit):
    n = 120
    people = ["first@bounce.invalid"] + [f"k{i}@example.ru" for i in range(n - 1)]
    env = dict(os.environ, MAIL_RATE_PER_S="20", SEND_BATCH="200")
    replica = subprocess.Popen([sys.executable, "-c", REPLICA], cwd=ROOT, env=env,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        assert replica.stdout.readline().strip() == "locked", replica.stderr.read()
        cid = _campaign(engine, people)
        replica.stdin.write("go\n")
        replica.stdin.flush()
        assert wait_until(lambda: _counts(engine, cid).get("sent", 0) >= 15, timeout=30)
        private_mailpit.stop()  # the mail server goes away mid-campaign ...
        time.sleep(0.5)
    finally:
        os.kill(replica.pid, signal.SIGKILL)  # ... and the sending service is killed
        replica.wait(timeout=10)
    away = _counts(engine, cid)
    assert away.get("queued", 0) > 0, "the campaign finished first: nothing was tested"
    assert away.get("sent", 0) + away.get("queued", 0) + away.get("bounced", 0) == n, away
    assert away.get("bounced") == 1  # the refused address, recorded once
    private_mailpit.start()
    assert wait_until(lambda: _counts(engine, cid).get("queued", 0) == 0, timeout=60)
    done = _counts(engine, cid)
    assert done == {"sent": n - 1, "bounced": 1}, done
    time.sleep(1)  # the last message's way through Mailpit
    # the server keeps its mailbox across the restart (the same database file)
    got = Counter(t["Address"] for m in private_mailpit.messages() for t in m["To"])
    assert set(got) == set(people[1:])
    lanes = notify_settings().send_connections
    repeated = {a: k for a, k in got.items() if k > 1}
    assert len(repeated) <= lanes and all(k == 2 for k in repeated.values()), repeated
