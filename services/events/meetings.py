"""Elected bodies, their members and terms, meetings, attendance, quorum, votes and protocols.

Quorum is counted on the meeting's date from the body's members whose term covers it: present
more than quorum_num/quorum_den of them (a half unless the body's rule says otherwise). A
protocol is numbered per body and year when first made; each later make is a new version until
one is signed off, which is final: a change after it is again a new version, the signed one kept.
"""

from datetime import UTC, date, datetime
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.orm import Session

from services.common.errors import Conflict, NotFound, ValidationFailed
from services.common.serialization import jsonable

BODY_KINDS = {"profcom": "профсоюзный комитет", "presidium": "президиум",
              "committee": "комитет", "conference": "конференция",
              "general_meeting": "общее собрание"}
PROTOCOL_TITLES = {"profcom": "заседания профсоюзного комитета",
                   "presidium": "заседания президиума", "committee": "заседания комитета",
                   "conference": "конференции", "general_meeting": "общего собрания"}
ROLES = {"chair": "председатель", "deputy": "заместитель председателя",
         "secretary": "секретарь", "member": "член"}
VOTES = ("for", "against", "abstained")


def body_not_found(body_id: Any) -> NotFound:
    return NotFound("body_not_found", f"Выборный орган {body_id} не найден")


def meeting_not_found(meeting_id: Any) -> NotFound:
    return NotFound("meeting_not_found", f"Заседание {meeting_id} не найдено")


def _in(path: str, paths: list[str] | None) -> bool:
    return paths is None or any(path == p or path.startswith(p + ".") for p in paths)


def _day(value: Any, field: str) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValidationFailed("validation_failed", "Дата в виде ГГГГ-ММ-ДД",
                               [{"field": field, "message": "Дата в виде ГГГГ-ММ-ДД"}]) from None


