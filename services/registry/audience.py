"""Organizations and chairs a mailing may be addressed to: a subtree, levels, education types,
in one query, as packed columns (notify decides consent and bouncing)."""

from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.common.errors import ValidationFailed

LEVELS = ("central", "regional", "territorial", "primary", "subdivision")
EDU_TYPES = ("school", "kindergarten", "college", "university", "additional", "other")
COLUMNS = ("org_id", "region_id", "level", "email", "email_consent", "has_chair")


def spec(roots: Any, levels: Any, edu_types: Any) -> dict[str, Any]:
    if roots is not None and (not isinstance(roots, list)
                              or not all(isinstance(i, int) and i > 0 for i in roots)):
        raise ValidationFailed("roots", "Передайте список номеров организаций")
    lv, ed = list(levels or []), list(edu_types or [])
    if any(v not in LEVELS for v in lv):
        raise ValidationFailed("levels", "Уровни: " + ", ".join(LEVELS))
    if any(v not in EDU_TYPES for v in ed):
        raise ValidationFailed("org_types", "Типы организаций: " + ", ".join(EDU_TYPES))
    return {"roots": roots, "levels": lv or None, "edu_types": ed or None}


def orgs(session: Session, wanted: dict[str, Any]) -> list[tuple]:
    return [tuple(r) for r in session.execute(text("""
        SELECT o.id, o.region_id, o.level, lower(btrim(o.chair->>'email')),
               COALESCE((o.chair->>'email_consent')::boolean, false), o.chair IS NOT NULL
        FROM registry.organization o
        WHERE o.excluded_on IS NULL
          AND (CAST(:roots AS bigint[]) IS NULL OR o.path <@ ANY(
                SELECT r.path FROM registry.organization r
                WHERE r.id = ANY(CAST(:roots AS bigint[]))))
          AND (CAST(:levels AS text[]) IS NULL OR o.level = ANY(CAST(:levels AS text[])))
          AND (CAST(:types AS text[]) IS NULL
               OR o.education->>'type' = ANY(CAST(:types AS text[])))
    """), {"roots": wanted["roots"], "levels": wanted["levels"],
           "types": wanted["edu_types"]})]
