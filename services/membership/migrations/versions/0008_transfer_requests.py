"""Transfers asked for by the receiving organization and decided by the sending one (or its
region, or by themselves after a period the region sets).

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE membership.transfer_request (
        id bigserial PRIMARY KEY,
        member_id bigint NOT NULL REFERENCES membership.member (id),
        from_org_id bigint NOT NULL,
        to_org_id bigint NOT NULL,
        on_date date NOT NULL,
        status text NOT NULL DEFAULT 'pending'
            CHECK (status IN ('pending', 'done', 'declined', 'cancelled')),
        requested_by text NOT NULL,
        requested_at timestamptz NOT NULL DEFAULT now(),
        decided_by text,
        decided_at timestamptz,
        reason text
    );
    -- one open request per member at a time
    CREATE UNIQUE INDEX transfer_request_open ON membership.transfer_request (member_id)
        WHERE status = 'pending';
    CREATE INDEX transfer_request_from ON membership.transfer_request (from_org_id, status);
    CREATE INDEX transfer_request_to ON membership.transfer_request (to_org_id, status);
    -- a region's rule: a request nobody has decided goes through after this many days
    CREATE TABLE membership.transfer_policy (
        region_id bigint PRIMARY KEY,
        auto_after_days integer CHECK (auto_after_days BETWEEN 1 AND 90),
        set_by text NOT NULL,
        set_at timestamptz NOT NULL DEFAULT now()
    );
    """)


def downgrade() -> None:
    op.execute("DROP TABLE membership.transfer_policy; DROP TABLE membership.transfer_request")
