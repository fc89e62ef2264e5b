"""The mailing RPCs of the notify service (a mixin of NotifyService): campaigns, their
audiences and approval, the figures, consents and the unsubscribe link.

Who may write to whom is decided here, not in the gateway: the Central Council anywhere (an
empty `roots` is the whole union), regional staff within the organizations of their token (the
registry refuses an organization they may not see), a chair to the members of their own
organization only.
"""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from nameko.timer import timer
from sqlalchemy import text

from services.common import audit
from services.common.caller import CONTEXT_KEY
from services.common.errors import Forbidden, ValidationFailed
from services.common.packed import unpack_columns
from services.common.params import parse_id
from services.common.roles import CENTRAL_ADMIN, CHAIR, GLOBAL_ROLES, SCOPED_ROLES
from services.common.rpc import rpc
from services.notify import campaigns, consents, mailing, queue, unsubscribe
from services.notify.settings import notify_settings

log = logging.getLogger(__name__)
SCHEMA = "notify"
WRITERS = GLOBAL_ROLES | SCOPED_ROLES


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in row.items()}


class MailingRpc:
    db: Any
    caller: Any
    registry: Any
    membership: Any

    # ---- scope ----

    def _writer_scope(self, audience: dict[str, Any]) -> int | None:
        """The audience checked against the caller; the organization it is written from (None:
        the whole union)."""
        caller = self.caller
        roles = set(caller.roles)
        if caller.is_global:
            roots = audience["roots"]
            return roots[0] if len(roots) == 1 else None
        if not roles & WRITERS:
            raise Forbidden("mailing_forbidden", "Рассылки пишут аппараты ЦС и регионов и "
                                                 "председатели организаций")
        own = set(caller.org_ids)
        if not audience["roots"]:
            if not own:
                raise Forbidden("mailing_forbidden", "У вас нет организации для рассылки")
            audience["roots"] = sorted(own)
        if roles & SCOPED_ROLES == {CHAIR}:
            if audience.get("chairs") is not None:
                raise Forbidden("mailing_chair_chairs", "Председатель пишет только членам "
                                                        "своей организации")
            if not set(audience["roots"]) <= own:
                raise Forbidden("mailing_beyond_org", "Председатель может написать только "
                                                      "членам своей организации")
        for root in audience["roots"]:
            try:  # the registry decides (and audits) whether the caller may see it
                self.registry.get_organization(root)
            except Exception as exc:
                raise Forbidden("mailing_beyond_scope", f"Организация {root} вне вашей "
                                "зоны: рассылка туда невозможна") from exc
        return audience["roots"][0] if len(audience["roots"]) == 1 else None

    def _resolve(self, s: Any, audience: dict[str, Any]) -> None:
        """One bulk call to membership (and one to the registry for chairs and types), the
        answer loaded into the session's temporary table. notify makes these calls for itself
        (the bulk reads are for services only): the person's right to the audience was checked
        by `_writer_scope`, and what they see is counts, never the addresses."""
        with _as_service(self.registry), _as_service(self.membership):
            self._resolve_calls(s, audience)

    def _resolve_calls(self, s: Any, audience: dict[str, Any]) -> None:
        roots = audience["roots"] or None
        org_cols = None
        org_ids = None
        if audience.get("org_types") or audience.get("chairs") is not None:
            cols = unpack_columns(self.registry.mailing_orgs(
                roots, (audience.get("chairs") or {}).get("levels") or None,
                audience.get("org_types") or None))
            if audience.get("org_types"):
                org_ids = cols["org_id"]
            if audience.get("chairs") is not None:
                org_cols = cols
        member_cols = None
        wanted = audience.get("members")
        if wanted is not None and (org_ids is None or org_ids):
            member_cols = unpack_columns(self.membership.mailing_audience(
                roots, wanted.get("categories") or None, wanted.get("under_35", False),
                org_ids))
        campaigns.load_audience(s, member_cols, org_cols)

    # ---- campaigns ----

    @rpc
    def mailing_preview(self, audience: dict[str, Any], purpose: str = "union_news"
                        ) -> dict[str, int]:
        """The counts before sending: with consent, without, without e-mail, bouncing."""
        spec = campaigns.check_audience(audience)
        consents.check_purpose(purpose)
        self._writer_scope(spec)
        with self.db.transaction() as s:
            self._resolve(s, spec)
            return campaigns.counts(s, purpose)

    @rpc
    def create_campaign(self, data: dict[str, Any]) -> dict[str, Any]:
        draft = campaigns.check_draft(data)
        scope = self._writer_scope(draft["audience"])
        with self.db.transaction() as s:
            made = campaigns.create(s, draft, self.caller.user, scope)
            audit.record(s, SCHEMA, self.caller, "create_campaign", "campaign", made["id"])
        return _jsonable(made)

    def _own_campaign(self, s: Any, campaign_id: Any, lock: bool = False) -> dict[str, Any]:
        found = campaigns.get(s, parse_id(campaign_id, "campaign_id"), lock)
        if not self.caller.is_global and found["author"] != self.caller.user and \
                found["scope_org_id"] not in set(self.caller.org_ids):
            raise Forbidden("campaign_forbidden", "Эта рассылка не ваша")
        return found

    @rpc
    def campaign(self, campaign_id: int) -> dict[str, Any]:
        with self.db.reading() as s:
            found = self._own_campaign(s, campaign_id)
            found["figures"] = campaigns.figures(s, found["id"])
        return _jsonable(found)

    @rpc
    def campaigns(self, status: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        scope = None if self.caller.is_global else list(self.caller.org_ids)
        with self.db.reading() as s:
            return [_jsonable(r) for r in campaigns.listing(s, scope, status, int(limit))]

    @rpc
    def submit_campaign(self, campaign_id: int) -> dict[str, Any]:
        """Counted now; union-wide, or above the Central Council's size, it waits for a second
        person; otherwise it is scheduled (sent at its time, or at once)."""
        try:
            unsubscribe.make(notify_settings(), "check@reestr", 0)
        except RuntimeError:
            raise ValidationFailed("mailing_secret_missing", "Рассылки не настроены: нет ключа "
                                   "ссылок отписки (MAILING_SECRET)") from None
        with self.db.transaction() as s:
            found = self._own_campaign(s, campaign_id, lock=True)
            self._resolve(s, found["audience"])
            counted = campaigns.counts(s, found["purpose"])
            if counted["with_consent"] == 0:
                raise ValidationFailed("audience_nobody", "Некому отправить: ни у кого из "
                                       "выбранных нет согласия и рабочего e-mail")
            above = campaigns.approval_above(s, notify_settings().approval_above_default)
            wide = not found["audience"]["roots"] or counted["with_consent"] > above
            moved = campaigns.move(s, found["id"], ("draft",),
                                   "awaiting_approval" if wide else "scheduled",
                                   needs_approval=wide)
            s.execute(text("UPDATE notify.campaign SET counts = CAST(:c AS jsonb) "
                           "WHERE id = :id"), {"c": queue.json_text(counted), "id": found["id"]})
            audit.record(s, SCHEMA, self.caller, "submit_campaign", "campaign", found["id"])
        moved["counts"] = counted
        return _jsonable(moved)

    @rpc
    def approve_campaign(self, campaign_id: int) -> dict[str, Any]:
        if CENTRAL_ADMIN not in self.caller.roles:
            raise Forbidden("approval_forbidden", "Рассылки утверждает аппарат ЦС")
        with self.db.transaction() as s:
            found = campaigns.get(s, parse_id(campaign_id, "campaign_id"), lock=True)
            if found["author"] == self.caller.user:
                raise Forbidden("approval_second_person", "Утвердить рассылку должен другой "
                                                          "сотрудник, не её автор")
            moved = campaigns.move(s, found["id"], ("awaiting_approval",), "scheduled",
                                   approved_by=self.caller.user)
            s.execute(text("UPDATE notify.campaign SET approved_at = now() WHERE id = :i"),
                      {"i": found["id"]})
            audit.record(s, SCHEMA, self.caller, "approve_campaign", "campaign", found["id"])
        return _jsonable(moved)

    @rpc
    def pause_campaign(self, campaign_id: int) -> dict[str, Any]:
        with self.db.transaction() as s:
            found = self._own_campaign(s, campaign_id, lock=True)
            return _jsonable(campaigns.pause(s, found["id"]))

    @rpc
    def resume_campaign(self, campaign_id: int) -> dict[str, Any]:
        with self.db.transaction() as s:
            found = self._own_campaign(s, campaign_id, lock=True)
            return _jsonable(campaigns.resume(s, found["id"]))

    @rpc
    def cancel_campaign(self, campaign_id: int) -> dict[str, Any]:
        with self.db.transaction() as s:
            found = self._own_campaign(s, campaign_id, lock=True)
            return _jsonable(campaigns.move(s, found["id"], ("draft", "awaiting_approval",
                                                             "scheduled"), "cancelled"))

    @rpc
    def campaign_recipients(self, campaign_id: int, state: str | None = None,
                            limit: int = 100) -> list[dict[str, Any]]:
        with self.db.transaction() as s:
            found = self._own_campaign(s, campaign_id)
            rows = campaigns.recipients(s, found["id"], state, int(limit))
            audit.record(s, SCHEMA, self.caller, "read_recipients", "campaign", found["id"])
        return [_jsonable(r) for r in rows]

    @rpc
    def set_approval_threshold(self, value: int) -> int:
        if CENTRAL_ADMIN not in self.caller.roles:
            raise Forbidden("forbidden", "Порог утверждения задаёт аппарат ЦС")
        if not isinstance(value, int) or value < 0:
            raise ValidationFailed("value", "Порог: целое число адресатов, не меньше 0")
        with self.db.transaction() as s:
            return campaigns.set_approval_above(s, value, self.caller.user)

    # ---- starting what is due ----

    @timer(interval=notify_settings().send_interval_s)
    def start_due_campaigns(self) -> None:
        self._start_due()

    def _start_due(self) -> int:
        with self.db.alone("notify.campaigns") as mine:
            if not mine:
                return 0
            with self.db.transaction() as s:
                campaigns.finish_sent(s)
                ids = campaigns.due(s)
            for cid in ids:
                self.start_campaign_now(cid)
            return len(ids)

    def start_campaign_now(self, campaign_id: int) -> int:
        """Resolve and queue in one transaction with the move to `sending`: a crash queues
        nothing or everything (the queue's unique pair stops a second queuing)."""
        with self.db.transaction() as s:
            found = campaigns.get(s, campaign_id, lock=True)
            if found["status"] != "scheduled":
                return 0
            self._resolve(s, found["audience"])
            counted = campaigns.counts(s, found["purpose"])
            queued = campaigns.queue_recipients(s, found)
            counted["queued"] = queued
            s.execute(text("""
                UPDATE notify.campaign SET status = 'sending', started_at = now(),
                       counts = CAST(:c AS jsonb), updated_at = now() WHERE id = :id
            """), {"c": queue.json_text(counted), "id": campaign_id})
        mailing.forget(campaign_id)
        log.info("campaign %s started: %s recipients queued", campaign_id, queued)
        return queued

    @rpc
    def start_due_now(self) -> int:
        """Operators and tests: start the campaigns due without waiting for the timer."""
        if not self.caller.is_global:
            raise Forbidden("forbidden", "Только для операторов")
        return self._start_due()

    # ---- consents and unsubscribing ----

    def _own_email(self) -> str:
        address = queue.normal_address(self.caller.user)
        if "@" not in address:
            raise Forbidden("no_address", "Согласия на рассылки доступны после входа по e-mail")
        return address

    @rpc
    def my_mailing(self, base_news: bool | None = None) -> dict[str, Any]:
        """The caller's consents by purpose and the mailings they were sent."""
        email = self._own_email()
        with self.db.reading() as s:
            return {"consents": consents.of(s, email, base_news),
                    "history": consents.history(s, email, 20),
                    "mailings": [_jsonable(r) for r in campaigns.past_for(s, email)]}

    @rpc
    def set_my_consent(self, purpose: str, granted: bool) -> dict[str, Any]:
        email = self._own_email()
        with self.db.transaction() as s:
            return consents.record(s, email, consents.check_purpose(purpose), bool(granted),
                                   "account", "личный кабинет")

    @rpc
    def record_consents(self, rows: list[dict[str, Any]]) -> int:
        """Consents given elsewhere (a card, a passport, staff on paper), from services."""
        if not self.caller.is_global:
            raise Forbidden("forbidden", "Только для сервисов")
        with self.db.transaction() as s:
            for r in rows[:10_000]:
                consents.record(s, str(r["email"]), consents.check_purpose(r["purpose"]),
                                bool(r["granted"]), str(r.get("channel") or "staff"),
                                str(r.get("source") or self.caller.user))
        return min(len(rows), 10_000)

    @rpc
    def unsubscribe_page(self, token: str) -> dict[str, Any]:
        """What the preference page shows (the address masked); a bad token refused."""
        found = self._token(token)
        with self.db.reading() as s:
            return {"email": _mask(found["email"]),
                    "consents": consents.of(s, found["email"], True)}

    @rpc
    def unsubscribe(self, token: str, purposes: list[str] | None = None,
                    channel: str = "unsubscribe_link") -> dict[str, Any]:
        """Withdraw the purposes named (all when None) for the token's address, without
        signing in: the one-click POST (RFC 8058) and the page's form."""
        found = self._token(token)
        if channel not in ("unsubscribe_link", "one_click", "mailto"):
            channel = "unsubscribe_link"
        wanted = list(consents.PURPOSES) if purposes is None else \
            [consents.check_purpose(p) for p in purposes]
        if not wanted:
            raise ValidationFailed("purposes", "Выберите, от каких писем отписаться")
        with self.db.transaction() as s:
            done = [consents.record(s, found["email"], p, False, channel,
                                    f"campaign {found['campaign_id']}") for p in wanted]
        return {"email": _mask(found["email"]), "withdrawn": wanted,
                "stopped_messages": sum(d["stopped_messages"] for d in done)}

    def _token(self, token: Any) -> dict[str, Any]:
        try:
            return unsubscribe.read(notify_settings(), token)
        except unsubscribe.TokenRefused as exc:
            raise ValidationFailed(exc.code, exc.message) from None


@contextmanager
def _as_service(proxy: Any) -> Iterator[None]:
    """Calls through `proxy` signed for notify itself, not for the person it is serving (the
    caller travels only in the context data the signature is made from: services.common.trust)."""
    data = proxy.worker_ctx.data  # context_data is a copy made for each message
    person = data.pop(CONTEXT_KEY, None)
    try:
        yield
    finally:
        if person is not None:
            data[CONTEXT_KEY] = person


def _mask(email: str) -> str:
    name, _, domain = email.partition("@")
    return (name[:2] + "•••" if len(name) > 2 else name[:1] + "•••") + "@" + domain
