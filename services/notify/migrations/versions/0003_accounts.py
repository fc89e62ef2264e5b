"""Sign-ins seen, for the account states of chairs and the quality check "chairs without
access".

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
    -- the first and the last sign-in of an account (its name: the address), from Keycloak's
    -- LOGIN events as sso reads them; an account never seen here has not signed in since
    CREATE TABLE notify.sign_in (
        email text PRIMARY KEY,
        first_at timestamptz NOT NULL,
        last_at timestamptz NOT NULL
    );
    -- the latest invitation to an address (account states read it for many chairs at once)
    CREATE INDEX message_invitation ON notify.message (recipient, id DESC)
        WHERE kind = 'invitation';
    """)
