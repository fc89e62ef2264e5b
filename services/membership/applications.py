"""Online joining («Вступить в Профсоюз»): the application, the chair's queue and its decisions.

A person picks an organization, fills in the card and gives consents; the application waits for
the chair of that organization, who accepts it (the person is registered, and single sign-on makes
their personal account on the `member_registered` event) or declines it with a reason the applicant
reads on the status page. Applications nobody decides remind the chair, then expire.

The form answers alike for anyone (it must not tell who is a member): an application of a person
already on the register, or of one whose application is waiting, is recorded all the same,
flagged `duplicate_of_member` / `duplicate_of_application` for the chair, who resolves it.
"""

import re
import uuid
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.common import outbox
from services.common.errors import Conflict, NotFound, ValidationFailed, field_error
from services.common.serialization import jsonable
from services.membership import members, orgs
from services.membership.card import CardErrors, check_card, person_key
from services.membership.titles import APPLICATION_STATUS_TITLES

STATUS_TITLES = APPLICATION_STATUS_TITLES


def application_not_found(app_id: Any) -> NotFound:
    return NotFound("application_not_found", f"Заявление {app_id} не найдено")


def _uuid(value: Any) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise application_not_found(value) from None


def submit(session: Session, org: dict[str, Any] | None, raw: dict[str, Any],
           today: date) -> dict[str, Any]:
    """A person's application: checked like a chair's registration, plus explicit consents."""
    errors: list[dict[str, str]] = []
    if not raw.get("pd_consent"):
        errors.append(field_error("pd_consent", "consent_required",
                                  "Без согласия на обработку персональных данных заявление "
                                  "не принимается"))
    try:
        card = check_card({**raw, "pd_consent_form": "electronic", "pd_consent_on": None,
                           "joined_on": None, "card_number": None,
                           "email_consent": bool(raw.get("email_consent"))},
                          today, require_consent=False, default_consent_on=today)
    except CardErrors as exc:
        errors.extend(exc.errors)
        card = None
    if not str(raw.get("email") or "").strip():
        errors.append(field_error("email", "email_required",
                                  "Укажите e-mail: на него придёт решение и вход в личный кабинет"))
    if errors:
        raise members.invalid(errors)
    if org is None:
        raise orgs.org_not_found(raw.get("org_id"))
    members.require_registration_org(org)
    key = person_key(card["surname"], card["first_name"], card["patronymic"], card["birth_date"])
    # a registered member or a pending applicant gets the same answer as a new person: the form
    # must not tell who is on the register. The duplicate is recorded and flagged for the chair.
    existing = members.find_person(session, card["snils"], key)
    of_member = existing["id"] if existing is not None and existing["removed_on"] is None else None
    app_id = str(uuid.uuid4())
    of_application = _open_application(session, key, card["snils"])
    inserted = _insert(session, app_id, org, card, key, of_member, of_application)
    if inserted is None:  # the same person's application committed a moment ago
        of_application = _open_application(session, key, card["snils"])
        inserted = _insert(session, app_id, org, card, key, of_member, of_application)
    outbox.add_event(session, members.SCHEMA, "application_submitted",
                     {"application_id": app_id, "org_id": org["id"],
                      "region_id": org["region_id"], "org_name": org.get("name"),
                      # the applicant's address and name: notify tells them it arrived
                      "email": card.get("email"), "first_name": card["first_name"],
                      "duplicate": of_member is not None or of_application is not None})
    return status(session, app_id)


def _open_application(session: Session, key: str, snils: str | None) -> str | None:
    """The person's application waiting for a decision (not itself a duplicate), if any."""
    found = session.execute(text("""
        SELECT id FROM membership.application
        WHERE status = 'submitted' AND duplicate_of_application IS NULL
          AND (person_key = :key OR snils = :snils)
        ORDER BY submitted_at LIMIT 1
    """), {"key": key, "snils": snils}).scalar()
    return None if found is None else str(found)


def _insert(session: Session, app_id: str, org: dict[str, Any], card: dict[str, Any], key: str,
            of_member: int | None, of_application: str | None) -> Any:
    return session.execute(text("""
        INSERT INTO membership.application (id, org_id, region_id, card, person_key, snils,
                                            duplicate_of_member, duplicate_of_application)
        VALUES (:id, :org, :region, CAST(:card AS jsonb), :key, :snils, :of_member,
                CAST(:of_application AS uuid))
        ON CONFLICT (person_key) WHERE status = 'submitted' AND duplicate_of_application IS NULL
        DO NOTHING RETURNING id
    """), {"id": app_id, "org": org["id"], "region": org["region_id"],
           "card": _card_json(card), "key": key, "snils": card["snils"],
           "of_member": of_member, "of_application": of_application}).first()


def _card_json(card: dict[str, Any]) -> str:
    import json

    return json.dumps(jsonable(card), ensure_ascii=False)


