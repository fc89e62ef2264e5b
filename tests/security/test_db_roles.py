"""Each service's runtime login against the real PostgreSQL, as the probe tried it: it cannot
disable the audit log's trigger or rewrite its rows, read another service's tables, create
anything, or reach what its schema's owner keeps; its ordinary work and the bulk loads (through
the owner's SECURITY DEFINER functions) go through."""

import os

import pytest
from psycopg import errors
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from services.common import db_roles, maintenance
from services.membership import bulk_import
from services.registry import bulk_load, bulk_write, load_indexes
from tests.integration.test_bulk_load import ACTOR, GOOD, to_csv
from tests.integration.test_member_bulk_paths import national_file

# the services with an audit log
AUDITED = ("registry", "membership", "cards", "notify", "library", "events")
# the services with an outbox (notify, library and events publish nothing)
WITH_OUTBOX = tuple(s for s in db_roles.SERVICES if s not in ("notify", "library", "events"))
MAINTAINED = ("registry", "membership", "reports")  # with the owner's maintenance functions


@pytest.fixture(scope="module")
def runtime(database):
    """An engine per service on its runtime login, as the services run."""
    engines = {s: create_engine(os.environ[f"DATABASE_URL_{s.upper()}"], pool_size=2)
               for s in db_roles.SERVICES}
    yield engines
    for e in engines.values():
        e.dispose()


def refused(engine, sql: str, params: dict | None = None) -> BaseException:
    """The statement fails for want of a privilege; nothing of it stays."""
    with engine.connect() as conn, pytest.raises(DBAPIError) as caught:
        conn.execute(text(sql), params or {})
    assert isinstance(caught.value.orig, errors.InsufficientPrivilege), caught.value
    return caught.value


def test_each_service_logs_in_as_its_own_runtime_role(runtime, database):
    database_name = make_url(database).database
    for service, engine in runtime.items():
        names = db_roles.roles(database_name, service)
        with engine.connect() as conn:
            me, owns = conn.execute(text("""
                SELECT current_user, (SELECT count(*) FROM pg_class WHERE relowner = r.oid)
                                     + (SELECT count(*) FROM pg_namespace WHERE nspowner = r.oid)
                FROM pg_roles r WHERE r.rolname = current_user""")).one()
            attrs = conn.execute(text("SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles "
                                      "WHERE rolname = current_user")).one()
        assert me == names.runtime
        assert owns == 0
        assert attrs == (False, False, False)


@pytest.mark.parametrize("service", AUDITED)
@pytest.mark.parametrize("attack", [
    "ALTER TABLE {s}.audit_log DISABLE TRIGGER audit_log_append_only",
    "ALTER TABLE {s}.audit_log DISABLE TRIGGER ALL",
    "DROP TRIGGER audit_log_append_only ON {s}.audit_log",
    "UPDATE {s}.audit_log SET actor = 'someone else'",
    "DELETE FROM {s}.audit_log",
    # the purge function's switch, set by hand, opens nothing: DELETE is not granted at all
    "WITH opened AS (SELECT set_config('reestr.audit_purge', 'on', true) AS on_) "
    "DELETE FROM {s}.audit_log WHERE EXISTS (SELECT 1 FROM opened)",
    # nor can the login make its own term shorter than a year
    "SELECT {s}.audit_log_purge(364)",
    "CREATE OR REPLACE FUNCTION {s}.audit_log_purge(keep_days integer) RETURNS bigint "
    "LANGUAGE sql AS 'SELECT 0::bigint'",
    "TRUNCATE {s}.audit_log",
    "DROP TABLE {s}.audit_log",
    "ALTER TABLE {s}.audit_log OWNER TO CURRENT_USER",
    "CREATE OR REPLACE FUNCTION {s}.audit_log_append_only() RETURNS trigger LANGUAGE plpgsql "
    "AS $$ BEGIN RETURN NULL; END $$",
])
def test_the_audit_log_cannot_be_rewritten(runtime, engine, service, attack):
    refused(runtime[service], attack.format(s=service))
    with engine.connect() as conn:  # the trigger is there and enabled
        assert conn.execute(text(
            "SELECT tgenabled FROM pg_trigger WHERE tgrelid = CAST(:t AS regclass) "
            "AND tgname = 'audit_log_append_only'"), {"t": f"{service}.audit_log"}).scalar() == "O"


@pytest.mark.parametrize("service", AUDITED)
def test_the_audit_log_is_appended_to_and_read(runtime, service):
    with runtime[service].begin() as conn:
        conn.execute(text(f"INSERT INTO {service}.audit_log (actor, action, record_type, "
                          "record_id) VALUES ('test', 'read', 'db_roles_test', '1')"))
        assert conn.execute(text(f"SELECT count(*) FROM {service}.audit_log "
                                 "WHERE record_type = 'db_roles_test'")).scalar() >= 1


