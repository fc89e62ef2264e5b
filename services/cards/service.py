"""The cards service: nameko entrypoints over the plain-Python modules beside it.

Scope: membership decides whom a caller may order cards for (`card_holders` is asked as the
caller), and tells the caller's subtrees (`scope_paths`), against which each card's organization
path is checked. Timers collect batches, write those left unwritten, read the vendor's responses
and remind chairs of cards waiting to be handed out.
"""

import logging
from datetime import datetime, timedelta
from typing import Any

from nameko.extensions import DependencyProvider
from nameko.rpc import RpcProxy
from nameko.timer import timer
from sqlalchemy import text

from services.cards import batches, cards, tile_counts
from services.cards import retention as card_retention
from services.cards.settings import cards_settings
from services.cards.storage import Bucket, StoreErrors, unavailable
from services.common import audit
from services.common.caller import CallerProvider
from services.common.db import Database
from services.common.errors import Forbidden, NotFound
from services.common.observability import Observed
from services.common.operations import OperationsRpc
from services.common.outbox import OutboxRelay
from services.common.packed import pack_columns
from services.common.params import parse_id
from services.common.roles import MEMBER, REGIONAL_STAFF
from services.common.rpc import event_handler, rpc
from services.common.serialization import jsonable
from services.common.settings import settings

log = logging.getLogger(__name__)
SCHEMA = "cards"
CARD_RECORD = "card"


class BucketProvider(DependencyProvider):
    def setup(self) -> None:
        self.bucket = Bucket()

    def get_dependency(self, worker_ctx) -> Bucket:
        return self.bucket


