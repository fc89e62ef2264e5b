"""Issuance batches: requested cards collected per region, written to the vendor's bucket, and the
vendor's responses applied.

Writing happens exactly once in effect. Collecting a batch (the batch row, its cards moved to
`batched`) is one transaction; the files are written after it from the database alone, so they
are the same bytes however often they are written. A batch whose files did not all reach the
bucket (the service died, the store was away) stays `writing`, and `write_pending` writes it again
under the same keys. The manifest goes last: the vendor takes a batch only once it is there.

Responses are applied set-based: the file's rows go into a temporary table by COPY and one UPDATE
moves the cards; a file is recorded by its key, so it is applied at most once, and a repeated
file under another key finds every card already where it says.
"""

import hashlib
import logging
from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.cards import vendor_files
from services.cards.lifecycle import record_events
from services.cards.storage import Bucket
from services.common import outbox

log = logging.getLogger(__name__)
SCHEMA = "cards"
CARDS_FILE = "cards.csv"
MANIFEST = "manifest.json"


def collect(session: Session, actor: str, region_id: int | None = None) -> list[int]:
    """One batch per region with requested cards (or for the one region given); their ids.

    Two passes over the cards however many regions there are: no index names a card's status
    (so that moving cards updates them in place, see the README), and a pass per region would
    read the whole table 85 times."""
    made = session.execute(text("""
        WITH regions AS (
            SELECT region_id, min(substr(number, 3, 2)) AS code FROM cards.card
            WHERE status = 'requested' AND (CAST(:r AS bigint) IS NULL OR region_id = :r)
            GROUP BY region_id)
        INSERT INTO cards.batch (region_id, region_code, cards, object_prefix, created_by)
        SELECT region_id, code, 0, 'pending-' || nextval('cards.batch_id_seq'), :by
        FROM regions ORDER BY region_id
        RETURNING id, region_id, region_code
    """), {"r": region_id, "by": actor}).all()
    if not made:
        return []
    # the cards moved and their history rows (lifecycle.record_events' rows) in one statement
    counts = dict(session.execute(text("""
        WITH moved AS (
            UPDATE cards.card c SET status = 'batched', status_on = now(), batch_id = b.id
            FROM unnest(CAST(:ids AS bigint[]), CAST(:regions AS bigint[])) AS b(id, region_id)
            WHERE c.status = 'requested' AND c.region_id = b.region_id
            RETURNING c.id, c.batch_id),
        history AS (
            INSERT INTO cards.card_event (card_id, status, by)
            SELECT id, 'batched', :by FROM moved)
        SELECT batch_id, count(*) FROM moved GROUP BY batch_id
    """), {"ids": [b.id for b in made], "regions": [b.region_id for b in made],
           "by": actor}).all())
    session.execute(text("""
        UPDATE cards.batch b SET cards = n.cards, object_prefix = n.prefix
        FROM unnest(CAST(:ids AS bigint[]), CAST(:cards AS int[]), CAST(:prefixes AS text[]))
             AS n(id, cards, prefix)
        WHERE b.id = n.id
    """), {"ids": [b.id for b in made], "cards": [counts.get(b.id, 0) for b in made],
           "prefixes": [vendor_files.batch_prefix(b.id, b.region_code) for b in made]})
    return [b.id for b in made]


def render(session: Session, batch_id: int) -> tuple[bytes, int]:
    """The batch file, rendered by PostgreSQL (COPY … TO STDOUT) in card order."""
    raw = session.connection().connection.driver_connection
    out = bytearray()
    with raw.cursor() as cur, cur.copy("""
        COPY (SELECT number, holder, org_number, org_name FROM cards.card
              WHERE batch_id = %s ORDER BY id)
        TO STDOUT WITH (FORMAT csv, DELIMITER ';', HEADER false)
    """, (batch_id,)) as copy:
        for data in copy:
            out += data
    header = (";".join(vendor_files.BATCH_COLUMNS) + "\n").encode()
    return header + bytes(out), out.count(b"\n")


def write(session: Session, bucket: Bucket, batch_id: int) -> dict[str, Any]:
    """Write a collected batch's files (again, if need be) and mark it sent."""
    batch = session.execute(text("SELECT * FROM cards.batch WHERE id = :b FOR UPDATE"),
                            {"b": batch_id}).mappings().one()
    if batch["status"] == "sent":
        return dict(batch)
    body, rows = render(session, batch_id)
    prefix = batch["object_prefix"]
    digest = bucket.put(vendor_files.outbound(prefix, CARDS_FILE), body)
    bucket.put(vendor_files.outbound(prefix, MANIFEST), vendor_files.manifest(
        batch_id, batch["region_code"], CARDS_FILE, body, rows))
    session.execute(text("""
        UPDATE cards.batch SET status = 'sent', sha256 = :sha, sent_at = now() WHERE id = :b
    """), {"sha": digest, "b": batch_id})
    outbox.add_event(session, SCHEMA, "batch_sent", {"batch_id": batch_id,
                                                     "region_id": batch["region_id"],
                                                     "cards": rows})
    return {**dict(batch), "status": "sent", "sha256": digest}


def pending(session: Session) -> list[int]:
    return session.execute(text("SELECT id FROM cards.batch WHERE status = 'writing' "
                                "ORDER BY id")).scalars().all()


def list_batches(session: Session, region_id: int | None = None, limit: int = 100
                 ) -> list[dict[str, Any]]:
    rows = session.execute(text("""
        SELECT b.*, (SELECT count(*) FROM cards.response_file f WHERE f.batch_id = b.id
                     AND f.status = 'applied') AS responses_applied
        FROM cards.batch b WHERE CAST(:r AS bigint) IS NULL OR b.region_id = :r
        ORDER BY b.id DESC LIMIT :n
    """), {"r": region_id, "n": limit}).mappings().all()
    return [dict(r) for r in rows]


