"""Keeping members: registration, edits, category, consents, transfer and removal, with history.

Every function runs in the caller's transaction. A change first copies the card as it was into
`member_version` (with what changed, who and when), then updates the row, then records its event
in the outbox: the three commit together or not at all. The row itself is always the current
state, so bulk loads write no history rows at all.
"""

import json
from datetime import date, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.common import outbox
from services.common.errors import Conflict, NotFound, ValidationFailed, field_error
from services.common.serialization import jsonable
from services.membership import orgs
from services.membership.card import (
    CATEGORY_TITLES,
    FIELDS,
    PERSONAL,
    REMOVAL_TITLES,
    CardErrors,
    check_patch,
    person_key,
)

SCHEMA = "membership"
EDITABLE = tuple(f for f in FIELDS if f not in ("pd_consent_on", "pd_consent_form",
                                                "email_consent", "card_number"))
_COLUMN_NAMES = (
    "id", "surname", "first_name", "patronymic", "sex", "birth_date", "snils", "phone", "email",
    "org_id", "region_id", "org_since", "joined_on", "registered_on", "removed_on",
    "removal_reason", "category", "job_category", "pd_consent_on", "pd_consent_form",
    "pd_consent_withdrawn_on", "email_consent", "email_consent_on", "card_number",
    "account_active", "source", "version", "valid_since", "updated_by")
COLUMNS = ", ".join(f"m.{c}" for c in _COLUMN_NAMES)  # of membership.member m


def invalid(errors: list[dict[str, str]]) -> ValidationFailed:
    return ValidationFailed("validation_failed", "Данные карточки не прошли проверку", errors)


def member_not_found(member_id: Any) -> NotFound:
    return NotFound("member_not_found", f"Член Профсоюза {member_id} не найден")


def fetch(session: Session, member_id: int, lock: bool = False) -> dict[str, Any]:
    sql = f"SELECT {COLUMNS}, ltree2text(o.path) AS org_path, o.name AS org_name " \
          "FROM membership.member m JOIN membership.org o ON o.id = m.org_id WHERE m.id = :id"
    found = session.execute(text(sql + (" FOR UPDATE OF m" if lock else "")),
                            {"id": member_id}).mappings().first()
    if found is None:
        raise member_not_found(member_id)
    return dict(found)


def shown(row: dict[str, Any], personal: bool) -> dict[str, Any]:
    """A card as the caller may see it: without birth date, SNILS and contacts unless entitled."""
    out = jsonable({k: v for k, v in row.items() if k != "org_path"})
    out["status"] = "removed" if row.get("removed_on") else "active"
    out["category_title"] = CATEGORY_TITLES.get(row.get("category"), "")
    if row.get("removal_reason"):
        out["removal_reason_title"] = REMOVAL_TITLES.get(row["removal_reason"], "")
    if not personal:
        for key in PERSONAL:
            out.pop(key, None)
    return out


# ---- one person, one record ------------------------------------------------------------------

def find_person(session: Session, snils: str | None, key: str,
                other_than: int | None = None) -> dict[str, Any] | None:
    """The record of this person, by SNILS or by full name and date of birth.

    Two records with the same name and birth date but different SNILS are different people."""
    row = session.execute(text(f"""
        SELECT {COLUMNS}, o.name AS org_name FROM membership.member m
        JOIN membership.org o ON o.id = m.org_id
        WHERE (m.snils = :snils OR (m.person_key = :key AND (m.snils IS NULL OR
                                                            CAST(:snils AS text) IS NULL
                                                            OR m.snils = :snils)))
          AND m.id IS DISTINCT FROM :other
        ORDER BY m.removed_on NULLS FIRST LIMIT 1
    """), {"snils": snils, "key": key, "other": other_than}).mappings().first()
    return dict(row) if row else None


