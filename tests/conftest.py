"""Test fixtures: a database and a RabbitMQ vhost of the tests' own, and the real services.

The services run in the test process (nameko's pytest plugin has monkey-patched eventlet already)
against real PostgreSQL and RabbitMQ over the network; nothing is faked.
"""

import eventlet

eventlet.monkey_patch()  # before anything opens a socket: the services run in this process

import os  # noqa: E402
import secrets  # noqa: E402
import signal  # noqa: E402
import time  # noqa: E402

import pytest  # noqa: E402

os.environ.setdefault("PSYCOPG_WAIT_FUNC", "wait_selector")


def _dump_greenlets(_signum: int, _frame: object) -> None:
    """`kill -USR1 <pytest>` prints every greenlet's stack to stderr: a hung run's py-spy
    shows only the greenlet on the CPU."""
    import gc
    import sys
    import traceback

    import greenlet

    for g in gc.get_objects():
        if isinstance(g, greenlet.greenlet) and g.gr_frame is not None:
            print(f"--- {g!r}", file=sys.stderr)
            traceback.print_stack(g.gr_frame, file=sys.stderr)
    sys.stderr.flush()


signal.signal(signal.SIGUSR1, _dump_greenlets)
TEST_DB = os.environ.get("TEST_DB_NAME", "reestr_test")


def _local_deploy_env() -> None:
    """pytest run by hand, not through `make test`: the local deploy's environment (its
    generated secrets) from deploy/env.sh, for what the caller has not set."""
    import shlex
    import subprocess
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "deploy" / "env.sh"
    out = subprocess.run(["bash", str(script)], capture_output=True, text=True, check=True)
    for line in out.stdout.splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        os.environ.setdefault(name, shlex.split(value)[0] if value else "")


if "HARNESS_AMQP_BASE" not in os.environ:
    _local_deploy_env()
# the deploy's database passwords are its main database's: the tests' logins get their own
for _name in [n for n in os.environ if n.startswith("PG_") and n.endswith("_PASSWORD")
              and n != "PG_PASSWORD"]:
    del os.environ[_name]
ADMIN_URL = os.environ["DATABASE_URL"]
TEST_URL = ADMIN_URL.rsplit("/", 1)[0] + "/" + TEST_DB
AMQP = os.environ["TEST_AMQP_URI"]
GATEWAY_ADDRESS = os.environ.get("TEST_GATEWAY_ADDRESS", "127.0.0.1:18000")
# every settings() read from here on (services, domain code) sees the test database and vhost
os.environ["DATABASE_URL"] = TEST_URL
os.environ["AMQP_URI"] = AMQP
os.environ["OUTBOX_INTERVAL_S"] = "0.2"
os.environ["KEYCLOAK_REALM"] = os.environ.get("TEST_KEYCLOAK_REALM", "reestr-test")
os.environ["CARDS_BUCKET"] = os.environ.get("TEST_CARDS_BUCKET", "reestr-cards-test")
os.environ["LIBRARY_BUCKET"] = os.environ.get("TEST_LIBRARY_BUCKET", "reestr-library-test")
os.environ["RESPONSE_POLL_S"] = "1"  # batches left unwritten are retried within a second
os.environ["PORTAL_URL"] = f"http://{GATEWAY_ADDRESS}"  # the portal's sign-ins return here
# the mail server (Mailpit: deploy/up.sh starts one; a run of one's own may name another)
SMTP_HOST = os.environ.get("TEST_SMTP_HOST", "127.0.0.1")
SMTP_PORT = os.environ.get("TEST_SMTP_PORT", "1025")
MAILPIT_API = os.environ.get("TEST_MAILPIT_API", "http://127.0.0.1:8025")
os.environ["SMTP_HOST"], os.environ["SMTP_PORT"] = SMTP_HOST, SMTP_PORT
os.environ["MAILPIT_API"] = MAILPIT_API
os.environ["SEND_INTERVAL_S"] = "0.3"  # the queue is looked at often
os.environ["RETRY_BASE_S"] = "0.5"  # a 4xx is tried again within a second, not half a minute
os.environ["TRANSFER_SWEEP_S"] = "1"  # a region's period for transfer requests is seen soon
# the portal's secrets have no default: new ones for every run (a test of the refusal to start
# without them runs a gateway with them removed)
os.environ["PORTAL_SECRET"] = secrets.token_urlsafe(32)
os.environ["PORTAL_CSRF_SECRET"] = secrets.token_urlsafe(32)
os.environ["MAILING_SECRET"] = secrets.token_urlsafe(32)
# every test comes from 127.0.0.1 and registers the same few people again and again: limits no
# test reaches; tests/security swaps in tight ones (gateway.ratelimit.use)
for _rule in ("join", "signin", "transfer", "register", "lookup"):
    os.environ[f"GATEWAY_RATE_{_rule.upper()}_ADDRESS"] = "1000000/minute"
    os.environ[f"GATEWAY_RATE_{_rule.upper()}_TARGET"] = "1000000/minute"
