"""The audit log of personal data: who read or changed which record, when and from where.

Each service keeps its own log in its own schema, written in the same transaction as the read or
change it records. It holds ids, never the data itself. Rows cannot be changed or deleted: a
trigger refuses it even to the service's own database role, and no API offers it; the runtime
login holds INSERT and SELECT on it only and does not own it, so cannot disable the trigger.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.common.caller import Caller
from services.common.db_roles import revoke_granted_sql
from services.common.errors import Forbidden
from services.common.maintenance import DEFINER
from services.common.params import parse_moment
from services.common.rpc import rpc


def create_table_sql(schema: str) -> str:
    return f"""
    CREATE TABLE {schema}.audit_log (
        id bigserial PRIMARY KEY,
        at timestamptz NOT NULL DEFAULT now(),
        actor text NOT NULL,
        actor_subject text NOT NULL DEFAULT '',
        action text NOT NULL,
        record_type text NOT NULL,
        record_id text NOT NULL,
        ip text NOT NULL DEFAULT ''
    );
    CREATE INDEX audit_log_record ON {schema}.audit_log (record_type, record_id, at);
    CREATE INDEX audit_log_actor ON {schema}.audit_log (actor, at);
    CREATE INDEX audit_log_at ON {schema}.audit_log (at);
    CREATE FUNCTION {schema}.audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'audit_log is append-only';
    END $$;
    CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE
        ON {schema}.audit_log FOR EACH STATEMENT
        EXECUTE FUNCTION {schema}.audit_log_append_only();
    {revoke_granted_sql(f"{schema}.audit_log", "UPDATE, DELETE, TRUNCATE")}
    """


# the shortest term a retention rule may give any audit log (issue 29): the purge function
# itself refuses a shorter one, so a service's login can never erase a year's history
AUDIT_MIN_DAYS = 365


def purge_sql(schema: str) -> str:
    """Retention of the log itself: rows older than a term go only through this SECURITY
    DEFINER function of the schema's owner, which the runtime login may call but whose term it
    cannot make shorter than AUDIT_MIN_DAYS. The append-only trigger lets a DELETE through only
    while the function runs (the runtime login holds no DELETE on the log anyway)."""
    return f"""
    CREATE OR REPLACE FUNCTION {schema}.audit_log_append_only() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' AND current_setting('reestr.audit_purge', true) = 'on' THEN
            RETURN NULL;
        END IF;
        RAISE EXCEPTION 'audit_log is append-only';
    END $$;
    CREATE OR REPLACE FUNCTION {schema}.audit_log_purge(keep_days integer) RETURNS bigint
    {DEFINER} AS $$
    DECLARE purged bigint;
    BEGIN
        IF keep_days IS NULL OR keep_days < {AUDIT_MIN_DAYS} THEN
            RAISE EXCEPTION 'the audit log is kept at least {AUDIT_MIN_DAYS} days'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        PERFORM set_config('reestr.audit_purge', 'on', true);
        DELETE FROM {schema}.audit_log WHERE at < now() - make_interval(days => keep_days);
        GET DIAGNOSTICS purged = ROW_COUNT;
        PERFORM set_config('reestr.audit_purge', 'off', true);
        RETURN purged;
    END $$;
    """


def drop_purge_sql(schema: str) -> str:
    return f"""
    DROP FUNCTION {schema}.audit_log_purge(integer);
    CREATE OR REPLACE FUNCTION {schema}.audit_log_append_only() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'audit_log is append-only';
    END $$;
    """


def purge(session: Session, schema: str, keep_days: int) -> int:
    """Rows older than `keep_days` deleted; how many."""
    return int(session.execute(text(f"SELECT {schema}.audit_log_purge(:days)"),
                               {"days": keep_days}).scalar_one())


def purge_due(session: Session, schema: str, keep_days: int) -> int:
    """How many rows a purge with `keep_days` would delete (the operators' preview)."""
    return int(session.execute(text(f"""
        SELECT count(*) FROM {schema}.audit_log WHERE at < now() - make_interval(days => :days)
    """), {"days": max(int(keep_days), AUDIT_MIN_DAYS)}).scalar_one())


def record_ids_sql(schema: str) -> str:
    """An answer that returned many records is one row holding all their ids: 500 index entries
    of a btree per page cost more than the goal of 3 ms, one GIN entry list (its pending list
    merged later by autovacuum) does not. A single record keeps `record_id`."""
    return f"""
    ALTER TABLE {schema}.audit_log ADD COLUMN record_ids text[];
    CREATE INDEX audit_log_records ON {schema}.audit_log USING gin (record_ids);
    """


# logs that also keep the reader's roles and organizations: a person's copy of their data
# tells who read their card by organization and role, not by name (issue 29)
WITH_ROLES = frozenset({"membership"})


def _roles(schema: str, caller: Caller) -> tuple[str, str, dict[str, Any]]:
    if schema not in WITH_ROLES:
        return "", "", {}
    return (", actor_roles, actor_orgs", ", CAST(:roles AS text[]), CAST(:orgs AS bigint[])",
            {"roles": list(caller.roles), "orgs": list(caller.org_ids)})


def record(session: Session, schema: str, caller: Caller, action: str, record_type: str,
           record_id: Any) -> None:
    columns, values, params = _roles(schema, caller)
    session.execute(text(f"""
        INSERT INTO {schema}.audit_log (actor, actor_subject, action, record_type, record_id, ip
                                        {columns})
        VALUES (:actor, :subject, :action, :type, :id, :ip {values})
    """), {"actor": caller.user, "subject": caller.subject, "action": action,
           "type": record_type, "id": str(record_id), "ip": caller.ip, **params})


def record_many(session: Session, schema: str, caller: Caller, action: str, record_type: str,
                ids: list[Any]) -> None:
    """Every record an answer returned (a list, a search, an export) in one row, whatever their
    number: a page of 500 people costs one INSERT of one row (issue 17)."""
    if not ids:
        return
    columns, values, params = _roles(schema, caller)
    session.execute(text(f"""
        INSERT INTO {schema}.audit_log
            (actor, actor_subject, action, record_type, record_id, record_ids, ip {columns})
        VALUES (:actor, :subject, :action, :type, '', CAST(:ids AS text[]), :ip {values})
    """), {"actor": caller.user, "subject": caller.subject, "action": action,
           "type": record_type, "ids": [str(i) for i in ids], "ip": caller.ip, **params})


def query(session: Session, schema: str, actor: str | None = None,
          record_type: str | None = None, record_id: str | None = None,
          since: datetime | None = None, until: datetime | None = None,
          limit: int = 500) -> list[dict[str, Any]]:
    """Rows newest first; one of many records (`record_ids`) matches its id like a single one."""
    rows = session.execute(text(f"""
        SELECT id, at, actor, actor_subject, action, record_type, record_id, record_ids, ip
        FROM {schema}.audit_log
        WHERE (CAST(:actor AS text) IS NULL OR actor = :actor)
          AND (CAST(:type AS text) IS NULL OR record_type = :type)
          AND (CAST(:id AS text) IS NULL OR record_id = :id
               OR record_ids @> ARRAY[CAST(:id AS text)])
          AND (CAST(:since AS timestamptz) IS NULL OR at >= :since)
          AND (CAST(:until AS timestamptz) IS NULL OR at < :until)
        ORDER BY at DESC, id DESC LIMIT :limit
    """), {"actor": actor, "type": record_type, "id": record_id, "since": since,
           "until": until, "limit": min(max(limit, 1), 5000)}).mappings().all()
    return [{**r, "at": r["at"].isoformat()} for r in rows]


def read_log(session: Session, schema: str, caller: Caller, actor: str | None,
             record_id: str | None, since: str | None, until: str | None,
             limit: int) -> list[dict[str, Any]]:
    """A service's log as its `audit_log` RPC gives it: to the Central Council's auditors only."""
    if not caller.reads_audit:
        raise Forbidden("forbidden", "Журнал доступа доступен только аудиторам ЦС")
    return query(session, schema, actor, None, record_id, parse_moment(since, "since"),
                 parse_moment(until, "until"), int(limit))


class AuditLogRpc:
    """The `audit_log` RPC of a service that keeps a log (its schema is named as the service):
    a mixin, as nameko finds entrypoints on base classes."""

    name: str
    db: Any
    caller: Caller

    @rpc
    def audit_log(self, actor: str | None = None, record_id: str | None = None,
                  since: str | None = None, until: str | None = None,
                  limit: int = 500) -> list[dict[str, Any]]:
        with self.db.reading() as s:
            return read_log(s, self.name, self.caller, actor, record_id, since, until, limit)

    @rpc
    def purge_audit(self, keep_days: int, count_only: bool = False) -> int:
        """The log's rows past the Central Council's term deleted (or, with count_only,
        counted): membership's retention run asks, for itself or for the Central Council's
        staff who started it; the database refuses a term under AUDIT_MIN_DAYS whoever asks."""
        if not self.caller.is_global:
            raise Forbidden("forbidden", "Только для сервисов платформы")
        if count_only:
            with self.db.reading() as s:
                return purge_due(s, self.name, int(keep_days))
        with self.db.transaction() as s:
            purged = purge(s, self.name, int(keep_days))
            record(s, self.name, self.caller, "audit_purged", "audit_log", purged)
        return purged