def status(session: Session, app_id: Any) -> dict[str, Any]:
    """What the applicant sees (by the application's id, which only they were given)."""
    row = session.execute(text("""
        SELECT a.id, a.status, a.submitted_at, a.decided_at, a.decline_reason, o.name AS org_name
        FROM membership.application a JOIN membership.org o ON o.id = a.org_id
        WHERE a.id = :id
    """), {"id": _uuid(app_id)}).mappings().first()
    if row is None:
        raise application_not_found(app_id)
    out = jsonable(dict(row))
    out["id"] = str(row["id"])
    out["status_title"] = STATUS_TITLES[row["status"]]
    return out


def fetch(session: Session, app_id: Any, lock: bool = False) -> dict[str, Any]:
    sql = """SELECT a.*, ltree2text(o.path) AS org_path, o.name AS org_name
             FROM membership.application a JOIN membership.org o ON o.id = a.org_id
             WHERE a.id = :id"""
    row = session.execute(text(sql + (" FOR UPDATE OF a" if lock else "")),
                          {"id": _uuid(app_id)}).mappings().first()
    if row is None:
        raise application_not_found(app_id)
    return dict(row)


def queue(session: Session, paths: list[str] | None, status_: str = "submitted",
          limit: int = 100, offset: int = 0, app_id: Any = None) -> list[dict[str, Any]]:
    """Applications of a status in the subtrees at `paths` (None: everywhere), oldest first;
    with `app_id`, that one alone if it is there."""
    rows = session.execute(text("""
        SELECT a.id, a.org_id, o.name AS org_name, a.card, a.status, a.submitted_at,
               a.reminded_at, a.decided_at, a.decided_by, a.decline_reason, a.member_id,
               a.duplicate_of_member, a.duplicate_of_application
        FROM membership.application a JOIN membership.org o ON o.id = a.org_id
        WHERE (CAST(:paths AS ltree[]) IS NULL OR o.path <@ CAST(:paths AS ltree[]))
          AND a.status = :status AND (CAST(:app AS uuid) IS NULL OR a.id = :app)
        ORDER BY a.submitted_at LIMIT :limit OFFSET :offset
    """), {"paths": paths, "status": status_, "limit": min(limit, 500), "offset": offset,
           "app": None if app_id is None else _uuid(app_id)}).mappings().all()
    return [{**jsonable(dict(r)), "id": str(r["id"]),
             "duplicate_of_application": r["duplicate_of_application"]
             and str(r["duplicate_of_application"])} for r in rows]


def queue_size(session: Session, paths: list[str] | None, status_: str) -> int:
    return session.execute(text("""
        SELECT count(*) FROM membership.application a JOIN membership.org o ON o.id = a.org_id
        WHERE (CAST(:paths AS ltree[]) IS NULL OR o.path <@ CAST(:paths AS ltree[]))
          AND a.status = :status
    """), {"paths": paths, "status": status_}).scalar_one()


def _require_open(app: dict[str, Any]) -> None:
    if app["status"] != "submitted":
        raise Conflict("application_decided",
                       f"Заявление уже рассмотрено: {STATUS_TITLES[app['status']]}")


def accept(session: Session, actor: str, app: dict[str, Any], org: dict[str, Any],
           today: date) -> dict[str, Any]:
    _require_open(app)
    card = dict(app["card"])
    card["birth_date"] = date.fromisoformat(card["birth_date"])
    card["joined_on"] = today
    card["pd_consent_on"] = date.fromisoformat(card["pd_consent_on"])
    member = members.register(session, actor, org, card, today, source="online")
    session.execute(text("""
        UPDATE membership.application SET status = 'accepted', decided_at = now(),
            decided_by = :actor, member_id = :member WHERE id = :id
    """), {"id": app["id"], "actor": actor, "member": member["id"]})
    outbox.add_event(session, members.SCHEMA, "application_decided", {
        "application_id": str(app["id"]), "org_id": org["id"], "region_id": org["region_id"],
        "decision": "accepted", "member_id": member["id"], "email": card.get("email"),
        "surname": card["surname"], "first_name": card["first_name"],
        "org_name": org.get("name")})
    return member


def decline(session: Session, actor: str, app: dict[str, Any], reason: str) -> dict[str, Any]:
    _require_open(app)
    reason = " ".join(str(reason or "").split())
    if len(reason) < 5:
        raise ValidationFailed(details=[field_error(
            "reason", "reason_required", "Укажите причину отказа: её увидит заявитель")])
    session.execute(text("""
        UPDATE membership.application SET status = 'declined', decided_at = now(),
            decided_by = :actor, decline_reason = :reason WHERE id = :id
    """), {"id": app["id"], "actor": actor, "reason": reason[:1000]})
    outbox.add_event(session, members.SCHEMA, "application_decided", {
        "application_id": str(app["id"]), "org_id": app["org_id"], "decision": "declined",
        "reason": reason, "email": app["card"].get("email"),
        "first_name": app["card"].get("first_name"), "org_name": app.get("org_name")})
    return status(session, app["id"])


