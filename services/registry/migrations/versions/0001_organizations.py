"""Organizations, their passport history, imports and the outbox.

Revision ID: 0001
Revises:
"""

from alembic import op

from services.common.outbox import create_table_sql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS ltree")
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute("""
    CREATE TABLE registry.organization (
        id bigint PRIMARY KEY,
        parent_id bigint REFERENCES registry.organization (id),
        -- ids from the root down to this organization: subtree and ancestors by one index lookup
        path ltree NOT NULL,
        level text NOT NULL CHECK (level IN
            ('central', 'regional', 'territorial', 'primary', 'subdivision')),
        kind text,
        registry_number text NOT NULL UNIQUE,
        name text NOT NULL,
        -- the regional organization above (itself for a regional one), for per-region work
        region_id bigint,
        region_code text,
        territorial_rights boolean NOT NULL DEFAULT false,
        legal_entity boolean NOT NULL DEFAULT false,
        ogrn text,
        inn text,
        included_on date,
        excluded_on date,
        exclusion_reason text CHECK (exclusion_reason IN ('liquidated', 'reorganized')),
        reorganized_into_id bigint REFERENCES registry.organization (id),
        chair jsonb,
        education jsonb,
        staff jsonb NOT NULL DEFAULT '[]',
        version integer NOT NULL DEFAULT 1,
        updated_at timestamptz NOT NULL DEFAULT now(),
        updated_by text NOT NULL DEFAULT 'system',
        CHECK ((excluded_on IS NULL) = (exclusion_reason IS NULL)),
        CHECK (territorial_rights = false OR level = 'primary')
    );
    CREATE SEQUENCE registry.organization_id_seq OWNED BY registry.organization.id;
    ALTER TABLE registry.organization
        ALTER COLUMN id SET DEFAULT nextval('registry.organization_id_seq');
    CREATE INDEX organization_path ON registry.organization USING gist (path);
    CREATE INDEX organization_parent ON registry.organization (parent_id);
    CREATE INDEX organization_region ON registry.organization (region_id, level);
    CREATE INDEX organization_name_trgm ON registry.organization USING gin (name gin_trgm_ops);
    CREATE INDEX organization_inn ON registry.organization (inn);
    CREATE INDEX organization_edu_inn ON registry.organization ((education ->> 'inn'));
    CREATE UNIQUE INDEX organization_one_central ON registry.organization ((true))
        WHERE level = 'central' AND excluded_on IS NULL;

    -- every state a passport has been in: valid_from <= t < valid_to answers "as of t"
    CREATE TABLE registry.organization_version (
        org_id bigint NOT NULL REFERENCES registry.organization (id),
        version integer NOT NULL,
        valid_from timestamptz NOT NULL,
        valid_to timestamptz,
        passport jsonb NOT NULL,
        change_kind text NOT NULL,
        diff jsonb NOT NULL DEFAULT '{}',
        changed_by text NOT NULL,
        changed_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (org_id, version)
    );
    CREATE INDEX organization_version_asof
        ON registry.organization_version (org_id, valid_from);

    CREATE TABLE registry.import_run (
        id bigserial PRIMARY KEY,
        filename text NOT NULL,
        sha256 text NOT NULL,
        rows_total integer NOT NULL,
        rows_loaded integer NOT NULL,
        rows_rejected integer NOT NULL,
        imported_by text NOT NULL,
        imported_at timestamptz NOT NULL DEFAULT now()
    );
    """)
    op.execute(create_table_sql("registry"))
