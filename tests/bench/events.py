"""Figures of events and meetings (issue 22), on a database of its own (the events schema as
migrated, the service's domain functions, real PostgreSQL and real concurrency):

- registrations_5000_overbooked: 5,000 registrations from 500 concurrent users (threads, each
  its own transaction, a pool of connections as the service has) for a 1,000-place forum;
  the places held above capacity afterwards (goal 0). The naive way (count, then insert) in the
  same run: naive_overbooked.
- registration_p99_ms: the 99th percentile of one registration's time in that run (waiting for
  a connection included).
- checkin_p95_ms: a check-in by card number, 20 phones at once, 2,000 people at the door.
- protocol_pdf_s: a protocol of a meeting of 15 members and 10 agenda items made (quorum,
  numbering, the PDF by WeasyPrint) and stored.
- participation_rollup_s: the national roll-up per region of a year of 100,000 events and
  2 million registrations (one set-based query over the tree paths); naive_rollup_s: the same
  figures asked region by region.

Run: `make bench-events` (ARGS="--events 20000 --registrations 400000" for a quicker run).
"""

import argparse
import random
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from services.events import events, meetings, render
from tests.bench.common import fresh_database, p95, print_figures

DB = "reestr_bench_events"
GOALS = {"registrations_5000_overbooked": 0, "registration_p99_ms": 300, "checkin_p95_ms": 200,
         "protocol_pdf_s": 1, "participation_rollup_s": 10}
REGIONS = 85


def p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return round(ordered[max(0, int(len(ordered) * 0.99) - 1)], 2)


def _person(n: int) -> dict:
    region = 2 + n % REGIONS
    return {"member_id": n, "org_id": 100_000 + n % 5000, "full_name": f"Участник {n}",
            "org_path": f"1.{region}.{1000 + region}.{100_000 + n % 5000}", "card_number": f"C{n}"}


def _forum(engine, capacity: int, title: str) -> dict:
    fields = events.parse_event({"title": title, "kind": "forum", "capacity": capacity,
                                 "starts_at": (datetime.now(UTC) + timedelta(days=30)).isoformat()})
    with Session(engine) as s, s.begin():
        return events.create(s, {"id": 1, "path": "1"}, fields, "bench")


