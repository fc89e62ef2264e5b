"""The membership service: nameko entrypoints over the plain-Python modules beside it.

Each entrypoint checks the caller's scope (orgs.visible / orgs.scope_paths), runs domain
functions in one transaction, writes the audit log for every read or change of a person's card,
and publishes the events the transaction recorded.
"""

import base64
import binascii
import logging
from datetime import date, datetime, timedelta
from typing import Any

from nameko.rpc import RpcProxy
from nameko.timer import timer
from sqlalchemy import text
from sqlalchemy.orm import Session

from services.common import audit, load_worker
from services.common.caller import CallerProvider, within_scope
from services.common.db import Database
from services.common.errors import (
    DomainError,
    Forbidden,
    NotFound,
    ValidationFailed,
    field_error,
)
from services.common.observability import Observed
from services.common.operations import OperationsRpc
from services.common.outbox import OutboxRelay
from services.common.packed import pack_columns
from services.common.params import parse_day, parse_id
from services.common.roles import AIS_RESPONSIBLE, MEMBER, REGIONAL_STAFF
from services.common.rpc import event_handler, rpc
from services.common.serialization import jsonable
from services.common.settings import settings
from services.membership import (
    applications,
    audience,
    counts,
    file_format,
    import_runs,
    lists,
    members,
    orgs,
    transfer_lookup,
    transfer_requests,
)
from services.membership.card import CardErrors, check_card, removal_reason
from services.membership.members import SCHEMA
from services.membership.privacy_rpc import PrivacyRpc
from services.membership.settings import membership_settings
from services.membership.summary import by_category

log = logging.getLogger(__name__)
MEMBER_RECORD = "member"


_id, _day = parse_id, parse_day


