"""When retention deleted a batch's files from the bucket (issue 29: they hold the holders'
names); the batch's row and counts stay.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE cards.batch ADD COLUMN files_erased_at timestamptz")


def downgrade() -> None:
    op.execute("ALTER TABLE cards.batch DROP COLUMN files_erased_at")
