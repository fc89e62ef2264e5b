"""Batch files past their term deleted from the bucket (issue 29): a batch's outbound file and
manifest and the vendor's responses carry the holders' names. The term is membership's rule
`card_batch_file` (the Central Council sets every rule in one table); the batch's row, its
counts and the cards stay."""

from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.cards.storage import Bucket


def due(session: Session, keep_days: int, now: datetime) -> list[dict]:
    rows = session.execute(text("""
        SELECT id, object_prefix FROM cards.batch
        WHERE status = 'sent' AND files_erased_at IS NULL AND sent_at <= :before
        ORDER BY id
    """), {"before": now - timedelta(days=keep_days)}).mappings().all()
    return [dict(r) for r in rows]


def erase(session: Session, bucket: Bucket, keep_days: int, now: datetime) -> dict[str, int]:
    """Delete the files of every batch past the term; (batches, files) deleted."""
    batches, files = due(session, keep_days, now), 0
    for batch in batches:
        for side in ("outbound", "inbound"):
            for key in list(bucket.keys(f"{side}/{batch['object_prefix']}/")):
                bucket.delete(key)
                files += 1
    if batches:
        session.execute(text("UPDATE cards.batch SET files_erased_at = :now "
                             "WHERE id = ANY(:ids)"),
                        {"now": now, "ids": [b["id"] for b in batches]})
    return {"records": len(batches), "files": files}
