"""The outgoing queue in PostgreSQL: events handled once, one message per (event, recipient).

An event's messages are queued in the same transaction that records the event as handled; a
redelivered event finds its row and queues nothing, and the unique (event_id, recipient) pair
keeps a message from being queued twice even by a second path.
"""

import json
import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.notify.catalogue import KINDS

EVENTS = uuid.UUID("5b7d7d4e-2f0a-4c69-9a53-7f2f1c0e6a11")  # namespace of derived event ids


def event_uuid(payload: dict[str, Any], fallback: str) -> str:
    """The event's own id (every outbox event has one), or one derived from its content."""
    value = payload.get("event_id")
    return str(uuid.UUID(str(value))) if value else str(uuid.uuid5(EVENTS, fallback))


def derived_id(*parts: Any) -> str:
    return str(uuid.uuid5(EVENTS, ":".join(str(p) for p in parts)))


def first_handling(session: Session, event_id: str, event_type: str) -> bool:
    """Record the event as handled; False when it was already."""
    return session.execute(text("""
        INSERT INTO notify.handled_event (event_id, event_type) VALUES (:id, :type)
        ON CONFLICT DO NOTHING RETURNING event_id
    """), {"id": event_id, "type": event_type}).first() is not None


def normal_address(email: Any) -> str:
    return " ".join(str(email or "").split()).lower()


def enqueue(session: Session, event_id: str, recipient: Any, kind: str,
            context: dict[str, Any]) -> int | None:
    """Queue one message; None when there is nobody to write to or it was queued already.
    An optional kind the person switched off is kept as skipped (the log shows why)."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind}")
    address = normal_address(recipient)
    if "@" not in address:
        return None
    opted_out = KINDS[kind].optional and session.execute(text(
        "SELECT 1 FROM notify.opt_out WHERE email = :e AND kind = :k"),
        {"e": address, "k": kind}).first() is not None
    return session.execute(text("""
        INSERT INTO notify.message (event_id, recipient, kind, context, status, error)
        VALUES (:event, :to, :kind, CAST(:ctx AS jsonb), :status, :error)
        ON CONFLICT ON CONSTRAINT message_once DO NOTHING RETURNING id
    """), {"event": event_id, "to": address, "kind": kind,
           "ctx": json.dumps(context, ensure_ascii=False, default=str),
           "status": "skipped" if opted_out else "queued",
           "error": "opted_out" if opted_out else None}).scalar()


def enqueue_many(session: Session, kind: str,
                 items: list[tuple[str, Any, dict[str, Any]]]) -> int:
    """`enqueue` for many messages of one kind, `(event_id, recipient, context)` each, in one
    statement: a vendor's response names tens of thousands of cards, and a statement per card
    (two, with the opt-out looked up) kept notify busy for minutes per batch."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind}")
    rows = [{"e": e, "to": normal_address(r), "ctx": c} for e, r, c in items
            if "@" in normal_address(r)]
    if not rows:
        return 0
    return session.execute(text("""
        INSERT INTO notify.message (event_id, recipient, kind, context, status, error)
        SELECT i.e, i."to", :kind, i.ctx,
               CASE WHEN o.email IS NULL THEN 'queued' ELSE 'skipped' END,
               CASE WHEN o.email IS NULL THEN NULL ELSE 'opted_out' END
        FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS i(e uuid, "to" text, ctx jsonb)
        LEFT JOIN notify.opt_out o ON :optional AND o.email = i."to" AND o.kind = :kind
        ON CONFLICT ON CONSTRAINT message_once DO NOTHING
    """), {"rows": json.dumps(rows, ensure_ascii=False, default=str), "kind": kind,
           "optional": KINDS[kind].optional}).rowcount


def messages(session: Session, recipient: str | None = None, status: str | None = None,
             limit: int = 100) -> list[dict[str, Any]]:
    """The delivery log: messages with their last attempt, newest first."""
    rows = session.execute(text("""
        SELECT m.id, m.event_id, m.recipient, m.kind, m.status, m.attempts, m.due_at, m.error,
               m.created_at, m.sent_at,
               (SELECT a.smtp_code FROM notify.attempt a WHERE a.message_id = m.id
                ORDER BY a.id DESC LIMIT 1) AS last_code
        FROM notify.message m
        WHERE (CAST(:to AS text) IS NULL OR m.recipient = :to)
          AND (CAST(:status AS text) IS NULL OR m.status = :status)
        ORDER BY m.id DESC LIMIT :limit
    """), {"to": normal_address(recipient) if recipient else None, "status": status,
           "limit": min(max(int(limit), 1), 1000)}).mappings().all()
    return [dict(r, event_id=str(r["event_id"])) for r in rows]


def release(session: Session, message_id: int) -> bool:
    """An operator sends a held message again (after fixing its template, say)."""
    return session.execute(text("""
        UPDATE notify.message SET status = 'queued', due_at = now(), error = NULL
        WHERE id = :id AND status = 'held' RETURNING id
    """), {"id": message_id}).first() is not None


def json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)