@pytest.mark.parametrize("service", AUDITED)
def test_the_audit_log_loses_only_rows_past_a_year_through_its_owner(runtime, engine, service):
    """Retention of the log (issue 29): the runtime login calls the owner's function, which
    deletes rows older than the term it is given and nothing younger than a year."""
    mark = f"purge-{service}"
    with engine.begin() as conn:  # the owner's side: rows of the past
        for age in (800, 400, 300):
            conn.execute(text(f"INSERT INTO {service}.audit_log (at, actor, action, record_type,"
                              " record_id) VALUES (now() - make_interval(days => :age), 'test', "
                              "'read', 'db_roles_purge', :id)"),
                         {"age": age, "id": f"{mark}-{age}"})
    with runtime[service].begin() as conn:
        assert conn.execute(text(f"SELECT {service}.audit_log_purge(500)")).scalar_one() >= 1
    with runtime[service].begin() as conn:
        conn.execute(text(f"SELECT {service}.audit_log_purge(365)"))
        left = conn.execute(text(f"SELECT record_id FROM {service}.audit_log WHERE record_type "
                                 "= 'db_roles_purge' AND record_id LIKE :m ORDER BY 1"),
                            {"m": f"{mark}-%"}).scalars().all()
    assert left == [f"{mark}-300"]
    refused(runtime[service], f"DELETE FROM {service}.audit_log")  # the switch closed again


@pytest.mark.parametrize("service", WITH_OUTBOX)
def test_no_other_service_is_read(runtime, service):
    for other in WITH_OUTBOX:
        if other != service:
            refused(runtime[service], f"SELECT count(*) FROM {other}.outbox")
            refused(runtime[service], f"INSERT INTO {other}.outbox (event_id, event_type, "
                                      "payload) VALUES (gen_random_uuid(), 'forged', '{}')")


@pytest.mark.parametrize("service", WITH_OUTBOX)
@pytest.mark.parametrize("attack", [
    "CREATE TABLE {s}.smuggled (x int)",
    "CREATE TABLE public.smuggled (x int)",
    "CREATE VIEW {s}.smuggled AS SELECT 1",
    "CREATE FUNCTION public.smuggled() RETURNS int LANGUAGE sql AS 'SELECT 1'",
    "CREATE SCHEMA smuggled",
    "SET ROLE {owner}",
    "ALTER TABLE {s}.outbox ADD COLUMN smuggled int",
    "DROP INDEX {s}.outbox_pending",
    "TRUNCATE {s}.outbox",
])
def test_nothing_is_created_or_altered(runtime, database, service, attack):
    owner = db_roles.roles(make_url(database).database, service).owner
    refused(runtime[service], attack.format(s=service, owner=f'"{owner}"'))


def reltuples(conn, table: str) -> float:
    return conn.execute(text("SELECT reltuples FROM pg_class WHERE oid = CAST(:t AS regclass)"),
                        {"t": table}).scalar_one()


def test_statistics_are_gathered_through_the_owner_alone(runtime):
    """ANALYZE by a login that does not own the table only warns and skips it (a big load's
    statistics would silently never come): the owner's function gathers them."""
    warned: list[str] = []
    with runtime["reports"].connect() as conn, conn.begin() as tx:
        conn.connection.driver_connection.add_notice_handler(
            lambda d: warned.append(d.message_primary or ""))
        conn.execute(text("INSERT INTO reports.outbox (event_id, event_type, payload) SELECT "
                          "gen_random_uuid(), 'db_roles_test', '{}' FROM generate_series(1, 3)"))
        conn.execute(text("ANALYZE reports.outbox"))
        assert any("skipping" in w for w in warned), warned
        assert reltuples(conn, "reports.outbox") != 3
        conn.execute(text("SELECT reports.analyze_tables(CAST(:t AS regclass[]))"),
                     {"t": ["reports.outbox"]})
        assert reltuples(conn, "reports.outbox") == 3  # its own rows, not yet committed
        tx.rollback()  # never published


@pytest.mark.parametrize("service", WITH_OUTBOX)
def test_ordinary_work_goes_through(runtime, service):
    with runtime[service].connect() as conn, conn.begin() as tx:
        seq = conn.execute(text(f"INSERT INTO {service}.outbox (event_id, event_type, payload) "
                                "VALUES (gen_random_uuid(), 'db_roles_test', '{}') "
                                "RETURNING seq")).scalar_one()
        conn.execute(text(f"UPDATE {service}.outbox SET published_at = now() WHERE seq = :s"),
                     {"s": seq})
        assert conn.execute(text(f"DELETE FROM {service}.outbox WHERE seq = :s"),
                            {"s": seq}).rowcount == 1
        conn.execute(text("CREATE TEMP TABLE scratch (x int) ON COMMIT DROP"))
        tx.rollback()  # nothing of it is ever published


