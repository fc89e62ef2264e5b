"""Targeted mailing: consents by purpose, campaigns, their recipients on the outgoing queue.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    -- every change of a person's consent to a mailing purpose, by their address: the latest
    -- row decides; the card's and the passport's consent (membership, registry) apply while
    -- the address has no row of its own for the purpose
    CREATE TABLE notify.consent (
        id bigserial PRIMARY KEY,
        email text NOT NULL,
        purpose text NOT NULL CHECK (purpose IN ('union_news', 'partner_ads')),
        granted boolean NOT NULL,
        text_version text NOT NULL,
        channel text NOT NULL CHECK (channel IN
            ('account', 'unsubscribe_link', 'one_click', 'mailto', 'card', 'passport', 'staff')),
        source text NOT NULL,
        at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX consent_latest ON notify.consent (email, purpose, id DESC);

    -- a mailing: who wrote it, for whom, its state; the audience fixed when it starts
    CREATE TABLE notify.campaign (
        id bigserial PRIMARY KEY,
        event_id uuid NOT NULL UNIQUE,
        subject text NOT NULL,
        body_md text NOT NULL,
        body_html text NOT NULL,
        body_text text NOT NULL,
        purpose text NOT NULL CHECK (purpose IN ('union_news', 'partner_ads')),
        audience jsonb NOT NULL,
        -- the organization whose subtree it is written from (the author's scope)
        scope_org_id bigint,
        author text NOT NULL,
        status text NOT NULL DEFAULT 'draft' CHECK (status IN
            ('draft', 'awaiting_approval', 'scheduled', 'sending', 'paused', 'done',
             'cancelled')),
        needs_approval boolean NOT NULL DEFAULT false,
        approved_by text,
        approved_at timestamptz,
        scheduled_at timestamptz,
        started_at timestamptz,
        counts jsonb,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX campaign_due ON notify.campaign (scheduled_at) WHERE status = 'scheduled';

    -- what the Central Council sets: campaigns above this many recipients need approval
    CREATE TABLE notify.mailing_setting (
        name text PRIMARY KEY,
        value jsonb NOT NULL,
        updated_by text NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
    );

    -- a campaign's messages are the queue's (the one sender); these say whose they are
    ALTER TABLE notify.message ADD COLUMN campaign_id bigint REFERENCES notify.campaign (id),
                               ADD COLUMN region_id bigint;
    CREATE INDEX message_campaign ON notify.message (campaign_id, status)
        WHERE campaign_id IS NOT NULL;
    """)