def create_body(session: Session, org: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    kind = str(data.get("kind") or "")
    if kind not in BODY_KINDS:
        raise ValidationFailed("validation_failed", "Вид органа: " + ", ".join(BODY_KINDS),
                               [{"field": "kind", "message": "Выберите вид органа"}])
    num, den = int(data.get("quorum_num") or 1), int(data.get("quorum_den") or 2)
    if not 0 < num <= den:
        raise ValidationFailed("validation_failed", "Кворум: больше num/den членов органа",
                               [{"field": "quorum_num", "message": "Неверная доля кворума"}])
    name = str(data.get("name") or "").strip() or BODY_KINDS[kind].capitalize()
    row = session.execute(text("""
        INSERT INTO events.body (org_id, org_path, kind, name, quorum_num, quorum_den)
        VALUES (:org, CAST(:path AS ltree), :kind, :name, :num, :den) RETURNING id
    """), {"org": org["id"], "path": org["path"], "kind": kind, "name": name[:300],
           "num": num, "den": den}).scalar_one()
    return body(session, row)


def body(session: Session, body_id: int, paths: list[str] | None = None) -> dict[str, Any]:
    row = session.execute(text("""
        SELECT id, org_id, ltree2text(org_path) AS org_path, kind, name, quorum_num, quorum_den
        FROM events.body WHERE id = :id
    """), {"id": body_id}).mappings().first()
    if row is None or not _in(row["org_path"], paths):
        raise body_not_found(body_id)
    out = dict(row)
    out["kind_title"] = BODY_KINDS[out["kind"]]
    out["members"] = [jsonable(dict(m)) for m in session.execute(text("""
        SELECT id, member_id, full_name, role, from_date, to_date FROM events.body_member
        WHERE body_id = :id ORDER BY role <> 'chair', full_name, id
    """), {"id": body_id}).mappings()]
    return out


def bodies(session: Session, org_id: int) -> list[dict[str, Any]]:
    return [dict(r) for r in session.execute(text(
        "SELECT id, kind, name FROM events.body WHERE org_id = :o ORDER BY id"),
        {"o": org_id}).mappings()]


def add_members(session: Session, body_id: int, people: list[dict[str, Any]],
                from_date: Any, to_date: Any = None, role: str = "member") -> int:
    """People (member_id or none, full_name) elected to the body for a term."""
    if role not in ROLES:
        raise ValidationFailed("validation_failed", "Роль: " + ", ".join(ROLES))
    start = _day(from_date, "from_date")
    end = _day(to_date, "to_date") if to_date else None
    if end and end < start:
        raise ValidationFailed("validation_failed", "Срок полномочий кончается раньше начала",
                               [{"field": "to_date", "message": "Конец раньше начала"}])
    for p in people:
        if not str(p.get("full_name") or "").strip():
            raise ValidationFailed("validation_failed", "Укажите ФИО члена органа")
        session.execute(text("""
            INSERT INTO events.body_member (body_id, member_id, full_name, role, from_date,
                                            to_date)
            VALUES (:b, :m, :n, :r, :f, :t)
        """), {"b": body_id, "m": p.get("member_id"), "n": str(p["full_name"]).strip()[:300],
               "r": role, "f": start, "t": end})
    return len(people)


# decisions that act in the registry when the protocol of a meeting with quorum is signed off
ACTIONS = {"admit": "приём в Профсоюз принятых заявлений",
           "elect_chair": "избрание председателя (в паспорт организации)",
           "delegate": "избрание делегатов конференции"}
CHAIR_FIELDS = ("surname", "first_name", "patronymic", "email", "phone", "term_until")


def decision_action(raw: Any, position: int) -> dict[str, Any] | None:
    """An agenda item's action, checked when the agenda is written (not when signing off):
    admit {application_ids}; elect_chair {surname, first_name, patronymic, email, phone,
    term_until}; delegate {body_id of a conference above, people [{full_name, member_id}],
    until}."""
    if not raw:
        return None

    def refuse(message: str) -> ValidationFailed:
        return ValidationFailed("validation_failed", f"Вопрос повестки {position}: {message}",
                                [{"field": "agenda", "message": message}])

    if not isinstance(raw, dict) or raw.get("type") not in ACTIONS:
        raise refuse("решение может быть одним из: " + "; ".join(ACTIONS.values()))
    kind = raw["type"]
    if kind == "admit":
        ids = raw.get("application_ids")
        if not isinstance(ids, list) or not ids:
            raise refuse("укажите принимаемые заявления")
        return {"type": kind, "application_ids": [str(i) for i in ids][:500]}
    if kind == "elect_chair":
        chair = {k: str(raw[k]).strip() for k in CHAIR_FIELDS if raw.get(k)}
        if not chair.get("surname") or not chair.get("first_name"):
            raise refuse("укажите фамилию и имя избранного председателя")
        if "term_until" in chair:
            chair["term_until"] = _day(chair["term_until"], "term_until").isoformat()
        return {"type": kind, **chair}
    people = raw.get("people")
    if not isinstance(people, list) or not people or any(
            not isinstance(p, dict) or not str(p.get("full_name") or "").strip()
            for p in people):
        raise refuse("укажите делегатов (ФИО каждого)")
    try:
        conference = int(raw.get("body_id"))
    except (TypeError, ValueError):
        raise refuse("укажите конференцию, на которую избраны делегаты") from None
    until = _day(raw["until"], "until").isoformat() if raw.get("until") else None
    return {"type": kind, "body_id": conference, "until": until,
            "people": [{"full_name": str(p["full_name"]).strip()[:300],
                        "member_id": int(p["member_id"]) if p.get("member_id") else None}
                       for p in people][:500]}


def chair_patch(meeting_row: dict[str, Any], action: dict[str, Any]) -> dict[str, Any]:
    """The passport's change an elect_chair decision makes: elected on the meeting's day."""
    chair = {k: action[k] for k in CHAIR_FIELDS if action.get(k)}
    return {"chair": {**chair, "elected_on": str(meeting_row["held_on"])}}


def full_name(person: dict[str, Any]) -> str:
    return " ".join(person[k] for k in ("surname", "first_name", "patronymic")
                    if person.get(k))


def delegate(session: Session, meeting_row: dict[str, Any], action: dict[str, Any]
             ) -> dict[str, Any]:
    """The delegates elected join the conference's members from the meeting's day: a
    conference of the meeting's organization or of one above it, never beside it."""
    try:
        conference = body(session, int(action["body_id"]))
    except NotFound:
        return {"added": 0, "message": f"Конференция {action['body_id']} не найдена"}
    org_path = meeting_row["org_path"]
    if conference["kind"] != "conference" or not (
            org_path == conference["org_path"]
            or org_path.startswith(conference["org_path"] + ".")):
        return {"added": 0, "message": "Делегатов избирают на конференцию своей организации "
                                      "или вышестоящей"}
    present = {m["full_name"] for m in conference["members"]}
    new = [p for p in action["people"] if p["full_name"] not in present]
    if new:
        add_members(session, conference["id"], new, meeting_row["held_on"], action.get("until"))
    return {"added": len(new), "body_id": conference["id"]}


def create_meeting(session: Session, body_id: int, data: dict[str, Any],
                   actor: str) -> dict[str, Any]:
    held = _day(data.get("held_on"), "held_on")
    agenda = data.get("agenda") or []
    if not isinstance(agenda, list) or not agenda:
        raise ValidationFailed("validation_failed", "Повестка: хотя бы один вопрос",
                               [{"field": "agenda", "message": "Добавьте вопрос повестки"}])
    meeting_id = session.execute(text("""
        INSERT INTO events.meeting (body_id, held_on, place, online, created_by)
        VALUES (:b, :d, :p, :o, :by) RETURNING id
    """), {"b": body_id, "d": held, "p": str(data.get("place") or "")[:500],
           "o": bool(data.get("online")), "by": actor}).scalar_one()
    for i, item in enumerate(agenda, start=1):
        item = item if isinstance(item, dict) else {"title": str(item)}
        title = str(item.get("title") or "").strip()
        if not title:
            raise ValidationFailed("validation_failed", f"Вопрос повестки {i}: без названия")
        action = decision_action(item.get("action"), i)
        session.execute(text("""
            INSERT INTO events.agenda_item (meeting_id, position, title, speakers, action)
            VALUES (:m, :p, :t, :s, CAST(:a AS jsonb))
        """), {"m": meeting_id, "p": i, "t": title[:1000],
               "s": str(item.get("speakers") or "")[:500],
               "a": orjson.dumps(action).decode() if action else None})
    return meeting(session, meeting_id)


def members_on(session: Session, body_id: int, day: date) -> list[dict[str, Any]]:
    """The body's members whose term covers `day`."""
    return [dict(r) for r in session.execute(text("""
        SELECT id, member_id, full_name, role FROM events.body_member
        WHERE body_id = :b AND from_date <= :d AND (to_date IS NULL OR to_date >= :d)
        ORDER BY role <> 'chair', role <> 'secretary', full_name, id
    """), {"b": body_id, "d": day}).mappings()]


def meeting(session: Session, meeting_id: int, paths: list[str] | None = None,
            lock: bool = False) -> dict[str, Any]:
    row = session.execute(text("""
        SELECT m.id, m.body_id, m.held_on, m.place, m.online, m.created_by,
               ltree2text(b.org_path) AS org_path, b.org_id, b.kind, b.name AS body_name,
               b.quorum_num, b.quorum_den
        FROM events.meeting m JOIN events.body b ON b.id = m.body_id WHERE m.id = :id
    """ + (" FOR UPDATE OF m" if lock else "")), {"id": meeting_id}).mappings().first()
    if row is None or not _in(row["org_path"], paths):
        raise meeting_not_found(meeting_id)
    out = dict(row)
    roster = members_on(session, out["body_id"], out["held_on"])
    marks = dict(session.execute(text(
        "SELECT body_member_id, present FROM events.attendance WHERE meeting_id = :m"),
        {"m": meeting_id}).all())
    for person in roster:
        person["present"] = marks.get(person["id"], False)
    present = sum(p["present"] for p in roster)
    out["roster"] = roster
    out["members_total"] = len(roster)
    out["present"] = present
    out["quorum"] = present * out["quorum_den"] > len(roster) * out["quorum_num"]
    out["needed"] = len(roster) * out["quorum_num"] // out["quorum_den"] + 1
    out["agenda"] = [dict(r) for r in session.execute(text("""
        SELECT id, position, title, speakers, heard, decided, votes_for, votes_against,
               votes_abstained, named_votes, action, action_result
        FROM events.agenda_item WHERE meeting_id = :m ORDER BY position
    """), {"m": meeting_id}).mappings()]
    out["protocol"] = latest_protocol(session, meeting_id)
    return jsonable(out)


def mark_attendance(session: Session, meeting_id: int, present_ids: list[int]) -> None:
    """Who is present, of the roster on the meeting's date (the others absent)."""
    m = meeting(session, meeting_id)
    roster = {p["id"] for p in m["roster"]}
    unknown = sorted(set(present_ids) - roster)
    if unknown:
        raise ValidationFailed("not_in_body", "Отмечены люди, не входящие в состав органа на "
                               "дату заседания", [{"body_member_id": i} for i in unknown])
    session.execute(text("DELETE FROM events.attendance WHERE meeting_id = :m"),
                    {"m": meeting_id})
    session.execute(text("""
        INSERT INTO events.attendance (meeting_id, body_member_id, present)
        SELECT :m, id, id = ANY(:present) FROM unnest(CAST(:roster AS bigint[])) AS id
    """), {"m": meeting_id, "present": list(present_ids), "roster": sorted(roster)})


def record_item(session: Session, meeting_id: int, item_id: int,
                data: dict[str, Any]) -> dict[str, Any]:
    """Heard, decided and the votes of one agenda item: counts no larger than those present,
    or each present member's vote when voting is named."""
    m = meeting(session, meeting_id)
    item = next((i for i in m["agenda"] if i["id"] == item_id), None)
    if item is None:
        raise NotFound("item_not_found", "Вопрос повестки не найден")
    named = data.get("named_votes")
    if named:
        present = {str(p["id"]) for p in m["roster"] if p["present"]}
        bad = [k for k, v in named.items() if k not in present or v not in VOTES]
        if bad:
            raise ValidationFailed("bad_named_votes", "Голосовать могут только присутствующие "
                                   "члены органа: за, против, воздержался",
                                   [{"body_member_id": k} for k in bad])
        votes = [sum(1 for v in named.values() if v == kind) for kind in VOTES]
    else:
        try:
            votes = [int(data.get(f"votes_{k}") or 0) for k in VOTES]
        except (TypeError, ValueError):
            raise ValidationFailed("bad_votes", "Число голосов — целое") from None
        if min(votes) < 0:
            raise ValidationFailed("bad_votes", "Число голосов не может быть отрицательным")
        if sum(votes) > m["present"]:
            raise ValidationFailed("votes_exceed_present",
                                   f"Голосов ({sum(votes)}) больше, чем присутствующих "
                                   f"({m['present']})")
    session.execute(text("""
        UPDATE events.agenda_item SET heard = :h, decided = :d, votes_for = :f,
            votes_against = :a, votes_abstained = :ab, named_votes = CAST(:n AS jsonb)
        WHERE id = :id
    """), {"h": str(data.get("heard") or item["heard"] or "")[:8000],
           "d": str(data.get("decided") or item["decided"] or "")[:8000],
           "f": votes[0], "a": votes[1], "ab": votes[2],
           "n": orjson.dumps(named).decode() if named else None, "id": item_id})
    return meeting(session, meeting_id)


def adopted(item: dict[str, Any]) -> bool:
    return (item["votes_for"] or 0) > (item["votes_against"] or 0) + \
        (item["votes_abstained"] or 0)


# ---- protocols -------------------------------------------------------------------------------

def latest_protocol(session: Session, meeting_id: int) -> dict[str, Any] | None:
    row = session.execute(text("""
        SELECT id, year, number, version, quorum, signed_by, signed_at, made_at
        FROM events.protocol WHERE meeting_id = :m ORDER BY version DESC LIMIT 1
    """), {"m": meeting_id}).mappings().first()
    return jsonable(dict(row)) if row else None


def versions(session: Session, meeting_id: int) -> list[dict[str, Any]]:
    return [jsonable(dict(r)) for r in session.execute(text("""
        SELECT id, number, year, version, quorum, signed_by, signed_at, made_by, made_at
        FROM events.protocol WHERE meeting_id = :m ORDER BY version
    """), {"m": meeting_id}).mappings()]


def make_protocol(session: Session, meeting_id: int, actor: str, render) -> dict[str, Any]:
    """The protocol's next version (the number kept; a first one takes the body's next number
    of the year, the body's row locked so that two meetings never share one). The latest
    unsigned version is replaced; a signed one is kept and a new version follows it."""
    m = meeting(session, meeting_id, lock=True)
    year = int(str(m["held_on"])[:4])
    last = latest_protocol(session, meeting_id)
    if last:
        number = last["number"]
    else:
        session.execute(text("SELECT 1 FROM events.body WHERE id = :b FOR UPDATE"),
                        {"b": m["body_id"]})
        number = session.execute(text(
            "SELECT COALESCE(max(number), 0) + 1 FROM events.protocol WHERE body_id = :b "
            "AND year = :y"), {"b": m["body_id"], "y": year}).scalar_one()
    content = {**m, "protocol": None, "number": number, "year": year,
               "title": PROTOCOL_TITLES[m["kind"]],
               "made_at": datetime.now(UTC).isoformat()}
    for item in content["agenda"]:
        item["adopted"] = adopted(item)
    if last and not last["signed_at"]:
        version = last["version"]
        content["version"] = version
        session.execute(text("""
            UPDATE events.protocol SET content = CAST(:c AS jsonb), pdf = :pdf, quorum = :q,
                made_by = :by, made_at = now() WHERE id = :id
        """), {"c": orjson.dumps(content).decode(), "pdf": render(content), "q": m["quorum"],
               "by": actor, "id": last["id"]})
    else:
        version = (last["version"] + 1) if last else 1
        content["version"] = version
        session.execute(text("""
            INSERT INTO events.protocol (meeting_id, body_id, year, number, version, quorum,
                                         content, pdf, made_by)
            VALUES (:m, :b, :y, :n, :v, :q, CAST(:c AS jsonb), :pdf, :by)
        """), {"m": meeting_id, "b": m["body_id"], "y": year, "n": number, "v": version,
               "q": m["quorum"], "c": orjson.dumps(content).decode(), "pdf": render(content),
               "by": actor})
    return latest_protocol(session, meeting_id)


def sign_off(session: Session, meeting_id: int, actor: str) -> dict[str, Any]:
    last = latest_protocol(session, meeting_id)
    if last is None:
        raise Conflict("no_protocol", "Сначала сформируйте протокол")
    if last["signed_at"]:
        raise Conflict("already_signed", "Эта версия протокола уже подписана")
    session.execute(text("UPDATE events.protocol SET signed_by = :by, signed_at = now() "
                         "WHERE id = :id"), {"by": actor, "id": last["id"]})
    return latest_protocol(session, meeting_id)


def protocol_pdf(session: Session, meeting_id: int, version: int | None = None) -> bytes:
    row = session.execute(text("""
        SELECT pdf FROM events.protocol WHERE meeting_id = :m
          AND (CAST(:v AS integer) IS NULL OR version = :v) ORDER BY version DESC LIMIT 1
    """), {"m": meeting_id, "v": version}).scalar()
    if row is None:
        raise NotFound("protocol_not_found", "Протокол ещё не сформирован")
    return bytes(row)


def protocol_content(session: Session, meeting_id: int) -> dict[str, Any]:
    row = session.execute(text("""
        SELECT content FROM events.protocol WHERE meeting_id = :m ORDER BY version DESC LIMIT 1
    """), {"m": meeting_id}).scalar()
    if row is None:
        raise NotFound("protocol_not_found", "Протокол ещё не сформирован")
    return row


def decisions_to_apply(session: Session, meeting_id: int) -> list[dict[str, Any]]:
    """Decisions that act in the registry, of a signed protocol of a meeting with quorum, that
    were adopted and not yet applied. A meeting without quorum applies none."""
    last = latest_protocol(session, meeting_id)
    if not last or not last["signed_at"] or not last["quorum"]:
        return []
    m = meeting(session, meeting_id)
    return [i for i in m["agenda"] if i["action"] and not i["action_result"] and adopted(i)]


def set_action_result(session: Session, item_id: int, result: dict[str, Any]) -> None:
    session.execute(text("UPDATE events.agenda_item SET action_result = CAST(:r AS jsonb) "
                         "WHERE id = :id"), {"r": orjson.dumps(result).decode(), "id": item_id})
