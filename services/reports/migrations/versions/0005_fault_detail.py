"""What a fault is, where one check has several reasons (a chair without access: no e-mail,
never signed in, the invitation expired, the address bouncing).

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE reports.quality_fault ADD COLUMN IF NOT EXISTS detail text")


def downgrade() -> None:
    op.execute("ALTER TABLE reports.quality_fault DROP COLUMN IF EXISTS detail")
