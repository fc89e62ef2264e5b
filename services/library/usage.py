"""Usage: views and downloads, counted with where the reader stands (their region, the level
of their organization, their role), never who they are."""

from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.library.access import Viewer

ACTIONS = ("view", "download")


def record(session: Session, material_id: int, edition_id: int | None, action: str,
           viewer: Viewer) -> None:
    session.execute(text("""
        INSERT INTO library.usage (material_id, edition_id, action, region_id, org_level, role)
        VALUES (:m, :e, :a, :r, :l, :role)
    """), {"m": material_id, "e": edition_id, "a": action, "r": viewer.region_id,
           "l": viewer.level, "role": viewer.role})


def figures(session: Session, region_id: int | None, top: int = 20) -> dict[str, Any]:
    """Of the materials of a region (None: all): views and downloads per material, per region
    and level of organization; the most read; those nobody opened."""
    scope = "TRUE" if region_id is None else "(m.region_id = :r OR u.region_id = :r)"
    params = {"r": region_id, "top": top}
    per_material = session.execute(text(f"""
        SELECT m.id, m.title, m.kind,
               count(*) FILTER (WHERE u.action = 'view') AS views,
               count(*) FILTER (WHERE u.action = 'download') AS downloads
        FROM library.usage u JOIN library.material m ON m.id = u.material_id
        WHERE {scope}
        GROUP BY m.id ORDER BY count(*) DESC, m.id LIMIT :top
    """), params).mappings().all()
    per_place = session.execute(text(f"""
        SELECT u.region_id, u.org_level,
               count(*) FILTER (WHERE u.action = 'view') AS views,
               count(*) FILTER (WHERE u.action = 'download') AS downloads
        FROM library.usage u JOIN library.material m ON m.id = u.material_id
        WHERE {scope}
        GROUP BY u.region_id, u.org_level ORDER BY u.region_id NULLS FIRST, u.org_level
    """), params).mappings().all()
    never = session.execute(text(f"""
        SELECT m.id, m.title, m.kind, m.created_at FROM library.material m
        WHERE m.status = 'published'
          AND {"TRUE" if region_id is None else "m.region_id = :r"}
          AND NOT EXISTS (SELECT 1 FROM library.usage u WHERE u.material_id = m.id)
        ORDER BY m.created_at LIMIT 500
    """), params).mappings().all()
    return {"most_read": [dict(r) for r in per_material],
            "by_place": [dict(r) for r in per_place],
            "never_opened": [dict(r) for r in never]}


def of_material(session: Session, material_id: int) -> dict[str, int]:
    row = session.execute(text("""
        SELECT count(*) FILTER (WHERE action = 'view') AS views,
               count(*) FILTER (WHERE action = 'download') AS downloads
        FROM library.usage WHERE material_id = :m
    """), {"m": material_id}).mappings().one()
    return dict(row)
