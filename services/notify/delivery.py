"""Sending what is due, in order, throttled, over one connection a batch.

A message is marked sent after the server accepted it, in its own transaction: a crash between
the two sends that one message again on the next run (at most once more; the README says so).
A 4xx answer puts the message back with a growing delay, a 5xx marks the address as bouncing and
the message bounced, a template that fails holds the message for an operator; the batch goes on.
The server away stops the batch with nothing recorded: the queue waits in PostgreSQL and the next
run starts again from the oldest message.
"""

import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import text

from services.common.db import Db
from services.notify import smtp
from services.notify.catalogue import INVITATION
from services.notify.settings import NotifySettings
from services.notify.templates import RenderFailed, render

log = logging.getLogger(__name__)


def due(db: Db, limit: int, invitations: bool = False) -> list[dict[str, Any]]:
    """What is due, oldest first: the messages notify sends, or the invitations it asks
    Keycloak for."""
    with db.reading() as s:
        rows = s.execute(text(f"""
            SELECT m.id, m.recipient, m.kind, m.context, m.attempts,
                   EXISTS (SELECT 1 FROM notify.address a WHERE a.email = m.recipient)
                       AS bouncing
            FROM notify.message m
            WHERE m.status = 'queued' AND m.due_at <= now()
              AND m.kind {'=' if invitations else '<>'} :invitation
            ORDER BY m.due_at, m.id LIMIT :n
        """), {"n": limit, "invitation": INVITATION}).mappings().all()
    return [dict(r) for r in rows]


def _record(db: Db, message_id: int, status: str, outcome: str, code: int | None = None,
            detail: str | None = None, retry_in: timedelta | None = None) -> None:
    with db.transaction() as s:
        s.execute(text("""
            UPDATE notify.message SET status = :status, attempts = attempts + 1, error = :detail,
                   sent_at = CASE WHEN :status = 'sent' THEN now() END,
                   due_at = CASE WHEN CAST(:retry AS interval) IS NULL THEN due_at
                                 ELSE now() + CAST(:retry AS interval) END
            WHERE id = :id
        """), {"id": message_id, "status": status, "detail": detail,
               "retry": None if retry_in is None else f"{retry_in.total_seconds()} seconds"})
        s.execute(text("""
            INSERT INTO notify.attempt (message_id, outcome, smtp_code, detail)
            VALUES (:id, :outcome, :code, :detail)
        """), {"id": message_id, "outcome": outcome, "code": code, "detail": detail})


def _bounce(db: Db, address: str, code: int, detail: str) -> None:
    with db.transaction() as s:
        s.execute(text("""
            INSERT INTO notify.address (email, state, smtp_code, detail)
            VALUES (:e, 'bouncing', :c, :d)
            ON CONFLICT (email) DO UPDATE SET smtp_code = :c, detail = :d
        """), {"e": address, "c": code, "d": detail})


def backoff(conf: NotifySettings, attempts: int) -> timedelta:
    return timedelta(seconds=min(conf.retry_base_s * 2 ** max(attempts, 0), conf.retry_max_s))


