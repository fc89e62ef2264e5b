"""Many registrations at once for the last places, on the real PostgreSQL: nobody is
overbooked, everyone else waits in order; a freed place goes to exactly one of those waiting
even when cancellations race; an offer not confirmed in time lapses and the queue moves on."""

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.events import events

ORG = {"id": 2, "path": "1.2"}
TAKEN = "SELECT count(*) FROM events.seat WHERE registration_id IS NOT NULL"


def _event(engine, capacity: int) -> dict:
    now = datetime.now(UTC)
    fields = events.parse_event({"title": "Форум молодых педагогов", "kind": "forum",
                                 "starts_at": (now + timedelta(days=30)).isoformat(),
                                 "capacity": capacity, "confirm_hours": 1})
    with Session(engine) as s, s.begin():
        return events.create(s, ORG, fields, "test")


def _person(n: int) -> dict:
    return {"member_id": n, "org_id": 5, "org_path": "1.2.4.5", "full_name": f"Участник {n}",
            "card_number": f"C{n}"}


def _register(engine, event_id: int, ns: range) -> list[str]:
    out = []
    for n in ns:
        with Session(engine) as s, s.begin():
            event = events.get(s, event_id)
            out.append(events.register(s, event, _person(n), "test")["status"])
    return out


def test_last_places_under_concurrency(engine, clean):
    event = _event(engine, capacity=25)
    with ThreadPoolExecutor(max_workers=40) as pool:
        chunks = list(pool.map(lambda i: _register(engine, event["id"], range(i * 5, i * 5 + 5)),
                               range(40)))
    statuses = [s for chunk in chunks for s in chunk]
    assert statuses.count("registered") == 25 and statuses.count("waiting") == 175
    with engine.connect() as c:
        assert c.execute(text(TAKEN)).scalar() == 25
        assert c.execute(text("SELECT count(*) FROM events.registration WHERE "
                              "status = 'registered'")).scalar() == 25

    # ten cancellations at once: ten offers, to the first ten in the queue, never more
    with engine.connect() as c:
        registered = [r for (r,) in c.execute(text(
            "SELECT id FROM events.registration WHERE status = 'registered' ORDER BY id LIMIT 10"))]
        first_waiting = [r for (r,) in c.execute(text(
            "SELECT id FROM events.registration WHERE status = 'waiting' "
            "ORDER BY queued_at, id LIMIT 10"))]

    def cancel(reg_id: int) -> None:
        with Session(engine) as s, s.begin():
            events.cancel(s, events.get(s, event["id"]), reg_id)

    with ThreadPoolExecutor(max_workers=10) as pool:
        list(pool.map(cancel, registered))
    with engine.connect() as c:
        offered = sorted(r for (r,) in c.execute(text(
            "SELECT id FROM events.registration WHERE status = 'offered'")))
        taken = c.execute(text(TAKEN)).scalar()
    assert offered == sorted(first_waiting) and taken == 25

    # the offers lapse unconfirmed: the next ten are offered the places
    with engine.begin() as c:
        c.execute(text("UPDATE events.registration SET offered_until = now() - interval '1 s' "
                       "WHERE status = 'offered'"))
    with Session(engine) as s, s.begin():
        assert events.expire_offers(s) == 10
    with engine.connect() as c:
        counts = dict(c.execute(text("SELECT status, count(*) FROM events.registration "
                                     "GROUP BY status")).all())
        assert c.execute(text(TAKEN)).scalar() == 25
    assert counts == {"registered": 15, "offered": 10, "expired": 10, "cancelled": 10,
                      "waiting": 155}
