"""A region's members by category from the index alone: the portal's page of a region counted
its ~50,000 members through the heap, one page per row (about 50 ms, the slowest page of the
load test); an index of (region, category) over members on the register answers it as an
index-only scan.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE INDEX IF NOT EXISTS member_region_category ON membership.member "
               "(region_id, category) WHERE removed_on IS NULL")


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS membership.member_region_category")