def already_registered(existing: dict[str, Any]) -> Conflict:
    where = f"«{existing['org_name']}»"
    if existing["removed_on"] is None:
        message = (f"Этот человек уже состоит на учёте в организации {where} с "
                   f"{existing['org_since']:%d.%m.%Y}. Один человек — одна карточка: "
                   "оформите перевод в вашу организацию.")
        code = "person_registered"
    else:
        message = (f"Этот человек снят с учёта в организации {where} "
                   f"{existing['removed_on']:%d.%m.%Y}; восстановите его карточку, "
                   "а не заводите новую.")
        code = "person_removed_earlier"
    return Conflict(code, message, {"member_id": existing["id"], "org_id": existing["org_id"],
                                    "org_name": existing["org_name"],
                                    "transfer_offered": existing["removed_on"] is None})


def _lock_person(session: Session, key: str, snils: str | None) -> None:
    """Two registrations of the same person at once: the second waits and then sees the first."""
    session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": key})
    if snils:
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": snils})


# ---- changes ---------------------------------------------------------------------------------

def require_registration_org(org: dict[str, Any]) -> None:
    if org["excluded_on"] is not None:
        raise Conflict("org_excluded", f"Организация «{org['name']}» исключена из реестра")
    if org["level"] not in orgs.REGISTRATION_LEVELS:
        raise ValidationFailed("org_level", "На учёт ставят в первичной организации или её "
                                            f"структурном подразделении, а «{org['name']}» — нет")


def _card_values(card: dict[str, Any]) -> dict[str, Any]:
    return {k: card.get(k) for k in FIELDS}


def register(session: Session, actor: str, org: dict[str, Any], card: dict[str, Any],
             today: date, source: str = "manual") -> dict[str, Any]:
    """Put a person on the union's register in `org`. `card` comes from card.check_card."""
    require_registration_org(org)
    key = person_key(card["surname"], card["first_name"], card["patronymic"], card["birth_date"])
    _lock_person(session, key, card["snils"])
    existing = find_person(session, card["snils"], key)
    if existing is not None:
        raise already_registered(existing)
    values = _card_values(card)
    try:
        with session.begin_nested():
            member_id = session.execute(text("""
                INSERT INTO membership.member
                    (surname, first_name, patronymic, sex, birth_date, snils, phone, email,
                     joined_on, category, job_category, pd_consent_on, pd_consent_form,
                     email_consent, email_consent_on, card_number, org_id, region_id, org_since,
                     registered_on, person_key, source, updated_by)
                VALUES (:surname, :first_name, :patronymic, :sex, :birth_date, :snils, :phone,
                        :email, :joined_on, :category, :job_category, :pd_consent_on,
                        :pd_consent_form, :email_consent,
                        CASE WHEN :email_consent THEN CAST(:today AS date) END, :card_number,
                        :org_id, :region_id, :joined_on, :today, :key, :source, :actor)
                RETURNING id
            """), {**values, "org_id": org["id"], "region_id": org["region_id"], "today": today,
                   "key": key, "source": source, "actor": actor}).scalar_one()
    except IntegrityError as exc:
        if "member_card" in str(exc.orig):
            raise Conflict("card_number_taken",
                           f"Билет {card['card_number']} уже записан за другим членом") from None
        raise
    outbox.add_event(session, SCHEMA, "member_registered", {
        "member_id": member_id, "org_id": org["id"], "region_id": org["region_id"],
        "category": values["category"], "registered_on": today.isoformat(), "source": source})
    return fetch(session, member_id)


def _save_version(session: Session, old: dict[str, Any], new: dict[str, Any], kind: str,
                  actor: str) -> None:
    """Keep the card as it was until now, with what this change did to it."""
    keep = {k: v for k, v in old.items() if k not in ("org_path", "org_name", "valid_since",
                                                      "updated_by", "version")}
    diff = {k: [jsonable({"v": old.get(k)})["v"], jsonable({"v": v})["v"]]
            for k, v in new.items() if k in keep and old.get(k) != v}
    session.execute(text("""
        INSERT INTO membership.member_version
            (member_id, version, valid_from, valid_to, card, change_kind, diff, changed_by)
        VALUES (:id, :version, :since, now(), CAST(:card AS jsonb), :kind, CAST(:diff AS jsonb),
                :actor)
    """), {"id": old["id"], "version": old["version"], "since": old["valid_since"],
           "card": json.dumps(jsonable(keep), ensure_ascii=False),
           "diff": json.dumps(diff, ensure_ascii=False), "kind": kind, "actor": actor})


