"""An organization at a glance: members on the register by category and applications waiting
in its subtree (counts only, no personal data), for the portal's page of an organization."""

from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.membership.card import CATEGORY_TITLES


def by_category(session: Session, path: str) -> dict[str, Any]:
    """Members on the register in a subtree by category, and applications waiting there: the
    figures of an organization's page in the portal. Counts only, no personal data.

    The subtree's organizations come from the path index and their members from the per-
    organization index of members on the register, so a primary answers in a millisecond and
    a region of fifty thousand members in tens of them."""
    rows = session.execute(text("""
        SELECT m.category, count(*) FROM membership.member m
        WHERE m.org_id IN (SELECT id FROM membership.org WHERE path <@ CAST(:path AS ltree))
          AND m.removed_on IS NULL
        GROUP BY m.category
    """), {"path": path}).all()
    waiting = session.execute(text("""
        SELECT count(*) FROM membership.application
        WHERE org_id IN (SELECT id FROM membership.org WHERE path <@ CAST(:path AS ltree))
          AND status = 'submitted'
    """), {"path": path}).scalar_one()
    counts = {str(category): n for category, n in rows}
    return {"members_total": sum(counts.values()),
            "by_category": [{"category": str(c), "title": t, "count": counts.get(str(c), 0)}
                            for c, t in CATEGORY_TITLES.items()],
            "applications_waiting": waiting}
