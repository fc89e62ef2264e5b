"""Delivery against a Mailpit of the test's own: a template that fails holds only its message,
a 5xx marks the address bouncing, a 4xx is tried again later, and the mail server stopped and
started under a stream of messages loses none and repeats at most the one in flight."""

import time
import uuid
from collections import Counter

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.notify import queue
from services.notify.settings import notify_settings
from tests.support.waiting import wait_until

GOOD = {"number": "AB12CD34", "first_name": "Мария", "org_name": "ППО СОШ № 1",
        "status_url": "http://portal/join/applications/x", "account_url": "http://portal/a"}


def _enqueue(engine, recipients: list[str], context=GOOD, kind="application_received") -> list:
    ids = []
    with engine.begin() as conn, Session(bind=conn) as s:
        for to in recipients:
            ids.append(queue.enqueue(s, str(uuid.uuid4()), to, kind, context))
        s.flush()
    return ids


def _statuses(engine, ids) -> dict[int, tuple]:
    with engine.connect() as c:
        rows = c.execute(text("SELECT id, status, error, attempts FROM notify.message "
                              "WHERE id = ANY(:ids)"), {"ids": ids}).all()
    return {r.id: (r.status, r.error, r.attempts) for r in rows}


def _settled(engine, ids) -> dict[int, tuple] | None:
    found = _statuses(engine, ids)
    return found if all(v[0] != "queued" for v in found.values()) else None


def test_failed_template_holds_only_its_message(services, clean, engine, private_mailpit):
    first = _enqueue(engine, ["a1@example.ru"])
    broken = _enqueue(engine, ["a2@example.ru"], context={"first_name": "без номера"})
    last = _enqueue(engine, ["a3@example.ru"])
    done = wait_until(lambda: _settled(engine, first + broken + last), timeout=20)
    assert done, "the queue did not settle"
    assert done[first[0]][0] == done[last[0]][0] == "sent"
    status, error, _ = done[broken[0]]
    assert status == "held" and "number" in error and error.startswith("template:")
    got = sorted(t["Address"] for m in private_mailpit.messages() for t in m["To"])
    assert got == ["a1@example.ru", "a3@example.ru"]


def test_refused_address_is_bouncing(services, clean, engine, private_mailpit, rpc):
    ids = _enqueue(engine, ["nobody@bounce.invalid", "fine@example.ru"])
    done = wait_until(lambda: _settled(engine, ids), timeout=20)
    assert done and done[ids[0]][0] == "bounced" and done[ids[1]][0] == "sent"
    assert "5.1.0" in done[ids[0]][1]
    assert rpc.notify.address_states(["Nobody@bounce.invalid", "fine@example.ru"]) == {
        "nobody@bounce.invalid": "bouncing", "fine@example.ru": "ok"}
    # the next message to that address is not tried again
    again = _enqueue(engine, ["nobody@bounce.invalid"])
    done = wait_until(lambda: _settled(engine, again), timeout=20)
    assert done[again[0]][:2] == ("skipped", "address_bouncing")
    log = rpc.notify.delivery_log(recipient="nobody@bounce.invalid")
    assert {m["last_code"] for m in log if m["status"] == "bounced"} == {550}


def test_temporary_refusal_is_retried_with_backoff(services, clean, engine, private_mailpit):
    private_mailpit.chaos(451, 100)
    [mid] = _enqueue(engine, ["later@example.ru"])
    assert wait_until(lambda: _statuses(engine, [mid])[mid][2] >= 2, timeout=20)
    assert _statuses(engine, [mid])[mid][0] == "queued"
    with engine.connect() as c:
        due_in = c.execute(text("SELECT due_at - now() FROM notify.message WHERE id = :i"),
                           {"i": mid}).scalar()
    assert due_in.total_seconds() > 0  # put back with a delay, not tried in a loop
    private_mailpit.chaos(451, 0)
    assert wait_until(lambda: _settled(engine, [mid]), timeout=30)
    with engine.connect() as c:
        outcomes = c.execute(text("SELECT outcome, smtp_code FROM notify.attempt "
                                  "WHERE message_id = :i ORDER BY id"), {"i": mid}).all()
    assert outcomes[-1] == ("sent", 250)
    assert set(outcomes[:-1]) == {("deferred", 451)} and len(outcomes) >= 3
    assert len(private_mailpit.messages()) == 1


def test_mail_server_stopped_and_started_loses_nothing(services, clean, engine,
                                                       private_mailpit, monkeypatch):
    monkeypatch.setenv("MAIL_RATE_PER_S", "25")
    ids = _enqueue(engine, [f"p{n}@example.ru" for n in range(80)])
    assert wait_until(lambda: len(private_mailpit.messages()) >= 15, timeout=20)
    private_mailpit.stop()  # mid-stream
    time.sleep(3)  # the timer finds the server away several times
    left = [i for i, v in _statuses(engine, ids).items() if v[0] == "queued"]
    assert left, "the stop came too late to test anything"
    private_mailpit.start()  # the same mailbox database: what it had, it keeps
    done = wait_until(lambda: _settled(engine, ids), timeout=60)
    assert done and {v[0] for v in done.values()} == {"sent"}
    got = Counter(m["MessageID"] for m in private_mailpit.messages())
    expected = {f"m{i}" for i in ids}
    assert {_key(mid) for mid in got} == expected
    repeated = [mid for mid, n in got.items() if n > 1]
    # at most the one in flight on each connection when the server went, each once more
    lanes = notify_settings().send_connections
    assert len(repeated) <= lanes and all(got[m] == 2 for m in repeated)


def _key(message_id: str) -> str:
    """make_msgid(idstring=...) puts the queue's key just before the domain."""
    return message_id.split("@")[0].rsplit(".", 1)[-1]
