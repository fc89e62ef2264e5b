"""Cards, their history, issuance batches and the vendor's response files.

Revision ID: 0001
Revises:
"""

from alembic import op

from services.common.audit import create_table_sql as audit_sql
from services.common.outbox import create_table_sql as outbox_sql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS ltree")
    op.execute("""
    -- the sequence part of card numbers: a sequence never hands a value out twice, so a number
    -- is never reused, not even after a rollback
    CREATE SEQUENCE cards.card_number_seq MAXVALUE 99999999999 NO CYCLE;

    -- regions that order a plastic card for every new member by themselves
    CREATE TABLE cards.region_policy (
        region_id bigint PRIMARY KEY,
        auto_request boolean NOT NULL,
        updated_by text NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE cards.batch (
        id bigserial PRIMARY KEY,
        region_id bigint NOT NULL,
        region_code text NOT NULL,
        -- writing: cards assigned, files not yet all in the bucket (a restart writes them
        -- again, byte for byte); sent: the manifest is in the bucket
        status text NOT NULL DEFAULT 'writing' CHECK (status IN ('writing', 'sent')),
        cards integer NOT NULL,
        object_prefix text NOT NULL UNIQUE,
        sha256 text,
        created_by text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        sent_at timestamptz
    );

    CREATE TABLE cards.card (
        id bigserial PRIMARY KEY,
        number text NOT NULL UNIQUE CHECK (number ~ '^[0-9]{16}$'),
        member_id bigint NOT NULL,
        org_id bigint NOT NULL,
        org_path ltree NOT NULL,
        region_id bigint NOT NULL,
        holder text NOT NULL,  -- the name as printed on the card
        org_number text NOT NULL,  -- where the card is delivered, as of the request
        org_name text NOT NULL,
        kind text NOT NULL CHECK (kind IN ('plastic', 'virtual')),
        status text NOT NULL CHECK (status IN ('requested', 'batched', 'produced', 'delivered',
                                               'issued', 'refused', 'virtual')),
        status_on timestamptz NOT NULL DEFAULT now(),
        reason text,
        batch_id bigint REFERENCES cards.batch (id),
        requested_by text NOT NULL,
        requested_at timestamptz NOT NULL DEFAULT now(),
        reminded_at timestamptz,
        -- the member while the card is in force, NULL once refused: one card in force per
        -- member, and a refused one may be followed by a new request
        live_member_id bigint UNIQUE
    ) WITH (fillfactor = 50);
    -- No index names the status or the batch: a batch or a vendor's response moves hundreds
    -- of thousands of cards at once, and with no indexed column changed (and room left on
    -- each page by the fill factor) PostgreSQL updates them in place (HOT), ten times faster
    -- than with new entries in every index. Collecting and rendering a batch read the table
    -- through once instead.
    CREATE INDEX card_member ON cards.card (member_id);
    CREATE INDEX card_org ON cards.card (org_id);
    CREATE INDEX card_path ON cards.card USING gist (org_path);

    -- every change of a card's status: dated and attributed
    CREATE TABLE cards.card_event (
        id bigserial PRIMARY KEY,
        card_id bigint NOT NULL REFERENCES cards.card (id),
        status text NOT NULL,
        at timestamptz NOT NULL DEFAULT now(),
        by text NOT NULL,
        reason text
    );
    CREATE INDEX card_event_card ON cards.card_event (card_id, id);

    -- the vendor's response files, each applied at most once
    CREATE TABLE cards.response_file (
        object_key text PRIMARY KEY,
        sha256 text NOT NULL,
        batch_id bigint,
        status text NOT NULL CHECK (status IN ('applied', 'refused')),
        rows integer NOT NULL DEFAULT 0,
        changed integer NOT NULL DEFAULT 0,
        problem text,
        seen_at timestamptz NOT NULL DEFAULT now()
    );
    """)
    op.execute(outbox_sql("cards"))
    op.execute(audit_sql("cards"))
