"""Transfers between chairs: the receiving chair finds the person (surname, first name and date
of birth, or the SNILS: what their papers say), asks for the transfer, and the chair of the
organization the person is in now, or that organization's region, approves or declines it; a
region may let requests nobody decided go through after a number of days. Both sides see the
request and its state; the approved transfer is an ordinary one (members.transfer), with its
history, its event and the card following.

A look-up that finds nobody says only that, and the look-ups are audited like the services'
other reads; it gives the name and organization only, no personal data.
"""

from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.common.caller import within_scope
from services.common.errors import Conflict, NotFound, ValidationFailed, field_error
from services.membership import members
from services.membership.card import person_key

STATUS_TITLES = {"pending": "ждёт решения", "done": "переведён(а)", "declined": "отклонён",
                 "cancelled": "отозван"}


def find(session: Session, surname: str, first_name: str, birth_date: date | None,
         snils: str | None) -> list[dict[str, Any]]:
    """Members on the register matching the papers: by SNILS, or by the name's beginning
    (surname and first name, ё read as е) and the date of birth."""
    if snils:
        where, params = "m.snils = :snils", {"snils": snils}
    elif surname and first_name and birth_date:
        prefix = person_key(surname, first_name, None, birth_date).split("|")[0]
        where = "m.person_key LIKE :key AND m.birth_date = :birth"
        params = {"key": prefix.replace("%", "").replace("_", "") + "%", "birth": birth_date}
    else:
        raise ValidationFailed(details=[field_error(
            "surname", "transfer_find", "Укажите фамилию, имя и дату рождения или СНИЛС")])
    rows = session.execute(text(f"""
        SELECT m.id, m.surname, m.first_name, m.patronymic, m.sex, m.org_id,
               o.name AS org_name, o.registry_number, ltree2text(o.path) AS org_path
        FROM membership.member m JOIN membership.org o ON o.id = m.org_id
        WHERE {where} AND m.removed_on IS NULL
        ORDER BY m.person_key LIMIT 5
    """), params).mappings().all()
    return [dict(r) for r in rows]


def _proof_holds(member: dict[str, Any], birth_date: date | None, snils: str | None) -> bool:
    return bool((snils and member["snils"] == snils)
                or (birth_date and member["birth_date"] == birth_date))


def request(session: Session, actor: str, member: dict[str, Any], to_org: dict[str, Any],
            on: date, birth_date: date | None, snils: str | None, today: date) -> dict[str, Any]:
    if not _proof_holds(member, birth_date, snils):
        raise members.member_not_found(member["id"])
    members.require_registration_org(to_org)
    if member["removed_on"] is not None:
        raise Conflict("member_removed", "Член Профсоюза снят с учёта: перевод невозможен")
    if member["org_id"] == to_org["id"]:
        raise ValidationFailed("same_org", "Член Профсоюза уже состоит на учёте в этой организации")
    if on > today:
        raise ValidationFailed(details=[field_error("on", "date_in_future",
                                                    "Дата перевода не может быть в будущем")])
    if on < member["org_since"]:
        raise ValidationFailed(details=[field_error(
            "on", "date_before_joining", "Дата перевода не может быть раньше постановки на учёт "
            f"({member['org_since']:%d.%m.%Y})")])
    open_one = session.execute(text("""
        SELECT id FROM membership.transfer_request WHERE member_id = :m AND status = 'pending'
    """), {"m": member["id"]}).scalar_one_or_none()
    if open_one is not None:
        raise Conflict("transfer_requested", "Запрос на перевод этого человека уже ждёт решения",
                       {"request_id": open_one})
    request_id = session.execute(text("""
        INSERT INTO membership.transfer_request
            (member_id, from_org_id, to_org_id, on_date, requested_by)
        VALUES (:m, :from_org, :to_org, :on, :actor) RETURNING id
    """), {"m": member["id"], "from_org": member["org_id"], "to_org": to_org["id"], "on": on,
           "actor": actor}).scalar_one()
    return get(session, request_id)


def get(session: Session, request_id: int, lock: bool = False) -> dict[str, Any]:
    row = session.execute(text(f"""
        SELECT r.*, m.surname, m.first_name, m.patronymic, m.sex,
               f.name AS from_name, f.registry_number AS from_number,
               ltree2text(f.path) AS from_path, f.region_id AS from_region,
               t.name AS to_name, t.registry_number AS to_number, ltree2text(t.path) AS to_path
        FROM membership.transfer_request r
        JOIN membership.member m ON m.id = r.member_id
        JOIN membership.org f ON f.id = r.from_org_id
        JOIN membership.org t ON t.id = r.to_org_id
        WHERE r.id = :id {'FOR UPDATE OF r' if lock else ''}
    """), {"id": request_id}).mappings().first()
    if row is None:
        raise NotFound("transfer_request_not_found", "Запрос на перевод не найден")
    return {**dict(row), "status_title": STATUS_TITLES[row["status"]]}


