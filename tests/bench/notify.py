"""`make bench-notify`: the figures of issue 18 (e-mail), beside the naive approach, in one run.

- invitations_72k_queued_s: invitations for the 72,000 chairs of a national load queued in the
  notify service (sso's `queue_invitations`, 2,000 a call as `provision_chairs` sends them; a
  loaded file's `orgs_imported` queues them with the same one INSERT);
- delivery_msgs_per_s: 3,000 queued messages sent by the running notify service with its
  defaults (throttle, batch, one connection a run) to the local Mailpit, from the first queued
  to the last recorded sent; delivery_naive_msgs_per_s: one SMTP connection per message;
- event_to_inbox_p95_s: from an application submitted (membership's transaction and outbox)
  to the applicant's e-mail in Mailpit, 40 applications while notify delivers a background
  stream of 100 messages a second (not the national load test: that needs the national data
  set; see README);
- invitations_naive_72k_s: one Keycloak admin call (execute-actions-email) per invitation, on
  a sample, scaled to 72,000.
Timings are printed, never asserted. The last line printed is one JSON object. Its own
database (BENCH_NOTIFY_DB), realm (BENCH_KEYCLOAK_REALM), vhost (BENCH_AMQP_VHOST) and port
(BENCH_HTTP_ADDRESS); the mail server is SMTP_PORT's, read through MAILPIT_API.
"""

import os
import threading
import time
import uuid

os.environ["KEYCLOAK_REALM"] = os.environ.get("BENCH_KEYCLOAK_REALM", "reestr-bench-notify")
os.environ.setdefault("SMTP_PORT", "1025")

import requests  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from services.common.db import Db  # noqa: E402
from services.common.settings import nameko_config  # noqa: E402
from services.common.trust import ClusterProxy  # noqa: E402
from services.notify import delivery, smtp  # noqa: E402
from services.notify.settings import notify_settings  # noqa: E402
from services.notify.templates import render  # noqa: E402
from services.sso import accounts  # noqa: E402
from services.sso.settings import sso_settings  # noqa: E402
from tests.bench.common import (  # noqa: E402
    BENCH_AMQP,
    SCHEMAS,
    SERVICES,
    fresh_database,
    fresh_realm,
    print_figures,
    running_services,
)
from tests.factories import build_tree, card  # noqa: E402

DB = os.environ.get("BENCH_NOTIFY_DB", "reestr_bench_notify")
MAILPIT = os.environ.get("MAILPIT_API", "http://127.0.0.1:8025").rstrip("/")
CHAIRS = 72_000
DELIVERY = 3_000
NAIVE = 300
PROBES = 40
KEYCLOAK_SAMPLE = 20
CONTEXT = {"number": "AB12CD34", "first_name": "Мария", "org_name": "ППО СОШ № 1",
           "status_url": "http://portal/join/applications/x", "account_url": "http://portal/a"}
GOALS = {"invitations_72k_queued_s": 60, "delivery_msgs_per_s": 200,
         "event_to_inbox_p95_s": 5}


def _queue(engine, n: int, tag: str, status: str = "queued") -> None:
    """n messages due now, in one statement (the shape notify's handlers write)."""
    import json

    with engine.begin() as c:
        c.execute(text("""
            INSERT INTO notify.message (event_id, recipient, kind, context, status)
            SELECT gen_random_uuid(), :tag || i || '@bench.example.ru', 'application_received',
                   CAST(:ctx AS jsonb), :status
            FROM generate_series(1, :n) i
        """), {"n": n, "tag": tag, "status": status,
               "ctx": json.dumps(CONTEXT, ensure_ascii=False)})


def _mailpit_clear() -> None:
    requests.delete(f"{MAILPIT}/api/v1/messages", timeout=30).raise_for_status()


def _mailpit_has(address: str) -> bool:
    r = requests.get(f"{MAILPIT}/api/v1/search", params={"query": f"to:{address}",
                                                         "limit": 1}, timeout=10)
    return r.ok and r.json().get("messages_count", 0) > 0


def invitations_queued(rpc, engine) -> float:
    usernames = [f"chair{i}@bench.example.ru" for i in range(CHAIRS)]
    started = time.perf_counter()
    for start in range(0, CHAIRS, 2000):
        rpc.notify.queue_invitations(usernames[start:start + 2000], "chair")
    took = time.perf_counter() - started
    with engine.begin() as c:  # not asked of Keycloak: the bench's accounts do not exist
        queued = c.execute(text("UPDATE notify.message SET status = 'skipped', error = 'bench', "
                                "due_at = now() WHERE kind = 'invitation'")).rowcount
    assert queued >= CHAIRS * 0.99, queued
    return round(took, 2)


