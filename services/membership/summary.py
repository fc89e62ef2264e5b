"""An organization at a glance: members on the register by category and applications waiting
in its subtree (counts only, no personal data), for the portal's page of an organization."""

from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.membership.card import CATEGORY_TITLES


def by_category(session: Session, org: dict[str, Any]) -> dict[str, Any]:
    """Members on the register in an organization's subtree by category, and applications
    waiting there.

    A region's members come from the per-region index; a smaller subtree's organizations from
    the path index and their members from the per-organization index. JIT compilation is off:
    it costs more than these queries take."""
    session.execute(text("SET LOCAL jit = off"))
    if org["level"] == "regional":
        scope, params = "m.region_id = :region", {"region": org["id"]}
    else:
        scope = ("m.org_id IN (SELECT id FROM membership.org "
                 "WHERE path <@ CAST(:path AS ltree))")
        params = {"path": org["path"]}
    rows = session.execute(text(f"""
        SELECT m.category, count(*) FROM membership.member m
        WHERE {scope} AND m.removed_on IS NULL
        GROUP BY m.category
    """), params).all()
    waiting = session.execute(text("""
        SELECT count(*) FROM membership.application
        WHERE org_id IN (SELECT id FROM membership.org WHERE path <@ CAST(:path AS ltree))
          AND status = 'submitted'
    """), {"path": org["path"]}).scalar_one()
    counts = {str(category): n for category, n in rows}
    return {"members_total": sum(counts.values()),
            "by_category": [{"category": str(c), "title": t, "count": counts.get(str(c), 0)}
                            for c, t in CATEGORY_TITLES.items()],
            "applications_waiting": waiting}