# membership counts refused transfer look-ups in its audit log, which no test can empty: the
# tests of that throttle set their own limit over what the log already holds
os.environ["TRANSFER_LOOKUP_LIMIT"] = "1000000"
PASSWORD = "Test-password-1"


def _trust_keys() -> str:
    """The bus's keys for this test run, made afresh: every principal's, in one directory."""
    import tempfile
    from pathlib import Path

    from services.common.trust import PRINCIPALS, generate_keys

    directory = Path(tempfile.mkdtemp(prefix="reestr-trust-")) / "keys"
    generate_keys(directory, list(PRINCIPALS))
    return str(directory)


os.environ["TRUST_KEYS_DIR"] = os.environ.get("TEST_TRUST_KEYS_DIR") or _trust_keys()


@pytest.fixture(scope="session")
def database() -> str:
    """The tests' database, made afresh, with each service's roles (random passwords): the
    in-process services run as their runtime logins (DATABASE_URL_<SERVICE>), as in production;
    the URL returned is the admin login's, for the tests' own reads and clean-ups."""
    import secrets

    from sqlalchemy import create_engine, make_url, text

    from services.common import db_roles
    from services.common.migrations import upgrade

    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {TEST_DB} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {TEST_DB}"))
    admin.dispose()
    logins = {db_roles.roles(TEST_DB, s).runtime: s for s in db_roles.SERVICES}
    passwords = {role: secrets.token_urlsafe(24) for role in logins}
    test_db = create_engine(TEST_URL)
    with test_db.begin() as conn:
        db_roles.apply(conn, db_roles.SERVICES, passwords)
    test_db.dispose()
    for service in db_roles.SERVICES:
        upgrade(service, TEST_URL)
    for role, service in logins.items():
        url = make_url(TEST_URL).set(username=role, password=passwords[role])
        os.environ[f"DATABASE_URL_{service.upper()}"] = url.render_as_string(hide_password=False)
    return TEST_URL


@pytest.fixture(scope="session")
def engine(database):
    from services.common.db import make_engine

    eng = make_engine(database, pool_size=5)
    yield eng
    eng.dispose()


def empty_all(engine) -> None:
    """Every service's tables emptied and their sequences restarted.

    The services keep running meanwhile, and the TRUNCATE locks the tables one by one, so it
    can close a cycle: with a periodic job reading two of them (PostgreSQL sees that deadlock
    and cancels one side), or with a job that holds a row of one schema while it waits for an
    RPC whose query waits for a table the TRUNCATE holds (notify starting a campaign: nobody
    sees that one). The TRUNCATE gives up after LOCK_TIMEOUT, releasing what it holds, and is
    run again."""
    import psycopg.errors
    from sqlalchemy.exc import OperationalError

    attempts = 30
    for attempt in range(attempts):
        try:
            return _truncate_all(engine)
        except OperationalError as exc:
            retry = (psycopg.errors.DeadlockDetected, psycopg.errors.LockNotAvailable)
            if not isinstance(exc.orig, retry) or attempt == attempts - 1:
                raise
            time.sleep(0.2)


def _truncate_all(engine) -> None:
    from sqlalchemy import text

    with engine.begin() as conn:
        conn.execute(text("SET LOCAL lock_timeout = '3s'"))
        conn.execute(text("TRUNCATE registry.organization, registry.organization_version, "
                          "registry.import_run, registry.outbox RESTART IDENTITY CASCADE"))
        conn.execute(text("ALTER SEQUENCE registry.organization_id_seq RESTART"))
        conn.execute(text("TRUNCATE membership.org, membership.member, membership.member_version,"
                          " membership.placement, membership.application, membership.import_run,"
                          " membership.outbox RESTART IDENTITY CASCADE"))
        conn.execute(text("TRUNCATE cards.card, cards.card_event, cards.batch, cards.region_code, "
                          "cards.response_file, cards.region_policy, cards.outbox "
                          "RESTART IDENTITY CASCADE"))
        conn.execute(text("TRUNCATE events.event, events.registration, events.checkin, "
                          "events.body, events.body_member, events.meeting, events.agenda_item,"
                          " events.attendance, events.protocol RESTART IDENTITY CASCADE"))
        conn.execute(text("TRUNCATE reports.snapshot, reports.snapshot_org, "
                          "reports.snapshot_count, reports.report, reports.report_event, "
                          "reports.quality_run, reports.outbox RESTART IDENTITY CASCADE"))
        conn.execute(text("TRUNCATE notify.handled_event, notify.message, notify.attempt, "
                          "notify.address, notify.opt_out, notify.digest_item, notify.sign_in, "
                          "notify.consent, notify.campaign, notify.mailing_setting "
                          "RESTART IDENTITY CASCADE"))
        conn.execute(text("TRUNCATE library.material, library.edition, library.upload, "
                          "library.history, library.usage RESTART IDENTITY CASCADE"))


