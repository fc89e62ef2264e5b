"""Faults on the national data set (for `make bench-national`): faults_lost, faults_duplicated.

The services run as `nameko run` processes on the national database (tests/support/faults.py
ServiceProcesses). For each fault in turn (each service SIGKILLed and started again, RabbitMQ
stopped and started, PostgreSQL restarted, the object store and Keycloak stopped and started)
clients work through the gateway while it happens: chairs register members one by one, a chair
imports a file of members, reports of a region are submitted bottom-up, the vendor answers a
batch of cards and an operator asks for the responses to be read. Clients retry after a
retryable error (tests.support.faults.until_final), as a client should.

Afterwards, once the outboxes are empty:
- faults_lost: registrations and imported people a client got a 2xx for that are not on the
  register, reports whose submission was accepted that are not submitted, cards of the batch
  the vendor never got applied;
- faults_duplicated: people with two records, registrations announced twice, members with two
  cards, a card's step recorded twice, reports submitted twice (tests.support.consistency);
- faults_read_models_off: rows where a read model disagrees with its source (membership's tree
  against the registry's, members' card numbers against the cards in force, cards against their
  members' organizations);
- faults_unclear: answers that were neither what the request should get nor a clear retryable
  error (503 with a Russian message and Retry-After); faults_slowest_s: the longest wait for an
  answer (the gateway gives up on a service after 30 s).
The fault tests (tests/fault/) check the same on the tests' small tree; this is the national
scale, with millions of rows in the tables the checks read.
"""

import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests
from sqlalchemy import Engine, text

from services.cards.settings import CardsSettings
from services.cards.storage import Bucket
from services.cards.vendor_sim import answer as vendor_answers
from services.cards.vendor_sim import batches_to_answer
from services.common.db import make_engine
from services.sso.keycloak import admin_client
from services.sso.settings import sso_settings
from tests.bench import dataset
from tests.bench.common import access_token, make_user
from tests.factories import members_csv, person
from tests.support import faults
from tests.support.consistency import CHECKS
from tests.support.faults import Answer, retryable, timed, until_final, wait_until

# snils(n) of the registrations here: far above the national file's and the load test's
FIRST_PERSON = 700_000_000
WRITERS = 4
DUPLICATES = ["one person, two records", "a registration announced twice",
              "a member with two cards", "a card's step recorded twice",
              "a report submitted twice"]
READ_MODELS = ["membership's tree differs from the registry's",
               "a member's card number is not the card in force",
               "a card in force is not where its member is"]
EXPECTED = {200: set(), 201: set(), 409: {"person_registered", "report_locked"}}


@dataclass
class Work:
    answers: list[Answer] = field(default_factory=list)
    persons: list[int] = field(default_factory=list)
    imported: list[int] = field(default_factory=list)
    submitted: list[int] = field(default_factory=list)
    first_batch: int = 0         # batches after this one were made during the run
    lock: threading.Lock = field(default_factory=threading.Lock)

    def heard(self, answers: list[Answer]) -> None:
        with self.lock:
            self.answers += answers


class Client:
    """The gateway as a client with a token sees it; the token renewed before it expires (a
    Keycloak that is away meanwhile leaves the one it has)."""

    RENEW_AFTER_S = 120

    def __init__(self, base: str, username: str) -> None:
        self.base, self.username, self.http = base, username, requests.Session()
        self.renewed = 0.0
        self.renew()

    def renew(self) -> None:
        try:
            token = access_token(sso_settings(), self.username)
        except requests.RequestException:
            if not self.renewed:
                raise
            return
        self.http.headers["Authorization"] = f"Bearer {token}"
        self.renewed = time.monotonic()

    def send(self, what: str, method: str, path: str, **kw: Any) -> list[Answer]:
        if time.monotonic() - self.renewed > self.RENEW_AFTER_S:
            self.renew()
        # a server restarted by up.sh (the object store, Keycloak) takes up to half a minute
        return until_final(what, lambda: timed(what, getattr(self.http, method),
                                               self.base + path, **kw), attempts=200)


def env(url: str) -> dict[str, str]:
    return dict(os.environ, DATABASE_URL=url, AMQP_URI=dataset.AMQP,
                WEB_SERVER_ADDRESS=dataset.HTTP, CARDS_BUCKET=dataset.BUCKET,
                PSYCOPG_WAIT_FUNC="wait_selector", OUTBOX_INTERVAL_S="0.5",
                RESPONSE_POLL_S="1", LOG_LEVEL="WARNING")


