"""Members a mailing may be addressed to, in one set-based query for the whole audience (a
million members in seconds), as packed columns: notify decides consent and bouncing."""

from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.common.errors import ValidationFailed

CATEGORIES = ("working", "student", "pensioner", "not_given")
COLUMNS = ("member_id", "email", "email_consent", "region_id", "org_id", "pd_ok")


def spec(roots: Any, categories: Any, under_35: Any, org_ids: Any) -> dict[str, Any]:
    def ids(value: Any, field: str) -> list[int] | None:
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(i, int) and i > 0 for i in value):
            raise ValidationFailed(field, "Передайте список номеров организаций")
        return value
    cats = list(categories or [])
    if any(c not in CATEGORIES for c in cats):
        raise ValidationFailed("categories", "Категории: " + ", ".join(CATEGORIES))
    return {"roots": ids(roots, "roots"), "categories": cats or None,
            "under_35": bool(under_35), "org_ids": ids(org_ids, "org_ids")}


def members(session: Session, wanted: dict[str, Any]) -> list[tuple]:
    """Members on the register in the subtrees (all when `roots` is None), of the categories,
    under 35, in the organizations named; those who withdrew consent to processing their data
    are returned with pd_ok false (counted, never written to)."""
    return [tuple(r) for r in session.execute(text("""
        SELECT m.id, lower(btrim(m.email)), m.email_consent, m.region_id, m.org_id,
               m.pd_consent_withdrawn_on IS NULL
        FROM membership.member m
        WHERE m.removed_on IS NULL
          AND (CAST(:roots AS bigint[]) IS NULL OR m.org_id IN (
                SELECT o.id FROM membership.org o
                JOIN membership.org r ON r.id = ANY(CAST(:roots AS bigint[]))
                 AND o.path <@ r.path))
          AND (CAST(:cats AS text[]) IS NULL OR m.category = ANY(CAST(:cats AS text[])))
          AND (NOT :young OR m.birth_date > current_date - interval '35 years')
          AND (CAST(:orgs AS bigint[]) IS NULL OR m.org_id = ANY(CAST(:orgs AS bigint[])))
    """), {"roots": wanted["roots"], "cats": wanted["categories"], "young": wanted["under_35"],
           "orgs": wanted["org_ids"]})]
