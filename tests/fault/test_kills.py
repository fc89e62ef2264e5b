"""Each service, PostgreSQL, RabbitMQ and the object store killed in the middle of real work:
member registrations by concurrent clients, a member import, report submissions, the vendor's
card responses being applied, chairs named in passports. The services run as `nameko run`
processes of their own (database, vhost, gateway port, bucket) and a service is SIGKILLed, so
nothing gets to shut down cleanly.

Afterwards every change a client got a 2xx for is there exactly once; a change that got an
error is there at most once, and the client's retry (same request) lands on the one-person-
one-record rule (409), the report's lock (409) or an import's "unchanged" rows, not on a second
record; every read model agrees with its source; and every client heard back within
ANSWER_WITHIN_S: a 2xx, the expected refusal, or a 503 with a Russian message and Retry-After
(no answer at all only while the gateway itself was down).
"""

import os
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import eventlet
import pytest
from sqlalchemy import create_engine, text

from services.cards.settings import CardsSettings
from services.cards.storage import Bucket
from services.cards.vendor_sim import answer as vendor_answers
from services.common.db import make_engine
from tests.bench.common import SCHEMAS
from tests.conftest import ADMIN_URL, AMQP, TEST_DB, Api, empty_all, password_grant
from tests.factories import build_tree, members_csv, person
from tests.support import faults
from tests.support.consistency import disagreements, missing_chair_accounts
from tests.support.faults import Answer, judge, timed, until_final, wait_until

pytestmark = pytest.mark.fault

DB = TEST_DB + "_procs"
PROCS_AMQP = os.environ.get("TEST_FAULTS_AMQP_URI", AMQP.rsplit("/", 1)[0] + "/reestr_faults")
ADDRESS = os.environ.get("TEST_FAULTS_GATEWAY_ADDRESS", "127.0.0.1:18400")
BUCKET = os.environ["CARDS_BUCKET"] + "-procs"
DAY = "2026-10-01"
PRIMARY, RIGHTS, UNDER_RIGHTS, OTHER_REGION = 5, 7, 8, 9  # tests.factories.build_tree's ids
# the university's report sums its college's: the college submits first
REPORT_ORGS = (PRIMARY, UNDER_RIGHTS, RIGHTS, OTHER_REGION)
# an answer on the way to one of these is what a service restarting looks like to a client
PROBES = {"registry": "/api/v1/organizations?q=probe", "membership": "/api/v1/members?limit=1",
          "cards": "/api/v1/cards?limit=1", "reports": f"/api/v1/reports/forms?day={DAY}",
          "sso": "/healthz", "notify": "/healthz", "library": "/healthz", "events": "/healthz",
          "gateway": "/healthz"}


@dataclass
class Cluster:
    procs: faults.ServiceProcesses
    engine: object
    keycloak: object
    tokens: dict[str, str] = field(default_factory=dict)

    def sign_in(self) -> None:
        """Fresh tokens before the work: Keycloak is not what is shaken here (and a renewal
        in the middle of it would be)."""
        for user in ("admin", "chair"):
            self.tokens[user] = password_grant(self.keycloak, f"{user}@test.reestr")[
                "access_token"]

    def api(self, user: str = "admin") -> Api:
        return Api(self.tokens.__getitem__, user, f"http://{ADDRESS}")

    def ready(self, timeout: float = 90) -> bool:
        api = self.api()
        return all(wait_until(lambda p=p: api.get(p, timeout=10).status_code == 200, timeout)
                   for p in set(PROBES.values()))


@pytest.fixture(scope="module")
def cluster(keycloak) -> Iterator[Cluster]:
    from services.common.migrations import upgrade

    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {DB}"))
    admin.dispose()
    url = ADMIN_URL.rsplit("/", 1)[0] + "/" + DB
    for service in SCHEMAS:
        upgrade(service, url)
    vhost = PROCS_AMQP.rsplit("/", 1)[1]  # its own: the in-process services use the tests' one
    faults.rabbitmqctl("add_vhost", vhost)
    faults.rabbitmqctl("set_permissions", "-p", vhost, "reestr", ".*", ".*", ".*")
    # the processes log in as the admin to their own database, not as the in-process
    # services' runtime logins of the tests' one
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATABASE_URL_")}
    env = dict(env, DATABASE_URL=url, AMQP_URI=PROCS_AMQP, WEB_SERVER_ADDRESS=ADDRESS,
               CARDS_BUCKET=BUCKET, OUTBOX_INTERVAL_S="0.2", RESPONSE_POLL_S="0.5",
               LOG_LEVEL="WARNING")
    procs = faults.ServiceProcesses(env)
    engine = make_engine(url, pool_size=3)
    procs.start_all()
    try:
        c = Cluster(procs, engine, keycloak)
        c.sign_in()
        assert c.ready(), "the services did not start; see var/log/fault-*.log"
        yield c
    finally:
        procs.stop_all()
        engine.dispose()


