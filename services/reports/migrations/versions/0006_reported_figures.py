"""The statistical report's figures as the union's reports state them, loaded from a file (members
reported per primary and category), for the reconciliation of the registry against the report.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE reports.reported_figures (
        day date NOT NULL,
        org_id bigint NOT NULL,
        members integer NOT NULL,
        working integer,
        students integer,
        pensioners integer,
        filename text NOT NULL,
        loaded_by text NOT NULL,
        loaded_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (day, org_id)
    )
    """)


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS reports.reported_figures")
