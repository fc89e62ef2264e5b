"""The audit log of reads and changes of personal data in passports.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

from services.common.audit import create_table_sql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(create_table_sql("registry"))