def _apply(session: Session, old: dict[str, Any], new: dict[str, Any], kind: str,
           actor: str) -> dict[str, Any]:
    changed = {k: v for k, v in new.items() if old.get(k) != v}
    if not changed:
        return old
    _save_version(session, old, changed, kind, actor)
    sets = ", ".join(f"{k} = :{k}" for k in changed)
    try:
        with session.begin_nested():
            session.execute(text(f"""
                UPDATE membership.member SET {sets}, version = version + 1, valid_since = now(),
                    updated_by = :actor
                WHERE id = :id
            """), {**changed, "id": old["id"], "actor": actor})
    except IntegrityError as exc:
        if "member_snils" in str(exc.orig):
            raise Conflict("person_registered", "Этот СНИЛС уже записан в другой карточке") \
                from None
        if "member_card" in str(exc.orig):
            raise Conflict("card_number_taken", "Этот номер билета записан за другим членом") \
                from None
        raise
    return fetch(session, old["id"])


def _require_active(member: dict[str, Any]) -> None:
    if member["removed_on"] is not None:
        raise Conflict("member_removed", f"Член Профсоюза снят с учёта "
                                         f"{member['removed_on']:%d.%m.%Y}: изменения невозможны")


def update(session: Session, actor: str, member: dict[str, Any], patch: dict[str, Any],
           today: date) -> dict[str, Any]:
    _require_active(member)
    try:
        card = check_patch(member, patch, today, EDITABLE)
    except CardErrors as exc:
        raise invalid(exc.errors) from None
    new = {k: card[k] for k in patch}
    if "surname" in new or "first_name" in new or "patronymic" in new or "birth_date" in new:
        key = person_key(card["surname"], card["first_name"], card["patronymic"],
                         card["birth_date"])
        existing = find_person(session, card["snils"], key, other_than=member["id"])
        if existing is not None:
            raise already_registered(existing)
        new["person_key"] = key
    if new.get("snils") and new["snils"] != member["snils"]:
        existing = find_person(session, new["snils"], "", other_than=member["id"])
        if existing is not None:
            raise already_registered(existing)
    result = _apply(session, member, new, "edited", actor)
    if result["category"] != member["category"] or \
            result["job_category"] != member["job_category"]:
        outbox.add_event(session, SCHEMA, "member_category_changed", {
            "member_id": member["id"], "org_id": member["org_id"],
            "region_id": member["region_id"], "old": member["category"],
            "new": result["category"], "job_category": result["job_category"],
            "on": today.isoformat()})
    return result


def remove(session: Session, actor: str, member: dict[str, Any], on: date, reason: str,
           today: date) -> dict[str, Any]:
    _require_active(member)
    if on > today:
        raise invalid([field_error("removed_on", "date_in_future",
                                   "Дата снятия с учёта не может быть в будущем")])
    earliest = max(member["joined_on"], member["org_since"])
    if on < earliest:
        raise invalid([field_error("removed_on", "date_before_joining",
                                   "Дата снятия с учёта раньше даты вступления или постановки "
                                   f"на учёт ({earliest:%d.%m.%Y})")])
    result = _apply(session, member, {"removed_on": on, "removal_reason": reason}, "removed",
                    actor)
    outbox.add_event(session, SCHEMA, "member_removed", {
        "member_id": member["id"], "org_id": member["org_id"], "region_id": member["region_id"],
        "removed_on": on.isoformat(), "reason": reason})
    return result