def the_faults(procs: faults.ServiceProcesses) -> list[tuple[str, Callable[[], None]]]:
    def kill(name: str) -> Callable[[], None]:
        def fault() -> None:
            procs.kill(name)
            time.sleep(2)
            procs.start(name)
        return fault

    def broker() -> None:
        with faults.broker_stopped():
            time.sleep(5)

    def started_by_up(name: str) -> Callable[[], None]:
        def fault() -> None:
            faults.stop_started_by_up(name)
            time.sleep(5)
            faults.infra_up()
        return fault

    return [*((name, kill(name)) for name in faults.SERVICES),
            ("rabbitmq", broker), ("postgresql", faults.restart_database),
            ("object store", started_by_up("s3proxy")), ("keycloak", started_by_up("keycloak"))]


class Scene:
    """The organizations the clients work in: a primary of a region that orders a card for
    every new member, and a region whose statistical reports of 1 April are submitted."""

    def __init__(self, engine: Engine, base: str) -> None:
        with engine.connect() as conn:
            self.primary, self.region = conn.execute(text("""
                SELECT o.id, o.region_id FROM registry.organization o
                WHERE o.level = 'primary' AND o.excluded_on IS NULL
                  AND NOT o.territorial_rights ORDER BY o.id LIMIT 1""")).one()
            self.reports = list(conn.execute(text("""
                SELECT id FROM reports.report WHERE day = '2026-04-01' AND family = 'stat'
                  AND status = 'draft' AND region_id = (
                      SELECT region_id FROM reports.report WHERE day = '2026-04-01'
                        AND family = 'stat' AND region_id IS NOT NULL
                      GROUP BY region_id ORDER BY count(*), region_id LIMIT 1)
                ORDER BY nlevel(path) DESC, id""")).scalars())
        kc = admin_client(sso_settings())
        for username, role, orgs in (("fault-chair@national.bench", "chair", [self.primary]),
                                     ("fault-admin@national.bench", "central_admin", [])):
            if not kc.get_user_id(username):
                make_user(kc, username, role, orgs)
        self.chair = Client(base, "fault-chair@national.bench")
        self.admin = Client(base, "fault-admin@national.bench")


def fill_reports(scene: Scene, rng: random.Random) -> None:
    """The hand-entered lines typed in before the faults: submitting is what is tried during."""
    for rid in scene.reports:
        (got,) = [a for a in scene.admin.send("report", "get", f"/api/v1/reports/{rid}")
                  if a.accepted] or [None]
        if got and (values := dataset.manual_values(got.body["indicators"], rng)):
            scene.admin.send("fill", "patch", f"/api/v1/reports/{rid}", json={"values": values})


def one_round(scene: Scene, work: Work, fault: Callable[[], None], first: int,
              reports: list[int]) -> None:
    """Clients at work while `fault` is done and undone."""
    stop = threading.Event()

    def register(writer: int) -> None:
        n = first + 1000 * writer
        while not stop.is_set():
            n += 1
            with work.lock:
                work.persons.append(n)
            work.heard(scene.chair.send(f"registration {n}", "post",
                                        f"/api/v1/organizations/{scene.primary}/members",
                                        json=person(n)))

    def import_file() -> None:
        ns = list(range(first + 900_000, first + 900_050))
        with work.lock:
            work.imported += ns
        work.heard(scene.chair.send("import", "post",
                                    f"/api/v1/organizations/{scene.primary}/members/import",
                                    files={"file": ("члены.csv", members_csv(ns))}))

    def submit() -> None:
        for rid in reports:
            answers = scene.admin.send(f"report {rid}", "post", f"/api/v1/reports/{rid}/submit")
            work.heard(answers)
            if answers[-1].accepted or answers[-1].code == "report_locked":
                with work.lock:
                    work.submitted.append(rid)

    def vendor() -> None:  # the vendor's side: it tries again while the store is away
        store = Bucket(CardsSettings(cards_bucket=dataset.BUCKET))
        deadline = time.monotonic() + 180
        while True:
            try:
                for prefix in batches_to_answer(store):
                    vendor_answers(store, prefix, random.Random(1), 0.05)
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)
        work.heard(scene.admin.send("responses", "post", "/api/v1/card-batches/responses"))

    threads = [threading.Thread(target=register, args=(w,)) for w in range(WRITERS)]
    threads += [threading.Thread(target=t) for t in (import_file, submit, vendor)]
    for t in threads:
        t.start()
    time.sleep(1)
    fault()
    assert wait_until(lambda: requests.get(f"http://{dataset.HTTP}/healthz", timeout=10).ok,
                      120), "the platform did not come back"
    time.sleep(1)
    stop.set()
    for t in threads:
        t.join(timeout=300)


