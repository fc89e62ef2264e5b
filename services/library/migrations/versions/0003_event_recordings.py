"""A material may belong to an event (a webinar's recording, a seminar's slides): the event's
page lists them (issue 24).

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE library.material ADD COLUMN event_id bigint, "
               "ADD COLUMN event_title text NOT NULL DEFAULT ''")
    op.execute("CREATE INDEX material_event ON library.material (event_id) "
               "WHERE event_id IS NOT NULL")


def downgrade() -> None:
    op.execute("ALTER TABLE library.material DROP COLUMN event_id, DROP COLUMN event_title")
