"""Membership's entrypoints for personal data over its whole life (issue 29): a person's copy,
the withdrawal of consent, retention rules and runs, legal holds, the register of processing.

A mixin of MembershipService (nameko finds entrypoints and dependencies on base classes), kept
apart so the service's file stays about cards. Every read and change is audited.
"""

import base64
import logging
from datetime import date
from typing import Any

import eventlet
from nameko.rpc import RpcProxy
from nameko.timer import timer

from services.common import audit
from services.common.caller import Caller, within_scope
from services.common.errors import Forbidden, ValidationFailed, field_error
from services.common.params import parse_id
from services.common.roles import CENTRAL_ADMIN, MEMBER
from services.common.rpc import rpc
from services.membership import members, orgs, privacy, processing, retention
from services.membership.settings import membership_settings

log = logging.getLogger(__name__)
SCHEMA = "membership"
MEMBER_RECORD = "member"
FORMATS = ("json", "pdf")


def _format(value: Any) -> str:
    if value not in FORMATS:
        raise ValidationFailed(details=[field_error("format", "enum", "Формат: json или pdf")])
    return str(value)


# the services whose audit logs membership's retention run purges, besides its own
AUDITED_ELSEWHERE = ("registry", "cards", "notify", "library", "events")
AUDIT_CALL_TIMEOUT_S = 60  # a service away is asked again at the next run


