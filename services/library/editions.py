"""Editions: each file of a material, with the date it takes effect and the edition it
supersedes. The edition in force on a day is the latest one that took effect by then; older
ones stay readable, marked as superseded; one dated later is marked as coming.

Adding one runs in three steps, so that no transaction is held while a file is read: `check`
(the slot, the dates), the file's type and text (services.library.files, extract), `insert`.
"""

import uuid
from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.common.errors import Conflict, NotFound, ValidationFailed, field_error
from services.library.contract import EDITION_STATES
from services.library.settings import LibrarySettings

MB = 1024 * 1024


def limit_bytes(kind: str, conf: LibrarySettings) -> int:
    return (conf.library_max_video_mb if kind == "video" else conf.library_max_document_mb) * MB


def too_big(kind: str, size: int, conf: LibrarySettings) -> ValidationFailed | None:
    limit = limit_bytes(kind, conf)
    if size <= limit:
        return None
    return ValidationFailed("file_too_large", "Файл слишком большой", [field_error(
        "file", "file_too_large", f"Файл {size / MB:.0f} МБ, а для материала такого вида "
        f"можно не больше {limit // MB} МБ")])


def open_slot(session: Session, material: dict[str, Any], actor: str, declared: int,
              conf: LibrarySettings) -> str:
    """A key of the bucket the gateway may write this upload to (once)."""
    if material["kind"] == "link":
        raise ValidationFailed("link_has_no_file", "У ссылки нет файла: измените её адрес")
    if declared <= 0:
        raise ValidationFailed("file_empty", "Файл пуст", [field_error(
            "file", "file_empty", "Файл пуст: выберите файл с содержимым")])
    if refusal := too_big(material["kind"], declared, conf):
        raise refusal
    key = f"materials/{material['id']}/{uuid.uuid4().hex}"
    session.execute(text("""
        INSERT INTO library.upload (object_key, material_id, declared_bytes, created_by)
        VALUES (:k, :m, :n, :a)
    """), {"k": key, "m": material["id"], "n": declared, "a": actor})
    return key


def slot(session: Session, key: str, material_id: int, actor: str) -> dict[str, Any]:
    row = session.execute(text("""
        SELECT * FROM library.upload WHERE object_key = :k AND material_id = :m
            AND created_by = :a AND used_at IS NULL FOR UPDATE
    """), {"k": key, "m": material_id, "a": actor}).mappings().first()
    if row is None:
        raise NotFound("upload_not_found", "Загрузка не найдена или уже использована")
    return dict(row)


def close_slot(session: Session, key: str) -> None:
    session.execute(text("UPDATE library.upload SET used_at = now() WHERE object_key = :k"),
                    {"k": key})


def of_material(session: Session, material_id: int) -> list[dict[str, Any]]:
    rows = session.execute(text("""
        SELECT id, material_id, number, effective_on, supersedes_id, note, filename,
               file_type, media_type, size_bytes, text_status, pages, uploaded_at, uploaded_by,
               object_key
        FROM library.edition WHERE material_id = :m ORDER BY effective_on, number
    """), {"m": material_id}).mappings().all()
    return [dict(r) for r in rows]


def in_force(editions: list[dict[str, Any]], day: date) -> dict[str, Any] | None:
    found = [e for e in editions if e["effective_on"] <= day]
    return max(found, key=lambda e: (e["effective_on"], e["number"])) if found else None


def marked(editions: list[dict[str, Any]], today: date) -> list[dict[str, Any]]:
    """Each edition with its state today: current (one at most), superseded or future."""
    current = in_force(editions, today)
    out = []
    for e in editions:
        state = ("current" if current and e["id"] == current["id"]
                 else "future" if e["effective_on"] > today else "superseded")
        out.append({**{k: v for k, v in e.items() if k != "object_key"}, "state": state,
                    "state_title": EDITION_STATES[state]})
    return out


def check_dates(editions: list[dict[str, Any]], effective_on: date,
                supersedes_id: int | None) -> int | None:
    """The edition the new one supersedes (the latest one, unless named) and a refusal of a
    date not after it."""
    if supersedes_id is None:
        latest = max(editions, key=lambda e: (e["effective_on"], e["number"]), default=None)
    else:
        latest = next((e for e in editions if e["id"] == supersedes_id), None)
        if latest is None:
            raise ValidationFailed(details=[field_error(
                "supersedes_id", "edition_unknown", "У этого материала нет такой редакции")])
    if latest is not None and effective_on <= latest["effective_on"]:
        raise ValidationFailed("edition_date_before", "Дата редакции раньше заменяемой", [
            field_error("effective_on", "edition_date_before",
                        f"Новая редакция должна вступать в силу позже заменяемой "
                        f"(редакция № {latest['number']} — с "
                        f"{latest['effective_on'].strftime('%d.%m.%Y')})")])
    return latest["id"] if latest else None


def insert(session: Session, material_id: int, actor: str, values: dict[str, Any]) -> int:
    number = session.execute(text("SELECT coalesce(max(number), 0) + 1 FROM library.edition "
                                  "WHERE material_id = :m"), {"m": material_id}).scalar_one()
    try:
        with session.begin_nested():
            return session.execute(text("""
                INSERT INTO library.edition (material_id, number, effective_on, supersedes_id,
                    note, object_key, filename, file_type, media_type, size_bytes, text_status,
                    text_error, pages, uploaded_by)
                VALUES (:m, :number, :effective_on, :supersedes_id, :note, :object_key,
                    :filename, :file_type, :media_type, :size_bytes, :text_status, :text_error,
                    :pages, :actor)
                RETURNING id
            """), {**values, "m": material_id, "number": number, "actor": actor}).scalar_one()
    except Exception as exc:
        if "edition_material_id_number_key" in str(exc):
            raise Conflict("edition_race", "Редакцию добавили одновременно: повторите") from None
        raise


def get(session: Session, edition_id: int) -> dict[str, Any]:
    row = session.execute(text("SELECT * FROM library.edition WHERE id = :id"),
                          {"id": edition_id}).mappings().first()
    if row is None:
        raise NotFound("edition_not_found", "Такой редакции нет")
    return dict(row)
