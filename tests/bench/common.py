"""What every benchmark needs: its own database, the services as real processes, percentiles."""

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import psutil
import requests
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[2]
# the gateways a bench starts need the portal's secrets (they have no default); the load comes
# from one address, so the rate limits are set past what a bench sends
os.environ.setdefault("PORTAL_SECRET", secrets.token_urlsafe(32))
os.environ.setdefault("PORTAL_CSRF_SECRET", secrets.token_urlsafe(32))
for _rule in ("join", "signin", "transfer", "register", "lookup"):
    os.environ.setdefault(f"GATEWAY_RATE_{_rule.upper()}_ADDRESS", "10000000/minute")
    os.environ.setdefault(f"GATEWAY_RATE_{_rule.upper()}_TARGET", "10000000/minute")
BASE_URL = os.environ.get("DATABASE_URL", "postgresql+psycopg://127.0.0.1:5432/reestr")
# the harness's broker login (deploy/env.sh), on vhosts of its own
AMQP_BASE = os.environ.get("HARNESS_AMQP_BASE", "pyamqp://127.0.0.1:5672")
# a bench run beside another (a shared machine) names its own vhost and port
BENCH_AMQP = f"{AMQP_BASE}/{os.environ.get('BENCH_AMQP_VHOST', 'reestr_bench')}"
BENCH_HTTP = os.environ.get("BENCH_HTTP_ADDRESS", "127.0.0.1:18100")
PASSWORD = "Bench-password-1"
SCHEMAS = ("registry", "membership", "cards", "reports", "notify", "library", "events")
BENCH_BUCKET = "reestr-cards-bench"
SERVICES = {"registry": "services.registry.service:RegistryService",
            "membership": "services.membership.service:MembershipService",
            "cards": "services.cards.service:CardsService",
            "reports": "services.reports.service:ReportsService",
            "sso": "services.sso.service:SsoService",
            "notify": "services.notify.service:NotifyService",
            "library": "services.library.service:LibraryService",
            "events": "services.events.service:EventsService",
            "gateway": "gateway.service:GatewayService"}


def db_url(name: str) -> str:
    return BASE_URL.rsplit("/", 1)[0] + "/" + name


def fresh_database(name: str, services: tuple[str, ...]) -> str:
    from sqlalchemy.exc import ProgrammingError

    from services.common.migrations import upgrade

    admin = create_engine(BASE_URL, isolation_level="AUTOCOMMIT")
    for attempt in range(10):
        try:
            with admin.connect() as conn:
                conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                conn.execute(text(f"CREATE DATABASE {name}"))
            break
        except ProgrammingError:  # an autovacuum worker of the last run: not ours to end
            if attempt == 9:
                raise
            time.sleep(3)
    admin.dispose()
    url = db_url(name)
    for service in services:
        upgrade(service, url)
    return url


@contextmanager
def running_services(database_url: str, services: dict[str, str], instances: int = 1,
                     procs_out: dict[str, list[subprocess.Popen]] | None = None,
                     log_tag: str = ""):
    """Start `name -> module:Class` as `nameko run` processes; wait for the gateway.

    `instances` processes of each service: instances of a service consume one RPC queue (and
    one queue per event handler) on the broker, which hands messages out round-robin; gateway
    instances share the one port (eventlet listens with SO_REUSEPORT: the kernel spreads the
    connections). `procs_out`, if given, receives the processes by service name; `log_tag`
    names their logs apart from other benches' (var/log/bench-<tag><name>[-n].log)."""
    env = dict(os.environ, DATABASE_URL=database_url, AMQP_URI=BENCH_AMQP,
               KEYCLOAK_REALM=os.environ["KEYCLOAK_REALM"],
               WEB_SERVER_ADDRESS=BENCH_HTTP, PSYCOPG_WAIT_FUNC="wait_selector",
               CARDS_BUCKET=BENCH_BUCKET,
               LOG_LEVEL=os.environ.get("BENCH_LOG_LEVEL", "WARNING"))
    log_dir = ROOT / "var" / "log"
    log_dir.mkdir(parents=True, exist_ok=True)
    procs = []
    for name, target in services.items():
        for n in range(1, instances + 1):
            suffix = "" if n == 1 else f"-{n}"
            log = open(log_dir / f"bench-{log_tag}{name}{suffix}.log", "w")  # noqa: SIM115 - lives with the process
            proc = subprocess.Popen(
                [str(Path(sys.executable).parent / "nameko"), "run", "--config",
                 str(ROOT / "deploy" / "nameko.yml"), target],
                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                cwd=ROOT)
            procs.append(proc)
            if procs_out is not None:
                procs_out.setdefault(name, []).append(proc)
    try:
        gateways = instances if "gateway" in services else 0
        deadline = time.monotonic() + 60 + 30 * (instances - 1)
        last = ""
        while True:
            try:  # a service still starting makes /healthz wait for its RPC timeout
                health = requests.get(f"http://{BENCH_HTTP}/healthz", timeout=10)
                last = health.text[:500]
                if health.status_code == 200 \
                        and listeners(int(BENCH_HTTP.rsplit(":", 1)[1])) >= gateways:
                    break
            except requests.RequestException as exc:
                last = str(exc)[:500]
            if time.monotonic() > deadline:
                raise RuntimeError(f"services did not start (/healthz: {last}); see "
                                   "var/log/bench-*.log")
            time.sleep(0.3)
        drained()
        settle()
        yield f"http://{BENCH_HTTP}"
    finally:
        for p in procs:
            # a bench may have killed one on purpose (a crash drill)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)


