"""Personal data over its whole life (issue 29, 152-ФЗ): a person's requests (their copy, the
withdrawal of consent), retention rules per kind of record with their legal minimum, legal holds,
the counts of what retention erased, a removed member's card reduced to what statistics need,
and the reader's roles and organizations in the audit log (a person's copy says who read their
card by organization and role, not by name).

Revision ID: 0009
Revises: 0008
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    ALTER TABLE membership.member DROP CONSTRAINT member_removal_reason_check;
    ALTER TABLE membership.member ADD CONSTRAINT member_removal_reason_check CHECK
        (removal_reason IN ('own_will', 'left_job', 'graduated', 'moved_away', 'expelled',
                            'died', 'consent_withdrawn'));
    -- a reduced card has no names; its person key becomes 'erased:<id>'
    ALTER TABLE membership.member ALTER COLUMN surname DROP NOT NULL,
        ALTER COLUMN first_name DROP NOT NULL,
        ADD COLUMN reduced_on date;
    CREATE INDEX member_retention ON membership.member (removed_on)
        WHERE removed_on IS NOT NULL AND reduced_on IS NULL;

    ALTER TABLE membership.audit_log ADD COLUMN actor_roles text[],
        ADD COLUMN actor_orgs bigint[];

    -- a person's own copy or withdrawal: asked in the personal account or on paper
    CREATE TABLE membership.data_request (
        id bigserial PRIMARY KEY,
        member_id bigint NOT NULL REFERENCES membership.member (id),
        kind text NOT NULL CHECK (kind IN ('copy', 'withdrawal')),
        channel text NOT NULL CHECK (channel IN ('account', 'paper')),
        asked_on date NOT NULL,
        answered_on date NOT NULL,
        asked_at timestamptz NOT NULL DEFAULT now(),
        recorded_by text NOT NULL
    );
    CREATE INDEX data_request_member ON membership.data_request (member_id, kind, asked_at);

    -- how long each kind of record is kept and what happens then (set by the Central Council)
    CREATE TABLE membership.retention_rule (
        kind text PRIMARY KEY,
        keep_days integer NOT NULL CHECK (keep_days >= 0),
        action text NOT NULL CHECK (action IN ('reduce', 'erase')),
        set_by text NOT NULL DEFAULT 'system',
        set_at timestamptz NOT NULL DEFAULT now()
    );
    INSERT INTO membership.retention_rule (kind, keep_days, action) VALUES
        ('removed_member', 1825, 'reduce'),
        ('consent_withdrawn_member', 30, 'reduce'),
        ('declined_application', 365, 'erase'),
        ('expired_application', 180, 'erase'),
        ('import_report', 365, 'erase'),
        ('card_batch_file', 730, 'erase');

    CREATE TABLE membership.legal_hold (
        id bigserial PRIMARY KEY,
        member_id bigint NOT NULL REFERENCES membership.member (id),
        reason text NOT NULL,
        placed_by text NOT NULL,
        placed_at timestamptz NOT NULL DEFAULT now(),
        released_by text,
        released_at timestamptz,
        release_reason text
    );
    CREATE UNIQUE INDEX legal_hold_open ON membership.legal_hold (member_id)
        WHERE released_at IS NULL;

    -- what retention did: counts only, never the data
    CREATE TABLE membership.erasure_run (
        id bigserial PRIMARY KEY,
        at timestamptz NOT NULL DEFAULT now(),
        kind text NOT NULL,
        action text NOT NULL,
        records integer NOT NULL,
        postponed integer NOT NULL DEFAULT 0,
        run_by text NOT NULL
    );
    CREATE INDEX erasure_run_at ON membership.erasure_run (at);
    """)


def downgrade() -> None:
    op.execute("""
    DROP TABLE membership.erasure_run, membership.legal_hold, membership.retention_rule,
        membership.data_request;
    ALTER TABLE membership.audit_log DROP COLUMN actor_roles, DROP COLUMN actor_orgs;
    DROP INDEX membership.member_retention;
    ALTER TABLE membership.member DROP COLUMN reduced_on;
    ALTER TABLE membership.member DROP CONSTRAINT member_removal_reason_check;
    ALTER TABLE membership.member ADD CONSTRAINT member_removal_reason_check CHECK
        (removal_reason IN ('own_will', 'left_job', 'graduated', 'moved_away', 'expelled',
                            'died'));
    """)
