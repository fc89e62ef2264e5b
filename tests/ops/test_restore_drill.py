"""The restore drill (issue 28), against the real cluster and pgBackRest's repository that
deploy/up.sh set up: load, note the figures, back up, change, restore the cluster to the moment
before the changes into a fresh directory, and the figures there equal those noted.

The whole cluster is restored, as an operator would (`make bench-ops` measures it with the
national data set in it)."""

import os
import shutil
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from reestr import ops
from tests.conftest import ADMIN_URL, TEST_DB, TEST_URL
from tests.notify.private_mailpit import free_port
from tests.support.waiting import wait_until

FIGURES = """
    SELECT (SELECT count(*) FROM membership.member WHERE removed_on IS NULL) AS members,
           (SELECT count(*) FROM membership.member WHERE removed_on IS NOT NULL) AS removed,
           (SELECT count(*) FROM registry.organization) AS orgs,
           (SELECT string_agg(org_id || ':' || n, ',' ORDER BY org_id) FROM (
               SELECT org_id, count(*) AS n FROM membership.member GROUP BY org_id) c) AS per_org
"""


def _card(n: int) -> dict:
    return {"surname": "Восстановленова", "first_name": f"Анна{'а' * n}",
            "birth_date": f"199{n % 10}-03-0{n % 9 + 1}", "sex": "female",
            "joined_on": "2024-09-01", "pd_consent_on": "2024-09-01", "pd_consent_form": "paper"}


def _figures(url: str) -> dict:
    engine = create_engine(url)
    try:
        with engine.connect() as c:
            return dict(c.execute(text(FIGURES)).mappings().one())
    finally:
        engine.dispose()


def _switch_wal() -> None:
    """The segment holding the changes goes to the archive now, not at archive_timeout."""
    subprocess.run(["runuser", "-u", "postgres", "--", "psql", "-X", "-q", "-p",
                    str(make_url(ADMIN_URL).port or 5432), "-d", "template1", "-c",
                    "SELECT pg_switch_wal()"], check=True, cwd="/", capture_output=True)


@pytest.fixture
def restored_dir():
    path = Path(f"/var/tmp/reestr-drill-{os.getpid()}")
    yield path
    ops.stop_restored(path)
    shutil.rmtree(path, ignore_errors=True)


def test_restore_to_a_moment_gives_the_figures_of_that_moment(api, synced_tree, restored_dir):
    conf = ops.OpsSettings()
    assert conf.pgbackrest_config and Path(conf.pgbackrest_config).exists(), \
        "backups not set up: run deploy/up.sh (it writes PGBACKREST_CONFIG)"
    for n in range(5):
        assert api.as_user("chair").post("/api/v1/organizations/5/members",
                                         json=_card(n)).status_code == 201
    kept = ops.info(conf).get("backup") or []
    ops.backup("incr" if kept else "full", conf)  # incremental after the first full one
    noted = _figures(TEST_URL)
    assert noted["members"] >= 5
    time.sleep(1.1)  # the moment lies strictly between the backup and the changes
    with create_engine(ADMIN_URL).connect() as c:
        moment = c.execute(text("SELECT now()")).scalar()
    time.sleep(1.1)

    # the changes a restore must undo: more members, one removed
    made = [api.as_user("chair").post("/api/v1/organizations/5/members",
                                      json=_card(n + 5)).json() for n in range(3)]
    r = api.as_user("chair").post(f"/api/v1/members/{made[0]['id']}/remove",
                                  json={"reason": "own_will", "removed_on": "2025-06-30"})
    assert r.status_code == 200, r.text
    changed = _figures(TEST_URL)
    assert changed != noted
    _switch_wal()
    assert wait_until(lambda: (ops.archived_until(ADMIN_URL) or datetime.min.replace(tzinfo=UTC))
                      > moment, timeout=60), "the WAL archive did not move"

    span = ops.restorable(conf, archived_until=ops.archived_until(ADMIN_URL))
    # outside the range: refused, with the range that can be restored
    with pytest.raises(ops.BackupError, match="cannot be restored: the backups and the WAL"):
        ops.restore(span.earliest - timedelta(days=1), restored_dir, free_port(), span, conf=conf)
    with pytest.raises(ops.BackupError, match="cover"):
        ops.restore(datetime.now(UTC) + timedelta(hours=1), restored_dir, free_port(), span,
                    conf=conf)

    port = free_port()
    done = ops.restore(moment, restored_dir, port, span, conf=conf)
    url = make_url(ADMIN_URL).set(host="127.0.0.1", port=port, database=TEST_DB)
    assert _figures(url.render_as_string(hide_password=False)) == noted
    assert done["port"] == port


def test_a_repository_out_of_reach_fails_the_backup_loudly():
    """A repository that cannot be reached (unmounted, gone): the backup stops with pgBackRest's
    message and a non-zero exit; the running cluster goes on."""
    conf = ops.OpsSettings()
    here = Path(tempfile.mkdtemp(prefix="reestr-ops-", dir="/var/tmp"))  # postgres reads it
    here.chmod(0o777)
    broken = here / "pgbackrest.conf"
    broken.write_text("\n".join(
        "repo1-path=/proc/reestr-no-repository" if line.startswith("repo1-path=") else
        f"log-path={here}" if line.startswith("log-path=") else line
        for line in Path(conf.pgbackrest_config).read_text().splitlines()))
    broken.chmod(0o644)
    try:
        with pytest.raises(ops.BackupError, match=r"backup failed \(\d+\).*reestr-no-repository"):
            ops.backup("full", conf.model_copy(update={"pgbackrest_config": str(broken)}))
    finally:
        shutil.rmtree(here, ignore_errors=True)
    with create_engine(ADMIN_URL).connect() as c:  # the cluster is untouched
        assert c.execute(text("SELECT 1")).scalar() == 1