# ---- the vendor's responses ----

# (status in the file) -> (the card's new status, the statuses it may come from)
TRANSITIONS = {
    "produced": ("produced", ("batched",)),
    "delivered": ("delivered", ("batched", "produced")),
    "rejected": ("refused", ("batched", "produced")),
}


def new_responses(session: Session, bucket: Bucket) -> list[str]:
    """Response files in the bucket with their manifests, not yet seen."""
    keys = [k for k in bucket.keys("inbound/") if k.endswith(".csv")]
    if not keys:
        return []
    seen = set(session.execute(text("SELECT object_key FROM cards.response_file "
                                    "WHERE object_key = ANY(:k)"), {"k": keys}).scalars())
    return [k for k in keys if k not in seen]


def apply_response(session: Session, bucket: Bucket, key: str) -> dict[str, Any]:
    """Apply one response file, or record why not. A file without its manifest yet is left for
    the next look (the vendor may still be writing it)."""
    manifest_key = key[: -len(".csv")] + ".manifest.json"
    if not bucket.exists(manifest_key):
        return {"object_key": key, "status": "waiting"}
    body = bucket.get(key)
    digest = hashlib.sha256(body).hexdigest()
    prefix = key.split("/")[1]
    batch_id = session.execute(text("SELECT id FROM cards.batch WHERE object_prefix = :p"),
                               {"p": prefix}).scalar_one_or_none()
    try:
        if batch_id is None:
            raise vendor_files.BadResponse(f"партия «{prefix}» нам неизвестна")
        response = vendor_files.read_response(body, bucket.get(manifest_key))
        if response.batch_id != batch_id:
            raise vendor_files.BadResponse("манифест называет другую партию")
        changed = _apply_rows(session, batch_id, response.rows, key)
    except vendor_files.BadResponse as exc:
        log.warning("response %s refused: %s", key, exc)
        return _record(session, key, digest, batch_id, "refused", 0, 0, str(exc))
    return _record(session, key, digest, batch_id, "applied", len(response.rows), changed, None)


def _record(session: Session, key: str, digest: str, batch_id: int | None, status: str,
            rows: int, changed: int, problem: str | None) -> dict[str, Any]:
    session.execute(text("""
        INSERT INTO cards.response_file (object_key, sha256, batch_id, status, rows, changed,
                                         problem)
        VALUES (:k, :sha, :b, :status, :rows, :changed, :problem)
        ON CONFLICT (object_key) DO NOTHING
    """), {"k": key, "sha": digest, "b": batch_id, "status": status, "rows": rows,
           "changed": changed, "problem": problem})
    if status == "refused":
        outbox.add_event(session, SCHEMA, "response_refused", {
            "object_key": key, "batch_id": batch_id, "problem": problem})
    return {"object_key": key, "status": status, "rows": rows, "changed": changed,
            "problem": problem}


def _apply_rows(session: Session, batch_id: int,
                rows: list[tuple[str, str, str | None, date]], key: str) -> int:
    """Every card named must be of the batch, or nothing is applied; then one UPDATE moves
    those whose status may move (the rest are where the file says already, or past it)."""
    session.execute(text("""
        CREATE TEMPORARY TABLE response_row (number text, status text, reason text, on_day date)
        ON COMMIT DROP
    """))
    raw = session.connection().connection.driver_connection
    with raw.cursor() as cur, cur.copy("COPY response_row FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    unknown = session.execute(text("""
        SELECT r.number FROM response_row r
        LEFT JOIN cards.card c ON c.number = r.number AND c.batch_id = :b
        WHERE c.id IS NULL LIMIT 5
    """), {"b": batch_id}).scalars().all()
    if unknown:
        session.execute(text("DROP TABLE response_row"))
        raise vendor_files.BadResponse("карты не из этой партии: " + ", ".join(unknown))
    cases = " ".join(f"WHEN r.status = '{s}' AND c.status IN ({', '.join(map(repr, froms))}) "
                     f"THEN '{to}'" for s, (to, froms) in TRANSITIONS.items())
    moved = session.execute(text(f"""
        UPDATE cards.card c SET status = CASE {cases} END, status_on = now(),
            reason = CASE WHEN r.status = 'rejected' THEN r.reason ELSE c.reason END,
            live_member_id = CASE WHEN r.status = 'rejected' THEN NULL
                                  ELSE c.live_member_id END
        FROM response_row r
        WHERE c.number = r.number AND c.batch_id = :b AND CASE {cases} END IS NOT NULL
        RETURNING c.id, c.status, c.reason, c.member_id, c.number
    """), {"b": batch_id}).all()
    session.execute(text("DROP TABLE response_row"))
    by_status: dict[str, list[int]] = {}
    for card_id, status, *_ in moved:
        by_status.setdefault(status, []).append(card_id)
    for status, ids in by_status.items():
        record_events(session, ids, status, "vendor", f"ответ {key.rsplit('/', 1)[-1]}")
    refused = [{"card_id": c, "member_id": m, "number": n, "reason": r}
               for c, s, r, m, n in moved if s == "refused"]
    if refused:
        outbox.add_event(session, SCHEMA, "cards_refused", {"batch_id": batch_id,
                                                            "cards": refused})
    if moved:
        # the cards made or delivered, by member: notify tells each member (in this
        # transaction, so that a member is told once the change is there, and only then)
        outbox.add_event(session, SCHEMA, "cards_changed", {
            "batch_id": batch_id, "counts": {s: len(i) for s, i in by_status.items()},
            "cards": [{"card_id": c, "member_id": m, "number": n, "status": s}
                      for c, s, _r, m, n in moved if s in ("produced", "delivered")]})
    return len(moved)
