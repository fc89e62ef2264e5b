"""The audit log's own retention (issue 29): rows past the Central Council's term deleted only
through a SECURITY DEFINER function that keeps at least a year (services.common.audit).

Revision ID: 0007
Revises: 0006
"""

from alembic import op

from services.common.audit import drop_purge_sql, purge_sql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None
SCHEMA = "registry"


def upgrade() -> None:
    op.execute(purge_sql(SCHEMA))


def downgrade() -> None:
    op.execute(drop_purge_sql(SCHEMA))