def bucket() -> Bucket:
    return Bucket(CardsSettings(cards_bucket=BUCKET))


# ---- the work going on when something is killed ----


@dataclass
class Work:
    """What the clients did and heard."""

    answers: list[Answer] = field(default_factory=list)
    persons: list[int] = field(default_factory=list)     # registered one by one (card(n))
    imported: list[int] = field(default_factory=list)
    reports: list[int] = field(default_factory=list)
    chairs: dict[int, str] = field(default_factory=dict)
    batch_cards: int = 0
    batch_prefix: str = ""


def prepare(c: Cluster, work: Work) -> None:
    """An empty registry, the test tree, cards ordered automatically in the chair's region, a
    batch of cards with the vendor, reports ready to submit."""
    empty_all(c.engine)
    # earlier tests' files stay in the bucket (deleting objects one by one takes seconds each
    # under eventlet): they count as seen, and batches are numbered apart from theirs
    old = [k for k in bucket().keys("inbound/") if k.endswith(".csv")]
    with c.engine.begin() as conn:
        conn.execute(text("SELECT setval('cards.batch_id_seq', :n)"),
                     {"n": int(time.time() * 10) % 10**8})
        conn.execute(text(
            "INSERT INTO cards.response_file (object_key, sha256, status, problem) "
            "SELECT k, '', 'refused', 'an earlier test' FROM unnest(CAST(:k AS text[])) k "
            "ON CONFLICT DO NOTHING"), {"k": old})
    c.sign_in()
    api = c.api()
    build_tree(lambda d: api.post("/api/v1/organizations",
                                  json={**d, "included_on": "2020-01-01"}).json())
    assert api.put("/api/v1/regions/2/card-policy", json={"auto_request": True}).ok

    def tree_copied() -> bool:
        with c.engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM membership.org")).scalar() == 9
    assert wait_until(tree_copied, 30)
    for n in range(1, 9):  # cards for the vendor: made by the region's policy
        r = api.post(f"/api/v1/organizations/{RIGHTS}/members", json=person(n))
        assert r.status_code == 201, r.text

    def ordered() -> bool:
        with c.engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM cards.card")).scalar() == 8
    assert wait_until(ordered, 30)
    (batch,) = api.post("/api/v1/card-batches", params={"region_id": 2}).json()
    assert batch["status"] == "sent", batch
    work.batch_cards, work.batch_prefix = batch["cards"], batch["object_prefix"]
    for org_id in REPORT_ORGS:
        r = api.post(f"/api/v1/organizations/{org_id}/reports",
                     json={"family": "stat", "day": DAY})
        assert r.status_code == 201, r.text
        rid = r.json()["id"]
        r = api.patch(f"/api/v1/reports/{rid}", json={"values": {"20": 40, "22": 2, "23": 0}})
        assert r.status_code == 200, r.text
        work.reports.append(rid)


def register_until_stopped(c: Cluster, work: Work, writer: int, stop: eventlet.Event) -> None:
    api = c.api("chair")
    n = 1000 * (writer + 1)
    while not stop.ready():
        n += 1
        work.persons.append(n)
        work.answers += until_final(f"registration {n}", lambda n=n: timed(
            f"registration {n}", api.post, f"/api/v1/organizations/{PRIMARY}/members",
            json=person(n)))
        eventlet.sleep(0.05)


def run_work(c: Cluster, work: Work, fault: Callable[[], None], run: str) -> None:
    """Clients at work; `fault` is done (and undone) in the middle of it."""
    api, chair = c.api(), c.api("chair")
    stop = eventlet.Event()
    pool = eventlet.GreenPool()
    for writer in range(3):
        pool.spawn(register_until_stopped, c, work, writer, stop)
    work.imported = list(range(5001, 5101))
    pool.spawn(lambda: work.answers.extend(until_final("import", lambda: timed(
        "import", chair.post, f"/api/v1/organizations/{PRIMARY}/members/import",
        files={"file": ("члены.csv", members_csv(work.imported))}))))

    def submit_reports() -> None:
        for rid in work.reports:
            work.answers.extend(until_final(f"report {rid}", lambda rid=rid: timed(
                f"report {rid}", api.post, f"/api/v1/reports/{rid}/submit")))
            eventlet.sleep(0.3)

    def vendor_answers_and_operator_reads() -> None:
        # the vendor answers (every file twice); the cards service's timer reads them
        vendor_answers(bucket(), work.batch_prefix, random.Random(1), 0.3, repeat=True)
        eventlet.sleep(0.5)
        work.answers.extend(until_final("responses", lambda: timed(
            "responses", api.post, "/api/v1/card-batches/responses")))

    def name_chairs() -> None:
        for org_id in REPORT_ORGS:
            email = f"chair-{run}-{org_id}@fault.reestr"
            work.chairs[org_id] = email
            work.answers.extend(until_final(f"chair {org_id}", lambda o=org_id, e=email: timed(
                f"chair {o}", api.patch, f"/api/v1/organizations/{o}",
                json={"chair": {"surname": "Фаултова", "first_name": "Ирина", "email": e}})))
            eventlet.sleep(0.3)

    pool.spawn(submit_reports)
    pool.spawn(vendor_answers_and_operator_reads)
    pool.spawn(name_chairs)
    eventlet.sleep(0.7)
    fault()
    assert c.ready(), "the platform did not come back"
    eventlet.sleep(0.5)  # some work after the comeback too
    stop.send()
    pool.waitall()