def undo_decline(session: Session, actor: str, app: dict[str, Any]) -> dict[str, Any]:
    """A decline made by mistake, reopened the same day by whoever made it: the application
    waits for a decision again (the applicant may already have had the letter)."""
    row = session.execute(text("""
        UPDATE membership.application SET status = 'submitted', decided_at = NULL,
            decided_by = NULL, decline_reason = NULL
        WHERE id = :id AND status = 'declined' AND decided_by = :actor
          AND decided_at::date = current_date
        RETURNING id
    """), {"id": app["id"], "actor": actor}).first()
    if row is None:
        raise Conflict("undo_too_late", "Отменить отказ может только тот, кто отклонил "
                                        "заявление, и только в тот же день")
    outbox.add_event(session, members.SCHEMA, "application_reopened", {
        "application_id": str(app["id"]), "org_id": app["org_id"]})
    return status(session, app["id"])


def sweep(session: Session, now: datetime, remind_after: timedelta,
          expire_after: timedelta) -> dict[str, int]:
    """Remind chairs of applications left waiting, and expire those left far too long."""
    expired = session.execute(text("""
        UPDATE membership.application SET status = 'expired', decided_at = :now,
            decided_by = 'system'
        WHERE status = 'submitted' AND submitted_at < :limit
        RETURNING id, org_id, card ->> 'email' AS email
    """), {"now": now, "limit": now - expire_after}).all()
    for row in expired:
        outbox.add_event(session, members.SCHEMA, "application_decided", {
            "application_id": str(row.id), "org_id": row.org_id, "decision": "expired",
            "email": row.email})
    reminded = session.execute(text("""
        UPDATE membership.application SET reminded_at = :now
        WHERE status = 'submitted' AND submitted_at < :limit
          AND (reminded_at IS NULL OR reminded_at < :now - CAST(:every AS interval))
        RETURNING org_id
    """), {"now": now, "limit": now - remind_after,
           "every": f"{int(remind_after.total_seconds())} seconds"}).scalars().all()
    per_org: dict[int, int] = {}
    for org_id in reminded:
        per_org[org_id] = per_org.get(org_id, 0) + 1
    for org_id, count in per_org.items():
        outbox.add_event(session, members.SCHEMA, "applications_waiting",
                         {"org_id": org_id, "count": count})
    return {"expired": len(expired), "reminded": len(reminded)}


def _join_words(text_q: str) -> str:
    """A name as the search compares it: lower case, ё as е, «№ 1», «N1», «No 1», «#1» all as
    «№1», quotes left out."""
    q = text_q.lower().replace("ё", "е")
    q = re.sub(r"[«»\"“”„']", " ", q)
    q = re.sub(r"(?:(?<=\s)|^)(?:no|n|#)\.?\s*(?=\d)", "№", q)
    q = re.sub(r"№\s*", "№", q)
    return " ".join(q.split())


# the same normalization in SQL, so that names and the query meet halfway
_SQL_NAME = ("regexp_replace(regexp_replace(replace(lower({col}), 'ё', 'е'), "
             "'[«»\"“”„'']', ' ', 'g'), '№\\s*', '№', 'g')")


def lookup_orgs(session: Session, region_id: int, query: str, limit: int = 20) -> list[dict]:
    """The public form's choice of organization: primaries of a region by name or INN. The
    words may come in any order, «№» written any way, with or without a space before the
    number; «№1» matches a «№1» that a digit does not follow."""
    q = " ".join(query.split())
    if len(q) < 2:
        raise ValidationFailed(details=[field_error(
            "q", "query_short", "Введите хотя бы две буквы названия или ИНН")])
    words = _join_words(q).split()[:5]
    params: dict[str, Any] = {"region": region_id, "q": q, "limit": min(limit, 50)}
    conditions = []
    name, edu = _SQL_NAME.format(col="name"), _SQL_NAME.format(col="coalesce(education_name, '')")
    for i, w in enumerate(words):
        escaped = re.escape(w)
        if re.search(r"\d$", w):  # a number: not the beginning of a longer one
            escaped += r"(?!\d)"
        params[f"w{i}"] = escaped
        conditions.append(f"({name} ~ :w{i} OR {edu} ~ :w{i})")
    rows = session.execute(text(f"""
        SELECT id, name, education_name, education_inn FROM membership.org
        WHERE region_id = :region AND level IN ('primary', 'subdivision') AND excluded_on IS NULL
          AND (education_inn = :q OR ({" AND ".join(conditions) or "false"}))
        ORDER BY name LIMIT :limit
    """), params).mappings()
    return [dict(r) for r in rows]


def regions(session: Session) -> list[dict[str, Any]]:
    rows = session.execute(text("""
        SELECT id, name FROM membership.org WHERE level = 'regional' AND excluded_on IS NULL
        ORDER BY name
    """)).mappings()
    return [dict(r) for r in rows]
