"""What a service's runtime login asks its schema's owner to do: the DDL of big loads (indexes
and foreign keys set aside and made again) and ANALYZE, which need ownership.

Each is a SECURITY DEFINER function in the service's schema, made by one of its migrations (so
owned by the schema's owner) with a fixed search_path, executable by the runtime login alone
(`services.common.db_roles`). They touch tables of their own schema only, never the audit log.
What was set aside is kept in `<schema>.index_set_aside`, which the runtime login cannot read or
write: it chooses which tables, never the statements that run. A transaction cannot commit with
something still set aside (a deferred trigger refuses it), so a load cannot leave a table
without its indexes.
"""

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.common.db_roles import revoke_granted_sql

DEFINER = "LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp"


def _own_tables_check(schema: str) -> str:
    return f"""
        IF tables IS NULL OR array_position(tables, NULL) IS NOT NULL OR EXISTS (
            SELECT 1 FROM unnest(tables) AS given (table_oid) JOIN pg_class c
                ON c.oid = given.table_oid
            WHERE c.relnamespace <> '{schema}'::regnamespace OR c.relkind NOT IN ('r', 'p')
               OR c.relname IN ('audit_log', 'index_set_aside')) THEN
            RAISE EXCEPTION 'only the tables of schema {schema} are maintained here'
                USING ERRCODE = 'insufficient_privilege';
        END IF;"""


def functions_sql(schema: str) -> str:
    """The functions and the table behind them, for a migration of `schema` (re-runnable: a
    later migration may run a newer version)."""
    return f"""
    CREATE TABLE IF NOT EXISTS {schema}.index_set_aside (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        table_oid regclass NOT NULL,
        kind char(1) NOT NULL CHECK (kind IN ('i', 'f')),  -- an index, a foreign key
        statement text NOT NULL
    );
    {revoke_granted_sql(f"{schema}.index_set_aside")}

    CREATE OR REPLACE FUNCTION {schema}.index_set_aside_restored() RETURNS trigger {DEFINER} AS $$
    BEGIN
        IF EXISTS (SELECT 1 FROM {schema}.index_set_aside WHERE seq = NEW.seq) THEN
            RAISE EXCEPTION 'set aside and not made again: %', NEW.statement
                USING ERRCODE = 'object_not_in_prerequisite_state';
        END IF;
        RETURN NULL;
    END $$;
    DROP TRIGGER IF EXISTS restored ON {schema}.index_set_aside;
    CREATE CONSTRAINT TRIGGER restored AFTER INSERT ON {schema}.index_set_aside
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
        EXECUTE FUNCTION {schema}.index_set_aside_restored();

    -- drops the secondary indexes of `tables` (those backing no constraint; with keep_unique,
    -- no unique one either) and, with foreign_keys, their foreign keys; returns what it dropped
    -- as the statements that make each again (kept here too: restore_indexes runs those)
    CREATE OR REPLACE FUNCTION {schema}.set_aside_indexes(
        tables regclass[], keep_unique boolean, foreign_keys boolean)
    RETURNS TABLE (table_name text, kind char(1), statement text) {DEFINER} AS $$
    #variable_conflict use_column
    DECLARE r record;
    BEGIN
        {_own_tables_check(schema)}
        FOR r IN
            SELECT x.conrelid AS tbl, 'f' AS kind,
                   format('ALTER TABLE %s DROP CONSTRAINT %I', x.conrelid::regclass, x.conname)
                       AS drop_it,
                   format('ALTER TABLE %s ADD CONSTRAINT %I %s', x.conrelid::regclass, x.conname,
                          pg_get_constraintdef(x.oid)) AS make_it, 1 AS step, x.conname AS name
            FROM pg_constraint x
            WHERE foreign_keys AND x.contype = 'f' AND x.conrelid = ANY(tables)
            UNION ALL
            SELECT i.indrelid, 'i', format('DROP INDEX %s', i.indexrelid::regclass),
                   pg_get_indexdef(i.indexrelid), 2, c.relname
            FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
            WHERE i.indrelid = ANY(tables) AND NOT i.indisprimary
              AND NOT (keep_unique AND i.indisunique)
              AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
            ORDER BY step, name
        LOOP
            INSERT INTO {schema}.index_set_aside (table_oid, kind, statement)
            VALUES (r.tbl, r.kind, r.make_it);
            EXECUTE r.drop_it;
            table_name := r.tbl::regclass::text; kind := r.kind; statement := r.make_it;
            RETURN NEXT;
        END LOOP;
    END $$;

    -- makes again what was set aside of `tables`: their indexes, then (with foreign_keys) their
    -- foreign keys, whose check joins through the indexes; returns how many
    CREATE OR REPLACE FUNCTION {schema}.restore_indexes(tables regclass[], foreign_keys boolean)
    RETURNS integer {DEFINER} AS $$
    DECLARE r record; n integer := 0;
    BEGIN
        {_own_tables_check(schema)}
        FOR r IN
            WITH gone AS (
                DELETE FROM {schema}.index_set_aside
                WHERE table_oid = ANY(tables) AND (kind = 'i' OR foreign_keys)
                RETURNING seq, kind, statement)
            SELECT statement FROM gone ORDER BY kind = 'f', seq
        LOOP
            EXECUTE r.statement;
            n := n + 1;
        END LOOP;
        RETURN n;
    END $$;

    CREATE OR REPLACE FUNCTION {schema}.analyze_tables(tables regclass[]) RETURNS void
    {DEFINER} AS $$
    DECLARE t regclass;
    BEGIN
        {_own_tables_check(schema)}
        FOREACH t IN ARRAY tables LOOP
            EXECUTE format('ANALYZE %s', t);
        END LOOP;
    END $$;
    """


