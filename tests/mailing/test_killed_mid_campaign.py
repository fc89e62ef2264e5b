"""The sending service killed (SIGKILL) and the mail server stopped in the middle of a campaign:
while the server is away nothing is lost and nothing is counted twice (sent + queued + refused =
audience); once it is back, the notify left takes the queue over and every address gets the
mailing, at most the message in flight on each of the dead one's connections twice (README)."""

import time
from collections import Counter

from sqlalchemy import text

from services.notify.settings import notify_settings
from tests.mailing.test_withdrawal_at_send import _campaign
from tests.notify.replica import DyingReplica
from tests.support.waiting import wait_until


def _counts(engine, cid: int) -> dict[str, int]:
    with engine.connect() as c:
        return dict(c.execute(text("SELECT status, count(*) FROM notify.message "
                                   "WHERE campaign_id = :c GROUP BY status"), {"c": cid}).all())


def test_killed_and_server_stopped_mid_campaign(services, clean, engine, private_mailpit):
    n = 120
    people = ["first@bounce.invalid"] + [f"k{i}@example.ru" for i in range(n - 1)]
    with DyingReplica() as replica:  # leaving the block kills it ...
        cid = _campaign(engine, people)
        replica.go()
        assert wait_until(lambda: _counts(engine, cid).get("sent", 0) >= 15, timeout=30)
        private_mailpit.stop()  # ... just after the mail server went away mid-campaign
        time.sleep(0.5)
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
