"""What the runtime login asks the schema's owner to do (it owns nothing): ANALYZE of the tables a
national run has just filled (services.common.maintenance).

Revision ID: 0004
Revises: 0003
"""

from alembic import op

from services.common.maintenance import drop_functions_sql, functions_sql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(functions_sql("reports"))


def downgrade() -> None:
    op.execute(drop_functions_sql("reports"))
