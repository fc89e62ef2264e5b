"""Test fixtures: a database and a RabbitMQ vhost of the tests' own, and the real services.

The services run in the test process (nameko's pytest plugin has monkey-patched eventlet already)
against real PostgreSQL and RabbitMQ over the network; nothing is faked.
"""

import eventlet

eventlet.monkey_patch()  # before anything opens a socket: the services run in this process

import os  # noqa: E402

import pytest  # noqa: E402

os.environ.setdefault("PSYCOPG_WAIT_FUNC", "wait_selector")
TEST_DB = os.environ.get("TEST_DB_NAME", "reestr_test")
ADMIN_URL = os.environ.get("DATABASE_URL", "postgresql+psycopg://reestr:reestr@127.0.0.1:5432/reestr")
TEST_URL = ADMIN_URL.rsplit("/", 1)[0] + "/" + TEST_DB
AMQP = os.environ.get("TEST_AMQP_URI", "pyamqp://reestr:reestr@127.0.0.1:5672/reestr_test")
GATEWAY_ADDRESS = "127.0.0.1:18000"
# every settings() read from here on (services, domain code) sees the test database and vhost
os.environ["DATABASE_URL"] = TEST_URL
os.environ["AMQP_URI"] = AMQP
os.environ["OUTBOX_INTERVAL_S"] = "0.2"


@pytest.fixture(scope="session")
def database() -> str:
    from sqlalchemy import create_engine, text

    from services.common.migrations import upgrade

    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {TEST_DB} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {TEST_DB}"))
    admin.dispose()
    for service in ("registry",):
        upgrade(service, TEST_URL)
    return TEST_URL


@pytest.fixture(scope="session")
def engine(database):
    from services.common.db import make_engine

    eng = make_engine(database, pool_size=5)
    yield eng
    eng.dispose()


@pytest.fixture
def clean(engine):
    """Every test that writes starts from an empty registry."""
    from sqlalchemy import text

    with engine.begin() as conn:
        conn.execute(text("TRUNCATE registry.organization, registry.organization_version, "
                          "registry.import_run, registry.outbox RESTART IDENTITY CASCADE"))
        conn.execute(text("ALTER SEQUENCE registry.organization_id_seq RESTART"))
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


@pytest.fixture(scope="session")
def services(database):
    """The registry and the gateway, running for real for the whole session."""
    from nameko.runners import ServiceRunner

    from gateway.service import GatewayService
    from services.registry.service import RegistryService

    runner = ServiceRunner(NAMEKO_CONFIG)
    runner.add_service(RegistryService)
    runner.add_service(GatewayService)
    runner.start()
    yield runner
    runner.stop()


@pytest.fixture
def rpc(services):
    from nameko.standalone.rpc import ClusterRpcProxy

    with ClusterRpcProxy(NAMEKO_CONFIG, timeout=60) as proxy:
        yield proxy


@pytest.fixture
def api(services, clean):
    """A small HTTP client of the gateway."""
    import requests

    class Api:
        base = f"http://{GATEWAY_ADDRESS}"

        def __getattr__(self, method):
            def send(path, **kw):
                return requests.request(method.upper(), self.base + path, timeout=60, **kw)
            return send

    return Api()