def transfer(session: Session, actor: str, member: dict[str, Any], to_org: dict[str, Any],
             on: date, today: date) -> dict[str, Any]:
    """Move the record to another organization; the period in the old one stays in history."""
    _require_active(member)
    require_registration_org(to_org)
    if to_org["id"] == member["org_id"]:
        raise ValidationFailed("same_org", "Член Профсоюза уже состоит на учёте в этой организации")
    if on > today:
        raise invalid([field_error("on", "date_in_future",
                                   "Дата перевода не может быть в будущем")])
    if on < member["org_since"]:  # the day of registration itself will do
        raise invalid([field_error("on", "date_before_joining",
                                   "Дата перевода не может быть раньше постановки на учёт "
                                   f"({member['org_since']:%d.%m.%Y})")])
    session.execute(text("""
        INSERT INTO membership.placement (member_id, org_id, since, until)
        VALUES (:id, :org, :since, :until)
    """), {"id": member["id"], "org": member["org_id"], "since": member["org_since"], "until": on})
    result = _apply(session, member, {"org_id": to_org["id"], "region_id": to_org["region_id"],
                                      "org_since": on}, "transferred", actor)
    outbox.add_event(session, SCHEMA, "member_transferred", {
        "member_id": member["id"], "from_org_id": member["org_id"], "to_org_id": to_org["id"],
        "from_region_id": member["region_id"], "to_region_id": to_org["region_id"],
        "on": on.isoformat()})
    return result


def last_change(session: Session, member_id: int) -> dict[str, Any] | None:
    """The card's latest change: what it was, who made it and whether it was today."""
    row = session.execute(text("""
        SELECT version, change_kind, changed_by, diff, valid_to::date = current_date AS today
        FROM membership.member_version WHERE member_id = :id ORDER BY version DESC LIMIT 1
    """), {"id": member_id}).mappings().first()
    return None if row is None else dict(row)


def require_own_today(change: dict[str, Any] | None, kind: str, actor: str, what: str) -> None:
    """An undo is for the person who made the change, the same day, before anything else."""
    if change is None or change["change_kind"] != kind:
        raise Conflict("nothing_to_undo", f"Отменить нечего: последнее изменение карточки — "
                                          f"не {what}")
    if change["changed_by"] != actor or not change["today"]:
        raise Conflict("undo_too_late", f"Отменить {what} может только тот, кто его оформил, "
                                        "и только в тот же день")


def undo_removal(session: Session, actor: str, member: dict[str, Any]) -> dict[str, Any]:
    """Back on the register after a removal made by mistake today; the history keeps both."""
    if member["removed_on"] is None:
        raise Conflict("not_removed", "Член Профсоюза состоит на учёте: отменять нечего")
    require_own_today(last_change(session, member["id"]), "removed", actor, "снятие с учёта")
    result = _apply(session, member, {"removed_on": None, "removal_reason": None}, "restored",
                    actor)
    outbox.add_event(session, SCHEMA, "member_restored", {
        "member_id": member["id"], "org_id": member["org_id"],
        "region_id": member["region_id"]})
    return result


def undo_transfer(session: Session, actor: str, member: dict[str, Any]) -> dict[str, Any]:
    """A transfer made by mistake today, taken back: the card returns to the organization it
    came from, with its date there; the history keeps the transfer and its undo."""
    require_own_today(last_change(session, member["id"]), "transferred", actor, "перевод")
    before = session.execute(text("""
        DELETE FROM membership.placement
        WHERE member_id = :id AND until = :on
          AND since = (SELECT max(since) FROM membership.placement
                       WHERE member_id = :id AND until = :on)
        RETURNING org_id, since
    """), {"id": member["id"], "on": member["org_since"]}).mappings().first()
    if before is None:
        raise Conflict("nothing_to_undo", "Отменить нечего: прежняя организация не найдена")
    back = session.execute(text("""
        SELECT id, region_id FROM membership.org WHERE id = :id
    """), {"id": before["org_id"]}).mappings().one()
    result = _apply(session, member, {"org_id": back["id"], "region_id": back["region_id"],
                                      "org_since": before["since"]}, "transfer_undone", actor)
    outbox.add_event(session, SCHEMA, "member_transferred", {
        "member_id": member["id"], "from_org_id": member["org_id"], "to_org_id": back["id"],
        "from_region_id": member["region_id"], "to_region_id": back["region_id"],
        "on": member["org_since"].isoformat(), "undo": True})
    return result