@pytest.fixture
def clean(engine):
    """Every test that writes starts from an empty registry."""
    empty_all(engine)
    yield


@pytest.fixture
def session(engine, clean):
    from sqlalchemy.orm import Session

    with Session(engine) as s:
        yield s
        s.rollback()


def _nameko_config():
    from services.common.settings import nameko_config

    return nameko_config(WEB_SERVER_ADDRESS=GATEWAY_ADDRESS, max_workers=10)


NAMEKO_CONFIG = _nameko_config()


def _broker_admin():
    import requests

    api = requests.Session()
    api.auth = (os.environ.get("RABBIT_ADMIN_USER", ""),
                os.environ.get("RABBIT_ADMIN_PASSWORD", ""))
    api.base = os.environ.get("RABBIT_MGMT_URL", "http://127.0.0.1:15672")
    return api


@pytest.fixture(scope="session")
def bus_users() -> dict[str, str]:
    """Each principal's own broker user on the tests' vhost, with the least rights its code
    needs (services.common.bus_access) and a password of this run: AMQP URIs by principal."""
    import secrets
    from urllib.parse import quote, urlsplit

    from services.common.bus_access import grants, provision

    url = urlsplit(AMQP)
    vhost = url.path.lstrip("/")
    passwords = {g.user: secrets.token_urlsafe(18) for g in grants()}
    provision(_broker_admin(), vhost, passwords, prefix=f"{vhost}.")
    host = url.hostname + (f":{url.port}" if url.port else "")
    return {user: f"{url.scheme}://{quote(vhost + '.' + user, safe='')}:{pw}@{host}/{vhost}"
            for user, pw in passwords.items()}


@pytest.fixture(scope="session")
def services(database, bus_users):
    """The services and the gateway, running for real for the whole session, each with its
    own broker user, as in production."""
    from nameko.runners import ServiceRunner

    from services.common.bus_access import SERVICE_CLASSES, service_class

    runners = []
    for name in SERVICE_CLASSES:
        runner = ServiceRunner({**NAMEKO_CONFIG, "AMQP_URI": bus_users[name]})
        runner.add_service(service_class(name))
        runner.start()
        runners.append(runner)
    yield runners
    for runner in runners:
        _stop(runner)


STOP_WITHIN_S = 20


def _stop(runner) -> None:
    """Stop a service's runner, or kill it after STOP_WITHIN_S: a timer's worker may be
    waiting for the reply of a service stopped before it (membership's reconciliation asking
    the registry), which never comes; stop waits for running workers forever."""
    timeout = eventlet.Timeout(STOP_WITHIN_S)
    try:
        runner.stop()
    except eventlet.Timeout:
        runner.kill()
    finally:
        timeout.cancel()


@pytest.fixture
def rpc(services, bus_users):
    from services.common.trust import ClusterProxy

    # the operator, acting for itself, with its own broker user
    with ClusterProxy({**NAMEKO_CONFIG, "AMQP_URI": bus_users["operator"]}, timeout=60) as proxy:
        yield proxy


# Test users: who they are, their realm roles and the organizations they act for. The ids are
# those that tests.factories.build_tree gives in an emptied registry (sequences restart).
USERS = {
    "admin": ({"central_admin"}, []),
    "auditor": ({"auditor"}, []),
    "regional": ({"regional_staff"}, [2]),       # Пермская краевая
    "chair": ({"chair"}, [5]),                   # ППО СОШ № 1 (with a subdivision beneath)
    "chair2": ({"chair"}, [9]),                  # ППО in the other region
    "member": ({"member"}, []),
    "nobody": (set(), []),
}



