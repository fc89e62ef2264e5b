"""Join applications that duplicate a registered member or a pending application: the public form
answers every application the same way (it must not tell who is a member), so a duplicate is
recorded and flagged for the chair instead of refused.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    ALTER TABLE membership.application
        ADD COLUMN duplicate_of_member bigint,
        ADD COLUMN duplicate_of_application uuid;
    -- one open application per person, not counting the duplicates flagged against it
    DROP INDEX membership.application_one_open;
    CREATE UNIQUE INDEX application_one_open ON membership.application (person_key)
        WHERE status = 'submitted' AND duplicate_of_application IS NULL;
    CREATE INDEX application_open_snils ON membership.application (snils)
        WHERE status = 'submitted' AND duplicate_of_application IS NULL;
    """)


def downgrade() -> None:
    op.execute("""
    DROP INDEX membership.application_open_snils;
    DROP INDEX membership.application_one_open;
    DELETE FROM membership.application WHERE duplicate_of_application IS NOT NULL
        AND status = 'submitted';
    CREATE UNIQUE INDEX application_one_open ON membership.application (person_key)
        WHERE status = 'submitted';
    ALTER TABLE membership.application DROP COLUMN duplicate_of_member,
        DROP COLUMN duplicate_of_application;
    """)
