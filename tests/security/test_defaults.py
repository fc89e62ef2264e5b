"""Default credentials tried everywhere, as a neighbour on the network would, and refused; the
servers the local deploy starts listen on the loopback interface only; its secrets are private."""

import os
import re
import stat
import subprocess
from pathlib import Path

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError
from kombu import Connection
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

ROOT = Path(__file__).resolve().parents[2]
RABBIT = os.environ.get("RABBIT_MGMT_URL", "http://127.0.0.1:15672")
KEYCLOAK = os.environ.get("KEYCLOAK_URL", "http://127.0.0.1:8080")
S3 = os.environ.get("S3_ENDPOINT", "http://127.0.0.1:9100")
WELL_KNOWN_BROKER = [("guest", "guest"), ("reestr", "reestr"), ("admin", "admin")]


@pytest.mark.parametrize(("user", "password"), WELL_KNOWN_BROKER)
def test_the_broker_refuses_well_known_logins(user, password):
    for vhost in ("reestr", "reestr_test", "/"):
        with (pytest.raises(Exception, match=r"(?i)access_refused|login|auth|refused"),
              Connection(f"pyamqp://{user}:{password}@127.0.0.1:5672/{vhost}",
                         connect_timeout=5) as conn):
            conn.connect()
    assert requests.get(f"{RABBIT}/api/overview", auth=(user, password),
                        timeout=5).status_code == 401


def test_the_harness_user_has_no_rights_on_the_services_vhost():
    harness = os.environ["HARNESS_AMQP_BASE"]
    with (pytest.raises(Exception, match=r"(?i)access_refused|not_allowed|refused"),
          Connection(f"{harness}/reestr", connect_timeout=5) as conn):
        conn.connect()
        conn.default_channel.queue_declare("probe", passive=False)


@pytest.mark.parametrize(("user", "password"), [("reestr", "reestr"), ("keycloak", "keycloak"),
                                                ("postgres", "postgres")])
def test_the_database_refuses_well_known_logins(user, password):
    engine = create_engine(f"postgresql+psycopg://{user}:{password}@127.0.0.1:5432/reestr",
                           connect_args={"connect_timeout": 5})
    with pytest.raises(OperationalError), engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    engine.dispose()


def test_keycloak_refuses_the_well_known_admin():
    r = requests.post(f"{KEYCLOAK}/realms/master/protocol/openid-connect/token", timeout=30,
                      data={"grant_type": "password", "client_id": "admin-cli",
                            "username": "admin", "password": "admin"})
    assert r.status_code in (400, 401) and r.json()["error"] == "invalid_grant", r.text


def test_the_object_store_refuses_the_old_keys():
    s3 = boto3.client("s3", endpoint_url=S3, aws_access_key_id="reestr",
                      aws_secret_access_key="reestr-secret", region_name="us-east-1",
                      config=Config(retries={"max_attempts": 1}, connect_timeout=5))
    with pytest.raises(ClientError):
        s3.list_buckets()


def test_the_servers_listen_on_loopback_only():
    """RabbitMQ (AMQP, management, Erlang distribution, epmd), PostgreSQL, Keycloak and the
    object store: nothing on another interface."""
    out = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True, check=True).stdout
    ports = {"5672", "15672", "25672", "4369", "5432", "8080", "9000", "9100"}
    exposed = []
    for line in out.splitlines():
        local = line.split()[3]
        address, _, port = local.rpartition(":")
        if port in ports and not re.fullmatch(r"127\.\d+\.\d+\.\d+|\[::1\]|\[::ffff:127\.[\d.]+\]",
                                              address):
            exposed.append(local)
    assert not exposed, f"listening beyond the loopback interface: {exposed}"


def test_the_generated_secrets_are_private():
    secrets_dir = Path(os.environ.get("SECRETS_DIR", ROOT / "var" / "secrets"))
    env = secrets_dir / "env"
    assert env.exists(), "deploy/up.sh generates the secrets"
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    assert stat.S_IMODE(secrets_dir.stat().st_mode) == 0o700
    values = dict(line.split("=", 1) for line in env.read_text().splitlines() if "=" in line)
    assert len(values) >= 9 and all(len(v) >= 24 for v in values.values())
    for key in (secrets_dir / "trust").glob("*.key"):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key