def delivery_rate(engine) -> float:
    _mailpit_clear()
    _queue(engine, DELIVERY, "d")
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        with engine.connect() as c:
            left = c.execute(text("SELECT count(*) FROM notify.message "
                                  "WHERE status = 'queued' AND kind <> 'invitation'")).scalar()
        if not left:
            break
        time.sleep(0.5)
    with engine.connect() as c:
        queued, first, last, sent = c.execute(text("""
            SELECT min(created_at), min(sent_at), max(sent_at),
                   count(*) FILTER (WHERE status = 'sent')
            FROM notify.message WHERE recipient LIKE 'd%@bench.example.ru'
        """)).one()
    # from the first send (the timer looks every SEND_INTERVAL_S: latency, not throughput)
    print(f"delivery: {sent} of {DELIVERY} sent in {(last - first).total_seconds():.1f} s, "
          f"{(last - queued).total_seconds():.1f} s from queued")
    return round(sent / (last - first).total_seconds(), 1)


def naive_rate(engine) -> float:
    """One connection per message, each recorded as the service records it; measured beside
    the running services like the service's figure (held, so that the service leaves them)."""
    _queue(engine, NAIVE, "n", status="held")
    db = Db(engine)
    conf = notify_settings()
    sender = smtp.envelope_sender(conf)
    with engine.connect() as c:
        rows = c.execute(text("SELECT id, recipient, kind, context FROM notify.message "
                              "WHERE recipient LIKE 'n%@bench.example.ru'")
                         ).mappings().all()
    started = time.perf_counter()
    for row in rows:
        with smtp.Mailer(conf) as mailer:
            mailer.send(sender, row["recipient"], smtp.build_bytes(
                conf, row["recipient"], render(row["kind"], row["context"]), f"m{row['id']}"))
        delivery._record(db, row["id"], "sent", "sent", 250)
    took = time.perf_counter() - started
    return round(len(rows) / took, 1)


def event_to_inbox(rpc, engine, primary: int) -> float:
    stop = threading.Event()

    def background() -> None:  # a steady stream of other mail, 100 a second
        n = 0
        while not stop.is_set():
            _queue(engine, 10, f"b{n}-")
            n += 1
            time.sleep(0.1)
    feeder = threading.Thread(target=background, daemon=True)
    feeder.start()
    samples = []
    try:
        for n in range(PROBES):
            c = card(1000 + n)
            email = f"probe{n}-{uuid.uuid4().hex[:6]}@bench.example.ru"
            data = {**{k: c[k] for k in ("surname", "first_name", "patronymic", "sex",
                                         "birth_date", "snils", "phone", "category",
                                         "job_category")},
                    "org_id": primary, "email": email, "pd_consent": True}
            began = time.perf_counter()
            rpc.membership.submit_application(data)
            while not _mailpit_has(email):
                if time.perf_counter() - began > 60:
                    break
                time.sleep(0.05)
            samples.append(time.perf_counter() - began)
            time.sleep(0.3)
    finally:
        stop.set()
        feeder.join()
    samples.sort()
    return round(samples[max(0, int(len(samples) * 0.95) - 1)], 2)


def invitations_naive(admin, conf) -> float:
    """One admin call per invitation (what sso.invite does for each), scaled to 72,000."""
    ids = []
    for i in range(KEYCLOAK_SAMPLE):
        name = f"naive{i}-{uuid.uuid4().hex[:6]}@bench.example.ru"
        ids.append(admin.create_user({"username": name, "email": name, "enabled": True}))
    started = time.perf_counter()
    for user_id in ids:
        accounts.invite(admin, user_id, conf)
    per_call = (time.perf_counter() - started) / len(ids)
    return round(per_call * CHAIRS, 1)


def main() -> None:
    url = fresh_database(DB, SCHEMAS)
    conf = sso_settings()
    admin = fresh_realm(conf)
    engine = create_engine(url)
    figures: dict[str, float] = {}
    with running_services(url, SERVICES, log_tag="notify-"), \
            ClusterProxy(nameko_config(AMQP_URI=BENCH_AMQP), timeout=300) as rpc:
        figures["invitations_72k_queued_s"] = invitations_queued(rpc, engine)
        figures["delivery_msgs_per_s"] = delivery_rate(engine)
        figures["delivery_naive_msgs_per_s"] = naive_rate(engine)
        ids = build_tree(rpc.registry.create_organization)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # membership's read model of the tree
            with engine.connect() as c:
                if c.execute(text("SELECT count(*) FROM membership.org")).scalar() >= len(ids):
                    break
            time.sleep(0.5)
        figures["event_to_inbox_p95_s"] = event_to_inbox(rpc, engine, ids["primary"])
    figures["invitations_naive_72k_s"] = invitations_naive(admin, conf)
    engine.dispose()
    print_figures(figures, GOALS)


if __name__ == "__main__":
    main()
