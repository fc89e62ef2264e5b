"""Searches across regions go through the person key (it begins with the surname): the
separate national surname index goes, which also spares a national load building it.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DROP INDEX IF EXISTS membership.member_surname")


def downgrade() -> None:
    op.execute('CREATE INDEX member_surname ON membership.member '
               '((lower(surname) COLLATE "C"), region_id)')
