"""Members, their history and placements, join applications, imports, the registry's read model.

Revision ID: 0001
Revises:
"""

from alembic import op

from services.common.audit import create_table_sql as audit_sql
from services.common.outbox import create_table_sql as outbox_sql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS ltree")
    op.execute("""
    -- the registry's organizations as membership needs them, fed by the registry's events
    CREATE TABLE membership.org (
        id bigint PRIMARY KEY,
        parent_id bigint,
        path ltree NOT NULL,
        level text NOT NULL,
        region_id bigint,
        registry_number text NOT NULL,
        name text NOT NULL,
        education_name text,
        education_inn text,
        excluded_on date,
        synced_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX org_path ON membership.org USING gist (path);
    CREATE INDEX org_region ON membership.org (region_id, level);
    CREATE UNIQUE INDEX org_number ON membership.org (registry_number);

    CREATE TABLE membership.member (
        id bigserial PRIMARY KEY,
        surname text NOT NULL,
        first_name text NOT NULL,
        patronymic text,
        sex text CHECK (sex IN ('male', 'female')),
        birth_date date NOT NULL,
        snils text CHECK (char_length(snils) = 11),  -- digits and check digits: card.py
        phone text,
        email text,
        -- where the member is registered now (kept after removal: where they were)
        org_id bigint NOT NULL,
        region_id bigint,
        org_since date NOT NULL,
        joined_on date NOT NULL,
        registered_on date NOT NULL,
        removed_on date,
        removal_reason text CHECK (removal_reason IN
            ('own_will', 'left_job', 'graduated', 'moved_away', 'expelled', 'died')),
        category text NOT NULL DEFAULT 'not_given'
            CHECK (category IN ('working', 'student', 'pensioner', 'not_given')),
        job_category text CHECK (job_category IN ('teacher', 'head', 'support_staff', 'other')),
        pd_consent_on date NOT NULL,
        pd_consent_form text NOT NULL CHECK (pd_consent_form IN ('paper', 'electronic')),
        pd_consent_withdrawn_on date,
        email_consent boolean NOT NULL DEFAULT false,
        email_consent_on date,
        card_number text,
        account_subject text,
        account_active boolean NOT NULL DEFAULT false,
        -- compared for equality only: the "C" collation makes its index the cheapest to keep
        person_key text COLLATE "C" NOT NULL,
        source text NOT NULL DEFAULT 'manual' CHECK (source IN ('manual', 'import', 'online')),
        import_id bigint,
        version integer NOT NULL DEFAULT 1,
        valid_since timestamptz NOT NULL DEFAULT now(),
        updated_by text NOT NULL DEFAULT 'system',
        CHECK ((removed_on IS NULL) = (removal_reason IS NULL)),
        CHECK (removed_on IS NULL OR removed_on >= joined_on)
    );
    CREATE UNIQUE INDEX member_snils ON membership.member (snils) WHERE snils IS NOT NULL;
    CREATE UNIQUE INDEX member_card ON membership.member (card_number)
        WHERE card_number IS NOT NULL;
    CREATE INDEX member_person ON membership.member (person_key);
    CREATE INDEX member_org ON membership.member (org_id) WHERE removed_on IS NULL;
    -- search within a region by the beginning of the surname, in the order lists show (the
    -- first name, the birth date and the subtree are then filtered among the region's rows);
    -- the "C" collation serves both the prefix (LIKE 'ив%') and the order, so a page of 50
    -- stops after 50 rows however common the surname
    CREATE INDEX member_region_name ON membership.member
        (region_id, (lower(surname) COLLATE "C"));
    -- the same across the whole union, for the Central Council; with the region beside the
    -- name, a regional search the planner sends here still skips other regions in the index
    CREATE INDEX member_surname ON membership.member ((lower(surname) COLLATE "C"), region_id);
    CREATE INDEX member_account ON membership.member (account_subject)
        WHERE account_subject IS NOT NULL;

    -- earlier states of a card; the current one is the member row (valid since valid_since)
    CREATE TABLE membership.member_version (
        member_id bigint NOT NULL REFERENCES membership.member (id),
        version integer NOT NULL,
        valid_from timestamptz NOT NULL,
        valid_to timestamptz NOT NULL,
        card jsonb NOT NULL,
        change_kind text NOT NULL,
        diff jsonb NOT NULL DEFAULT '{}',
        changed_by text NOT NULL,
        PRIMARY KEY (member_id, version)
    );

    -- periods in organizations the member has left by transfer (the current one is on the row)
    CREATE TABLE membership.placement (
        member_id bigint NOT NULL REFERENCES membership.member (id),
        org_id bigint NOT NULL,
        since date NOT NULL,
        until date NOT NULL,
        PRIMARY KEY (member_id, since, org_id)
    );
    CREATE INDEX placement_org ON membership.placement (org_id, since, until);

    CREATE TABLE membership.application (
        id uuid PRIMARY KEY,
        org_id bigint NOT NULL,
        region_id bigint,
        card jsonb NOT NULL,
        status text NOT NULL DEFAULT 'submitted'
            CHECK (status IN ('submitted', 'accepted', 'declined', 'expired')),
        submitted_at timestamptz NOT NULL DEFAULT now(),
        reminded_at timestamptz,
        decided_at timestamptz,
        decided_by text,
        decline_reason text,
        member_id bigint,
        -- compared for equality only: the "C" collation makes its index the cheapest to keep
        person_key text COLLATE "C" NOT NULL,
        snils text
    );
    CREATE INDEX application_queue ON membership.application (org_id, submitted_at)
        WHERE status = 'submitted';
    CREATE UNIQUE INDEX application_one_open ON membership.application (person_key)
        WHERE status = 'submitted';

    CREATE TABLE membership.import_run (
        id bigserial PRIMARY KEY,
        org_id bigint,
        filename text NOT NULL,
        sha256 text NOT NULL,
        status text NOT NULL DEFAULT 'running'
            CHECK (status IN ('running', 'loaded', 'rejected', 'failed')),
        rows_total integer NOT NULL DEFAULT 0,
        rows_done integer NOT NULL DEFAULT 0,
        rows_loaded integer NOT NULL DEFAULT 0,
        rows_unchanged integer NOT NULL DEFAULT 0,
        rows_rejected integer NOT NULL DEFAULT 0,
        imported_by text NOT NULL,
        started_at timestamptz NOT NULL DEFAULT now(),
        finished_at timestamptz
    );
    """)
    op.execute(outbox_sql("membership"))
    op.execute(audit_sql("membership"))
