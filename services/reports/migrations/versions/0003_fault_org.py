"""The faults of one organization's subtree found from the organizations: an index of faults by
(run, organization), so that a region's list reads its own few thousand faults instead of
walking the run's 140,000 (400 ms, the slowest call of the portal's page of a region).

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE INDEX IF NOT EXISTS quality_fault_org ON reports.quality_fault "
               "(run_id, org_id)")


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS reports.quality_fault_org")
