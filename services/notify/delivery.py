"""Sending what is due, in order, throttled, over one connection a batch.

A message is marked sent after the server accepted it, in its own transaction: a crash between
the two sends that one message again on the next run (at most once more; the README says so).
A 4xx answer puts the message back with a growing delay, a 5xx marks the address as bouncing and
the message bounced, a template that fails holds the message for an operator; the batch goes on.
The server away stops the batch with nothing recorded: the queue waits in PostgreSQL and the next
run starts again from the oldest message.
"""

import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import text

from services.common.db import Db, retryable_when_away
from services.notify import mailing, smtp
from services.notify.catalogue import INVITATION
from services.notify.settings import NotifySettings
from services.notify.templates import RenderFailed, render

log = logging.getLogger(__name__)


def due(db: Db, limit: int, invitations: bool = False) -> list[dict[str, Any]]:
    """What is due, oldest first: the messages notify sends, or the invitations it asks
    Keycloak for."""
    with db.reading() as s:
        rows = s.execute(text(f"""
            SELECT m.id, m.recipient, m.kind, m.context, m.attempts, m.campaign_id,
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
    """The message's fate and its attempt, in one statement and its own transaction (one
    round trip and one commit a message: recording a chunk at once would let a crash repeat
    the whole chunk, and the README promises at most one)."""
    with retryable_when_away(), db.engine.connect().execution_options(
            isolation_level="AUTOCOMMIT") as s:  # the statement is its own transaction
        s.execute(text("""
            WITH m AS (
                UPDATE notify.message SET status = :status, attempts = attempts + 1,
                       error = :detail,
                       sent_at = CASE WHEN :status = 'sent' THEN now() END,
                       due_at = CASE WHEN CAST(:retry AS interval) IS NULL THEN due_at
                                     ELSE now() + CAST(:retry AS interval) END
                WHERE id = :id RETURNING id)
            INSERT INTO notify.attempt (message_id, outcome, smtp_code, detail)
            SELECT id, :outcome, :code, :detail FROM m
        """), {"id": message_id, "status": status, "detail": detail, "outcome": outcome,
               "code": code,
               "retry": None if retry_in is None else f"{retry_in.total_seconds()} seconds"})


# A batch is read ahead; a withdrawal of consent (or a pause) marks the queued messages at once
# (consents.record), and each lane asks again which of its next few are still queued just
# before sending them: one set-based query per RECHECK_EVERY messages, so a withdrawal stops
# everything but what is already in the lane's hands (at most this many, ~0.1 s of sending).
RECHECK_EVERY = 20


def still_queued(db: Db, ids: list[int]) -> set[int]:
    with db.reading() as s:
        return set(s.execute(text("""
            SELECT id FROM notify.message WHERE id = ANY(:ids) AND status = 'queued'
              AND due_at <= now()
        """), {"ids": ids}).scalars())


def _bounce(db: Db, address: str, code: int, detail: str) -> None:
    with db.transaction() as s:
        s.execute(text("""
            INSERT INTO notify.address (email, state, smtp_code, detail)
            VALUES (:e, 'bouncing', :c, :d)
            ON CONFLICT (email) DO UPDATE SET smtp_code = :c, detail = :d
        """), {"e": address, "c": code, "d": detail})


def backoff(conf: NotifySettings, attempts: int) -> timedelta:
    return timedelta(seconds=min(conf.retry_base_s * 2 ** max(attempts, 0), conf.retry_max_s))


class Throttle:
    """At most `rate` sends a second across every connection of a run."""

    def __init__(self, rate: float, sleep: Callable[[float], None]) -> None:
        self.gap = 1.0 / rate if rate > 0 else 0.0
        self.next_at = 0.0
        self.lock = threading.Lock()
        self.sleep = sleep

    def wait(self) -> None:
        with self.lock:
            now = time.monotonic()
            at = max(now, self.next_at)
            self.next_at = at + self.gap
        if at > now:
            self.sleep(at - now)


def deliver(db: Db, conf: NotifySettings,
            sleep: Callable[[float], None] = time.sleep) -> dict[str, int]:
    """One run: batches of `send_batch`, each shared out over `send_connections` SMTP
    connections kept for the run, until nothing is due or the run has taken `send_run_s`
    (the next timer tick goes on), at most `mail_rate_per_s` in all. A relay's answer takes
    milliseconds to a tenth of a second: one connection waits out every one of them."""
    counts = {"sent": 0, "deferred": 0, "bounced": 0, "held": 0, "skipped": 0, "stopped": 0}
    rows = due(db, conf.send_batch)
    if not rows:
        return counts
    sender = smtp.envelope_sender(conf)
    throttle = Throttle(conf.mail_rate_per_s, sleep)
    began = time.monotonic()
    lanes = max(1, min(conf.send_connections, len(rows)))
    mailers = []
    try:
        for _ in range(lanes):
            mailers.append(smtp.Mailer(conf).__enter__())
        while rows:
            away = _run_lanes(db, conf, mailers, sender, rows, counts, throttle)
            if away is not None:
                raise away
            if time.monotonic() - began >= conf.send_run_s:
                break
            # a message deferred in this run is not due again yet: it is not read back
            rows = due(db, conf.send_batch)
    except smtp.ServerAway as exc:
        log.warning("mail server %s:%s away (%s); the queue waits", conf.smtp_host,
                    conf.smtp_port, exc)
    finally:
        for mailer in mailers:
            mailer.__exit__(None, None, None)
    return counts


def _run_lanes(db: Db, conf: NotifySettings, mailers: list[smtp.Mailer], sender: str,
               rows: list[dict[str, Any]], counts: dict[str, int],
               throttle: Throttle) -> smtp.ServerAway | None:
    """The batch dealt round the connections (oldest first on each), sent side by side; the
    server away stops every lane after its message in hand."""
    failed: list[smtp.ServerAway] = []

    def lane(mailer: smtp.Mailer, mine: list[dict[str, Any]]) -> None:
        for start in range(0, len(mine), RECHECK_EVERY):
            chunk = mine[start:start + RECHECK_EVERY]
            live = still_queued(db, [r["id"] for r in chunk])
            for row in chunk:
                if failed:
                    return
                if row["id"] not in live:  # withdrawn or paused since the batch was read
                    counts["stopped"] += 1
                    continue
                try:
                    _deliver_one(db, conf, mailer, sender, row, counts, throttle)
                except smtp.ServerAway as exc:
                    failed.append(exc)
                    return
    if len(mailers) == 1:
        lane(mailers[0], rows)
    else:
        threads = [threading.Thread(target=lane, args=(m, rows[n::len(mailers)]))
                   for n, m in enumerate(mailers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    return failed[0] if failed else None


def _deliver_one(db: Db, conf: NotifySettings, mailer: smtp.Mailer, sender: str,
                 row: dict[str, Any], counts: dict[str, int], throttle: Throttle) -> None:
    """Send one message and record what became of it."""
    if row["bouncing"]:
        _record(db, row["id"], "skipped", "skipped", detail="address_bouncing")
        counts["skipped"] += 1
        return
    headers: list[str] = []
    try:
        if row["campaign_id"] is not None:  # a mailing: its text and the unsubscribe headers
            rendered, headers = mailing.rendered(db, conf, row["campaign_id"], row["recipient"])
        else:
            rendered = render(row["kind"], row["context"])
    except RenderFailed as exc:
        log.error("message %s (%s) held: %s", row["id"], row["kind"], exc)
        _record(db, row["id"], "held", "held", detail=f"template: {exc}")
        counts["held"] += 1
        return
    message = smtp.build_bytes(conf, row["recipient"], rendered, f"m{row['id']}", headers)
    throttle.wait()
    try:
        mailer.send(sender, row["recipient"], message)
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
        return
    _record(db, row["id"], "sent", "sent", 250)
    counts["sent"] += 1


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