def registrations(engine, users: int, total: int, capacity: int) -> dict[str, float]:
    event = _forum(engine, capacity, "Всероссийский форум")
    per_user = total // users
    samples: list[float] = []
    lock = threading.Lock()

    def user(u: int) -> None:
        mine = []
        for k in range(per_user):
            started = time.perf_counter()
            with Session(engine) as s, s.begin():
                e = events.get(s, event["id"], taken=False)
                events.register(s, e, _person(u * per_user + k), "bench")
            mine.append((time.perf_counter() - started) * 1000)
        with lock:
            samples.extend(mine)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=users) as pool:
        list(pool.map(user, range(users)))
    elapsed = time.perf_counter() - started
    with engine.connect() as c:
        held = c.execute(text("SELECT count(*) FROM events.registration WHERE event_id = :e "
                              "AND status IN ('registered', 'offered')"),
                         {"e": event["id"]}).scalar()
    return {"registrations_5000_overbooked": max(0, held - capacity),
            "registration_p99_ms": p99(samples),
            "registration_p50_ms": round(sorted(samples)[len(samples) // 2], 2),
            "registrations_per_s": round(len(samples) / elapsed)}


def naive_registrations(engine, users: int, total: int, capacity: int) -> int:
    """Count the registered, then insert if below capacity: what a first attempt does."""
    event = _forum(engine, capacity, "Форум (наивная регистрация)")
    per_user = total // users

    def user(u: int) -> None:
        for k in range(per_user):
            p = _person(u * per_user + k)
            with Session(engine) as s, s.begin():
                n = s.execute(text("SELECT count(*) FROM events.registration WHERE event_id = :e "
                                   "AND status = 'registered'"), {"e": event["id"]}).scalar()
                s.execute(text("""
                    INSERT INTO events.registration (event_id, member_id, org_id, org_path,
                        full_name, status, registered_by)
                    VALUES (:e, :m, :o, CAST(:p AS ltree), :n, :st, 'bench')
                """), {"e": event["id"], "m": p["member_id"], "o": p["org_id"],
                       "p": p["org_path"], "n": p["full_name"],
                       "st": "registered" if n < capacity else "waiting"})

    with ThreadPoolExecutor(max_workers=users) as pool:
        list(pool.map(user, range(users)))
    with engine.connect() as c:
        held = c.execute(text("SELECT count(*) FROM events.registration WHERE event_id = :e "
                              "AND status = 'registered'"), {"e": event["id"]}).scalar()
    return max(0, held - capacity)


def checkins(engine, people: int, phones: int) -> float:
    event = _forum(engine, people, "Семинар (отметка на входе)")
    with Session(engine) as s, s.begin():
        e = events.get(s, event["id"])
        for n in range(people):
            events.register(s, e, _person(10_000_000 + n), "bench")
    samples: list[float] = []
    lock = threading.Lock()
    order = list(range(people))
    random.shuffle(order)

    def phone(i: int) -> None:
        mine = []
        for n in order[i::phones]:
            started = time.perf_counter()
            with Session(engine) as s, s.begin():
                e = events.get(s, event["id"], taken=False)
                events.check_in(s, e, str(uuid.uuid4()), "bench",
                                card_number=f"C{10_000_000 + n}")
            mine.append((time.perf_counter() - started) * 1000)
        with lock:
            samples.extend(mine)

    with ThreadPoolExecutor(max_workers=phones) as pool:
        list(pool.map(phone, range(phones)))
    return p95(samples)


def protocol(engine) -> float:
    with Session(engine) as s, s.begin():
        body = meetings.create_body(s, {"id": 5, "path": "1.2.1002.100005"}, {"kind": "profcom"})
        meetings.add_members(s, body["id"], [{"full_name": f"Член комитета {i}"}
                                             for i in range(15)], "2024-01-01")
        m = meetings.create_meeting(s, body["id"], {"held_on": "2026-11-20", "agenda": [
            {"title": f"Вопрос повестки {i}", "speakers": "Докладчик"} for i in range(10)]},
            "bench")
        meetings.mark_attendance(s, m["id"], [p["id"] for p in m["roster"]][:11])
        for item in m["agenda"]:
            meetings.record_item(s, m["id"], item["id"], {
                "heard": "Информация докладчика. " * 20, "decided": "Принять к сведению.",
                "votes_for": 10, "votes_abstained": 1})
    # the first PDF loads WeasyPrint and its fonts (once per process): not timed
    with Session(engine) as s, s.begin():
        meetings.make_protocol(s, m["id"], "bench", render.protocol)
    started = time.perf_counter()
    with Session(engine) as s, s.begin():
        meetings.make_protocol(s, m["id"], "bench", render.protocol)
    return round(time.perf_counter() - started, 3)


def load_year(engine, n_events: int, n_regs: int) -> float:
    """A year of events across the tree (85 regions, 10 districts each, 50 primaries each) and
    their registrations, set-based."""
    started = time.perf_counter()
    with engine.begin() as c:
        c.execute(text("""
            INSERT INTO events.event (org_id, org_path, kind, title, starts_at, capacity,
                                      created_by)
            SELECT 100000 + p, text2ltree(format('1.%s.%s.%s', r, 1000 + r * 10 + t,
                                                 100000 + p)),
                   'seminar', 'Семинар ' || g, make_timestamptz(2025, 1, 1, 10, 0, 0, 'UTC')
                       + (g % 360) * interval '1 day', NULL, 'bench'
            FROM generate_series(1, :n) AS g,
                 LATERAL (SELECT 2 + g % 85 AS r, g % 10 AS t, g % 500 AS p) AS x
        """), {"n": n_events})
        c.execute(text("""
            INSERT INTO events.registration (event_id, member_id, org_id, org_path, full_name,
                                             status, registered_by, checked_in_at)
            SELECT e.id, 20000000 + g, e.org_id, e.org_path, 'Участник', 'registered', 'bench',
                   CASE WHEN g % 3 > 0 THEN e.starts_at END
            FROM generate_series(1, :n) AS g
            JOIN events.event e ON e.id = (SELECT min(id) FROM events.event
                                           WHERE title LIKE 'Семинар %') + g % :events
        """), {"n": n_regs, "events": n_events})
        c.execute(text("ANALYZE events.event; ANALYZE events.registration"))
    return round(time.perf_counter() - started, 1)


def rollup(engine) -> float:
    since = datetime(2025, 1, 1, tzinfo=UTC)
    started = time.perf_counter()
    with Session(engine) as s:
        rows = events.rollup(s, None, 1, since, since.replace(year=2026))
    took = time.perf_counter() - started
    assert len(rows) == REGIONS, len(rows)
    return round(took, 2)


def naive_rollup(engine) -> float:
    """Region by region, each its own two queries over its subtree."""
    since = datetime(2025, 1, 1, tzinfo=UTC)
    started = time.perf_counter()
    with engine.connect() as c:
        for r in range(2, 2 + REGIONS):
            c.execute(text("SELECT count(*) FROM events.event WHERE org_path <@ "
                           "CAST(:p AS ltree) AND starts_at >= :s AND starts_at < :u"),
                      {"p": f"1.{r}", "s": since, "u": since.replace(year=2026)}).all()
            c.execute(text("""
                SELECT count(*), count(r.checked_in_at), count(DISTINCT r.member_id)
                FROM events.registration r JOIN events.event e ON e.id = r.event_id
                WHERE r.org_path <@ CAST(:p AS ltree) AND e.starts_at >= :s AND e.starts_at < :u
            """), {"p": f"1.{r}", "s": since, "u": since.replace(year=2026)}).all()
    return round(time.perf_counter() - started, 2)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--registrations", type=int, default=2_000_000)
    ap.add_argument("--users", type=int, default=500)
    ap.add_argument("--pool", type=int, default=60, help="connections, as a service's pool")
    args = ap.parse_args()
    url = fresh_database(DB, ("events",))
    engine = create_engine(url, pool_size=args.pool, max_overflow=0, pool_timeout=120)
    figures: dict[str, float] = {}
    print("registrations: 5,000 from", args.users, "users, 1,000 places", flush=True)
    figures.update(registrations(engine, args.users, 5000, 1000))
    figures["naive_overbooked"] = naive_registrations(engine, args.users, 5000, 1000)
    print("check-in: 2,000 people, 20 phones", flush=True)
    figures["checkin_p95_ms"] = checkins(engine, 2000, 20)
    figures["protocol_pdf_s"] = protocol(engine)
    print(f"loading {args.events:,} events and {args.registrations:,} registrations",
          flush=True)
    figures["load_year_s"] = load_year(engine, args.events, args.registrations)
    rollup(engine)  # warm the cache once, as a server that has been running has it
    figures["participation_rollup_s"] = rollup(engine)
    figures["naive_rollup_s"] = naive_rollup(engine)
    engine.dispose()
    print_figures(figures, GOALS)


if __name__ == "__main__":
    main()
