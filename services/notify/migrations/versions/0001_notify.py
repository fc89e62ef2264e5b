"""The outgoing queue, delivery attempts, bounces, preferences and the chairs' digests.

Revision ID: 0001
Revises:
"""

from alembic import op

from services.common.audit import create_table_sql as audit_sql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    -- events notify has handled: a redelivered event finds its row and queues nothing again
    CREATE TABLE notify.handled_event (
        event_id uuid PRIMARY KEY,
        event_type text NOT NULL,
        handled_at timestamptz NOT NULL DEFAULT now()
    );

    -- the outgoing queue and what became of each message. One message per (event, recipient):
    -- the unique constraint makes a second handling of the same event queue nothing.
    CREATE TABLE notify.message (
        id bigserial PRIMARY KEY,
        event_id uuid NOT NULL,
        recipient text NOT NULL,
        kind text NOT NULL,  -- the template
        context jsonb NOT NULL,
        -- queued: to send (when due); sent: the server accepted it; held: an operator must
        -- look (a template failed, too many 4xx); bounced: the server refused the address;
        -- skipped: the person switched this notification off or the address bounces
        status text NOT NULL DEFAULT 'queued'
            CHECK (status IN ('queued', 'sent', 'held', 'bounced', 'skipped')),
        attempts integer NOT NULL DEFAULT 0,
        due_at timestamptz NOT NULL DEFAULT now(),
        error text,
        created_at timestamptz NOT NULL DEFAULT now(),
        sent_at timestamptz,
        CONSTRAINT message_once UNIQUE (event_id, recipient)
    );
    CREATE INDEX message_due ON notify.message (due_at, id) WHERE status = 'queued';
    CREATE INDEX message_recipient ON notify.message (recipient, created_at);

    -- every delivery attempt: the delivery log an operator reads
    CREATE TABLE notify.attempt (
        id bigserial PRIMARY KEY,
        message_id bigint NOT NULL REFERENCES notify.message (id),
        at timestamptz NOT NULL DEFAULT now(),
        outcome text NOT NULL
            CHECK (outcome IN ('sent', 'deferred', 'bounced', 'held', 'skipped')),
        smtp_code integer,
        detail text
    );
    CREATE INDEX attempt_message ON notify.attempt (message_id, id);

    -- addresses the mail server refused for good (5xx): not written to again, and counted by
    -- the data-quality check of chairs without access
    CREATE TABLE notify.address (
        email text PRIMARY KEY,
        state text NOT NULL CHECK (state IN ('bouncing')),
        smtp_code integer,
        detail text,
        since timestamptz NOT NULL DEFAULT now()
    );

    -- optional notifications a person switched off (invitations and security messages cannot be)
    CREATE TABLE notify.opt_out (
        email text NOT NULL,
        kind text NOT NULL,
        since timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (email, kind)
    );

    -- what a digest will tell: one row per fact, gathered into one message per recipient
    CREATE TABLE notify.digest_item (
        id bigserial PRIMARY KEY,
        digest text NOT NULL,  -- applications_waiting, ...
        org_id bigint NOT NULL,
        item jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        message_id bigint REFERENCES notify.message (id),
        gathered_at timestamptz
    );
    CREATE INDEX digest_item_open ON notify.digest_item (digest, org_id)
        WHERE gathered_at IS NULL;
    """)
    op.execute(audit_sql("notify"))
