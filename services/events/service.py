"""The events service: union events with registration, the waiting list and check-in at the door,
and meetings of elected bodies with attendance, quorum, votes and protocols.

Each entrypoint works out the caller's subtrees (the tree paths of the organizations they act
for, from the registry's index), runs one domain function (events.py, meetings.py) in one
transaction, and audits what it read or changed of people (registrations, body members). An event
or body outside the caller's subtrees is "not found", as a missing one. People come from
membership within the caller's own scope (card_holders for chairs, my_card for a member), so a
chair can never register someone of another organization.
"""

import base64
import logging
import uuid
from datetime import UTC, date, datetime
from typing import Any

from nameko.rpc import RpcProxy
from nameko.timer import timer
from sqlalchemy import text

from services.common import audit
from services.common.caller import CallerProvider
from services.common.db import Database
from services.common.errors import Conflict, DomainError, Forbidden, NotFound, ValidationFailed
from services.common.observability import Observed
from services.common.operations import OperationsRpc
from services.common.params import parse_id
from services.common.roles import MEMBER, REGIONAL_STAFF
from services.common.rpc import rpc
from services.events import announcement, events, meetings, render
from services.events.settings import events_settings

log = logging.getLogger(__name__)
SCHEMA = "events"
REGISTRATION = "event_registration"
BODY_MEMBER = "body_member"
MAX_AT_ONCE = 500  # members a chair registers in one go
MAX_SYNC = 2000  # check-ins a phone sends in one sync


def _id(value: Any, field: str = "id", title: str = "Идентификатор") -> int:
    return parse_id(value, field, title)


def _file(name: str, content: bytes) -> dict[str, str]:
    return {"filename": name, "content_b64": base64.b64encode(content).decode()}


def _person(holder: dict[str, Any], org: dict[str, Any] | None = None) -> dict[str, Any]:
    name = " ".join(p for p in (holder.get("surname"), holder.get("first_name"),
                                holder.get("patronymic")) if p)
    return {"member_id": int(holder.get("member_id") or holder["id"]),
            "org_id": int(holder["org_id"]),
            "org_path": holder.get("org_path") or (org or {}).get("path"),
            "org_level": (org or {}).get("level") or holder.get("org_level"),
            "category": holder.get("category"), "full_name": name,
            "card_number": holder.get("card_number"), "young": events.young(holder, date.today())}


