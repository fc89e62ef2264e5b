"""What the runtime login asks the schema's owner to do (it owns nothing): an initial load's
indexes set aside and made again (services.common.maintenance).

Revision ID: 0005
Revises: 0004
"""

from alembic import op

from services.common.maintenance import drop_functions_sql, functions_sql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(functions_sql("membership"))


def downgrade() -> None:
    op.execute(drop_functions_sql("membership"))
