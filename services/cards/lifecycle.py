"""A card's life: its statuses, the moves people may make, and the dated history of each move.

    requested → batched (in a batch sent to the vendor) → produced → delivered → issued (Выдан)
    requested / batched / produced / delivered → refused (Отказ, with a reason)
    virtual: a card in the app only, never sent to the vendor
"""

from sqlalchemy import text
from sqlalchemy.orm import Session

LIVE = ("requested", "batched", "produced", "delivered", "issued", "virtual")
# what a chair may do with a card of their organization: new status -> from which statuses
CHAIR_MOVES = {
    "issued": ("delivered", "produced"),
    "refused": ("requested", "produced", "delivered"),
}


def record_events(session: Session, card_ids: list[int], status: str, by: str,
                  reason: str | None = None) -> None:
    """The history rows of one move of many cards, in one statement."""
    if card_ids:
        session.execute(text("""
            INSERT INTO cards.card_event (card_id, status, by, reason)
            SELECT unnest(CAST(:ids AS bigint[])), :status, :by, :reason
        """), {"ids": card_ids, "status": status, "by": by, "reason": reason})