class PrivacyRpc:
    db: Any
    caller: Caller
    relay: Any
    registry: Any
    cards = RpcProxy("cards")
    reports = RpcProxy("reports")
    notify = RpcProxy("notify")
    library = RpcProxy("library")
    events = RpcProxy("events")

    # ---- a person's copy ----

    def _own(self) -> None:
        if MEMBER not in self.caller.roles or not self.caller.subject:
            raise Forbidden("not_a_member", "Личный кабинет доступен членам Профсоюза")

    def _copy(self, member_id: int, channel: str, asked: date, fmt: str) -> dict[str, Any]:
        conf = membership_settings()
        today = date.today()
        with self.db.transaction() as s:
            privacy.throttled(s, member_id, conf.data_copy_limit, conf.data_copy_window_s)
            member = members.fetch(s, member_id)
            data = privacy.collect(s, member, self.caller.subject if channel == "account"
                                   else None)
            privacy.record_request(s, member_id, "copy", channel, asked, today,
                                   self.caller.user)
            audit.record(s, SCHEMA, self.caller, "data_copy", MEMBER_RECORD, member_id)
        try:
            data["cards"] = self.cards.member_cards(member_id)
        except Exception:  # the copy still answers; it says the cards could not be read
            log.warning("cards of member %s not read for their copy", member_id, exc_info=True)
            data["cards"], data["cards_unavailable"] = [], True
        out: dict[str, Any] = {"data": data}
        if fmt == "pdf":
            out["pdf_b64"] = base64.b64encode(privacy.pdf(data)).decode()
        return out

    @rpc
    def my_data(self, format: str = "json") -> dict[str, Any]:
        """Everything the platform holds about the signed-in member (152-ФЗ ст. 14)."""
        self._own()
        fmt = _format(format)
        with self.db.reading() as s:
            member_id = members.by_account(s, self.caller.subject)["id"]
        return self._copy(member_id, "account", date.today(), fmt)

    def _member_in_scope(self, s: Any, member_id: Any, lock: bool = False) -> dict[str, Any]:
        """A member for a request made on paper: by the chair of one of their organizations
        (within their subtree, reading personal data) or the Central Council; others are told
        the member is not found, as elsewhere."""
        if not (self.caller.is_global or self.caller.reads_personal_data):
            raise Forbidden("forbidden", "Запрос субъекта персональных данных исполняет "
                                         "председатель его организации или аппарат ЦС")
        member = members.fetch(s, parse_id(member_id, "member_id"), lock=lock)
        if not within_scope(member["org_path"], orgs.scope_paths(s, self.caller)):
            raise members.member_not_found(member_id)
        return member

    @rpc
    def member_data(self, member_id: int, asked_on: str | None = None,
                    format: str = "json") -> dict[str, Any]:
        """The same copy for a person who asked on paper; the request is recorded with the date
        it was received and today's answer."""
        fmt = _format(format)
        asked = privacy.asked_on(asked_on, date.today())
        with self.db.reading() as s:
            mid = self._member_in_scope(s, member_id)["id"]
        return self._copy(mid, "paper", asked, fmt)

    # ---- withdrawal of consent ----

    def _withdrawn(self, result: dict[str, Any]) -> dict[str, Any]:
        self.relay.try_flush()
        with self.db.reading() as s:
            due = privacy.due_on(s, result)
        return {**members.shown(result, personal=True),
                "reduce_on": None if due is None else due.isoformat()}

    @rpc
    def withdraw_my_consent(self) -> dict[str, Any]:
        self._own()
        today = date.today()
        with self.db.transaction() as s:
            mid = members.by_account(s, self.caller.subject)["id"]
            member = members.fetch(s, mid, lock=True)
            result = privacy.withdraw(s, self.caller.user, member, "account", today, today)
            audit.record(s, SCHEMA, self.caller, "own_consent_withdrawn", MEMBER_RECORD, mid)
        return self._withdrawn(result)

    @rpc
    def withdraw_consent(self, member_id: int, asked_on: str | None = None) -> dict[str, Any]:
        """A written withdrawal, recorded by the chair (or the Central Council)."""
        today = date.today()
        asked = privacy.asked_on(asked_on, today)
        with self.db.transaction() as s:
            member = self._member_in_scope(s, member_id, lock=True)
            result = privacy.withdraw(s, self.caller.user, member, "paper", asked, today)
            audit.record(s, SCHEMA, self.caller, "consent_withdrawn", MEMBER_RECORD,
                         member["id"])
        return self._withdrawn(result)

    # ---- retention ----

    def _council(self, change: bool = False) -> None:
        """The Central Council's staff and the platform's operators see and hold; only the
        Central Council's staff (or the platform itself) change the rules."""
        if change:
            if not (self.caller.is_system or CENTRAL_ADMIN in self.caller.roles):
                raise Forbidden("forbidden", "Сроки хранения устанавливает аппарат ЦС")
        elif not self.caller.is_global:
            raise Forbidden("forbidden", "Только для аппарата ЦС и операторов платформы")

    @rpc
    def retention_rules(self) -> list[dict[str, Any]]:
        self._council()
        with self.db.reading() as s:
            return retention.rules(s)

    @rpc
    def set_retention_rule(self, kind: str, keep_days: int, action: str) -> dict[str, Any]:
        self._council(change=True)
        with self.db.transaction() as s:
            rule = retention.set_rule(s, self.caller.user, str(kind), keep_days, str(action))
            audit.record(s, SCHEMA, self.caller, "set_retention_rule", "retention_rule", kind)
        return rule

    def _waiting(self, today: date) -> retention.Waiting:
        """What the other services still need (retention.Waiting), asked before a run."""
        with self.db.reading() as s:
            cutoff = retention.reports_cutoff(s, today)
        return retention.Waiting(
            in_production=tuple(int(i) for i in self.cards.members_in_production()),
            open_reports=tuple((str(r["path"]), date.fromisoformat(r["day"]))
                               for r in self.reports.unsubmitted_before(cutoff.isoformat())))

    def _each_audit_log(self, keep_days: int, count_only: bool) -> tuple[int, list[str]]:
        """Every other service's log purged (or counted) with the term: (rows, services not
        reached)."""
        rows, missed = 0, []
        for name in AUDITED_ELSEWHERE:
            try:
                with eventlet.Timeout(AUDIT_CALL_TIMEOUT_S):
                    rows += int(getattr(self, name).purge_audit(keep_days, count_only))
            except (eventlet.Timeout, Exception):
                log.warning("audit log of %s not purged this time", name, exc_info=True)
                missed.append(name)
        return rows, missed

    @rpc
    def retention_preview(self, horizon_days: int = 92) -> dict[str, Any]:
        self._council()
        days = max(1, min(int(horizon_days), 3660))
        today = date.today()
        waiting = self._waiting(today)
        with self.db.reading() as s:
            out = retention.preview(s, today, days, waiting)
            keep = retention.keep_days(s, "card_batch_file")
            keep_audit = retention.keep_days(s, "audit_entry")
            audit_here = audit.purge_due(s, SCHEMA, keep_audit)
        audit_elsewhere, _ = self._each_audit_log(keep_audit, count_only=True)
        for kind in out["kinds"]:  # the cards service keeps the batches: it counts them
            if kind["kind"] == "card_batch_file":
                kind["due_now"] = int(self.cards.batch_files_due(keep))
            elif kind["kind"] == "audit_entry":
                kind["due_now"] = audit_here + audit_elsewhere
        return out

    @rpc
    def retention_erased(self) -> list[dict[str, Any]]:
        self._council()
        with self.db.reading() as s:
            return retention.erased(s)

    @rpc
    def run_retention(self) -> dict[str, Any]:
        self._council()
        return self._run_retention()

    def _run_retention(self) -> dict[str, Any]:
        today = date.today()
        waiting = self._waiting(today)
        with self.db.transaction() as s:
            done = retention.run(s, self.caller.user, today, waiting)
            keep = retention.keep_days(s, "card_batch_file")
            keep_audit = retention.keep_days(s, "audit_entry")
            audit_rows = audit.purge(s, SCHEMA, keep_audit)
        self.relay.try_flush()
        # the batch files live in the cards service's bucket: it deletes them, with this term
        files = self.cards.erase_batch_files(keep)
        done["card_batch_file"] = {"records": int(files["records"]), "postponed": 0}
        elsewhere, missed = self._each_audit_log(keep_audit, count_only=False)
        done["audit_entry"] = {"records": audit_rows + elsewhere, "postponed": 0}
        if missed:
            done["audit_entry"]["services_not_reached"] = missed  # type: ignore[assignment]
        with self.db.transaction() as s:
            retention.record_run(s, self.caller.user, {k: done[k] for k in
                                                       ("card_batch_file", "audit_entry")})
            audit.record(s, SCHEMA, self.caller, "retention_run", "retention",
                         ",".join(f"{k}={v['records']}" for k, v in done.items()))
        return done

    @timer(interval=membership_settings().retention_interval_s)
    def retention_timer(self) -> None:
        with self.db.alone("membership.retention") as mine:
            if not mine:
                return
            try:
                done = self._run_retention()
            except Exception:  # cards may be starting; the next run catches up
                log.warning("retention run failed", exc_info=True)
                return
        if any(v["records"] for v in done.values()):
            log.info("retention: %s", done)

    @rpc
    def place_legal_hold(self, member_id: int, reason: str) -> dict[str, Any]:
        self._council()
        mid = parse_id(member_id, "member_id")
        with self.db.transaction() as s:
            members.fetch(s, mid)
            hold = retention.place_hold(s, self.caller.user, mid, str(reason or ""))
            audit.record(s, SCHEMA, self.caller, "legal_hold", MEMBER_RECORD, mid)
        return hold

    @rpc
    def release_legal_hold(self, member_id: int, reason: str = "") -> None:
        self._council()
        mid = parse_id(member_id, "member_id")
        with self.db.transaction() as s:
            retention.release_hold(s, self.caller.user, mid, str(reason or ""))
            audit.record(s, SCHEMA, self.caller, "legal_hold_released", MEMBER_RECORD, mid)

    # ---- the register of processing ----

    @rpc
    def processing_register(self, format: str = "json") -> dict[str, Any]:
        """What is kept, why, with which consent, how long and who has access (for
        Роскомнадзор), generated from the platform's own definitions."""
        if not (self.caller.is_global or self.caller.reads_audit):
            raise Forbidden("forbidden", "Перечень обработки: аппарат ЦС и аудиторы")
        fmt = _format(format)
        with self.db.reading() as s:
            data = processing.register(s)
        out: dict[str, Any] = {"data": data}
        if fmt == "pdf":
            out["pdf_b64"] = base64.b64encode(
                privacy.pdf(data, "processing_register.html")).decode()
        return out
