"""What the runtime login asks the schema's owner to do (it owns nothing): a big load's indexes
and foreign keys set aside and made again, ANALYZE after it (services.common.maintenance), and
the big load's scratch table of staged versions, made here once and emptied by
`registry.empty_load_versions()` instead of being created and dropped by each load.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

from services.common.maintenance import drop_functions_sql, functions_sql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(functions_sql("registry"))
    op.execute("""
    DROP TABLE IF EXISTS registry.load_versions;  -- what a load of the code before left
    CREATE UNLOGGED TABLE registry.load_versions (
        org_id bigint, version integer, valid_from timestamptz, passport jsonb,
        change_kind text, changed_by text);
    CREATE FUNCTION registry.empty_load_versions() RETURNS void
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    BEGIN
        TRUNCATE registry.load_versions;
    END $$;
    """)


def downgrade() -> None:
    op.execute("""
    DROP FUNCTION registry.empty_load_versions();
    DROP TABLE registry.load_versions;
    """)
    op.execute(drop_functions_sql("registry"))
