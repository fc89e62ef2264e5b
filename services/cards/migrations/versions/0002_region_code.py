"""The region part of card numbers, fixed per region when its first card is numbered: editing a
registry number later changes no number issued after it.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
        CREATE TABLE cards.region_code (
            region_id bigint PRIMARY KEY,
            code text NOT NULL CHECK (code ~ '^[0-9]{2}$'),
            fixed_at timestamptz NOT NULL DEFAULT now()
        );
        -- the regions that have cards keep the code their numbers already carry
        INSERT INTO cards.region_code (region_id, code)
        SELECT DISTINCT ON (region_id) region_id, substr(number, 3, 2) FROM cards.card
        WHERE region_id IS NOT NULL ORDER BY region_id, id
        ON CONFLICT DO NOTHING;
    """)


def downgrade() -> None:
    op.execute("DROP TABLE cards.region_code")
