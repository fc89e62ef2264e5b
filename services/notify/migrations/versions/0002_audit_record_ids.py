"""The ids of an answer that returned many records in one audit row (issue 17: a page of 500
people audited within 3 ms).

Revision ID: 0002
Revises: 0001
"""

from alembic import op

from services.common.audit import record_ids_sql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None
SCHEMA = "notify"


def upgrade() -> None:
    op.execute(record_ids_sql(SCHEMA))


def downgrade() -> None:
    op.execute(f"DROP INDEX {SCHEMA}.audit_log_records;"
               f" ALTER TABLE {SCHEMA}.audit_log DROP COLUMN record_ids")
