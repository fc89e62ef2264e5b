"""The registry service: nameko entrypoints over the plain-Python modules beside it.

Each entrypoint parses its arguments, runs one domain function in one transaction and, for
changes, publishes the events that transaction recorded.
"""

import base64
import binascii
import logging
from datetime import date
from typing import Any

from nameko.rpc import rpc
from nameko.timer import timer
from sqlalchemy import text

from services.common import serialization
from services.common.caller import CallerProvider
from services.common.db import Database
from services.common.errors import ValidationFailed, field_error
from services.common.outbox import OutboxRelay
from services.common.settings import settings
from services.registry import bulk_load, changes, tree

log = logging.getLogger(__name__)


def _day(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValidationFailed(details=[field_error(
            field, "date_parsing", "Дата не распознана: ожидается ГГГГ-ММ-ДД")]) from None


def _id(value: Any, field: str = "org_id") -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValidationFailed(details=[field_error(
            field, "id_format", "Идентификатор организации — целое число")]) from None


class RegistryService:
    name = "registry"

    db = Database()
    relay = OutboxRelay("registry")
    caller = CallerProvider()

    # ---- reads ----

    @rpc
    def get_organization(self, org_id: int) -> dict[str, Any]:
        with self.db.reading() as s:
            return tree.get(s, _id(org_id))

    @rpc
    def subtree(self, org_id: int, include_excluded: bool = False, level: str | None = None,
                limit: int = tree.MAX_PAGE, offset: int = 0) -> dict[str, Any]:
        with self.db.reading() as s:
            return tree.subtree(s, _id(org_id), bool(include_excluded), level, int(limit),
                                int(offset))

    @rpc
    def subtree_json(self, org_id: int, include_excluded: bool = False,
                     level: str | None = None, limit: int = tree.MAX_PAGE,
                     offset: int = 0) -> str:
        """`subtree` as JSON text, for the gateway to pass on without parsing a region's
        thousand organizations and writing them out again."""
        return serialization.dumps(self.subtree(org_id, include_excluded, level, limit,
                                                offset)).decode()

    @rpc
    def ancestors(self, org_id: int) -> list[dict[str, Any]]:
        with self.db.reading() as s:
            return tree.ancestors(s, _id(org_id))

    @rpc
    def children(self, org_id: int, include_excluded: bool = False) -> list[dict[str, Any]]:
        with self.db.reading() as s:
            tree.fetch(s, _id(org_id))
            return tree.children(s, _id(org_id), bool(include_excluded))

    @rpc
    def search(self, query: str, within: int | None = None, level: str | None = None,
               include_excluded: bool = False, limit: int = 50) -> list[dict[str, Any]]:
        with self.db.reading() as s:
            return tree.search(s, str(query), within and _id(within, "within"), level,
                               bool(include_excluded), int(limit))

    @rpc
    def counts(self, within: int | None = None) -> list[dict[str, Any]]:
        with self.db.reading() as s:
            return tree.counts(s, within and _id(within, "within"))

    @rpc
    def passport_as_of(self, org_id: int, day: str) -> dict[str, Any]:
        with self.db.reading() as s:
            return tree.passport_as_of(s, _id(org_id), _day(day, "as_of"))

    @rpc
    def history(self, org_id: int) -> list[dict[str, Any]]:
        with self.db.reading() as s:
            return tree.history(s, _id(org_id))

    @rpc
    def health(self) -> dict[str, str]:
        with self.db.reading() as s:
            s.execute(text("SELECT 1"))
        return {"database": "ok"}

    # ---- changes ----

    @rpc
    def create_organization(self, data: dict[str, Any]) -> dict[str, Any]:
        with self.db.transaction() as s:
            result = changes.create(s, self.caller.user, dict(data))
        self.relay.try_flush()
        return result

    @rpc
    def update_passport(self, org_id: int, patch: dict[str, Any]) -> dict[str, Any]:
        with self.db.transaction() as s:
            result = changes.update(s, self.caller.user, _id(org_id), dict(patch))
        self.relay.try_flush()
        return result

    @rpc
    def move_organization(self, org_id: int, parent_id: int) -> dict[str, Any]:
        with self.db.transaction() as s:
            result = changes.move(s, self.caller.user, _id(org_id), _id(parent_id, "parent_id"))
        self.relay.try_flush()
        return result

    @rpc
    def exclude_organization(self, org_id: int, excluded_on: str, reason: str,
                             into_id: int | None = None) -> dict[str, Any]:
        with self.db.transaction() as s:
            result = changes.exclude(s, self.caller.user, _id(org_id),
                                     _day(excluded_on, "excluded_on"), reason,
                                     None if into_id is None else _id(into_id, "into_id"))
        self.relay.try_flush()
        return result

    @rpc
    def import_organizations(self, content_b64: str, filename: str,
                             load_good_rows: bool = False) -> dict[str, Any]:
        try:
            content = base64.b64decode(content_b64, validate=True)
        except (binascii.Error, ValueError, TypeError):
            raise ValidationFailed("file_format", "Файл передан повреждённым") from None
        with self.db.transaction() as s:
            result = bulk_load.load(s, self.caller.user, content, filename, bool(load_good_rows))
        log.info("import of %s: %s loaded, %s rejected", filename, result["rows_loaded"],
                 result["rows_rejected"])
        self.relay.try_flush()
        return result

    # ---- background ----

    @timer(interval=settings().outbox_interval_s)
    def publish_outbox(self) -> None:
        self.relay.try_flush()