@pytest.mark.parametrize("service", MAINTAINED)
def test_the_owners_bookkeeping_is_out_of_reach(runtime, service):
    refused(runtime[service], f"SELECT * FROM {service}.index_set_aside")
    refused(runtime[service], f"INSERT INTO {service}.index_set_aside (table_oid, kind, "
                              f"statement) VALUES ('{service}.outbox', 'i', 'DROP TABLE x')")


@pytest.mark.parametrize("service", MAINTAINED)
def test_the_owners_functions_keep_to_their_schema(runtime, service):
    other = next(s for s in MAINTAINED if s != service)
    for tables in ([f"{other}.outbox"], [f"{service}.audit_log"] if service in AUDITED else [],
                   [f"{service}.index_set_aside"]):
        if not tables:
            continue
        for call in ("SELECT {s}.analyze_tables(CAST(:t AS regclass[]))",
                     "SELECT * FROM {s}.set_aside_indexes(CAST(:t AS regclass[]), false, true)",
                     "SELECT {s}.restore_indexes(CAST(:t AS regclass[]), true)"):
            refused(runtime[service], call.format(s=service), {"t": tables})
    # and nobody else calls them: another service's login, nor PUBLIC
    refused(runtime[other], f"SELECT {service}.analyze_tables(CAST(:t AS regclass[]))",
            {"t": [f"{service}.outbox"]})


def test_a_load_cannot_commit_with_its_indexes_set_aside(runtime, engine):
    before = indexes(engine, "membership.member")
    with Session(runtime["membership"]) as s:
        dropped = maintenance.set_aside(s, "membership.member")
        assert dropped and {d.kind for d in dropped} == {"i"}
        with pytest.raises(DBAPIError) as caught:
            s.commit()
    assert isinstance(caught.value.orig, errors.ObjectNotInPrerequisiteState)
    assert indexes(engine, "membership.member") == before


def indexes(engine, table: str) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(text(
            "SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = "
            "CAST(:t AS regclass) UNION ALL SELECT pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = CAST(:t AS regclass)"), {"t": table}).scalars())


def statistics(engine, table: str) -> int:
    schema, name = table.split(".")
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM pg_stats WHERE schemaname = :s "
                                 "AND tablename = :t"), {"s": schema, "t": name}).scalar()


def test_a_big_registry_load_runs_as_the_runtime_login(runtime, engine, clean, monkeypatch):
    """Indexes and foreign keys set aside and made again, the scratch table emptied, the
    statistics gathered: all through the owner's functions."""
    monkeypatch.setattr(load_indexes, "BIG_LOAD", 3)
    dropped = []
    real = load_indexes.set_aside
    monkeypatch.setattr(load_indexes, "set_aside", lambda s: dropped.append(real(s)) or dropped[-1])
    tables = ("registry.organization", "registry.organization_version")
    before = {t: indexes(engine, t) for t in tables}
    with Session(runtime["registry"]) as s, s.begin():
        assert s.execute(text("SELECT current_user")).scalar_one().endswith("_registry")
        result = bulk_load.load(s, ACTOR, to_csv(GOOD), "tree.csv")
        assert result["rows_loaded"] == len(GOOD)
    assert dropped[0] and dropped[0].organizations and dropped[0].rest
    assert {t: indexes(engine, t) for t in tables} == before
    with engine.connect() as conn:
        assert not conn.execute(text(f"SELECT EXISTS (SELECT FROM {bulk_write.SCRATCH})")).scalar()
        assert conn.execute(text("SELECT count(*) FROM registry.organization_version")
                            ).scalar() == len(GOOD)
    refused(runtime["registry"], f"TRUNCATE {bulk_write.SCRATCH}")
    with Session(runtime["registry"]) as s, s.begin():
        load_indexes.analyze(s)
    # ANALYZE counted the rows just loaded (earlier tests' statistics outlive TRUNCATE)
    assert statistics(engine, "registry.organization") > 0
    with engine.connect() as conn:
        assert conn.execute(text("SELECT reltuples FROM pg_class WHERE oid = "
                                 "'registry.organization'::regclass")).scalar() == len(GOOD)


def test_an_initial_members_load_runs_as_the_runtime_login(runtime, engine, synced_tree,
                                                           monkeypatch):
    monkeypatch.setattr(bulk_import, "INITIAL_LOAD_BYTES", 0)
    monkeypatch.setattr(bulk_import, "FRAME_MIN_BYTES", 0)
    before = indexes(engine, "membership.member")
    set_aside = []
    real = bulk_import.bulk_indexes.set_aside
    monkeypatch.setattr(bulk_import.bulk_indexes, "set_aside",
                        lambda s, *t: set_aside.append(real(s, *t)) or set_aside[-1])
    with Session(runtime["membership"]) as s, s.begin():
        report = bulk_import.load(s, "test", national_file(), "national.csv",
                                  load_good_rows=True)
    assert report["rows_loaded"] == 5995
    assert set_aside[0]  # the indexes were set aside, and came back
    assert indexes(engine, "membership.member") == before