def check(c: Cluster, work: Work, gateway_down: bool, admin) -> None:
    # an import killed halfway is done again from the start by the restarted service: its
    # client waits for that, not only for one RPC's timeout
    judge([a for a in work.answers if a.what != "import"], {
        200: set(), 201: set(), 409: {"person_registered", "report_locked"}}, gateway_down)
    judge([a for a in work.answers if a.what == "import"], {200: set()}, gateway_down,
          within=faults.IMPORT_WITHIN_S)
    # the clients' retries reached a final answer for everything they sent
    with c.engine.connect() as conn:
        snils = {s for (s,) in conn.execute(text("SELECT snils FROM membership.member"))}
    expected = {person(n)["snils"] for n in work.persons + work.imported}
    assert expected <= snils, f"lost: {len(expected - snils)} of {len(expected)}"
    with c.engine.connect() as conn:
        extra = conn.execute(text("SELECT count(*) FROM membership.member WHERE org_id = :o"),
                             {"o": PRIMARY}).scalar() - len(expected)
        assert extra == 0, f"{extra} members nobody registered"
        submitted = conn.execute(text("SELECT count(*) FROM reports.report "
                                      "WHERE status = 'submitted'")).scalar()
        assert submitted == len(work.reports)
    imports = [a for a in work.answers if a.what == "import" and a.accepted]
    assert imports and imports[-1].body["errors_total"] == 0

    def vendor_applied() -> bool:  # every card of the batch heard back from the vendor
        with c.engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM cards.card WHERE status IN "
                                     "('delivered', 'refused')")).scalar() == work.batch_cards


    def converged() -> bool:
        return vendor_applied() and not disagreements(c.engine)
    if not wait_until(converged, 60):
        assert vendor_applied(), "the vendor's responses were not all applied"
        assert not disagreements(c.engine)
    assert wait_until(lambda: not missing_chair_accounts(c.engine, admin), 60), \
        missing_chair_accounts(c.engine, admin)


@pytest.fixture
def sso_admin(keycloak):
    from services.sso.keycloak import admin_client

    return admin_client(keycloak)


def forget_chairs(admin, work: Work) -> None:
    from services.sso.accounts import find_user

    for email in work.chairs.values():
        if user := find_user(admin, email):
            admin.delete_user(user["id"])


def kill_and_start(c: Cluster, name: str) -> Callable[[], None]:
    def fault() -> None:
        c.procs.kill(name)
        eventlet.sleep(0.5)  # down for a moment: requests meanwhile wait in its queue
        c.procs.start(name)
    return fault


@pytest.mark.parametrize("service", list(faults.SERVICES))
def test_service_killed_mid_work(cluster, sso_admin, service):
    work = Work()
    prepare(cluster, work)
    try:
        run_work(cluster, work, kill_and_start(cluster, service), f"{service}-{time.time():.0f}")
        check(cluster, work, service == "gateway", sso_admin)
    finally:
        forget_chairs(sso_admin, work)


def test_database_restarted_mid_work(cluster, sso_admin):
    work = Work()
    prepare(cluster, work)
    try:
        run_work(cluster, work, faults.restart_database, f"db-{time.time():.0f}")
        check(cluster, work, False, sso_admin)
    finally:
        forget_chairs(sso_admin, work)


def test_broker_restarted_mid_work(cluster, sso_admin):
    work = Work()
    prepare(cluster, work)

    def fault() -> None:
        with faults.broker_stopped():
            eventlet.sleep(2)
    try:
        run_work(cluster, work, fault, f"broker-{time.time():.0f}")
        check(cluster, work, False, sso_admin)
    finally:
        forget_chairs(sso_admin, work)
