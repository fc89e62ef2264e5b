"""The audit log's own retention (issue 29): rows past the Central Council's term deleted only
through a SECURITY DEFINER function that keeps at least a year (services.common.audit); the
rule for every service's log, three years by default, is membership's.

Revision ID: 0010
Revises: 0009
"""

from alembic import op

from services.common.audit import drop_purge_sql, purge_sql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None
SCHEMA = "membership"


def upgrade() -> None:
    op.execute(purge_sql(SCHEMA))
    op.execute("INSERT INTO membership.retention_rule (kind, keep_days, action) "
               "VALUES ('audit_entry', 1095, 'erase') ON CONFLICT (kind) DO NOTHING")


def downgrade() -> None:
    op.execute("DELETE FROM membership.retention_rule WHERE kind = 'audit_entry'")
    op.execute(drop_purge_sql(SCHEMA))