def visible(req: dict[str, Any], paths: list[str] | None) -> dict[str, bool]:
    """Which side the caller is on: the sending one decides, the receiving one may withdraw."""
    return {"decides": within_scope(req["from_path"], paths),
            "asked": within_scope(req["to_path"], paths)}


def decide(session: Session, actor: str, req: dict[str, Any], approve: bool, reason: str,
           today: date) -> dict[str, Any]:
    if req["status"] != "pending":
        raise Conflict("transfer_decided", f"Запрос уже рассмотрен: {req['status_title']}")
    if approve:
        member = members.fetch(session, req["member_id"], lock=True)
        if member["org_id"] != req["from_org_id"]:
            raise Conflict("transfer_moved", "Член Профсоюза уже в другой организации: запрос "
                                             "устарел, его можно только отклонить")
        to_org = session.execute(text("""
            SELECT id, parent_id, ltree2text(path) AS path, level, region_id, registry_number,
                   name, education_name, education_inn, excluded_on
            FROM membership.org WHERE id = :id
        """), {"id": req["to_org_id"]}).mappings().one()
        members.transfer(session, actor, member, dict(to_org),
                         max(req["on_date"], member["org_since"]), today)
        status = "done"
    else:
        reason = " ".join(str(reason or "").split())
        if len(reason) < 5:
            raise ValidationFailed(details=[field_error(
                "reason", "reason_required", "Укажите причину отказа: её увидит запросивший")])
        status = "declined"
    session.execute(text("""
        UPDATE membership.transfer_request SET status = :s, decided_by = :actor,
            decided_at = now(), reason = :reason WHERE id = :id
    """), {"s": status, "actor": actor, "reason": reason or None, "id": req["id"]})
    return get(session, req["id"])


def cancel(session: Session, actor: str, req: dict[str, Any]) -> dict[str, Any]:
    if req["status"] != "pending":
        raise Conflict("transfer_decided", f"Запрос уже рассмотрен: {req['status_title']}")
    session.execute(text("""
        UPDATE membership.transfer_request SET status = 'cancelled', decided_by = :actor,
            decided_at = now() WHERE id = :id
    """), {"actor": actor, "id": req["id"]})
    return get(session, req["id"])


def listing(session: Session, paths: list[str] | None, limit: int = 100) -> dict[str, Any]:
    """Requests the caller decides (from their structure) and the ones they asked for (into
    it), newest first, the open ones before the rest."""
    def side(column: str) -> list[dict[str, Any]]:
        ids = session.execute(text(f"""
            SELECT r.id FROM membership.transfer_request r
            JOIN membership.org o ON o.id = r.{column}
            WHERE (CAST(:paths AS ltree[]) IS NULL OR o.path <@ CAST(:paths AS ltree[]))
            ORDER BY r.status = 'pending' DESC, r.requested_at DESC LIMIT :limit
        """), {"paths": paths, "limit": limit}).scalars().all()
        return [get(session, i) for i in ids]
    return {"to_decide": side("from_org_id"), "asked": side("to_org_id")}


def policy(session: Session, region_id: int) -> int | None:
    return session.execute(text("""
        SELECT auto_after_days FROM membership.transfer_policy WHERE region_id = :r
    """), {"r": region_id}).scalar_one_or_none()


def set_policy(session: Session, actor: str, region_id: int, days: int | None) -> None:
    if days is not None and not 1 <= days <= 90:
        raise ValidationFailed(details=[field_error(
            "auto_after_days", "range", "Срок: от 1 до 90 дней, или пусто — только вручную")])
    session.execute(text("""
        INSERT INTO membership.transfer_policy (region_id, auto_after_days, set_by)
        VALUES (:r, :d, :actor)
        ON CONFLICT (region_id) DO UPDATE SET auto_after_days = :d, set_by = :actor,
            set_at = now()
    """), {"r": region_id, "d": days, "actor": actor})


def due(session: Session) -> list[int]:
    """Open requests whose sending organization's region lets them through by now."""
    return list(session.execute(text("""
        SELECT r.id FROM membership.transfer_request r
        JOIN membership.org f ON f.id = r.from_org_id
        JOIN membership.transfer_policy p ON p.region_id = f.region_id
        WHERE r.status = 'pending' AND p.auto_after_days IS NOT NULL
          AND r.requested_at < now() - make_interval(days => p.auto_after_days)
        ORDER BY r.id LIMIT 500
    """)).scalars().all())
