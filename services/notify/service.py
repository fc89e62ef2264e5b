"""The notify service: the templates, the outgoing queue, delivery and bounces.

Other services publish what happened; the handlers here decide who is told what and queue it in
the transaction that records the event as handled (see queue.py). A timer sends what is due
(delivery.py), another writes the chairs' daily digests (digest.py).
"""

import logging
from typing import Any

from nameko.rpc import RpcProxy
from nameko.timer import timer
from sqlalchemy import text

from services.common import audit
from services.common.caller import CallerProvider
from services.common.db import Database
from services.common.errors import Forbidden, ValidationFailed
from services.common.params import parse_id
from services.common.rpc import event_handler, rpc
from services.notify import delivery, digest, preferences, queue, rules, smtp
from services.notify.catalogue import audiences_of
from services.notify.settings import notify_settings

log = logging.getLogger(__name__)
SCHEMA = "notify"
# applications not decided in this many days expire (membership's APPLICATION_EXPIRE_AFTER_D)
EXPIRE_DAYS_DEFAULT = 30


class NotifyService(audit.AuditLogRpc):
    name = "notify"

    db = Database()
    caller = CallerProvider()
    registry = RpcProxy("registry")
    membership = RpcProxy("membership")
    sso = RpcProxy("sso")

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
        conf = notify_settings()
        self._handle("application_decided", payload, lambda s, e:
                     rules.application_decided(s, conf, e, payload))

    @event_handler("reports", "report_reopened", requeue_on_error=True)
    def on_report_reopened(self, payload: dict[str, Any]) -> None:
        conf = notify_settings()
        chairs = self.registry.chairs([int(payload["org_id"])])
        self._handle("report_reopened", payload, lambda s, e:
                     rules.report_reopened(s, conf, e, payload, chairs[0] if chairs else None))

    @event_handler("membership", "member_transferred", requeue_on_error=True)
    def on_member_transferred(self, payload: dict[str, Any]) -> None:
        conf = notify_settings()
        member = self.membership.get_member(int(payload["member_id"]))
        self._handle("member_transferred", payload, lambda s, e:
                     rules.member_transferred(s, conf, e, payload, member))

    @event_handler("sso", "accounts_created", requeue_on_error=True)
    def on_accounts_created(self, payload: dict[str, Any]) -> None:
        """Accounts made in bulk: their invitations are queued here (one insert each) and
        asked of Keycloak at a pace by `send_invitations`."""
        self._handle("accounts_created", payload, lambda s, e:
                     rules.accounts_created(s, e, payload))

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
