"""The reference library: materials, their editions and files, search, publishing history,
usage.

Revision ID: 0001
Revises:
"""

from alembic import op

from services.common.audit import create_table_sql as audit_sql
from services.common.audit import record_ids_sql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE library.material (
        id bigserial PRIMARY KEY,
        kind text NOT NULL CHECK (kind IN ('document', 'presentation', 'video', 'link')),
        title text NOT NULL CHECK (length(title) BETWEEN 1 AND 300),
        description text NOT NULL DEFAULT '',
        topics text[] NOT NULL DEFAULT '{}',
        -- who published it: the Central Council or a regional organization, and its region
        -- (NULL: federal, for every region)
        publisher_org_id bigint NOT NULL,
        publisher_name text NOT NULL DEFAULT '',
        region_id bigint,
        audiences text[] NOT NULL CHECK (cardinality(audiences) > 0),
        levels text[] NOT NULL DEFAULT '{}',  -- none: every level
        -- a region's addition to a federal material
        addition_to bigint REFERENCES library.material (id),
        normative boolean NOT NULL DEFAULT false,
        url text,  -- a link's address
        status text NOT NULL DEFAULT 'published' CHECK (status IN ('published', 'retired')),
        created_at timestamptz NOT NULL DEFAULT now(),
        created_by text NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        -- the text search reads: title (A), topics and description (B), the newest edition's
        -- text (D); `body` is that text, for the snippet
        body text NOT NULL DEFAULT '',
        search tsvector NOT NULL DEFAULT ''::tsvector,
        -- what ranks: the same without the text (a few hundred bytes, kept in the row: ranking
        -- thousands of matches by the whole vector read each one's TOASTed kilobytes, 110 ms
        -- of a search's 150 over 20,000 materials)
        search_rank tsvector NOT NULL DEFAULT ''::tsvector,
        CHECK (kind <> 'link' OR url IS NOT NULL)
    );
    CREATE INDEX material_search ON library.material USING gin (search);
    CREATE INDEX material_topics ON library.material USING gin (topics);
    CREATE INDEX material_region ON library.material (region_id);
    CREATE INDEX material_addition ON library.material (addition_to)
        WHERE addition_to IS NOT NULL;
    CREATE INDEX material_created ON library.material (created_at DESC);

    CREATE TABLE library.edition (
        id bigserial PRIMARY KEY,
        material_id bigint NOT NULL REFERENCES library.material (id),
        number integer NOT NULL,
        effective_on date NOT NULL,
        supersedes_id bigint REFERENCES library.edition (id),
        note text NOT NULL DEFAULT '',
        object_key text NOT NULL,
        filename text NOT NULL,
        file_type text NOT NULL,
        media_type text NOT NULL,
        size_bytes bigint NOT NULL,
        text_status text NOT NULL
            CHECK (text_status IN ('extracted', 'empty', 'failed', 'none')),
        text_error text NOT NULL DEFAULT '',
        pages integer NOT NULL DEFAULT 0,
        uploaded_at timestamptz NOT NULL DEFAULT now(),
        uploaded_by text NOT NULL,
        UNIQUE (material_id, number),
        UNIQUE (object_key)
    );
    CREATE INDEX edition_material ON library.edition (material_id, effective_on);

    -- upload slots handed to the gateway: an edition is made only from a key of one's own
    CREATE TABLE library.upload (
        object_key text PRIMARY KEY,
        material_id bigint NOT NULL REFERENCES library.material (id),
        declared_bytes bigint NOT NULL,
        created_by text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        used_at timestamptz
    );

    -- the publishing history: every change to a material, who made it and when
    CREATE TABLE library.history (
        id bigserial PRIMARY KEY,
        material_id bigint NOT NULL REFERENCES library.material (id),
        at timestamptz NOT NULL DEFAULT now(),
        actor text NOT NULL,
        action text NOT NULL,
        details jsonb NOT NULL DEFAULT '{}'
    );
    CREATE INDEX history_material ON library.history (material_id, at);

    -- views and downloads, with where the reader stands (region, level of organization,
    -- role), never who they are
    CREATE TABLE library.usage (
        id bigserial PRIMARY KEY,
        at timestamptz NOT NULL DEFAULT now(),
        material_id bigint NOT NULL REFERENCES library.material (id),
        edition_id bigint REFERENCES library.edition (id),
        action text NOT NULL CHECK (action IN ('view', 'download')),
        region_id bigint,
        org_level text NOT NULL DEFAULT '',
        role text NOT NULL DEFAULT ''
    );
    CREATE INDEX usage_material ON library.usage (material_id, action);
    CREATE INDEX usage_at ON library.usage (at);
    """)
    op.execute(audit_sql("library"))
    op.execute(record_ids_sql("library"))