def set_consent(session: Session, actor: str, member: dict[str, Any], kind: str, given: bool,
                today: date) -> dict[str, Any]:
    """Give or withdraw consent to personal-data processing ('personal_data') or to e-mail."""
    if kind == "personal_data":
        if given:
            new = {"pd_consent_on": today, "pd_consent_withdrawn_on": None}
        else:
            new = {"pd_consent_withdrawn_on": today}
    elif kind == "email":
        if given and not member["email"]:
            raise invalid([field_error("email", "email_missing",
                                       "Для согласия на рассылку укажите адрес e-mail")])
        new = {"email_consent": given, "email_consent_on": today}
    else:
        raise invalid([field_error("kind", "enum", "Согласие: personal_data или email")])
    kind_name = f"consent_{kind}_{'given' if given else 'withdrawn'}"
    return _apply(session, member, new, kind_name, actor)


def by_account(session: Session, subject: str) -> dict[str, Any]:
    """The card of the person who signed in with this account (their personal account)."""
    member_id = session.execute(text(
        "SELECT id FROM membership.member WHERE account_subject = :s"),
        {"s": subject}).scalar_one_or_none()
    if member_id is None:
        raise member_not_found("(ваша карточка)")
    return fetch(session, member_id)


def link_account(session: Session, member_id: int, subject: str) -> None:
    """Single sign-on made the member's personal account: remember it (idempotent)."""
    session.execute(text("""
        UPDATE membership.member SET account_subject = :s, account_active = removed_on IS NULL
        WHERE id = :id AND account_subject IS DISTINCT FROM :s
    """), {"id": member_id, "s": subject})


# ---- the past --------------------------------------------------------------------------------

def as_of(session: Session, member: dict[str, Any], moment: datetime) -> dict[str, Any] | None:
    """The card as it stood at `moment`; None if the record did not exist yet."""
    if moment >= member["valid_since"]:
        return member
    row = session.execute(text("""
        SELECT card FROM membership.member_version
        WHERE member_id = :id AND valid_from <= :t AND :t < valid_to
    """), {"id": member["id"], "t": moment}).scalar_one_or_none()
    return row


def history(session: Session, member: dict[str, Any]) -> dict[str, Any]:
    rows = session.execute(text("""
        SELECT version, valid_to AS at, change_kind, diff, changed_by
        FROM membership.member_version WHERE member_id = :id ORDER BY version
    """), {"id": member["id"]}).mappings().all()
    placements = session.execute(text("""
        SELECT p.org_id, o.name AS org_name, p.since, p.until FROM membership.placement p
        LEFT JOIN membership.org o ON o.id = p.org_id WHERE p.member_id = :id ORDER BY p.since
    """), {"id": member["id"]}).mappings().all()
    # organizations a change names, by name and registry number, for the history to show
    ids = {int(v) for r in rows for k, pair in (r["diff"] or {}).items()
           if k in ("org_id", "region_id")
           for v in pair if v is not None}
    names = session.execute(text("""
        SELECT id, name, registry_number FROM membership.org WHERE id = ANY(:ids)
    """), {"ids": sorted(ids)}).all() if ids else []
    return {"changes": [jsonable(dict(r)) for r in rows],
            "org_names": {str(n.id): f"{n.name} (рег. № {n.registry_number})" for n in names},
            "organizations": [jsonable(dict(p)) for p in placements] + [jsonable({
                "org_id": member["org_id"], "org_name": member["org_name"],
                "since": member["org_since"], "until": member["removed_on"]})]}


def counts_by_org(session: Session, org_ids: list[int],
                  paths: list[str] | None = None) -> dict[int, int]:
    """Members on the register now, per organization, of those within `paths` (None: all)."""
    rows = session.execute(text("""
        SELECT m.org_id, count(*) FROM membership.member m
        JOIN membership.org o ON o.id = m.org_id
        WHERE m.org_id = ANY(:ids) AND m.removed_on IS NULL
          AND (CAST(:paths AS ltree[]) IS NULL OR o.path <@ CAST(:paths AS ltree[]))
        GROUP BY m.org_id
    """), {"ids": org_ids, "paths": paths}).all()
    return {r[0]: r[1] for r in rows}


