"""The tree's version: a number every transaction that changes organizations raises (a
statement trigger, so no writer can forget it). Caches of subtrees compare it to know they are
still true.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE registry.tree_version (
        one boolean PRIMARY KEY DEFAULT true CHECK (one),
        n bigint NOT NULL
    );
    INSERT INTO registry.tree_version (n) VALUES (0);
    CREATE FUNCTION registry.raise_tree_version() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE registry.tree_version SET n = n + 1;
        RETURN NULL;
    END $$;
    CREATE TRIGGER organization_changes_tree AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
        ON registry.organization FOR EACH STATEMENT
        EXECUTE FUNCTION registry.raise_tree_version();
    """)


def downgrade() -> None:
    op.execute("""
    DROP TRIGGER organization_changes_tree ON registry.organization;
    DROP FUNCTION registry.raise_tree_version();
    DROP TABLE registry.tree_version;
    """)
