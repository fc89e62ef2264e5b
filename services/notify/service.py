"""The notify service: the templates, the outgoing queue, delivery and bounces.

Other services publish what happened; the handlers here decide who is told what and queue it in
the transaction that records the event as handled (see queue.py). A timer sends what is due
(delivery.py), another writes the chairs' daily digests (digest.py).
"""

import logging
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

from nameko.rpc import RpcProxy
from nameko.timer import timer
from sqlalchemy import text

from services.common import audit
from services.common.caller import CallerProvider
from services.common.db import Database
from services.common.errors import Forbidden, ValidationFailed
from services.common.observability import Observed
from services.common.operations import OperationsRpc
from services.common.params import parse_id
from services.common.rpc import event_handler, rpc
from services.notify import (
    accounts,
    delivery,
    digest,
    erasure,
    preferences,
    queue,
    rules,
    smtp,
)
from services.notify.catalogue import audiences_of
from services.notify.mailing_rpc import MailingRpc
from services.notify.settings import notify_settings, remind_days

log = logging.getLogger(__name__)
SCHEMA = "notify"
# applications not decided in this many days expire (membership's APPLICATION_EXPIRE_AFTER_D)
EXPIRE_DAYS_DEFAULT = 30
CHAIRS_CHUNK = 5000  # organizations per registry.chairs call