def order_batch(scene: Scene, work: Work) -> None:
    """The cards the region ordered for the members registered in the last round go to the
    vendor as a batch, answered during this round's fault."""
    work.heard(scene.admin.send("batch", "post", "/api/v1/card-batches",
                                params={"region_id": scene.region}))


def count(engine: Engine, names: list[str]) -> dict[str, int]:
    out = {}
    with engine.connect() as conn:
        for name in names:
            out[name] = conn.execute(text(f"SELECT count(*) FROM ({CHECKS[name]}) AS c")
                                     ).scalar_one()
    return out


def tally(engine: Engine, work: Work) -> dict[str, Any]:
    expected = {person(n)["snils"] for n in work.persons + work.imported}
    accepted_people = {person(int(a.what.split()[1]))["snils"] for a in work.answers
                       if a.what.startswith("registration") and a.accepted}
    with engine.connect() as conn:
        present = set(conn.execute(text("SELECT snils FROM membership.member WHERE "
                                        "snils = ANY(:s)"), {"s": list(expected)}).scalars())
        not_submitted = conn.execute(text(
            "SELECT count(*) FROM reports.report WHERE id = ANY(:ids) AND status <> "
            "'submitted'"), {"ids": work.submitted}).scalar_one()
        batches_open = conn.execute(text(
            "SELECT count(*) FROM cards.card WHERE batch_id > :b AND status = 'batched'"),
            {"b": work.first_batch}).scalar_one()
    imports_ok = [a for a in work.answers if a.what == "import" and a.accepted]
    imported = {person(n)["snils"] for n in work.imported} if imports_ok else set()
    lost = len((accepted_people | imported) - present) + not_submitted + batches_open
    twice = count(engine, DUPLICATES)
    off = count(engine, READ_MODELS)
    unclear = [a for a in work.answers
               if not (a.status in EXPECTED and (not EXPECTED[a.status]
                                                 or a.code in EXPECTED[a.status]))
               and not retryable(a, gateway_down=True)]
    return {"faults_lost": lost, "faults_duplicated": sum(twice.values()),
            "faults_read_models_off": sum(off.values()), "faults_unclear": len(unclear),
            "faults_slowest_s": round(max((a.seconds for a in work.answers), default=0), 1),
            "faults_requests": len(work.answers),
            "faults_retried": sum(1 for a in work.answers if a.status in (None, 503)),
            "faults_registrations": len(accepted_people), "faults_submitted": len(work.submitted),
            "duplicates": twice, "read_models": off,
            "unclear_examples": [f"{a.what}: {a.status} {a.error} {a.body}"
                                 for a in unclear[:5]]}


def settled(engine: Engine) -> bool:
    with engine.connect() as conn:
        return not conn.execute(text(CHECKS["events left unpublished"])).first()


def run(url: str, seed: int = 9) -> dict[str, Any]:
    procs = faults.ServiceProcesses(env(url), "national-fault")
    engine = make_engine(url, pool_size=2)
    rng = random.Random(seed)
    work = Work()
    procs.start_all()
    try:
        assert wait_until(lambda: requests.get(f"http://{dataset.HTTP}/healthz",
                                               timeout=10).ok, 120), "services did not start"
        base = f"http://{dataset.HTTP}"
        scene = Scene(engine, base)
        scene.admin.send("policy", "put", f"/api/v1/regions/{scene.region}/card-policy",
                         json={"auto_request": True})
        fill_reports(scene, rng)
        with engine.connect() as conn:
            work.first_batch = conn.execute(text(
                "SELECT coalesce(max(id), 0) FROM cards.batch")).scalar_one()
        rounds = the_faults(procs)
        per_round = -(-len(scene.reports) // len(rounds))
        for i, (name, fault) in enumerate(rounds):
            order_batch(scene, work)
            started = time.monotonic()
            one_round(scene, work, fault, FIRST_PERSON + 10_000_000 * i + rng.randrange(10**6),
                      scene.reports[i * per_round:(i + 1) * per_round])
            print(f"  fault: {name:<13} {time.monotonic() - started:5.1f} s, "
                  f"{len(work.answers)} answers so far", flush=True)
        wait_until(lambda: settled(engine), 180)
        time.sleep(5)  # events published are handled by now
        return tally(engine, work)
    finally:
        procs.stop_all()
        engine.dispose()

