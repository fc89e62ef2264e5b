"""Imports kept with their reports (a list per organization), the paper-consent confirmation
of a whole file, and the columns a person mapped by hand, remembered per organization.

Revision ID: 0007
Revises: 0006
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    ALTER TABLE membership.import_run
        ADD COLUMN report jsonb,
        ADD COLUMN paper_consent_on date,
        ADD COLUMN rows_updated integer NOT NULL DEFAULT 0,
        ADD COLUMN rows_skipped integer NOT NULL DEFAULT 0;
    CREATE INDEX import_run_by_org ON membership.import_run (org_id, started_at DESC);
    CREATE TABLE membership.import_mapping (
        org_id bigint NOT NULL,
        header text NOT NULL,          -- the file's header, lower case, spaces collapsed
        field text NOT NULL,           -- the card's key, or '' for a column left out
        mapped_by text NOT NULL,
        mapped_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (org_id, header)
    );
    """)


def downgrade() -> None:
    op.execute("""
    DROP TABLE membership.import_mapping;
    DROP INDEX membership.import_run_by_org;
    ALTER TABLE membership.import_run DROP COLUMN report, DROP COLUMN paper_consent_on,
        DROP COLUMN rows_updated, DROP COLUMN rows_skipped;
    """)