class NotifyService(MailingRpc, audit.AuditLogRpc, OperationsRpc):
    name = "notify"

    db = Database()
    caller = CallerProvider()
    observed = Observed({
        "reestr_mail_waiting": ("Messages queued, not yet sent",
                                "SELECT count(*) FROM notify.message WHERE status = 'queued'"),
        "reestr_mail_oldest_seconds": (
            "Age of the oldest message due and not sent",
            "SELECT COALESCE(EXTRACT(EPOCH FROM now() - min(due_at)), 0) FROM notify.message "
            "WHERE status = 'queued' AND due_at <= now()"),
        "reestr_mail_held": ("Messages held for an operator (a template failed, attempts "
                             "ran out)", "SELECT count(*) FROM notify.message "
                             "WHERE status = 'held'")})
    registry = RpcProxy("registry")
    membership = RpcProxy("membership")
    sso = RpcProxy("sso")
    reports = RpcProxy("reports")

    def _handle(self, event_type: str, payload: dict[str, Any], apply) -> None:
        event_id = queue.event_uuid(payload, f"{event_type}:{sorted(payload.items())}")
        with self.db.transaction() as s:
            if queue.first_handling(s, event_id, event_type):
                apply(s, event_id)

    # ---- events ----

    @event_handler("membership", "application_submitted", requeue_on_error=True)
    def on_application_submitted(self, payload: dict[str, Any]) -> None:
        conf = notify_settings()
        self._handle("application_submitted", payload, lambda s, e:
                     rules.application_submitted(s, conf, e, payload))

    @event_handler("membership", "application_decided", requeue_on_error=True)
    def on_application_decided(self, payload: dict[str, Any]) -> None:
        """The applicant is told; one accepted also gets the invitation to their account
        (sso makes it from the same event)."""
        conf = notify_settings()

        def apply(s: Any, e: str) -> None:
            rules.application_decided(s, conf, e, payload)
            if conf.invite_new_accounts:
                rules.member_accepted(s, e, payload)
        self._handle("application_decided", payload, apply)

    @event_handler("reports", "report_reopened", requeue_on_error=True)
    def on_report_reopened(self, payload: dict[str, Any]) -> None:
        conf = notify_settings()
        chairs = self.registry.chairs([int(payload["org_id"])])
        self._handle("report_reopened", payload, lambda s, e:
                     rules.report_reopened(s, conf, e, payload, chairs[0] if chairs else None))

    @event_handler("reports", "report_reminder_asked", requeue_on_error=True)
    def on_report_reminder_asked(self, payload: dict[str, Any]) -> None:
        conf = notify_settings()
        org_ids = [int(i) for i in payload["org_ids"]]
        chairs = {int(r["org_id"]): r
                  for start in range(0, len(org_ids), CHAIRS_CHUNK)
                  for r in self.registry.chairs(org_ids[start:start + CHAIRS_CHUNK])}
        self._handle("report_reminder_asked", payload, lambda s, e:
                     rules.report_asked(s, conf, payload, chairs))

    @event_handler("membership", "member_transferred", requeue_on_error=True)
    def on_member_transferred(self, payload: dict[str, Any]) -> None:
        conf = notify_settings()
        member = self.membership.get_member(int(payload["member_id"]))
        self._handle("member_transferred", payload, lambda s, e:
                     rules.member_transferred(s, conf, e, payload, member))

    @event_handler("cards", "cards_changed", requeue_on_error=True)
    def on_cards_changed(self, payload: dict[str, Any]) -> None:
        """Cards made or delivered by the vendor: each member is told (optional)."""
        cards = payload.get("cards") or []
        if not cards:
            return
        conf = notify_settings()
        member_ids = sorted({int(c["member_id"]) for c in cards})
        contacts = {int(c["member_id"]): c
                    for start in range(0, len(member_ids), CHAIRS_CHUNK)
                    for c in self.membership.mail_contacts(
                        member_ids[start:start + CHAIRS_CHUNK])}
        self._handle("cards_changed", payload, lambda s, e:
                     rules.cards_ready(s, conf, e, payload, contacts))

    @event_handler("cards", "cards_waiting", requeue_on_error=True)
    def on_cards_waiting(self, payload: dict[str, Any]) -> None:
        self._handle("cards_waiting", payload, lambda s, e: rules.cards_waiting(s, payload))

    @event_handler("membership", "members_reduced", requeue_on_error=True)
    def on_members_reduced(self, payload: dict[str, Any]) -> None:
        """Retention reduced these members' cards: their addresses are forgotten here too."""
        with self.db.transaction() as s:
            done = erasure.forget(s, [str(e) for e in payload.get("emails") or []])
            if done["messages"] or done["records"]:
                audit.record(s, SCHEMA, self.caller, "addresses_forgotten", "members",
                             len(payload.get("member_ids") or []))
        log.info("members reduced: %s messages anonymised, %s records deleted",
                 done["messages"], done["records"])

    @event_handler("membership", "members_import_finished", requeue_on_error=True)
    def on_members_import_finished(self, payload: dict[str, Any]) -> None:
        conf = notify_settings()
        self._handle("members_import_finished", payload, lambda s, e:
                     rules.import_finished(s, conf, e, payload))

    # ---- invitations and the account states ----

    @event_handler("registry", "chair_changed", requeue_on_error=True)
    def on_chair_changed(self, payload: dict[str, Any]) -> None:
        if notify_settings().invite_new_accounts:
            self._handle("chair_changed", payload, lambda s, e:
                         rules.chair_named(s, e, payload))

    @event_handler("registry", "orgs_imported", requeue_on_error=True)
    def on_orgs_imported(self, payload: dict[str, Any]) -> None:
        """A loaded file's chairs: sso makes their accounts, notify queues their invitations
        (one INSERT for all) and asks for them at a pace."""
        conf = notify_settings()
        if not (conf.invite_new_accounts and conf.accounts_on_import):
            return
        event_id = queue.event_uuid(payload, f"orgs_imported:{payload.get('import_id')}")
        if self._seen(event_id):
            return
        org_ids = [int(i) for i in payload.get("org_ids") or []]
        emails = [(row.get("chair") or {}).get("email")
                  for start in range(0, len(org_ids), CHAIRS_CHUNK)
                  for row in self.registry.chairs(org_ids[start:start + CHAIRS_CHUNK])]
        self._handle("orgs_imported", payload, lambda s, e:
                     rules.invitations(s, e, [m for m in emails if m], "chair"))

    @event_handler("sso", "accounts_signed_in", requeue_on_error=True)
    def on_accounts_signed_in(self, payload: dict[str, Any]) -> None:
        at = datetime.fromtimestamp(int(payload.get("at") or time.time()), UTC)
        with self.db.transaction() as s:
            accounts.signed_in(s, [str(u) for u in payload.get("usernames") or []], at)

    def _seen(self, event_id: str) -> bool:
        with self.db.reading() as s:
            return s.execute(text("SELECT 1 FROM notify.handled_event WHERE event_id = :e"),
                             {"e": event_id}).first() is not None

    @rpc
    def queue_invitations(self, usernames: list[str], reason: str) -> int:
        """Invitations of accounts made outside any event (sso's `provision_chairs`): queued
        before the call answers; a second call for the same accounts the same day queues
        nothing again."""
        self._operator()
        key = queue.derived_id("queue_invitations", reason, date.today(),
                               *sorted(str(u).lower() for u in usernames[:5]), len(usernames))
        with self.db.transaction() as s:
            return rules.invitations(s, key, [str(u) for u in usernames], str(reason))

    @rpc
    def account_states(self, emails: list[str]) -> dict[str, str]:
        """Each address's account state (accounts.STATES), for the quality check."""
        self._operator()
        if not isinstance(emails, list):
            raise ValidationFailed("emails_list", "Передайте список адресов")
        lifespan = timedelta(days=notify_settings().invitation_lifespan_d)
        with self.db.reading() as s:
            found = accounts.states(s, [str(e) for e in emails[:200_000]], lifespan)
        return {e: v["state"] for e, v in found.items()}

    @rpc
    def chair_accounts(self, org_id: int, without_access_only: bool = True
                       ) -> list[dict[str, Any]]:
        """The chairs of an organization's subtree with their accounts' states (the registry
        decides what the caller may see and audits the read of the chairs); those without
        access first."""
        chairs = self.registry.chairs_within(parse_id(org_id, "org_id"))
        lifespan = timedelta(days=notify_settings().invitation_lifespan_d)
        with self.db.transaction() as s:
            rows = accounts.chair_rows(s, chairs, lifespan, without_access_only)
            audit.record(s, SCHEMA, self.caller, "read_account_states", "organization",
                         str(org_id))
        return [_jsonable(r) for r in rows]

    @rpc
    def reinvite_chair(self, org_id: int) -> dict[str, Any]:
        """«Отправить приглашение ещё раз»: the chair of an organization the caller may see
        (the registry checks and audits the read) gets a new invitation, unless one was queued
        lately, the account is in use, or the address cannot take mail."""
        org = self.registry.get_organization(parse_id(org_id, "org_id"))
        conf = notify_settings()
        with self.db.transaction() as s:
            result = accounts.reinvite(s, org, timedelta(days=conf.invitation_lifespan_d),
                                       timedelta(seconds=conf.reinvite_after_s))
            audit.record(s, SCHEMA, self.caller, "reinvite", "organization", str(org["id"]))
        return _jsonable(result)

    # ---- sending ----

    @timer(interval=notify_settings().send_interval_s)
    def send_due(self) -> None:
        self._send()

    def _send(self) -> dict[str, int]:
        with self.db.alone("notify.deliver") as mine:
            if not mine:
                return {}
            return delivery.deliver(self.db, notify_settings())

    @timer(interval=notify_settings().send_interval_s)
    def send_invitations(self) -> None:
        self._invite()

    def _invite(self) -> dict[str, int]:
        with self.db.alone("notify.invite") as mine:
            if not mine:
                return {}
            return delivery.ask_invitations(self.db, notify_settings(), self.sso.invite)

    @timer(interval=notify_settings().digest_interval_s)
    def scheduled_digests(self) -> None:
        self._digests()

    def _digests(self) -> int:
        with self.db.alone("notify.digest") as mine:
            if not mine:
                return 0
            return digest.gather(self.db, notify_settings(), self.registry.chairs,
                                 EXPIRE_DAYS_DEFAULT)

    @timer(interval=notify_settings().digest_interval_s)
    def scheduled_cards_digests(self) -> None:
        with self.db.alone("notify.cards_digest") as mine:
            if mine:
                digest.gather(self.db, notify_settings(), self.registry.chairs, 0,
                              digest.cards())

    @timer(interval=notify_settings().report_remind_interval_s)
    def scheduled_report_reminders(self) -> None:
        self._report_reminders(date.today())

    def _report_reminders(self, today: date) -> int:
        """Chairs whose report for a reporting date `report_remind_days` away is not
        submitted; each reminder once (a derived event id), however often this runs."""
        with self.db.alone("notify.report_due") as mine:
            if not mine:
                return 0
            conf = notify_settings()
            made = 0
            for days_left in remind_days(conf):
                day = (today + timedelta(days=days_left)).isoformat()
                due = self.reports.unsubmitted(day)
                org_ids = sorted({int(d["org_id"]) for d in due})
                chairs = {int(r["org_id"]): r
                          for start in range(0, len(org_ids), CHAIRS_CHUNK)
                          for r in self.registry.chairs(org_ids[start:start + CHAIRS_CHUNK])}
                with self.db.transaction() as s:
                    made += rules.report_due(s, conf, day, days_left, due, chairs)
            return made

    @rpc
    def send_report_reminders(self, today: str | None = None) -> int:
        """The reminders of reporting dates now (the timer looks every few hours); `today`
        as if it were that day."""
        self._operator()
        return self._report_reminders(date.fromisoformat(today) if today else date.today())

    @rpc
    def send_cards_digests(self) -> int:
        self._operator()
        return digest.gather(self.db, notify_settings(), self.registry.chairs, 0,
                             digest.cards())

    def _operator(self) -> None:
        if not self.caller.is_global:
            raise Forbidden("forbidden", "Очередь писем ведут операторы платформы")

    @rpc
    def send_now(self) -> dict[str, int]:
        """Send what is due now (the timer does it every few seconds)."""
        self._operator()
        return self._send()

    @rpc
    def send_digests(self) -> int:
        """Write the digests that are due now (the timer looks every hour)."""
        self._operator()
        return self._digests()

    @rpc
    def delivery_log(self, recipient: str | None = None, status: str | None = None,
                     limit: int = 100) -> list[dict[str, Any]]:
        """Messages and their fate (held ones with the error an operator reads)."""
        self._operator()
        with self.db.transaction() as s:
            rows = queue.messages(s, recipient, status, limit)
            audit.record(s, SCHEMA, self.caller, "read_log", "message_list",
                         f"recipient={recipient} status={status}")
        return [_jsonable(r) for r in rows]

    @rpc
    def release_message(self, message_id: int) -> bool:
        self._operator()
        with self.db.transaction() as s:
            return queue.release(s, parse_id(message_id, "message_id"))

    @rpc
    def bouncing_addresses(self) -> list[str]:
        """Every address the relay refused for good (bounces, complaints): the data-quality
        check «неверный e-mail» of members' cards. Operators and the platform only."""
        self._operator()
        with self.db.reading() as s:
            return list(s.execute(text("SELECT email FROM notify.address "
                                       "WHERE state = 'bouncing' ORDER BY email")).scalars())

    @rpc
    def address_states(self, emails: list[str]) -> dict[str, str]:
        """bouncing or ok for each address (the quality check of chairs without access)."""
        if not isinstance(emails, list):
            raise ValidationFailed("emails_list", "Передайте список адресов")
        return delivery.address_states(self.db, emails[:100_000])

    # ---- the person's own choices ----

    def _own_address(self) -> str:
        address = queue.normal_address(self.caller.user)
        if "@" not in address:
            raise Forbidden("no_address", "Настройки уведомлений доступны после входа по e-mail")
        return address

    @rpc
    def my_preferences(self) -> list[dict[str, Any]]:
        """The optional notifications meant for the caller (a member's, a chair's), on or off."""
        with self.db.reading() as s:
            return preferences.of(s, self._own_address(), audiences_of(self.caller.roles))

    @rpc
    def set_my_preferences(self, wanted: dict[str, bool]) -> list[dict[str, Any]]:
        if not isinstance(wanted, dict):
            raise ValidationFailed("preferences_object", "Передайте уведомления и их состояние")
        with self.db.transaction() as s:
            return preferences.set_many(s, self._own_address(),
                                        {str(k): bool(v) for k, v in wanted.items()},
                                        audiences_of(self.caller.roles))

    @rpc
    def health(self) -> dict[str, str]:
        with self.db.reading() as s:
            s.execute(text("SELECT 1"))
        return {"database": "ok", "mail_server": smtp.noop(notify_settings())}


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in row.items()}