@pytest.fixture
def signed_in(keycloak):
    """A browser-less portal session of a test user: signed_in("chair")."""
    from tests.support.portal import portal_session

    return lambda user: portal_session(keycloak, user)


@pytest.fixture(scope="session")
def keycloak():
    """The test realm in the real Keycloak, provisioned from code, with one user per role."""
    from services.sso import realm
    from services.sso.keycloak import admin_client
    from services.sso.settings import sso_settings

    conf = sso_settings()
    admin = admin_client(conf)
    realm.provision(admin, conf)
    for name, (roles, orgs) in USERS.items():
        username = f"{name}@test.reestr"
        existing = admin.get_users({"username": username, "exact": True})
        for user in existing:
            admin.delete_user(user["id"])
        user_id = admin.create_user({
            "username": username, "email": username, "enabled": True, "emailVerified": True,
            "firstName": name, "lastName": "Тестовый",
            "attributes": {"org_ids": [str(o) for o in orgs]},
            "credentials": [{"type": "password", "value": PASSWORD, "temporary": False}]})
        if roles:
            admin.assign_realm_roles(user_id, [admin.get_realm_role(r) for r in roles])
    return conf


def password_grant(conf, username: str, password: str = PASSWORD, **extra) -> dict:
    import requests

    r = requests.post(f"{conf.issuer}/protocol/openid-connect/token", data={
        "grant_type": "password", "client_id": "reestr-cli", "username": username,
        "password": password, **extra}, timeout=30)
    r.raise_for_status()
    return r.json()


@pytest.fixture(scope="session")
def tokens(keycloak):
    """Access tokens by user name, fetched when first asked for and renewed when old."""
    import time

    cache: dict[str, tuple[float, str]] = {}

    def get(name: str) -> str:
        fetched, token = cache.get(name, (0.0, ""))
        if time.monotonic() - fetched > 120:
            token = password_grant(keycloak, f"{name}@test.reestr")["access_token"]
            cache[name] = (time.monotonic(), token)
        return token

    get.forget = lambda name: cache.pop(name, None)  # type: ignore[attr-defined]
    return get


class Api:
    """A small HTTP client of the gateway, signed in as one of the test users."""

    def __init__(self, tokens, user: str | None = "admin",
                 base: str = f"http://{GATEWAY_ADDRESS}") -> None:
        self.tokens, self.user, self.base = tokens, user, base

    def as_user(self, user: str | None) -> "Api":
        return Api(self.tokens, user, self.base)

    def __getattr__(self, method):
        import requests

        def send(path, headers=None, **kw):
            headers = dict(headers or {})
            if self.user:
                headers["Authorization"] = f"Bearer {self.tokens(self.user)}"
            kw.setdefault("timeout", 60)
            r = requests.request(method.upper(), self.base + path, headers=headers, **kw)
            if r.status_code == 401 and self.user and hasattr(self.tokens, "forget") and \
                    r.json().get("error", {}).get("code") in ("signed_out", "token_revoked"):
                # a test signed this shared user out in Keycloak (tests/security): a new token
                self.tokens.forget(self.user)
                headers["Authorization"] = f"Bearer {self.tokens(self.user)}"
                r = requests.request(method.upper(), self.base + path, headers=headers, **kw)
            return r
        return send


@pytest.fixture
def api(services, clean, tokens):
    return Api(tokens)


def pytest_collection_modifyitems(items):
    """Restart tests shake the shared servers: run them after everything else."""
    items.sort(key=lambda item: item.get_closest_marker("fault") is not None)


def _tree_through_api(api, engine, **extra) -> dict[str, int]:
    """The test tree (tests.factories.build_tree) made through the API, once membership's read
    model has caught up; `extra` goes into every organization (an inclusion date, say)."""
    from sqlalchemy import text

    from tests.factories import build_tree
    from tests.support.waiting import wait_until

    def create(data):
        r = api.post("/api/v1/organizations", json={**data, **extra})
        assert r.status_code == 201, r.text
        return r.json()
    ids = build_tree(create)

    def synced():
        with engine.connect() as c:
            return c.execute(text("SELECT count(*) FROM membership.org")).scalar() == len(ids)
    assert wait_until(synced), "membership's read model of the tree did not catch up"
    return ids


@pytest.fixture
def synced_tree(api, engine):
    """The test tree made through the API, included in the registry today."""
    return _tree_through_api(api, engine)


@pytest.fixture
def tree(api, engine):
    """The test tree included in the registry on 1 January 2020, long before the reporting
    dates."""
    return _tree_through_api(api, engine, included_on="2020-01-01")
