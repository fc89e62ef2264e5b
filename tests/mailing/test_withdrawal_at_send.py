"""A withdrawal of consent made after the sender has read its batch: the messages to that person
already in the batch do not go (delivery asks again, set-based, just before sending), against
the real mail server."""

import uuid

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.common.db import Db
from services.notify import consents, delivery, smtp
from services.notify.settings import notify_settings
from tests.support.locks import holding


def _campaign(engine, recipients: list[str]) -> int:
    with engine.begin() as c:
        cid = c.execute(text("""
            INSERT INTO notify.campaign (event_id, subject, body_md, body_html, body_text,
                                         purpose, audience, author, status)
            VALUES (:ev, 'Новости', 'Текст', '<p>Текст</p>', 'Текст', 'union_news',
                    '{}'::jsonb, 'test', 'sending') RETURNING id
        """), {"ev": str(uuid.uuid4())}).scalar_one()
        c.execute(text("""
            INSERT INTO notify.message (event_id, recipient, kind, context, campaign_id)
            SELECT :ev, r, 'campaign', '{}'::jsonb, :cid FROM unnest(CAST(:rs AS text[])) r
        """), {"ev": str(uuid.uuid4()), "cid": cid, "rs": recipients})
    return cid


def test_withdrawal_after_the_batch_was_read(services, clean, engine, private_mailpit):
    people = [f"w{i}@example.ru" for i in range(6)]
    db, conf = Db(engine), notify_settings()
    counts: dict[str, int] = {"sent": 0, "deferred": 0, "bounced": 0, "held": 0,
                              "skipped": 0, "stopped": 0}
    # the test is the sender: the test's own notify service waits for the lock meanwhile
    with holding(db, "notify.deliver"), smtp.Mailer(conf) as mailer:
        cid = _campaign(engine, people)
        rows = delivery.due(db, 100)  # the sender has its batch in hand
        assert {r["recipient"] for r in rows} == set(people)
        with Session(engine) as s, s.begin():  # then w0 unsubscribes
            assert consents.record(s, "w0@example.ru", "union_news", False, "one_click",
                                   "test")["stopped_messages"] == 1
        throttle = delivery.Throttle(0, lambda _s: None)
        assert delivery._run_lanes(db, conf, [mailer], smtp.envelope_sender(conf), rows,
                                   counts, throttle) is None
    assert counts["sent"] == 5 and counts["stopped"] == 1
    got = sorted(t["Address"] for m in private_mailpit.messages() for t in m["To"])
    assert got == people[1:]
    with engine.connect() as c:
        states = dict(c.execute(text("SELECT recipient, status FROM notify.message "
                                     "WHERE campaign_id = :c"), {"c": cid}).all())
    assert states.pop("w0@example.ru") == "skipped"
    assert set(states.values()) == {"sent"}