def drained(at_most_s: float = 1800.0) -> None:
    """Wait until the bench vhost's queues are empty: a data set loaded with a service away
    leaves its events queued (notify: a national load's `cards_changed`), and a figure should
    not be the services working through them."""
    from urllib.parse import quote

    api = requests.Session()
    api.auth = (os.environ.get("RABBIT_ADMIN_USER", ""),
                os.environ.get("RABBIT_ADMIN_PASSWORD", ""))
    base = os.environ.get("RABBIT_MGMT_URL", "http://127.0.0.1:15672")
    vhost = quote(BENCH_AMQP.rsplit("/", 1)[1], safe="")
    deadline, told = time.monotonic() + at_most_s, 0.0
    while time.monotonic() < deadline:
        queues = api.get(f"{base}/api/queues/{vhost}?columns=name,messages", timeout=10).json()
        # the work queued for services; a live caller's reply queue comes and goes
        waiting = {q["name"]: q["messages"] for q in queues
                   if q.get("messages") and not q["name"].startswith("rpc.reply-")}
        if not waiting:
            return
        if time.monotonic() - told > 30:
            print(f"waiting for queued messages to be handled: {waiting}", flush=True)
            told = time.monotonic()
        time.sleep(2)
    print("queues not drained in time; the figures include that work", flush=True)


def settle(busy_below: float = 25.0, at_most_s: float = 30.0) -> None:
    """Wait until the machine is quiet: services answer before they are done starting (imports,
    a spare load worker, Keycloak's first logins), and a figure should not count that."""
    deadline = time.monotonic() + at_most_s
    while psutil.cpu_percent(interval=1.0) >= busy_below and time.monotonic() < deadline:
        pass


def listeners(port: int) -> int:
    """Sockets listening on this TCP port (one per gateway instance: SO_REUSEPORT)."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(FileNotFoundError), open(table) as f:
            for line in f.readlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                count += state == "0A" and int(local.rsplit(":", 1)[1], 16) == port
    return count


def empty_bucket(name: str):
    """The cards bucket `name`, made if missing, without the files of an earlier run."""
    from services.cards.settings import CardsSettings
    from services.cards.storage import Bucket

    bucket = Bucket(CardsSettings(cards_bucket=name))
    bucket.ensure()
    for key in list(bucket.keys("")):
        if not key.endswith("/"):
            bucket.client.delete_object(Bucket=bucket.name, Key=key)
    return bucket


def p95(samples_ms: list[float]) -> float:
    ordered = sorted(samples_ms)
    return round(ordered[max(0, int(len(ordered) * 0.95) - 1)], 2)


def timed_ms(fn) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def fresh_realm(conf):
    """The benchmark's own Keycloak realm, provisioned from code as production's is."""
    from services.sso import realm
    from services.sso.keycloak import admin_client

    admin = admin_client(conf)
    with contextlib.suppress(Exception):  # not there yet
        admin.delete_realm(conf.keycloak_realm)
    realm.provision(admin, conf)
    return admin


def make_user(admin, email: str, role: str, org_ids=()) -> str:
    user_id = admin.create_user({"username": email, "email": email, "enabled": True,
                                 "emailVerified": True, "firstName": "Б", "lastName": "Бенчмарк",
                                 "attributes": {"org_ids": [str(i) for i in org_ids]},
                                 "credentials": [{"type": "password", "value": PASSWORD,
                                                  "temporary": False}]})
    admin.assign_realm_roles(user_id, [admin.get_realm_role(role)])
    return user_id


def access_token(conf, username: str) -> str:
    r = requests.post(f"{conf.issuer}/protocol/openid-connect/token", data={
        "grant_type": "password", "client_id": "reestr-cli", "username": username,
        "password": PASSWORD}, timeout=30)
    r.raise_for_status()
    return r.json()["access_token"]


def print_figures(figures: dict[str, float], goals: dict[str, float]) -> None:
    """A table of the figures beside their goals, then the figures as one JSON line (last)."""
    print(f"{'figure':<30}{'measured':>12}{'goal':>8}")
    for key, value in figures.items():
        print(f"{key:<30}{value:>12}{goals.get(key, ''):>8}")
    print(json.dumps(figures))