class EventsService(audit.AuditLogRpc, OperationsRpc):
    name = "events"

    db = Database()
    caller = CallerProvider()
    observed = Observed({
        "reestr_events_upcoming": ("Events not yet held",
                                   "SELECT count(*) FROM events.event WHERE starts_at > now() "
                                   "AND NOT cancelled"),
        "reestr_events_offers_waiting": ("Places offered from waiting lists, not confirmed",
                                         "SELECT count(*) FROM events.registration "
                                         "WHERE status = 'offered'")})
    registry = RpcProxy("registry")
    membership = RpcProxy("membership")
    notify = RpcProxy("notify")

    # ---- the caller's place in the tree ----

    def _orgs(self, ids: list[int]) -> dict[int, dict[str, Any]]:
        rows = self.registry.org_index(ids=ids) if ids else []
        return {int(r["id"]): r for r in rows}

    def _paths(self) -> list[str] | None:
        """The caller's subtrees as tree paths (None: everywhere); a member acting for no
        organization has none."""
        roots = self.caller.scope_roots
        if roots is None:
            return None
        return [o["path"] for o in self._orgs(list(roots)).values()]

    def _staff_paths(self) -> list[str] | None:
        paths = self._paths()
        if paths == []:
            raise Forbidden("forbidden", "Мероприятия организации ведут председатели и аппарат")
        return paths

    def _org_in_scope(self, org_id: Any) -> dict[str, Any]:
        org_id = _id(org_id, "org_id", "Идентификатор организации")
        paths = self._staff_paths()
        org = self._orgs([org_id]).get(org_id)
        if org is None or not events.in_paths(org["path"], paths):
            raise NotFound("org_not_found", f"Организация {org_id} не найдена в реестре")
        return org

    def _me(self) -> dict[str, Any]:
        """The member calling, as a registrant (membership audits the read of their card)."""
        if MEMBER not in self.caller.roles or not self.caller.subject:
            raise Forbidden("not_a_member", "Личный кабинет доступен членам Профсоюза")
        card = self.membership.my_card()
        org = self._orgs([int(card["org_id"])]).get(int(card["org_id"]))
        if org is None:
            raise NotFound("org_not_found", "Организация члена Профсоюза не найдена")
        return _person({**card, "member_id": card["id"]}, org)

    # ---- events ----

    @rpc
    def create_event(self, org_id: int, data: dict[str, Any]) -> dict[str, Any]:
        org = self._org_in_scope(org_id)
        fields = events.parse_event(data or {})
        within = None
        if within_id := fields["audience"].get("within_org_id"):
            within = self._org_in_scope(within_id)["path"]
            if not events.in_paths(within, [org["path"]]):
                raise ValidationFailed("validation_failed", "Аудитория — организации в "
                                       "структуре организатора")
        with self.db.transaction() as s:
            return events.create(s, org, fields, self.caller.user, within)

    @rpc
    def list_events(self, org_id: int | None = None) -> list[dict[str, Any]]:
        """Events organized within the caller's subtrees (or beneath one organization)."""
        paths = self._staff_paths()
        if org_id is not None:
            paths = [self._org_in_scope(org_id)["path"]]
        with self.db.reading() as s:
            return events.listed(s, paths)

    @rpc
    def org_events(self, org_id: int) -> list[dict[str, Any]]:
        """Upcoming events open to an organization's members: its own and those above it
        (the organization's page; no personal data)."""
        org = self._org_in_scope(org_id)
        with self.db.reading() as s:
            return events.listed(s, None, org_path=org["path"], upcoming_only=True)

    @rpc
    def get_event(self, event_id: int) -> dict[str, Any]:
        with self.db.reading() as s:
            event = events.get(s, _id(event_id), self._staff_paths(), above=True)
            return {**events.shown_event(event), "counts": events.counts(s, event["id"])}

    @rpc
    def cancel_event(self, event_id: int) -> dict[str, Any]:
        with self.db.transaction() as s:
            event = events.get(s, _id(event_id), self._staff_paths(), lock=True)
            s.execute(text("UPDATE events.event SET cancelled = true WHERE id = :id"),
                      {"id": event["id"]})
            return events.shown_event(events.get(s, event["id"]))

    @rpc
    def announce_event(self, event_id: int) -> dict[str, Any]:
        """A campaign's draft announcing the event to its audience, made in notify as the
        caller (who then checks and sends it like any campaign of theirs): only for an event
        organized within the caller's subtrees, not one above them."""
        with self.db.reading() as s:
            event = events.get(s, _id(event_id), self._staff_paths())
        if event["cancelled"]:
            raise Conflict("event_cancelled", "Мероприятие отменено: объявлять нечего")
        to_chairs = self.caller.is_global or REGIONAL_STAFF in self.caller.roles
        campaign = self.notify.create_campaign(
            announcement.draft(event, events_settings().portal_url, to_chairs))
        with self.db.transaction() as s:
            audit.record(s, SCHEMA, self.caller, "announce_event", "event", event["id"])
        return campaign

    @rpc
    def register_members(self, event_id: int, member_ids: list[int],
                         answers: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """A chair registers members of their subtree, several at once: each gets a place, the
        waiting list, or the reason they could not be registered."""
        ids = sorted({_id(i, "member_ids", "Идентификатор члена Профсоюза")
                      for i in member_ids or []})
        if not ids or len(ids) > MAX_AT_ONCE:
            raise ValidationFailed("validation_failed",
                                   f"Выберите от 1 до {MAX_AT_ONCE} членов Профсоюза")
        paths = self._staff_paths()
        with self.db.reading() as s:
            events.get(s, _id(event_id), paths, above=True)
        holders = {int(h["member_id"]): h for h in self.membership.card_holders(ids)}
        orgs = self._orgs(sorted({int(h["org_id"]) for h in holders.values()}))
        out = []
        for member_id in ids:
            holder = holders.get(member_id)
            if holder is None:
                out.append({"member_id": member_id, "error": "member_not_found",
                            "message": f"Член Профсоюза {member_id} не найден"})
                continue
            person = _person(holder, orgs.get(int(holder["org_id"])))
            try:
                # one transaction each: a refusal of one leaves the others registered
                with self.db.transaction() as s:
                    event = events.get(s, _id(event_id), paths, above=True, taken=False)
                    reg = events.register(s, event, person, self.caller.user, answers)
                    audit.record(s, SCHEMA, self.caller, "register", REGISTRATION, reg["id"])
                out.append(reg)
            except DomainError as exc:
                out.append({"member_id": member_id, "full_name": person["full_name"],
                            "error": exc.code, "message": exc.message})
        return out

    @rpc
    def register_self(self, event_id: int, answers: dict[str, Any] | None = None
                      ) -> dict[str, Any]:
        person = self._me()
        with self.db.transaction() as s:
            event = events.get(s, _id(event_id), taken=False)
            reg = events.register(s, event, person, self.caller.user, answers)
            audit.record(s, SCHEMA, self.caller, "register_self", REGISTRATION, reg["id"])
            return reg

    def _own(self, s: Any, event_id: int) -> tuple[dict[str, Any], int]:
        person = self._me()
        event = events.get(s, _id(event_id))
        reg_id = s.execute(text("SELECT id FROM events.registration WHERE event_id = :e AND "
                                "member_id = :m"),
                           {"e": event["id"], "m": person["member_id"]}).scalar()
        if reg_id is None:
            raise NotFound("registration_not_found", "Вы не регистрировались на мероприятие")
        return event, reg_id

    @rpc
    def cancel_mine(self, event_id: int) -> dict[str, Any]:
        with self.db.transaction() as s:
            event, reg_id = self._own(s, event_id)
            audit.record(s, SCHEMA, self.caller, "cancel_self", REGISTRATION, reg_id)
            return events.cancel(s, event, reg_id)

    @rpc
    def confirm_mine(self, event_id: int) -> dict[str, Any]:
        with self.db.transaction() as s:
            event, reg_id = self._own(s, event_id)
            audit.record(s, SCHEMA, self.caller, "confirm_self", REGISTRATION, reg_id)
            return events.confirm(s, event, reg_id)

    @rpc
    def cancel_registration(self, event_id: int, registration_id: int) -> dict[str, Any]:
        """A chair cancels one of their members' registrations (within their subtree)."""
        paths = self._staff_paths()
        with self.db.transaction() as s:
            event = events.get(s, _id(event_id), paths, above=True)
            reg = events.registration(s, _id(registration_id))
            if reg["event_id"] != event["id"] or not events.in_paths(reg["org_path"], paths):
                raise NotFound("registration_not_found", "Регистрация не найдена")
            audit.record(s, SCHEMA, self.caller, "cancel", REGISTRATION, reg["id"])
            return events.cancel(s, event, reg["id"])

    @rpc
    def my_events(self) -> dict[str, Any]:
        """The personal account's «Мероприятия»: what is open to the member, and theirs."""
        person = self._me()
        with self.db.transaction() as s:
            mine = events.of_member(s, person["member_id"])
            audit.record_many(s, SCHEMA, self.caller, "read_own", REGISTRATION,
                              [r["id"] for r in mine])
            open_ = [e for e in events.listed(s, None, org_path=person["org_path"],
                                              upcoming_only=True)
                     if events.audience_refusal(e, person) is None]
        return {"registrations": mine, "open": open_}

    @rpc
    def participants(self, event_id: int, query: str = "",
                     statuses: list[str] | None = None) -> list[dict[str, Any]]:
        """Registrations the caller may see: all of an event they organize, else those of
        their subtree's members."""
        paths = self._staff_paths()
        with self.db.transaction() as s:
            event = events.get(s, _id(event_id), paths, above=True)
            if not events.in_paths(event["org_path"], paths):
                rows = [r for r in events.participants(s, event["id"], None, str(query)[:100])
                        if events.in_paths(r["org_path"], paths)]
            else:
                rows = events.participants(s, event["id"], tuple(statuses or ()) or None,
                                           str(query)[:100])
            audit.record_many(s, SCHEMA, self.caller, "read_participants", REGISTRATION,
                              [r["id"] for r in rows])
            return rows

    @rpc
    def visible_events(self) -> list[dict[str, Any]]:
        """Events a chair may register their members for: organized in their subtrees or
        above them."""
        paths = self._staff_paths()
        with self.db.reading() as s:
            if paths is None:
                return events.listed(s, None, upcoming_only=True)
            seen: dict[int, dict[str, Any]] = {}
            for p in paths:
                for e in events.listed(s, [p], upcoming_only=True) + \
                        events.listed(s, None, org_path=p, upcoming_only=True):
                    seen[e["id"]] = e
            return sorted(seen.values(), key=lambda e: e["starts_at"])

    # ---- at the door ----

    @rpc
    def door_list(self, event_id: int) -> dict[str, Any]:
        """The list the phone keeps for check-in with no connection."""
        with self.db.transaction() as s:
            event = events.get(s, _id(event_id), self._staff_paths())
            rows = events.door_list(s, event["id"])
            audit.record_many(s, SCHEMA, self.caller, "read_door_list", REGISTRATION,
                              [r["id"] for r in rows])
            return {"event": events.shown_event(event), "people": rows,
                    "at": datetime.now(UTC).isoformat()}

    @rpc
    def check_in(self, event_id: int, client_id: str | None = None,
                 registration_id: int | None = None, card_number: str | None = None,
                 scanned_at: str | None = None) -> dict[str, Any]:
        return self.sync_checkins(event_id, [{
            "client_id": client_id or str(uuid.uuid4()), "registration_id": registration_id,
            "card_number": card_number, "scanned_at": scanned_at}])[0]

    @rpc
    def sync_checkins(self, event_id: int, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Check-ins queued on a phone, each with the id the phone gave it: sent twice, a
        check-in counts once and gets its first answer back."""
        if not isinstance(items, list) or len(items) > MAX_SYNC:
            raise ValidationFailed("validation_failed", f"Не более {MAX_SYNC} отметок за раз")
        paths = self._staff_paths()
        out = []
        for item in items:
            try:
                client_id = str(uuid.UUID(str(item.get("client_id"))))
            except ValueError:
                out.append({"client_id": item.get("client_id"), "outcome": "invalid",
                            "message": "Отметка без идентификатора"})
                continue
            reg_id = item.get("registration_id")
            reg_id = _id(reg_id, "registration_id") if reg_id not in (None, "") else None
            card = str(item.get("card_number") or "").strip() or None
            if reg_id is None and card is None:
                out.append({"client_id": client_id, "outcome": "invalid",
                            "message": "Укажите участника или номер карты"})
                continue
            at = None
            if item.get("scanned_at"):
                try:
                    at = datetime.fromisoformat(str(item["scanned_at"]))
                    at = at if at.tzinfo else at.replace(tzinfo=UTC)
                except ValueError:
                    at = None
            for attempt in range(2):
                try:
                    with self.db.transaction() as s:
                        event = events.get(s, _id(event_id), paths, taken=False)
                        result = events.check_in(s, event, client_id, self.caller.user, reg_id,
                                                 card, at)
                        if result["registration_id"]:
                            audit.record(s, SCHEMA, self.caller, "check_in", REGISTRATION,
                                         result["registration_id"])
                    break
                except Conflict:
                    if attempt:
                        raise
            out.append(result)
        return out

    # ---- files and figures ----

    @rpc
    def participants_xlsx(self, event_id: int) -> dict[str, str]:
        with self.db.transaction() as s:
            event = events.get(s, _id(event_id), self._staff_paths())
            rows = events.participants(s, event["id"])
            audit.record_many(s, SCHEMA, self.caller, "export_participants", REGISTRATION,
                              [r["id"] for r in rows])
            content = render.participants_xlsx(events.shown_event(event), rows)
        return _file(f"participants-{event['id']}.xlsx", content)

    @rpc
    def certificate(self, event_id: int, registration_id: int | None = None) -> dict[str, str]:
        """A certificate of participation of someone checked in: the member's own, or one a
        chair prints for a member of their subtree."""
        with self.db.transaction() as s:
            if registration_id is None:
                event, reg_id = self._own(s, event_id)
            else:
                paths = self._staff_paths()
                event = events.get(s, _id(event_id), paths, above=True)
                reg_id = _id(registration_id, "registration_id")
            reg = events.registration(s, reg_id)
            if reg["event_id"] != event["id"] or (
                    registration_id is not None and not events.in_paths(reg["org_path"], paths)):
                raise NotFound("registration_not_found", "Регистрация не найдена")
            if not reg["checked_in_at"]:
                raise Conflict("not_attended", "Сертификат выдаётся тем, кто был на мероприятии")
            audit.record(s, SCHEMA, self.caller, "certificate", REGISTRATION, reg_id)
        organizer = self._orgs([event["org_id"]]).get(event["org_id"], {}).get("name", "")
        content = render.certificate(events.shown_event(event), reg["full_name"], organizer)
        return _file(f"certificate-{event['id']}-{reg_id}.pdf", content)

    @rpc
    def participation(self, org_id: int | None = None, year: int | None = None,
                      depth: int = 1) -> list[dict[str, Any]]:
        """Events held, registered, attended, members reached per organization `depth` levels
        below `org_id` (the whole union when none), in a year (figures, no personal data)."""
        year = int(year or datetime.now(UTC).year)
        if org_id is None:
            if self._staff_paths() is not None:
                raise Forbidden("forbidden", "Сведения по всему Профсоюзу — аппарату ЦС")
            root = None
        else:
            root = self._org_in_scope(org_id)["path"]
        since = datetime(year, 1, 1, tzinfo=UTC)
        with self.db.reading() as s:
            rows = events.rollup(s, root, max(1, min(int(depth), 4)), since,
                                 since.replace(year=year + 1))
        names = self._orgs([r["org_id"] for r in rows])
        for r in rows:
            r["org_name"] = names.get(r["org_id"], {}).get("name", "")
        return rows

    @timer(interval=60)
    def expire_offers(self) -> None:
        with self.db.transaction() as s:
            if n := events.expire_offers(s):
                log.info("offers expired", extra={"count": n})

    # ---- elected bodies and their meetings ----

    def _body(self, s: Any, body_id: Any) -> dict[str, Any]:
        return meetings.body(s, _id(body_id, "body_id"), self._staff_paths())

    def _meeting(self, s: Any, meeting_id: Any) -> dict[str, Any]:
        return meetings.meeting(s, _id(meeting_id, "meeting_id"), self._staff_paths())

    @rpc
    def create_body(self, org_id: int, data: dict[str, Any]) -> dict[str, Any]:
        org = self._org_in_scope(org_id)
        with self.db.transaction() as s:
            return meetings.create_body(s, org, data or {})

    @rpc
    def org_bodies(self, org_id: int) -> list[dict[str, Any]]:
        org = self._org_in_scope(org_id)
        with self.db.reading() as s:
            return meetings.bodies(s, org["id"])

    @rpc
    def get_body(self, body_id: int) -> dict[str, Any]:
        with self.db.transaction() as s:
            found = self._body(s, body_id)
            audit.record_many(s, SCHEMA, self.caller, "read_body", BODY_MEMBER,
                              [m["id"] for m in found["members"]])
            return found

    @rpc
    def add_body_members(self, body_id: int, from_date: str, to_date: str | None = None,
                         member_ids: list[int] | None = None,
                         people: list[dict[str, Any]] | None = None,
                         role: str = "member") -> dict[str, Any]:
        """Members elected for a term: from the register (member_ids, within the caller's
        subtrees) or named (people: full_name, for staff and activists not on it)."""
        with self.db.reading() as s:
            self._body(s, body_id)
        found = []
        if member_ids:
            ids = [_id(i, "member_ids") for i in member_ids][:MAX_AT_ONCE]
            holders = {int(h["member_id"]): h for h in self.membership.card_holders(ids)}
            missing = [i for i in ids if i not in holders]
            if missing:
                raise NotFound("member_not_found", f"Член Профсоюза {missing[0]} не найден")
            found += [_person(h) for h in holders.values()]
        found += [{"member_id": None, "full_name": str(p.get("full_name") or "")}
                  for p in people or []]
        if not found:
            raise ValidationFailed("validation_failed", "Укажите членов органа")
        with self.db.transaction() as s:
            meetings.add_members(s, _id(body_id, "body_id"), found, from_date, to_date, role)
            body = self._body(s, body_id)
            audit.record_many(s, SCHEMA, self.caller, "add_body_members", BODY_MEMBER,
                              [m["id"] for m in body["members"]])
            return body

    @rpc
    def body_from_passport(self, body_id: int, from_date: str,
                           to_date: str | None = None) -> dict[str, Any]:
        """The body's members taken from its organization's passport: the chair (their term
        as the passport has it) and the staff, for the term given; people already in the
        body are not added twice (the registry audits the read of the passport)."""
        with self.db.reading() as s:
            body = self._body(s, body_id)
        passport = self.registry.get_organization(body["org_id"])
        present = {m["full_name"] for m in body["members"]}
        chair = passport.get("chair") or {}
        chair_name = " ".join(p for p in (chair.get("surname"), chair.get("first_name"),
                                          chair.get("patronymic")) if p)
        staff = [{"member_id": None, "full_name": p["full_name"]}
                 for p in passport.get("staff") or [] if p["full_name"] not in present]
        with self.db.transaction() as s:
            if chair_name and chair_name not in present:
                meetings.add_members(s, body["id"], [{"member_id": None,
                                                      "full_name": chair_name}],
                                     chair.get("elected_on") or from_date,
                                     chair.get("term_until") or to_date, "chair")
            if staff:
                meetings.add_members(s, body["id"], staff, from_date, to_date)
            found = meetings.body(s, body["id"])
            audit.record_many(s, SCHEMA, self.caller, "add_body_members", BODY_MEMBER,
                              [m["id"] for m in found["members"]])
            return found

    @rpc
    def create_meeting(self, body_id: int, data: dict[str, Any]) -> dict[str, Any]:
        with self.db.transaction() as s:
            body = self._body(s, body_id)
            return meetings.create_meeting(s, body["id"], data or {}, self.caller.user)

    @rpc
    def body_meetings(self, body_id: int) -> list[dict[str, Any]]:
        with self.db.reading() as s:
            body = self._body(s, body_id)
            return [{"id": r.id, "held_on": r.held_on.isoformat()} for r in s.execute(text(
                "SELECT id, held_on FROM events.meeting WHERE body_id = :b ORDER BY held_on "
                "DESC, id DESC"), {"b": body["id"]})]

    @rpc
    def get_meeting(self, meeting_id: int) -> dict[str, Any]:
        with self.db.transaction() as s:
            m = self._meeting(s, meeting_id)
            audit.record_many(s, SCHEMA, self.caller, "read_meeting", BODY_MEMBER,
                              [p["id"] for p in m["roster"]])
            m["versions"] = meetings.versions(s, m["id"])
            return m

    @rpc
    def mark_attendance(self, meeting_id: int, present: list[int]) -> dict[str, Any]:
        with self.db.transaction() as s:
            m = self._meeting(s, meeting_id)
            meetings.mark_attendance(s, m["id"], [_id(i, "present") for i in present or []])
            return meetings.meeting(s, m["id"])

    @rpc
    def record_item(self, meeting_id: int, item_id: int, data: dict[str, Any]
                    ) -> dict[str, Any]:
        with self.db.transaction() as s:
            m = self._meeting(s, meeting_id)
            return meetings.record_item(s, m["id"], _id(item_id, "item_id"), data or {})

    @rpc
    def make_protocol(self, meeting_id: int) -> dict[str, Any]:
        with self.db.transaction() as s:
            m = self._meeting(s, meeting_id)
            return meetings.make_protocol(s, m["id"], self.caller.user, render.protocol)

    @rpc
    def sign_protocol(self, meeting_id: int) -> dict[str, Any]:
        """Signed off, the version is final; decisions acting in the registry are applied
        (admission of accepted applications) if the meeting had its quorum."""
        with self.db.transaction() as s:
            m = self._meeting(s, meeting_id)
            signed = meetings.sign_off(s, m["id"], self.caller.user)
            due = meetings.decisions_to_apply(s, m["id"])
        applied = [self._apply(m, item) for item in due]
        return {**signed, "applied": applied}

    def _apply(self, m: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
        """One decision carried into the registry, as the person signing off (the registry
        and membership check their rights as for any change); what came of it is kept on
        the item, a refusal included."""
        action = item["action"]
        result: dict[str, Any] = {"type": action.get("type")}
        if action.get("type") == "elect_chair":
            try:
                self.registry.update_passport(m["org_id"], meetings.chair_patch(m, action))
                result["elected"] = meetings.full_name(action)
            except DomainError as exc:
                result["message"] = exc.message
        elif action.get("type") == "delegate":
            with self.db.transaction() as s:
                result.update(meetings.delegate(s, m, action))
        elif action.get("type") == "admit":
            accepted, failed = [], []
            for app_id in action.get("application_ids") or []:
                try:
                    self.membership.accept_application(str(app_id))
                    accepted.append(str(app_id))
                except DomainError as exc:
                    failed.append({"application_id": str(app_id), "message": exc.message})
            result.update(accepted=accepted, failed=failed)
        with self.db.transaction() as s:
            meetings.set_action_result(s, item["id"], result)
        return {"item_id": item["id"], **result}

    @rpc
    def protocol_pdf(self, meeting_id: int, version: int | None = None) -> dict[str, str]:
        with self.db.transaction() as s:
            m = self._meeting(s, meeting_id)
            content = meetings.protocol_pdf(s, m["id"], None if version is None else int(version))
            audit.record(s, SCHEMA, self.caller, "read_protocol", "meeting", m["id"])
        return _file(f"protocol-{m['id']}.pdf", content)

    @rpc
    def protocol_extract(self, meeting_id: int, item_id: int) -> dict[str, str]:
        with self.db.transaction() as s:
            m = self._meeting(s, meeting_id)
            content = meetings.protocol_content(s, m["id"])
            audit.record(s, SCHEMA, self.caller, "read_protocol", "meeting", m["id"])
        item_id = _id(item_id, "item_id")
        if not any(i["id"] == item_id for i in content["agenda"]):
            raise NotFound("item_not_found", "Вопрос повестки не найден")
        return _file(f"extract-{m['id']}-{item_id}.pdf", render.protocol(content, item_id))

    @rpc
    def health(self) -> dict[str, str]:
        with self.db.reading() as s:
            s.execute(text("SELECT 1"))
        return {"database": "ok"}