def deliver(db: Db, conf: NotifySettings,
            sleep: Callable[[float], None] = time.sleep) -> dict[str, int]:
    """One run over what is due (at most send_batch messages)."""
    counts = {"sent": 0, "deferred": 0, "bounced": 0, "held": 0, "skipped": 0}
    rows = due(db, conf.send_batch)
    if not rows:
        return counts
    sender = smtp.envelope_sender(conf)
    gap = 1.0 / conf.mail_rate_per_s if conf.mail_rate_per_s > 0 else 0.0
    try:
        with smtp.Mailer(conf) as mailer:
            last = 0.0
            for row in rows:
                if row["bouncing"]:
                    _record(db, row["id"], "skipped", "skipped", detail="address_bouncing")
                    counts["skipped"] += 1
                    continue
                try:
                    rendered = render(row["kind"], row["context"])
                except RenderFailed as exc:
                    log.error("message %s (%s) held: %s", row["id"], row["kind"], exc)
                    _record(db, row["id"], "held", "held", detail=f"template: {exc}")
                    counts["held"] += 1
                    continue
                wait = last + gap - time.monotonic()
                if wait > 0:
                    sleep(wait)
                last = time.monotonic()
                try:
                    mailer.send(sender, row["recipient"],
                                smtp.build(conf, row["recipient"], rendered, f"m{row['id']}"))
                except smtp.Refused as exc:
                    if exc.permanent:
                        _bounce(db, row["recipient"], exc.code, exc.detail)
                        _record(db, row["id"], "bounced", "bounced", exc.code, exc.detail)
                        counts["bounced"] += 1
                    elif row["attempts"] + 1 >= conf.max_attempts:
                        _record(db, row["id"], "held", "held", exc.code,
                                f"too many temporary refusals: {exc.detail}")
                        counts["held"] += 1
                    else:
                        _record(db, row["id"], "queued", "deferred", exc.code, exc.detail,
                                retry_in=backoff(conf, row["attempts"]))
                        counts["deferred"] += 1
                    continue
                _record(db, row["id"], "sent", "sent", 250)
                counts["sent"] += 1
    except smtp.ServerAway as exc:
        log.warning("mail server %s:%s away (%s); the queue waits", conf.smtp_host,
                    conf.smtp_port, exc)
    return counts


def ask_invitations(db: Db, conf: NotifySettings, invite: Callable[[list[str]], dict[str, str]],
                    sleep: Callable[[float], None] = time.sleep) -> dict[str, int]:
    """One run over the invitations due: asked of sso (Keycloak sends them) a few at a time,
    at invite_rate_per_s. sso or Keycloak away stops the run; they stay queued, in order."""
    counts = {"sent": 0, "skipped": 0, "held": 0, "deferred": 0}
    rows = due(db, conf.send_batch, invitations=True)
    gap = 1.0 / conf.invite_rate_per_s if conf.invite_rate_per_s > 0 else 0.0
    step = max(conf.invite_batch, 1)
    for start in range(0, len(rows), step):
        chunk = rows[start:start + step]
        began = time.monotonic()
        try:
            answers = invite([r["recipient"] for r in chunk])
        except Exception as exc:  # sso or Keycloak away: nothing recorded, the next run
            log.warning("invitations: sso did not answer (%s); they wait", exc)
            break
        for row in chunk:
            answer = answers.get(row["recipient"], "not_found")
            if answer == "sent":
                _record(db, row["id"], "sent", "sent")
                counts["sent"] += 1
            elif answer == "has_password":
                _record(db, row["id"], "skipped", "skipped", detail="has_password")
                counts["skipped"] += 1
            elif (answer.startswith("mail_failed") or answer == "not_found") \
                    and row["attempts"] + 1 < conf.max_attempts:
                # not_found: sso has not made the account yet (the fact reached notify first)
                _record(db, row["id"], "queued", "deferred", detail=answer,
                        retry_in=backoff(conf, row["attempts"]))
                counts["deferred"] += 1
            else:
                _record(db, row["id"], "held", "held", detail=f"account {answer}")
                counts["held"] += 1
        wait = began + gap * len(chunk) - time.monotonic()
        if wait > 0:
            sleep(wait)
    return counts


def address_states(db: Db, emails: list[str]) -> dict[str, str]:
    """Each address's state: bouncing, or ok (never refused)."""
    wanted = sorted({" ".join(str(e or "").split()).lower() for e in emails} - {""})
    with db.reading() as s:
        bouncing = set(s.execute(text(
            "SELECT email FROM notify.address WHERE email = ANY(:e)"), {"e": wanted}).scalars())
    return {e: "bouncing" if e in bouncing else "ok" for e in wanted}