def subtree_counts(session: Session, org_ids: list[int],
                   paths: list[str] | None = None) -> dict[int, int]:
    """Members on the register now in each organization's whole subtree (a territorial
    organization holds its primaries' members), of those within `paths` (None: all)."""
    rows = session.execute(text("""
        SELECT t.id, (SELECT count(*) FROM membership.member m
                      JOIN membership.org o ON o.id = m.org_id
                      WHERE o.path <@ t.path AND m.removed_on IS NULL
                        AND (CAST(:paths AS ltree[]) IS NULL
                             OR o.path <@ CAST(:paths AS ltree[])))
        FROM membership.org t WHERE t.id = ANY(:ids)
    """), {"ids": org_ids, "paths": paths}).all()
    return {r[0]: r[1] for r in rows if r[1]}


def card_holders(session: Session, paths: list[str] | None, member_ids: list[int] | None = None,
                 org_id: int | None = None, without_card: bool = False,
                 limit: int = 50_000) -> list[dict[str, Any]]:
    """Members on the register as the cards and events services need them (name,
    organization, region; whether under 35 for an event of young members, never the birth
    date), within the caller's subtrees: named ones, or those of an organization."""
    rows = session.execute(text("""
        SELECT m.id AS member_id, m.surname, m.first_name, m.patronymic, m.org_id,
               ltree2text(o.path) AS org_path, m.region_id, o.registry_number AS
               org_registry_number, o.name AS org_name, m.card_number,
               m.birth_date > current_date - interval '35 years' AS young
        FROM membership.member m JOIN membership.org o ON o.id = m.org_id
        WHERE m.removed_on IS NULL
          AND (CAST(:ids AS bigint[]) IS NULL OR m.id = ANY(:ids))
          AND (CAST(:org AS bigint) IS NULL OR m.org_id = :org)
          AND (CAST(:paths AS ltree[]) IS NULL OR o.path <@ CAST(:paths AS ltree[]))
          AND (NOT :without OR m.card_number IS NULL)
        ORDER BY m.id LIMIT :limit
    """), {"ids": member_ids, "org": org_id, "paths": paths, "without": without_card,
           "limit": limit}).mappings().all()
    return [dict(r) for r in rows]


def set_card_numbers(session: Session, cards: list[dict[str, Any]]) -> int:
    """The cards service gave members numbers (or a card was refused: its number is cleared
    from the member it was for). Idempotent: a second delivery finds everything in place. The
    number's dated history lives with the card (cards.card_event), not in member_version."""
    import orjson

    return session.execute(text("""
        UPDATE membership.member m SET
            card_number = CASE WHEN c.refused THEN NULL ELSE c.number END
        FROM jsonb_to_recordset(CAST(:cards AS jsonb)) AS c(member_id bigint, number text,
                                                            refused boolean)
        WHERE m.id = c.member_id
          AND (c.refused AND m.card_number = c.number
               OR NOT c.refused AND m.card_number IS DISTINCT FROM c.number)
    """), {"cards": orjson.dumps(cards).decode()}).rowcount


def mail_contacts(session: Session, member_ids: list[int]) -> list[dict[str, Any]]:
    """Where notify writes to members about their own record (a card made, a transfer): an
    e-mail, on the register, consent to personal-data processing in force."""
    rows = session.execute(text("""
        SELECT m.id AS member_id, m.email, m.first_name, m.org_id, o.name AS org_name
        FROM membership.member m JOIN membership.org o ON o.id = m.org_id
        WHERE m.id = ANY(:ids) AND m.removed_on IS NULL AND m.pd_consent_withdrawn_on IS NULL
          AND COALESCE(m.email, '') <> ''
    """), {"ids": member_ids}).mappings().all()
    return [dict(r) for r in rows]