class CardsService(audit.AuditLogRpc, OperationsRpc):
    name = "cards"

    db = Database()
    relay = OutboxRelay(SCHEMA)
    caller = CallerProvider()
    observed = Observed({
        "reestr_cards_batches_unanswered": (
            "Card batches sent to the vendor with no response file yet",
            "SELECT count(*) FROM cards.batch b WHERE status = 'sent' AND NOT EXISTS "
            "(SELECT 1 FROM cards.response_file r WHERE r.batch_id = b.id)"),
        "reestr_cards_vendor_waiting_seconds": (
            "How long the oldest unanswered batch has waited for the vendor",
            "SELECT COALESCE(EXTRACT(EPOCH FROM now() - min(sent_at)), 0) FROM cards.batch b "
            "WHERE status = 'sent' AND NOT EXISTS "
            "(SELECT 1 FROM cards.response_file r WHERE r.batch_id = b.id)")})
    bucket = BucketProvider()
    membership = RpcProxy("membership")

    def _paths(self) -> list[str] | None:
        return None if self.caller.is_global else self.membership.scope_paths()

    # ---- requests ----

    @rpc
    def request_for_member(self, member_id: int, kind: str = "plastic") -> dict[str, Any]:
        mid = parse_id(member_id, "member_id")
        holders = self.membership.card_holders(member_ids=[mid])
        if not holders:
            raise NotFound("member_not_found", f"Член Профсоюза {mid} не найден "
                                               "(или снят с учёта)")
        with self.db.transaction() as s:
            made = cards.request(s, self.caller.user, holders, kind,
                                 cards_settings().card_prefix)
            card = made[0] if made else cards.live_card(s, mid)
            audit.record(s, SCHEMA, self.caller, "request" if made else "read", CARD_RECORD,
                         card["id"])
            card = cards.get(s, card["id"], None)
        self.relay.try_flush()
        return jsonable({**cards.shown(card), "created": bool(made)})

    @rpc
    def request_for_org(self, org_id: int, kind: str = "plastic") -> dict[str, Any]:
        """Cards for every member of the organization who has none."""
        holders = self.membership.card_holders(org_id=parse_id(org_id, "org_id"),
                                               without_card=True)
        with self.db.transaction() as s:
            made = cards.request(s, self.caller.user, holders, kind,
                                 cards_settings().card_prefix)
            audit.record(s, SCHEMA, self.caller, "request_org", "org", org_id)
        self.relay.try_flush()
        return {"requested": len(made), "members_without_card": len(holders)}

    @event_handler("membership", "member_registered", requeue_on_error=True)
    def on_member_registered(self, payload: dict[str, Any]) -> None:
        """Regions that chose so order a card for every new member."""
        with self.db.reading() as s:
            wanted = cards.auto_request(s, payload.get("region_id"))
        if not wanted:
            return
        holders = self.membership.card_holders(member_ids=[int(payload["member_id"])])
        with self.db.transaction() as s:
            cards.request(s, "system", holders, "plastic", cards_settings().card_prefix)
        self.relay.try_flush()

    @event_handler("membership", "member_removed", requeue_on_error=True)
    def on_member_removed(self, payload: dict[str, Any]) -> None:
        with self.db.transaction() as s:
            cards.refuse_for_removed(s, int(payload["member_id"]))

    @event_handler("membership", "members_reduced", requeue_on_error=True)
    def on_members_reduced(self, payload: dict[str, Any]) -> None:
        """Retention reduced these members' cards: the names printed on their cards go too."""
        with self.db.transaction() as s:
            cards.erase_holders(s, [int(i) for i in payload["member_ids"]])

    @event_handler("membership", "member_transferred", requeue_on_error=True)
    def on_member_transferred(self, payload: dict[str, Any]) -> None:
        holders = self.membership.card_holders(member_ids=[int(payload["member_id"])])
        if holders:
            with self.db.transaction() as s:
                cards.follow_transfer(s, holders[0])

    @rpc
    def set_region_policy(self, region_id: int, auto_request: bool) -> dict[str, Any]:
        """Whether the region orders a card for every new member by itself: the Central
        Council's operators, or the region's own staff, decide."""
        rid = parse_id(region_id, "region_id")
        if not (self.caller.is_global or REGIONAL_STAFF in self.caller.roles
                and rid in self.caller.org_ids):
            raise Forbidden("forbidden", "Порядок заказа карт задаёт аппарат региональной "
                                         "организации")
        with self.db.transaction() as s:
            return cards.set_policy(s, self.caller.user, rid, bool(auto_request))

    # ---- cards of an organization ----

    @rpc
    def list_cards(self, org_id: int | None = None, status: str | None = None,
                   limit: int = 50, offset: int = 0, q: str = "") -> dict[str, Any]:
        oid = None if org_id is None else parse_id(org_id, "org_id")
        paths = self._paths()
        with self.db.transaction() as s:
            result = cards.list_cards(s, paths, oid, status, limit, offset, str(q or ""))
            audit.record_many(s, SCHEMA, self.caller, "list", CARD_RECORD,
                              [c["id"] for c in result["items"]])
        return jsonable(result)

    @rpc
    def card_counts(self, org_id: int | None = None, subtree: bool = False
                    ) -> dict[str, int]:
        """Cards by status in the caller's subtrees, or of one organization, or (`subtree`) in
        that organization's whole subtree (a territorial organization holds its primaries'
        cards), only ever within the caller's own subtrees: the tile of an organization's page
        (a region's kept a while: see tile_counts)."""
        oid = None if org_id is None else parse_id(org_id, "org_id")
        paths = self._paths()
        beneath = oid if subtree and oid is not None else None

        def count() -> dict[str, int]:
            with self.db.reading() as s:
                return cards.status_counts(s, paths, None if beneath else oid, beneath)
        return tile_counts.counts(oid, paths, count)

    @rpc
    def get_card(self, card_id: int) -> dict[str, Any]:
        cid = parse_id(card_id, "card_id")
        paths = self._paths()
        with self.db.transaction() as s:
            card = cards.shown(cards.get(s, cid, paths))
            card["history"] = cards.history(s, cid)
            audit.record(s, SCHEMA, self.caller, "read", CARD_RECORD, cid)
        return jsonable(card)

    @rpc
    def move_card(self, card_id: int, status: str, reason: str | None = None) -> dict[str, Any]:
        """A chair hands a card out (issued) or records a refusal (refused)."""
        cid = parse_id(card_id, "card_id")
        paths = self._paths()
        with self.db.transaction() as s:
            card = cards.move(s, self.caller.user, cards.get(s, cid, paths, lock=True),
                              str(status or ""), reason)
            audit.record(s, SCHEMA, self.caller, f"move_{status}", CARD_RECORD, cid)
        self.relay.try_flush()
        return jsonable(card)

    @rpc
    def undo_card_issue(self, card_id: int) -> dict[str, Any]:
        """«Выдана» taken back the same day by whoever marked it."""
        cid = parse_id(card_id, "card_id")
        paths = self._paths()
        with self.db.transaction() as s:
            card = cards.undo_issue(s, self.caller.user, cards.get(s, cid, paths, lock=True))
            audit.record(s, SCHEMA, self.caller, "undo_issued", CARD_RECORD, cid)
        return jsonable(card)

    @rpc
    def my_card(self) -> dict[str, Any]:
        """The member's own card and its virtual form, for the personal account."""
        if MEMBER not in self.caller.roles:
            raise Forbidden("not_a_member", "Личный кабинет доступен членам Профсоюза")
        member = self.membership.my_card()
        with self.db.transaction() as s:
            card = cards.live_card(s, int(member["id"]))
            if card is not None:
                card["history"] = cards.history(s, card["id"])
                audit.record(s, SCHEMA, self.caller, "read_own", CARD_RECORD, card["id"])
        if card is None:
            return {"card": None, "virtual_card": None}
        return jsonable({"card": card, "virtual_card": cards.virtual_card(card, member)})

    @rpc
    def member_cards(self, member_id: int) -> list[dict[str, Any]]:
        """Every card a person has had, with its dated history (their copy of their data, issue
        29): to the member themselves, or within the caller's subtrees. Who moved a card is left
        out: a copy names no staff."""
        mid = parse_id(member_id, "member_id")
        if MEMBER in self.caller.roles and not self.caller.is_global:
            if int(self.membership.my_card()["id"]) != mid:
                raise NotFound("card_not_found", "Билеты не найдены")
            paths = None
        else:
            paths = self._paths()
        with self.db.transaction() as s:
            found = cards.of_member(s, mid, paths)
            for card in found:
                card["history"] = [{k: v for k, v in h.items() if k != "by"}
                                   for h in cards.history(s, card["id"])]
            audit.record_many(s, SCHEMA, self.caller, "read_member_cards", CARD_RECORD,
                              [c["id"] for c in found])
        return [jsonable({**c, "history": [jsonable(h) for h in c["history"]]}) for c in found]

    @rpc
    def erase_batch_files(self, keep_days: int) -> dict[str, int]:
        """Batch files sent more than `keep_days` ago deleted from the bucket (membership's
        retention run asks, with the Central Council's term; services only)."""
        if not self.caller.is_global:
            raise Forbidden("forbidden", "Только для сервисов платформы")
        days = max(0, int(keep_days))
        with self.db.transaction() as s:
            try:
                done = card_retention.erase(s, self.bucket, days, datetime.now().astimezone())
            except StoreErrors as exc:
                raise unavailable() from exc
            audit.record(s, SCHEMA, self.caller, "erase_batch_files", "batch",
                         f"batches={done['records']} files={done['files']}")
        return done

    @rpc
    def batch_files_due(self, keep_days: int) -> int:
        """Batches whose files the next run deletes (counts, for the operators' preview)."""
        if not self.caller.is_global:
            raise Forbidden("forbidden", "Только для сервисов платформы")
        with self.db.reading() as s:
            return len(card_retention.due(s, max(0, int(keep_days)),
                                          datetime.now().astimezone()))

    @rpc
    def members_in_production(self) -> list[int]:
        """Members whose card the vendor is making now: retention waits for them (services
        only)."""
        if not self.caller.is_global:
            raise Forbidden("forbidden", "Только для сервисов платформы")
        with self.db.reading() as s:
            return cards.in_production(s)

    # ---- batches and the vendor ----

    def _operator(self) -> None:
        if not self.caller.is_global:
            raise Forbidden("forbidden", "Партии карт ведут операторы ЦС")

    @rpc
    def collect_batches(self, region_id: int | None = None) -> list[dict[str, Any]]:
        """Collect the requested cards into batches (one per region) and write them."""
        self._operator()
        rid = None if region_id is None else parse_id(region_id, "region_id")
        with self.db.transaction() as s:
            ids = batches.collect(s, self.caller.user, rid)
        written = [self._write(i) for i in ids]
        self.relay.try_flush()
        return [jsonable(b) for b in written]

    def _write(self, batch_id: int) -> dict[str, Any]:
        try:
            with self.db.transaction() as s:
                return batches.write(s, self.bucket, batch_id)
        except StoreErrors:
            log.warning("batch %s: the bucket is away, written later", batch_id, exc_info=True)
            with self.db.reading() as s:
                return dict(s.execute(text("SELECT * FROM cards.batch WHERE id = :b"),
                                      {"b": batch_id}).mappings().one())

    @rpc
    def list_batches(self, region_id: int | None = None) -> list[dict[str, Any]]:
        self._operator()
        with self.db.reading() as s:
            return [jsonable(b) for b in batches.list_batches(s, region_id)]

    @rpc
    def read_responses(self) -> list[dict[str, Any]]:
        """Apply the vendor's new response files now (the timer does it every so often)."""
        self._operator()
        try:
            return self._read_responses()
        except StoreErrors:
            raise unavailable() from None

    def _read_responses(self) -> list[dict[str, Any]]:
        with self.db.reading() as s:
            keys = batches.new_responses(s, self.bucket)
        done = []
        for key in keys:
            with self.db.transaction() as s:
                done.append(batches.apply_response(s, self.bucket, key))
        self.relay.try_flush()
        return [d for d in done if d["status"] != "waiting"]

    @timer(interval=cards_settings().batch_interval_s)
    def scheduled_batches(self) -> None:
        with self.db.alone("cards.batches") as mine:
            if not mine:
                return
            with self.db.transaction() as s:
                ids = batches.collect(s, "schedule")
            for batch_id in ids:
                self._write(batch_id)
        self.relay.try_flush()

    @timer(interval=cards_settings().response_poll_s, eager=True)
    def poll_bucket(self) -> None:
        """Batches left unwritten are written, new responses applied; a bucket that is away
        is tried again next time."""
        try:
            with self.db.alone("cards.batches") as mine:
                if not mine:
                    return
                self.bucket.ensure()
                with self.db.reading() as s:
                    left = batches.pending(s)
                for batch_id in left:
                    self._write(batch_id)
                applied = self._read_responses()
            if applied:
                log.info("vendor responses: %s", applied)
        except StoreErrors:
            log.warning("the vendor's bucket is away; trying again later")

    @timer(interval=cards_settings().remind_sweep_s)
    def remind_chairs(self) -> None:
        conf = cards_settings()
        with self.db.alone("cards.remind") as mine:
            if not mine:
                return
            with self.db.transaction() as s:
                waiting = cards.remind(s, timedelta(days=conf.handout_remind_after_d))
        if waiting:
            log.info("cards waiting to be handed out: %d organizations reminded", waiting)
        self.relay.try_flush()

    @timer(interval=settings().outbox_interval_s)
    def publish_events(self) -> None:
        self.relay.try_flush()

    @rpc
    def waiting_by_org(self) -> str:
        """Cards waiting to be handed out, per organization (columns packed:
        services.common.packed), for data quality. Counts only."""
        with self.db.reading() as s:
            return pack_columns(cards.WAITING_COLUMNS, cards.waiting_by_org(s))

    @rpc
    def health(self) -> dict[str, str]:
        with self.db.reading() as s:
            s.execute(text("SELECT 1"))
        try:
            self.bucket.ensure()
            store = "ok"
        except StoreErrors:
            store = "unavailable"
        return {"database": "ok", "object_store": store}
