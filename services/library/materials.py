"""Materials: what they are, whom they are for, their publishing history."""

import json
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.common.errors import NotFound, ValidationFailed, field_error
from services.library.contract import KINDS

MAX_TOPICS = 20
# the ranking vector: title (A), topics and description (B); the search vector: the same and
# the newest edition's text (D)
RANK_SQL = """setweight(to_tsvector('russian', coalesce(m.title, '')), 'A')
    || setweight(to_tsvector('russian', array_to_string(m.topics, ' ')), 'B')
    || setweight(to_tsvector('russian', coalesce(m.description, '')), 'B')"""
SEARCH_SQL = f"""{RANK_SQL}
    || setweight(to_tsvector('russian', coalesce(m.body, '')), 'D')"""
VECTORS_SQL = f"search = {SEARCH_SQL}, search_rank = {RANK_SQL}"
COLUMNS = """m.id, m.kind, m.title, m.description, m.topics, m.publisher_org_id,
    m.publisher_name, m.region_id, m.audiences, m.levels, m.addition_to, m.normative, m.url,
    m.status, m.created_at, m.created_by, m.updated_at, m.event_id, m.event_title"""


def _text(data: dict[str, Any], name: str, limit: int, required: bool = False) -> str:
    value = data.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise ValidationFailed(details=[field_error(name, f"{name}_required",
                                                    "Заполните поле")])
    value = value.strip()
    if len(value) > limit:
        raise ValidationFailed(details=[field_error(name, f"{name}_too_long",
                                                    f"Не длиннее {limit} символов")])
    return value


def topics_of(value: Any) -> list[str]:
    if value in (None, ""):
        return []
    if isinstance(value, str):
        value = [t for t in value.split(",")]
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise ValidationFailed(details=[field_error("topics", "topics_invalid",
                                                    "Темы — список слов или фраз")])
    found = sorted({t.strip().lower() for t in value if t.strip()})
    if len(found) > MAX_TOPICS or any(len(t) > 80 for t in found):
        raise ValidationFailed(details=[field_error(
            "topics", "topics_too_many", f"Не больше {MAX_TOPICS} тем, до 80 символов каждая")])
    return found


def fields(data: dict[str, Any], partial: bool = False) -> dict[str, Any]:
    """The checked descriptive fields of a material (all of them, or those given)."""
    out: dict[str, Any] = {}
    if not partial or "kind" in data:
        if data.get("kind") not in KINDS:
            raise ValidationFailed(details=[field_error(
                "kind", "kind_invalid", "Вид материала: " + ", ".join(KINDS))])
        out["kind"] = data["kind"]
    if not partial or "title" in data:
        out["title"] = _text(data, "title", 300, required=True)
    if not partial or "description" in data:
        out["description"] = _text(data, "description", 5000)
    if not partial or "topics" in data:
        out["topics"] = topics_of(data.get("topics"))
    if not partial or "normative" in data:
        out["normative"] = data.get("normative") is True
    if not partial or "url" in data:
        url = _text(data, "url", 2000) or None
        if url and (urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc):
            raise ValidationFailed(details=[field_error(
                "url", "url_invalid", "Адрес ссылки: http:// или https://")])
        out["url"] = url
    if out.get("kind") == "link" and not out.get("url"):
        raise ValidationFailed(details=[field_error("url", "url_required",
                                                    "У ссылки должен быть адрес")])
    return out


def create(session: Session, actor: str, values: dict[str, Any]) -> dict[str, Any]:
    row = session.execute(text("""
        INSERT INTO library.material (kind, title, description, topics, publisher_org_id,
            publisher_name, region_id, audiences, levels, addition_to, normative, url,
            event_id, event_title, created_by)
        VALUES (:kind, :title, :description, :topics, :publisher_org_id, :publisher_name,
                :region_id, :audiences, :levels, :addition_to, :normative, :url,
                :event_id, :event_title, :actor)
        RETURNING id
    """), {"event_id": None, "event_title": "", **values, "actor": actor}).one()
    refresh_search(session, row.id)
    history(session, row.id, actor, "created", {k: values[k] for k in (
        "kind", "title", "region_id", "audiences", "levels", "addition_to")})
    return get(session, row.id)


def update(session: Session, material_id: int, actor: str, values: dict[str, Any]) -> None:
    if not values:
        return
    sets = ", ".join(f"{k} = :{k}" for k in values)
    session.execute(text(f"UPDATE library.material SET {sets}, updated_at = now() "
                         "WHERE id = :id"), {**values, "id": material_id})
    refresh_search(session, material_id)
    history(session, material_id, actor, "edited", values)


def set_status(session: Session, material_id: int, actor: str, status: str) -> None:
    session.execute(text("UPDATE library.material SET status = :s, updated_at = now() "
                         "WHERE id = :id"), {"s": status, "id": material_id})
    history(session, material_id, actor, "retired" if status == "retired" else "restored", {})


def refresh_search(session: Session, material_id: int) -> None:
    session.execute(text(f"UPDATE library.material m SET {VECTORS_SQL} "
                         "WHERE m.id = :id"), {"id": material_id})


def history(session: Session, material_id: int, actor: str, action: str,
            details: dict[str, Any]) -> None:
    session.execute(text("""
        INSERT INTO library.history (material_id, actor, action, details)
        VALUES (:m, :a, :action, CAST(:d AS jsonb))
    """), {"m": material_id, "a": actor, "action": action,
           "d": json.dumps(details, default=str, ensure_ascii=False)})


def get(session: Session, material_id: int, lock: bool = False) -> dict[str, Any]:
    row = session.execute(text(f"SELECT {COLUMNS} FROM library.material m WHERE m.id = :id"
                               + (" FOR UPDATE" if lock else "")),
                          {"id": material_id}).mappings().first()
    if row is None:
        raise NotFound("material_not_found", "Такого материала в библиотеке нет")
    return dict(row)


def additions(session: Session, material_id: int, condition: str,
              params: dict[str, Any]) -> list[dict[str, Any]]:
    """The regions' additions to a federal material that the reader may see."""
    rows = session.execute(text(f"""
        SELECT {COLUMNS} FROM library.material m
        WHERE m.addition_to = :id AND {condition} ORDER BY m.created_at
    """), {"id": material_id, **params}).mappings().all()
    return [dict(r) for r in rows]


def history_of(session: Session, material_id: int) -> list[dict[str, Any]]:
    rows = session.execute(text("""
        SELECT at, actor, action, details FROM library.history WHERE material_id = :id
        ORDER BY at, id
    """), {"id": material_id}).mappings().all()
    return [dict(r) for r in rows]
