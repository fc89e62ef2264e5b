"""Reports: the tree and the counts as they stood on each reporting date, and the reports.

Revision ID: 0001
Revises:
"""

from alembic import op

from services.common.outbox import create_table_sql as outbox_sql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS ltree")
    op.execute("""
    -- the registry's tree as it stood at the start of a reporting date, taken once (asked of
    -- the registry in one call): reports of that date are placed and consolidated by it
    CREATE TABLE reports.snapshot (
        day date PRIMARY KEY,
        orgs integer NOT NULL,
        -- the names of membership's counts, in the order of snapshot_count.counts
        count_keys text[],
        taken_at timestamptz NOT NULL DEFAULT now(),
        taken_by text NOT NULL
    );
    CREATE TABLE reports.snapshot_org (
        day date NOT NULL REFERENCES reports.snapshot (day) ON DELETE CASCADE,
        org_id bigint NOT NULL,
        parent_id bigint,
        path ltree NOT NULL,
        level text NOT NULL,
        region_id bigint,
        name text NOT NULL,
        registry_number text NOT NULL,
        education_type text,
        territorial_rights boolean NOT NULL,
        legal_entity boolean NOT NULL,
        -- chair, term of office and (for a primary) the education organization's INN given
        passport_complete boolean NOT NULL,
        -- the organization whose report holds this one's members (a subdivision's primary)
        holder_id bigint NOT NULL,
        -- the nearest organization above that consolidates (territorial, regional, central)
        consolidator_id bigint,
        PRIMARY KEY (day, org_id)
    );
    CREATE INDEX snapshot_org_consolidator ON reports.snapshot_org (day, consolidator_id);
    CREATE INDEX snapshot_org_path ON reports.snapshot_org USING gist (path);

    -- members per organization on the date (membership's counts, in snapshot.count_keys order:
    -- an array sums column by column without unpacking 70,000 objects into a million rows)
    CREATE TABLE reports.snapshot_count (
        day date NOT NULL REFERENCES reports.snapshot (day) ON DELETE CASCADE,
        org_id bigint NOT NULL,
        counts bigint[] NOT NULL,
        PRIMARY KEY (day, org_id)
    );

    CREATE TABLE reports.report (
        id bigserial PRIMARY KEY,
        day date NOT NULL,
        family text NOT NULL,
        form text NOT NULL,
        form_year integer NOT NULL,  -- the definitions' version the report was made on
        org_id bigint NOT NULL,
        path ltree NOT NULL,
        level text NOT NULL,
        region_id bigint,
        consolidator_id bigint,
        status text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'submitted')),
        -- generated from the registry alone (complete passport, every member's category)
        auto boolean NOT NULL DEFAULT false,
        -- counted from the registry (a primary) or summed from the reports beneath
        computed jsonb NOT NULL DEFAULT '{}',
        entered jsonb NOT NULL DEFAULT '{}',   -- what was typed by hand (kept across refreshes)
        "values" jsonb NOT NULL DEFAULT '{}',  -- every indicator's value as the report shows it
        version integer NOT NULL DEFAULT 1,
        summed_at timestamptz,  -- when the reports beneath were last summed into it
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        updated_by text NOT NULL,
        submitted_at timestamptz,
        submitted_by text,
        reopen_reason text,
        UNIQUE (day, family, org_id)
    );
    -- few indexes: a national run rewrites 75,000 reports several times (subtrees are found
    -- through snapshot_org's path index)
    CREATE INDEX report_consolidator ON reports.report (day, family, consolidator_id);

    -- what happened to each report: generated, edited, submitted, reopened (who, when, why)
    CREATE TABLE reports.report_event (
        id bigserial PRIMARY KEY,
        report_id bigint NOT NULL REFERENCES reports.report (id) ON DELETE CASCADE,
        action text NOT NULL,
        actor text NOT NULL,
        at timestamptz NOT NULL DEFAULT now(),
        reason text,
        diff jsonb NOT NULL DEFAULT '{}'
    );
    CREATE INDEX report_event_report ON reports.report_event (report_id, at);
    """)
    op.execute(outbox_sql("reports"))
