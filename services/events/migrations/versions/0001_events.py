"""Events (registrations, the waiting list, check-ins) and meetings of elected bodies
(members and terms, attendance, agenda, votes, protocols with their versions).

Revision ID: 0001
Revises:
"""

from alembic import op

from services.common.audit import create_table_sql as audit_sql
from services.common.audit import record_ids_sql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE events.event (
        id bigserial PRIMARY KEY,
        org_id bigint NOT NULL,
        org_path ltree NOT NULL,   -- the organizing organization's place in the tree
        kind text NOT NULL CHECK (kind IN ('webinar', 'seminar', 'contest', 'forum',
                                           'training', 'meeting', 'other')),
        title text NOT NULL,
        starts_at timestamptz NOT NULL,
        ends_at timestamptz,
        place text NOT NULL DEFAULT '',
        link text NOT NULL DEFAULT '',
        description text NOT NULL DEFAULT '',
        -- {"levels": [...], "categories": [...], "within_org_id": n, "within_path": "..."}
        audience jsonb NOT NULL DEFAULT '{}',
        capacity integer CHECK (capacity IS NULL OR capacity > 0),
        registration_opens_at timestamptz,
        registration_closes_at timestamptz,
        confirm_hours integer NOT NULL DEFAULT 24 CHECK (confirm_hours > 0),
        questions jsonb NOT NULL DEFAULT '[]',
        cancelled boolean NOT NULL DEFAULT false,
        created_by text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX event_path ON events.event USING gist (org_path);
    CREATE INDEX event_starts ON events.event (starts_at);

    CREATE TABLE events.registration (
        id bigserial PRIMARY KEY,
        event_id bigint NOT NULL REFERENCES events.event (id),
        member_id bigint NOT NULL,
        org_id bigint NOT NULL,
        org_path ltree NOT NULL,   -- the member's organization when registered (roll-ups)
        full_name text NOT NULL,
        card_number text,
        -- registered: has a place; waiting: in the queue; offered: a place held for them until
        -- offered_until; cancelled / expired: no longer counted
        status text NOT NULL CHECK (status IN ('registered', 'waiting', 'offered', 'cancelled',
                                               'expired')),
        offered_until timestamptz,
        answers jsonb NOT NULL DEFAULT '{}',
        registered_by text NOT NULL,
        registered_at timestamptz NOT NULL DEFAULT now(),
        queued_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        checked_in_at timestamptz,
        checkin_id uuid UNIQUE,
        CONSTRAINT registration_once UNIQUE (event_id, member_id)
    );
    CREATE INDEX registration_waiting ON events.registration (event_id, queued_at, id)
        WHERE status = 'waiting';
    CREATE INDEX registration_offered ON events.registration (offered_until)
        WHERE status = 'offered';
    CREATE INDEX registration_member ON events.registration (member_id);
    CREATE INDEX registration_card ON events.registration (event_id, card_number);

    -- an event's places, one row each (as many as its capacity; none when unlimited): taking
    -- one locks only that row (FOR UPDATE SKIP LOCKED), so registrations for the same event
    -- commit side by side instead of queueing on one counter, and there is no row to overbook
    CREATE TABLE events.seat (
        event_id bigint NOT NULL REFERENCES events.event (id),
        n integer NOT NULL,
        registration_id bigint UNIQUE REFERENCES events.registration (id),
        PRIMARY KEY (event_id, n)
    );
    CREATE INDEX seat_free ON events.seat (event_id, n) WHERE registration_id IS NULL;

    -- every check-in a phone sent, by the id the phone made: a retried sync finds its row
    CREATE TABLE events.checkin (
        client_id uuid PRIMARY KEY,
        event_id bigint NOT NULL REFERENCES events.event (id),
        registration_id bigint REFERENCES events.registration (id),
        outcome text NOT NULL CHECK (outcome IN ('checked_in', 'already', 'not_registered')),
        scanned_at timestamptz NOT NULL,
        received_at timestamptz NOT NULL DEFAULT now(),
        by_user text NOT NULL
    );

    CREATE TABLE events.body (
        id bigserial PRIMARY KEY,
        org_id bigint NOT NULL,
        org_path ltree NOT NULL,
        kind text NOT NULL CHECK (kind IN ('profcom', 'presidium', 'committee', 'conference',
                                           'general_meeting')),
        name text NOT NULL,
        -- quorum: present * den > members * num ("more than num/den"); 1/2 by default
        quorum_num integer NOT NULL DEFAULT 1 CHECK (quorum_num > 0),
        quorum_den integer NOT NULL DEFAULT 2 CHECK (quorum_den >= quorum_num),
        created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX body_path ON events.body USING gist (org_path);

    CREATE TABLE events.body_member (
        id bigserial PRIMARY KEY,
        body_id bigint NOT NULL REFERENCES events.body (id),
        member_id bigint,
        full_name text NOT NULL,
        role text NOT NULL DEFAULT 'member',  -- chair, deputy, secretary, member
        from_date date NOT NULL,
        to_date date,
        CHECK (to_date IS NULL OR to_date >= from_date)
    );
    CREATE INDEX body_member_body ON events.body_member (body_id);

    CREATE TABLE events.meeting (
        id bigserial PRIMARY KEY,
        body_id bigint NOT NULL REFERENCES events.body (id),
        held_on date NOT NULL,
        place text NOT NULL DEFAULT '',
        online boolean NOT NULL DEFAULT false,
        created_by text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE events.agenda_item (
        id bigserial PRIMARY KEY,
        meeting_id bigint NOT NULL REFERENCES events.meeting (id),
        position integer NOT NULL,
        title text NOT NULL,
        speakers text NOT NULL DEFAULT '',
        heard text NOT NULL DEFAULT '',
        decided text NOT NULL DEFAULT '',
        votes_for integer CHECK (votes_for >= 0),
        votes_against integer CHECK (votes_against >= 0),
        votes_abstained integer CHECK (votes_abstained >= 0),
        named_votes jsonb,   -- {"<body_member id>": "for"|"against"|"abstained"}
        -- what the decision does in the registry: {"type": "admit", "application_ids": [...]}
        action jsonb,
        action_result jsonb,
        UNIQUE (meeting_id, position)
    );

    CREATE TABLE events.attendance (
        meeting_id bigint NOT NULL REFERENCES events.meeting (id),
        body_member_id bigint NOT NULL REFERENCES events.body_member (id),
        present boolean NOT NULL,
        PRIMARY KEY (meeting_id, body_member_id)
    );

    -- each protocol's versions: the number is the body's per year; a signed version is final,
    -- a change after it is a new version (the older ones kept)
    CREATE TABLE events.protocol (
        id bigserial PRIMARY KEY,
        meeting_id bigint NOT NULL REFERENCES events.meeting (id),
        body_id bigint NOT NULL REFERENCES events.body (id),
        year integer NOT NULL,
        number integer NOT NULL,
        version integer NOT NULL,
        quorum boolean NOT NULL,
        content jsonb NOT NULL,
        pdf bytea NOT NULL,
        signed_by text,
        signed_at timestamptz,
        made_by text NOT NULL,
        made_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (body_id, year, number, version),
        UNIQUE (meeting_id, version)
    );
    """)
    op.execute(audit_sql("events"))
    op.execute(record_ids_sql("events"))


def downgrade() -> None:
    op.execute("DROP TABLE events.protocol, events.attendance, events.agenda_item, "
               "events.meeting, events.body_member, events.body, events.checkin, "
               "events.seat, events.registration, events.event, events.audit_log CASCADE")