class MembershipService(audit.AuditLogRpc, OperationsRpc, PrivacyRpc):
    name = "membership"

    db = Database()
    relay = OutboxRelay(SCHEMA)
    caller = CallerProvider()
    observed = Observed({
        "reestr_imports_running": ("Member imports running now",
                                   "SELECT count(*) FROM membership.import_run "
                                   "WHERE status = 'running'"),
        "reestr_import_seconds_week_p50": (
            "Median time of the imports finished in the last seven days",
            "SELECT COALESCE(percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM "
            "finished_at - started_at)), 0) FROM membership.import_run "
            "WHERE finished_at > now() - interval '7 days'")})
    registry = RpcProxy("registry")

    # ---- the registry's tree, kept as a read model ----

    def _fetch_orgs(self, **kwargs: Any) -> list[dict[str, Any]]:
        return self.registry.org_index(**kwargs)

    @event_handler("registry", "org_created", requeue_on_error=True)
    def on_org_created(self, payload: dict[str, Any]) -> None:
        with self.db.transaction() as s:
            orgs.refresh(s, self._fetch_orgs, ids=[payload["org_id"]])

    @event_handler("registry", "org_updated", requeue_on_error=True)
    def on_org_updated(self, payload: dict[str, Any]) -> None:
        self.on_org_created(payload)

    @event_handler("registry", "org_moved", requeue_on_error=True)
    def on_org_moved(self, payload: dict[str, Any]) -> None:
        with self.db.transaction() as s:
            orgs.refresh(s, self._fetch_orgs, within=payload["org_id"])
            orgs.members_follow(s, payload["org_id"])

    @event_handler("registry", "org_excluded", requeue_on_error=True)
    def on_org_excluded(self, payload: dict[str, Any]) -> None:
        with self.db.transaction() as s:
            orgs.refresh(s, self._fetch_orgs, ids=[payload["org_id"]])
            for child in payload.get("moved_children") or []:
                orgs.refresh(s, self._fetch_orgs, within=child)
                orgs.members_follow(s, child)

    @event_handler("registry", "orgs_imported", requeue_on_error=True)
    def on_orgs_imported(self, payload: dict[str, Any]) -> None:
        self.reconcile_orgs()

    @rpc
    def sync_orgs(self) -> int:
        """Copy the whole tree now (operators, before a national load); returns its size."""
        if not self.caller.is_global:
            raise Forbidden("forbidden", "Только для операторов платформы")
        with self.db.transaction() as s:
            return orgs.refresh(s, self._fetch_orgs)

    @timer(interval=membership_settings().org_reconcile_s, eager=True)
    def reconcile_orgs(self) -> None:
        """The whole tree copied again: catches anything a lost or early event missed."""
        try:
            with self.db.transaction() as s:
                n = orgs.refresh(s, self._fetch_orgs)
            log.info("read model of the registry: %d organizations", n)
        except Exception:  # the registry may be starting too; the next run catches up
            log.warning("reconciling organizations failed", exc_info=True)

    def _org(self, s: Session, org_id: Any, field: str = "org_id") -> dict[str, Any]:
        """An organization the caller acts in; one the model has not seen yet is fetched."""
        oid = _id(org_id, field)
        if orgs.get(s, oid) is None:
            orgs.refresh(s, self._fetch_orgs, ids=[oid])
        return orgs.visible(s, self.caller, oid)

    # ---- reading cards (personal data: every read is audited) ----

    def _member(self, s: Session, member_id: Any, lock: bool = False) -> dict[str, Any]:
        member = members.fetch(s, _id(member_id, "member_id"), lock=lock)
        if not within_scope(member["org_path"], orgs.scope_paths(s, self.caller)):
            raise members.member_not_found(member_id)
        return member

    def _personal(self) -> bool:
        return self.caller.reads_personal_data

    @rpc
    def get_member(self, member_id: int) -> dict[str, Any]:
        with self.db.transaction() as s:
            member = self._member(s, member_id)
            audit.record(s, SCHEMA, self.caller, "read_card", MEMBER_RECORD, member["id"])
        return members.shown(member, self._personal())

    @rpc
    def member_as_of(self, member_id: int, day: str) -> dict[str, Any]:
        moment = datetime.combine(_day(day, "as_of") + timedelta(days=1), datetime.min.time())
        with self.db.transaction() as s:
            member = self._member(s, member_id)
            audit.record(s, SCHEMA, self.caller, "read_card_as_of", MEMBER_RECORD, member["id"])
            state = members.as_of(s, member, moment.astimezone())
        if state is None:
            raise ValidationFailed("not_registered_then",
                                   f"На {day} карточки этого члена Профсоюза ещё не было")
        return members.shown(state, self._personal())

    @rpc
    def member_history(self, member_id: int) -> dict[str, Any]:
        with self.db.transaction() as s:
            member = self._member(s, member_id)
            audit.record(s, SCHEMA, self.caller, "read_history", MEMBER_RECORD, member["id"])
            return members.history(s, member)

    def _list_scope(self, s: Session, within: Any) -> tuple[list[str] | None, int | None]:
        if within is not None:
            org = self._org(s, within, "within")
            return [org["path"]], org["region_id"]
        return orgs.list_scope(s, self.caller)

    @rpc
    def search_members(self, filters: dict[str, Any], within: int | None = None,
                       limit: int = 50, offset: int = 0) -> dict[str, Any]:
        f = lists.Filters.parse(dict(filters or {}))
        with self.db.transaction() as s:
            paths, region = self._list_scope(s, within)
            result = lists.search(s, paths, region, f, self._personal(), limit, offset)
            audit.record_many(s, SCHEMA, self.caller, "search", MEMBER_RECORD,
                              [m["id"] for m in result["items"]])
        return result

    @rpc
    def export_members(self, filters: dict[str, Any], within: int | None = None) -> dict:
        f = lists.Filters.parse(dict(filters or {}))
        with self.db.transaction() as s:
            paths, region = self._list_scope(s, within)
            content, ids = lists.export_xlsx(s, paths, region, f, self._personal())
            count = len(ids)
            audit.record(s, SCHEMA, self.caller, "export", "member_list",
                         f"within={within} rows={count}")
            audit.record_many(s, SCHEMA, self.caller, "export", MEMBER_RECORD, ids)
        return {"content_b64": base64.b64encode(content).decode(), "rows": count}

    @rpc
    def my_card(self) -> dict[str, Any]:
        """A member's own card, for their personal account."""
        if MEMBER not in self.caller.roles or not self.caller.subject:
            raise Forbidden("not_a_member", "Личный кабинет доступен членам Профсоюза")
        with self.db.transaction() as s:
            member = members.by_account(s, self.caller.subject)
            audit.record(s, SCHEMA, self.caller, "read_own_card", MEMBER_RECORD, member["id"])
        return members.shown(member, personal=True)

    @rpc
    def org_summary(self, org_id: int) -> dict[str, Any]:
        """Members by category and applications waiting in an organization's subtree (counts
        only: the portal's page of an organization)."""
        with self.db.reading() as s:
            org = self._org(s, org_id)
            return by_category(s, org)

    @rpc
    def member_counts(self, org_ids: list[int], subtree: bool = False) -> dict[str, int]:
        """Members on the register per organization, of those the caller acts in (counts, no
        personal data: the registry asks before an exclusion); `subtree`: with everyone in
        the organizations beneath each (the portal's list of a structure)."""
        with self.db.reading() as s:
            paths = orgs.scope_paths(s, self.caller)
            count = members.subtree_counts if subtree else members.counts_by_org
            counts = count(s, [_id(i, "org_ids") for i in org_ids], paths)
        return {str(k): v for k, v in counts.items()}

    @rpc
    def set_my_consent(self, kind: str, given: bool) -> dict[str, Any]:
        """A member gives or withdraws their own consent in their personal account."""
        if MEMBER not in self.caller.roles or not self.caller.subject:
            raise Forbidden("not_a_member", "Личный кабинет доступен членам Профсоюза")
        with self.db.transaction() as s:
            member = members.by_account(s, self.caller.subject)
            member = members.fetch(s, member["id"], lock=True)
            result = members.set_consent(s, self.caller.user, member, str(kind), bool(given),
                                         date.today())
            audit.record(s, SCHEMA, self.caller, f"own_consent_{kind}", MEMBER_RECORD,
                         member["id"])
        self.relay.try_flush()
        return members.shown(result, personal=True)

    # ---- changing cards ----

    @rpc
    def register_member(self, org_id: int, data: dict[str, Any]) -> dict[str, Any]:
        today = date.today()
        try:
            card = check_card(dict(data or {}), today)
        except CardErrors as exc:
            raise members.invalid(exc.errors) from None
        with self.db.transaction() as s:
            org = self._org(s, org_id)
            member = members.register(s, self.caller.user, org, card, today)
            audit.record(s, SCHEMA, self.caller, "register", MEMBER_RECORD, member["id"])
        self.relay.try_flush()
        return members.shown(member, self._personal())

    def _change(self, member_id: Any, action: str, change) -> dict[str, Any]:
        with self.db.transaction() as s:
            member = self._member(s, member_id, lock=True)
            result = change(s, member)
            audit.record(s, SCHEMA, self.caller, action, MEMBER_RECORD, member["id"])
        self.relay.try_flush()
        return members.shown(result, self._personal())

    @rpc
    def update_member(self, member_id: int, patch: dict[str, Any]) -> dict[str, Any]:
        return self._change(member_id, "update", lambda s, m: members.update(
            s, self.caller.user, m, dict(patch or {}), date.today()))

    @rpc
    def remove_member(self, member_id: int, removed_on: str, reason: str) -> dict[str, Any]:
        on = _day(removed_on, "removed_on")
        try:
            code = removal_reason(reason)
        except CardErrors as exc:
            raise members.invalid(exc.errors) from None
        return self._change(member_id, "remove", lambda s, m: members.remove(
            s, self.caller.user, m, on, code, date.today()))

    @rpc
    def undo_removal(self, member_id: int) -> dict[str, Any]:
        """A removal taken back the same day by whoever made it."""
        return self._change(member_id, "undo_remove", lambda s, m: members.undo_removal(
            s, self.caller.user, m))

    @rpc
    def undo_transfer(self, member_id: int) -> dict[str, Any]:
        """A transfer taken back the same day by whoever made it, from either side: the
        organization it came from or the one it went to is within the caller's scope."""
        with self.db.transaction() as s:
            member = members.fetch(s, _id(member_id, "member_id"), lock=True)
            change = members.last_change(s, member["id"])
            members.require_own_today(change, "transferred", self.caller.user, "перевод")
            back = (change or {}).get("diff", {}).get("org_id", [None])[0]
            paths = orgs.scope_paths(s, self.caller)
            was = orgs.get(s, int(back)) if back is not None else None
            # the sending side (the card left their structure) or the receiving one
            if was is None or not (within_scope(was["path"], paths)
                                   or within_scope(member["org_path"], paths)):
                raise members.member_not_found(member_id)
            result = members.undo_transfer(s, self.caller.user, member)
            audit.record(s, SCHEMA, self.caller, "undo_transfer", MEMBER_RECORD, member["id"])
        self.relay.try_flush()
        return members.shown(result, self._personal())

    @rpc
    def set_consent(self, member_id: int, kind: str, given: bool) -> dict[str, Any]:
        return self._change(member_id, f"consent_{kind}", lambda s, m: members.set_consent(
            s, self.caller.user, m, str(kind), bool(given), date.today()))

    @rpc
    def transfer_member(self, member_id: int, to_org_id: int, on: str,
                        birth_date: str | None = None) -> dict[str, Any]:
        """Transfer to an organization in the caller's scope. From an organization outside it,
        the receiving chair proves they have the person's papers with the date of birth; wrong
        tries are audited and throttled per member (transfer_lookup.py)."""
        day = _day(on, "on")
        mid = _id(member_id, "member_id")
        given = None if birth_date is None else _day(birth_date, "birth_date")
        conf = membership_settings()
        refused: DomainError | None = None
        with self.db.transaction() as s:
            to_org = self._org(s, to_org_id, "to_org_id")
            try:
                member: dict[str, Any] | None = members.fetch(s, mid, lock=True)
            except NotFound:
                member = None
            if member is None or not within_scope(member["org_path"],
                                                  orgs.scope_paths(s, self.caller)):
                refused = transfer_lookup.check(s, self.caller, mid, member, given,
                                                conf.transfer_lookup_limit,
                                                conf.transfer_lookup_window_s)
            if refused is None and member is not None:
                result = members.transfer(s, self.caller.user, member, to_org, day,
                                          date.today())
                audit.record(s, SCHEMA, self.caller, "transfer", MEMBER_RECORD, member["id"])
        if refused is not None:  # raised after the audit entry is committed
            raise refused
        self.relay.try_flush()
        return members.shown(result, self._personal())

    # ---- transfers asked for by the receiving organization ----

    @rpc
    def find_for_transfer(self, to_org_id: int, surname: str = "", first_name: str = "",
                          birth_date: str | None = None, snils: str | None = None
                          ) -> list[dict[str, Any]]:
        """Who the papers name: members on the register by SNILS, or by surname, first name
        and date of birth; the name and the organization only. Every look-up is audited."""
        day = _day(birth_date, "birth_date") if birth_date else None
        digits = "".join(ch for ch in str(snils or "") if ch.isdigit()) or None
        with self.db.transaction() as s:
            self._org(s, to_org_id, "to_org_id")  # the caller receives into their own
            found = transfer_requests.find(s, str(surname or "").strip(),
                                           str(first_name or "").strip(), day, digits)
            paths = orgs.scope_paths(s, self.caller)
            audit.record(s, SCHEMA, self.caller, "transfer_find", "member_list",
                         f"found={len(found)}")
            audit.record_many(s, SCHEMA, self.caller, "transfer_find", MEMBER_RECORD,
                              [f["id"] for f in found])
        return [{"id": f["id"], "surname": f["surname"], "first_name": f["first_name"],
                 "patronymic": f["patronymic"], "sex": f["sex"], "org_id": f["org_id"],
                 "org_name": f["org_name"], "registry_number": f["registry_number"],
                 "in_scope": within_scope(f["org_path"], paths)} for f in found]

    @rpc
    def request_transfer(self, member_id: int, to_org_id: int, on: str,
                         birth_date: str | None = None, snils: str | None = None
                         ) -> dict[str, Any]:
        """The receiving chair asks; the papers (date of birth or SNILS) are checked again, and
        a wrong one counts against the member like the direct transfer's look-up does."""
        day = _day(on, "on")
        given = _day(birth_date, "birth_date") if birth_date else None
        digits = "".join(ch for ch in str(snils or "") if ch.isdigit()) or None
        conf = membership_settings()
        refused: DomainError | None = None
        with self.db.transaction() as s:
            to_org = self._org(s, to_org_id, "to_org_id")
            mid = _id(member_id, "member_id")
            try:
                member: dict[str, Any] | None = members.fetch(s, mid, lock=True)
            except NotFound:
                member = None
            if member is None or not (
                    (digits and member["snils"] == digits) or
                    (given and member["birth_date"] == given)):
                refused = transfer_lookup.check(s, self.caller, mid, None, None,
                                                conf.transfer_lookup_limit,
                                                conf.transfer_lookup_window_s)
            else:
                result = transfer_requests.request(s, self.caller.user, member, to_org, day,
                                                   given, digits, date.today())
                audit.record(s, SCHEMA, self.caller, "transfer_request", MEMBER_RECORD, mid)
        if refused is not None:
            raise refused
        return jsonable(result)

    def _request(self, s: Session, request_id: Any, lock: bool = False
                 ) -> tuple[dict[str, Any], dict[str, bool]]:
        req = transfer_requests.get(s, _id(request_id, "request_id"), lock=lock)
        sides = transfer_requests.visible(req, orgs.scope_paths(s, self.caller))
        if not any(sides.values()):
            raise NotFound("transfer_request_not_found", "Запрос на перевод не найден")
        return req, sides

    @rpc
    def transfer_requests(self) -> dict[str, Any]:
        """The requests the caller decides and the ones they asked for."""
        with self.db.reading() as s:
            found = transfer_requests.listing(s, orgs.scope_paths(s, self.caller))
        return {side: [jsonable(r) for r in rows] for side, rows in found.items()}

    @rpc
    def get_transfer_request(self, request_id: int) -> dict[str, Any]:
        with self.db.reading() as s:
            req, sides = self._request(s, request_id)
            policy = transfer_requests.policy(s, req["from_region"])
        return jsonable({**req, **sides, "auto_after_days": policy})

    @rpc
    def decide_transfer(self, request_id: int, approve: bool, reason: str = "") -> dict:
        """The sending organization's chair, or its region, approves or declines."""
        with self.db.transaction() as s:
            req, sides = self._request(s, request_id, lock=True)
            if not sides["decides"]:
                raise Forbidden("not_the_sender", "Решение принимает председатель организации, "
                                                  "в которой человек состоит, или регион")
            result = transfer_requests.decide(s, self.caller.user, req, bool(approve),
                                              reason, date.today())
            audit.record(s, SCHEMA, self.caller, "transfer_approve" if approve
                         else "transfer_decline", MEMBER_RECORD, req["member_id"])
        self.relay.try_flush()
        return jsonable(result)

    @rpc
    def cancel_transfer(self, request_id: int) -> dict[str, Any]:
        with self.db.transaction() as s:
            req, sides = self._request(s, request_id, lock=True)
            if not sides["asked"]:
                raise Forbidden("not_the_receiver", "Отозвать запрос может запросившая "
                                                    "организация")
            result = transfer_requests.cancel(s, self.caller.user, req)
        return jsonable(result)

    @rpc
    def set_transfer_policy(self, region_id: int, auto_after_days: int | None) -> dict:
        """A region's staff: requests nobody decided go through after this many days (None:
        only by hand)."""
        if not (self.caller.is_global or {REGIONAL_STAFF, AIS_RESPONSIBLE} & set(
                self.caller.roles)):
            raise Forbidden("forbidden", "Срок задаёт аппарат региональной организации")
        with self.db.transaction() as s:
            region = self._org(s, region_id, "region_id")
            if region["level"] != "regional":
                raise ValidationFailed("not_a_region", "Срок задаётся для региона")
            days = None if auto_after_days in (None, "") else int(auto_after_days)
            transfer_requests.set_policy(s, self.caller.user, region["id"], days)
        return {"region_id": region["id"], "auto_after_days": days}

    @rpc
    def transfer_policy(self, region_id: int) -> dict[str, Any]:
        with self.db.reading() as s:
            region = self._org(s, region_id, "region_id")
            return {"region_id": region["id"],
                    "auto_after_days": transfer_requests.policy(s, region["id"])}

    @timer(interval=membership_settings().transfer_sweep_s)
    def transfers_due(self) -> None:
        """Requests left undecided longer than their region allows go through."""
        with self.db.alone("membership.transfers") as mine:
            if not mine:
                return
            with self.db.transaction() as s:
                ids = transfer_requests.due(s)
                for request_id in ids:
                    req = transfer_requests.get(s, request_id, lock=True)
                    try:
                        with s.begin_nested():
                            transfer_requests.decide(s, "system", req, True, "", date.today())
                    except DomainError as exc:
                        log.warning("transfer request %s not done: %s", request_id, exc)
        if ids:
            log.info("transfer requests done after the region's period: %s", len(ids))
            self.relay.try_flush()

    # ---- imports ----

    @rpc
    def import_members(self, content_b64: str, filename: str, org_id: int | None = None,
                       load_good_rows: bool = False, paper_consent: bool = False,
                       mapping: Any = None, check_only: bool = False) -> dict[str, Any]:
        """Load a members file, or only check it (`check_only`). `mapping`: the file's headers
        -> fields as mapped by hand; remembered for the organization, and what was remembered
        applies to its next files."""
        try:
            content = base64.b64decode(content_b64, validate=True)
        except (binascii.Error, ValueError, TypeError):
            raise ValidationFailed("file_format", "Файл передан повреждённым") from None
        given = import_runs.check_mapping(mapping)
        with self.db.reading() as s:
            scope = orgs.scope_paths(s, self.caller)
            known = {}
            if org_id is not None:
                self._org(s, org_id)
                known = import_runs.remembered(s, org_id)
        result = load_worker.run("services.membership.import_worker", content, {
            "filename": filename, "actor": self.caller.user, "org_id": org_id,
            "scope": scope, "load_good_rows": bool(load_good_rows),
            "paper_consent": bool(paper_consent), "mapping": known | given,
            "check_only": bool(check_only)})
        with self.db.transaction() as s:
            if given and org_id is not None:
                import_runs.remember(s, org_id, given, self.caller.user)
            if check_only:  # the file's people shown back to the one who sent it
                audit.record(s, SCHEMA, self.caller, "import_check", "import_file",
                             filename[:200])
            else:
                audit.record(s, SCHEMA, self.caller, "import", "import_run",
                             result["import_id"])
        self.relay.try_flush()
        return result

    @rpc
    def import_status(self, run_id: int) -> dict[str, Any]:
        """The run and its whole report: every error, the refused rows as the file gave them."""
        with self.db.transaction() as s:
            run = import_runs.get(s, self.caller, _id(run_id, "run_id"))
            audit.record(s, SCHEMA, self.caller, "read", "import_run", run["id"])
        return run

    @rpc
    def import_runs(self, org_id: int) -> list[dict[str, Any]]:
        """The organization's imports, newest first (counts; the reports by id)."""
        with self.db.reading() as s:
            self._org(s, org_id)
            return import_runs.list_for_org(s, _id(org_id, "org_id"))

    @rpc
    def import_template(self) -> dict[str, Any]:
        """The members file to fill in (XLSX): headers, drop-downs, a note on consent."""
        return {"content_b64": base64.b64encode(file_format.template_xlsx()).decode()}

    @rpc
    def import_errors_file(self, run_id: int) -> dict[str, Any]:
        """The refused rows of a run as XLSX with «Ошибка», to fix and load again."""
        with self.db.transaction() as s:
            run = import_runs.get(s, self.caller, _id(run_id, "run_id"))
            audit.record(s, SCHEMA, self.caller, "export_errors", "import_run", run["id"])
        return {"content_b64": base64.b64encode(import_runs.errors_xlsx(run)).decode(),
                "rows": len(run.get("refused_rows") or [])}

    # ---- online joining ----

    @rpc
    def join_regions(self) -> list[dict[str, Any]]:
        with self.db.reading() as s:
            return applications.regions(s)

    @rpc
    def join_organizations(self, region_id: int, query: str) -> list[dict[str, Any]]:
        with self.db.reading() as s:
            return applications.lookup_orgs(s, _id(region_id, "region_id"), str(query or ""))

    @rpc
    def submit_application(self, data: dict[str, Any]) -> dict[str, Any]:
        """Public: anyone may apply. The answer is the application's id, the applicant's key to
        its status."""
        data = dict(data or {})
        with self.db.transaction() as s:
            org = orgs.get(s, _id(data.get("org_id"), "org_id")) if data.get("org_id") else None
            result = applications.submit(s, org, data, date.today())
        self.relay.try_flush()
        return result

    @rpc
    def application_status(self, app_id: str) -> dict[str, Any]:
        with self.db.reading() as s:
            return applications.status(s, app_id)

    @rpc
    def application_queue(self, within: int | None = None, status: str = "submitted",
                          limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        if status not in applications.STATUS_TITLES:
            raise ValidationFailed(details=[field_error("status", "enum",
                                                        "Статус заявления неизвестен")])
        with self.db.transaction() as s:
            paths, _ = self._list_scope(s, within)
            result = applications.queue(s, paths, status, int(limit), int(offset))
            audit.record_many(s, SCHEMA, self.caller, "read_applications", "application",
                              [a["id"] for a in result])
        return result

    @rpc
    def application_page(self, within: int | None = None, status: str = "submitted",
                         page: int = 1, per_page: int = 50) -> dict[str, Any]:
        """A page of the queue with the total, for the portal's list."""
        size = min(max(parse_id(per_page, "per_page"), 1), 200)
        page = max(parse_id(page, "page"), 1)
        items = self.application_queue(within, status, size, (page - 1) * size)
        with self.db.reading() as s:
            paths, _ = self._list_scope(s, within)
            total = applications.queue_size(s, paths, status)
        return {"items": items, "total": total, "page": page, "per_page": size}

    @rpc
    def get_application(self, app_id: str) -> dict[str, Any]:
        """One application awaiting a decision in the caller's subtrees (read audited)."""
        with self.db.transaction() as s:
            paths, _ = self._list_scope(s, None)
            found = applications.queue(s, paths, "submitted", 1, 0, app_id=app_id)
            if not found:
                raise applications.application_not_found(app_id)
            audit.record(s, SCHEMA, self.caller, "read_applications", "application", app_id)
        return found[0]

    def _decide(self, app_id: str, action: str, decide) -> dict[str, Any]:
        with self.db.transaction() as s:
            app = applications.fetch(s, app_id, lock=True)
            if not within_scope(app["org_path"], orgs.scope_paths(s, self.caller)):
                raise applications.application_not_found(app_id)
            result = decide(s, app)
            audit.record(s, SCHEMA, self.caller, action, "application", app_id)
        self.relay.try_flush()
        return result

    @rpc
    def accept_application(self, app_id: str) -> dict[str, Any]:
        def accept(s: Session, app: dict[str, Any]) -> dict[str, Any]:
            member = applications.accept(s, self.caller.user, app,
                                         orgs.get(s, app["org_id"]), date.today())
            return members.shown(member, self._personal())
        return self._decide(app_id, "accept_application", accept)

    @rpc
    def decline_application(self, app_id: str, reason: str) -> dict[str, Any]:
        return self._decide(app_id, "decline_application", lambda s, app: applications.decline(
            s, self.caller.user, app, reason))

    @rpc
    def undo_decline(self, app_id: str) -> dict[str, Any]:
        return self._decide(app_id, "undo_decline", lambda s, app: applications.undo_decline(
            s, self.caller.user, app))

    @timer(interval=membership_settings().application_sweep_s)
    def sweep_applications(self) -> None:
        conf = membership_settings()
        with self.db.alone("membership.applications") as mine:
            if not mine:
                return
            with self.db.transaction() as s:
                done = applications.sweep(s, datetime.now().astimezone(),
                                          timedelta(hours=conf.application_remind_after_h),
                                          timedelta(days=conf.application_expire_after_d))
        if any(done.values()):
            log.info("applications: %s", done)
        self.relay.try_flush()

    # ---- single sign-on tells which account is whose ----

    @event_handler("sso", "member_account_created", requeue_on_error=True)
    def on_member_account(self, payload: dict[str, Any]) -> None:
        with self.db.transaction() as s:
            members.link_account(s, int(payload["member_id"]), str(payload["subject"]))

    @rpc
    def mailing_audience(self, roots: list[int] | None = None,
                         categories: list[str] | None = None, under_35: bool = False,
                         org_ids: list[int] | None = None) -> str:
        """A mailing's members for notify (services only), set-based, as packed columns
        (audience.COLUMNS); audited as one read of the addresses it returned."""
        if not self.caller.is_global:
            raise Forbidden("forbidden", "Адресаты рассылки: только для сервисов")
        wanted = audience.spec(roots, categories, under_35, org_ids)
        with self.db.transaction() as s:
            rows = audience.members(s, wanted)
            audit.record(s, SCHEMA, self.caller, "read_mailing_audience", MEMBER_RECORD,
                         f"{len(rows)} members roots={wanted['roots']}")
        return pack_columns(audience.COLUMNS, rows)

    @rpc
    def mail_contacts(self, member_ids: list[int]) -> list[dict[str, Any]]:
        """Members' addresses for notify (services only); audited as a read of each."""
        if not self.caller.is_global:
            raise Forbidden("forbidden", "Адреса членов Профсоюза: только для сервисов")
        ids = [_id(i, "member_ids") for i in member_ids][:50_000]
        with self.db.transaction() as s:
            found = members.mail_contacts(s, ids)
            if found:
                audit.record_many(s, SCHEMA, self.caller, "read_contacts", MEMBER_RECORD,
                                  [c["member_id"] for c in found])
        return found

    # ---- for the cards service ----

    @rpc
    def card_holders(self, member_ids: list[int] | None = None, org_id: int | None = None,
                     without_card: bool = False) -> list[dict[str, Any]]:
        """Members the caller may order cards for: named ones, or an organization's (names
        and organizations only, no personal data beyond the name a card carries)."""
        ids = None if member_ids is None else [_id(i, "member_ids") for i in member_ids]
        with self.db.transaction() as s:
            if org_id is not None:
                self._org(s, org_id)
            holders = members.card_holders(s, orgs.scope_paths(s, self.caller), ids,
                                           None if org_id is None else _id(org_id, "org_id"),
                                           without_card)
            if holders:
                audit.record_many(s, SCHEMA, self.caller, "read_card_holders", MEMBER_RECORD,
                                  [h["member_id"] for h in holders])
        return holders

    @rpc
    def bad_email_counts(self, emails: list[str]) -> dict[str, int]:
        """Members on the register whose card's e-mail is among `emails` (the relay refuses
        them), counted by organization: the data-quality check «неверный e-mail». Counts only;
        the Central Council's users and the platform."""
        if not self.caller.is_global:
            raise Forbidden("forbidden", "Сведения по всему Профсоюзу доступны аппарату "
                                         "Центрального Совета")
        if not isinstance(emails, list):
            raise ValidationFailed("emails_list", "Передайте список адресов")
        with self.db.reading() as s:
            return counts.bad_emails(s, [str(e) for e in emails[:500_000]])

    @rpc
    def counts_as_of(self, day: str, org_ids: list[int] | None = None) -> str:
        """Members per organization on `day` (columns packed: services.common.packed), for the
        reports. Aggregates only; a caller acting in subtrees gets the organizations named
        within them, the Central Council's users and the platform any or all."""
        on = parse_day(day, "day")
        ids = None if org_ids is None else [_id(i, "org_id") for i in org_ids]
        with self.db.reading() as s:
            if not self.caller.is_global:
                if ids is None:
                    raise Forbidden("forbidden", "Сведения по всему Профсоюзу доступны аппарату "
                                                 "Центрального Совета")
                orgs.require_within(s, self.caller, ids)
            return pack_columns(*counts.as_of(s, on, ids))

    @rpc
    def scope_paths(self) -> list[str] | None:
        """The caller's subtrees as paths of the tree (None: everywhere), for services that
        keep organization paths beside their own rows."""
        with self.db.reading() as s:
            return orgs.scope_paths(s, self.caller)

    @event_handler("cards", "cards_requested", requeue_on_error=True)
    def on_cards_requested(self, payload: dict[str, Any]) -> None:
        with self.db.transaction() as s:
            members.set_card_numbers(s, [{**c, "refused": False} for c in payload["cards"]])

    @event_handler("cards", "cards_refused", requeue_on_error=True)
    def on_cards_refused(self, payload: dict[str, Any]) -> None:
        with self.db.transaction() as s:
            members.set_card_numbers(s, [{**c, "refused": True} for c in payload["cards"]])

    # ---- platform ----

    @rpc
    def health(self) -> dict[str, str]:
        with self.db.reading() as s:
            s.execute(text("SELECT 1"))
        return {"database": "ok"}

    @timer(interval=settings().outbox_interval_s)
    def publish_outbox(self) -> None:
        self.relay.try_flush()