def drop_functions_sql(schema: str) -> str:
    return f"""
    DROP FUNCTION {schema}.analyze_tables(regclass[]);
    DROP FUNCTION {schema}.restore_indexes(regclass[], boolean);
    DROP FUNCTION {schema}.set_aside_indexes(regclass[], boolean, boolean);
    DROP TABLE {schema}.index_set_aside;
    DROP FUNCTION {schema}.index_set_aside_restored();
    """


@dataclass(frozen=True)
class Dropped:
    table: str
    kind: str  # "i" an index, "f" a foreign key
    statement: str  # what makes it again


def _schema(tables: tuple[str, ...]) -> str:
    schemas = {t.split(".", 1)[0] for t in tables}
    if len(schemas) != 1:
        raise ValueError(f"tables of one schema, qualified: {tables}")
    return schemas.pop()


def set_aside(session: Session, *tables: str, keep_unique: bool = False,
              foreign_keys: bool = False) -> list[Dropped]:
    """Drop the secondary indexes (and foreign keys) of `tables` ("schema.table", one schema)
    in the session's transaction; they must be made again (`restore`) before it commits."""
    rows = session.execute(text(
        f"SELECT * FROM {_schema(tables)}.set_aside_indexes(CAST(:t AS regclass[]), :u, :f)"),
        {"t": list(tables), "u": keep_unique, "f": foreign_keys}).all()
    return [Dropped(*row) for row in rows]


def restore(session: Session, *tables: str, foreign_keys: bool = True) -> int:
    """Make again what `set_aside` dropped of `tables` (an IntegrityError: the data broke a
    unique index)."""
    return session.execute(text(
        f"SELECT {_schema(tables)}.restore_indexes(CAST(:t AS regclass[]), :f)"),
        {"t": list(tables), "f": foreign_keys}).scalar_one()


def analyze(session: Session, *tables: str) -> None:
    """ANALYZE `tables` as their owner (the runtime login's own ANALYZE of them would skip
    them with a mere warning)."""
    session.execute(text(f"SELECT {_schema(tables)}.analyze_tables(CAST(:t AS regclass[]))"),
                    {"t": list(tables)})
