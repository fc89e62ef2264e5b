"""The registry service: nameko entrypoints over the plain-Python modules beside it.

Each entrypoint parses its arguments, checks the caller's scope (access.py), runs one domain
function in one transaction, writes the audit log where personal data (chairs, staff) is read or
changed, and for changes publishes the events that transaction recorded.
"""

import base64
import binascii
import gzip
import logging
import time
from typing import Any

import eventlet
from nameko.exceptions import UnknownService
from nameko.rpc import RpcProxy
from nameko.timer import timer
from sqlalchemy import text

from services.common import audit, load_worker, serialization
from services.common.caller import CallerProvider
from services.common.db import Database
from services.common.errors import Forbidden, Unavailable, ValidationFailed
from services.common.observability import Observed
from services.common.operations import OperationsRpc
from services.common.outbox import OutboxRelay
from services.common.packed import pack_columns
from services.common.params import parse_day, parse_id, parse_moment
from services.common.rpc import rpc
from services.common.settings import settings
from services.registry import access, audience, changes, file_format, load_indexes, tree
from services.registry.changes import SCHEMA
from services.registry.tree_cache import SubtreeCache

log = logging.getLogger(__name__)
ORG = "organization"
# a region has about a thousand organizations; the national tree is not listed this way
CHAIRS_WITHIN_LIMIT = 20_000


_day, _moment = parse_day, parse_moment


def _id(value: Any, field: str = "org_id") -> int:
    return parse_id(value, field, "Идентификатор организации")


class RegistryService(audit.AuditLogRpc, OperationsRpc):
    name = "registry"

    db = Database()
    relay = OutboxRelay(SCHEMA)
    caller = CallerProvider()
    observed = Observed({
        # backups (reestr/ops.py): how far behind the WAL archive is; -1 before any archiving
        "reestr_wal_archive_age_seconds": (
            "Time since PostgreSQL last archived a WAL segment",
            "SELECT COALESCE(EXTRACT(EPOCH FROM now() - last_archived_time), -1) "
            "FROM pg_stat_archiver"),
        "reestr_wal_archive_failures": (
            "WAL segments PostgreSQL failed to archive since its statistics were reset",
            "SELECT failed_count FROM pg_stat_archiver")})
    membership = RpcProxy("membership")
    subtrees = SubtreeCache()
    loads = load_worker.SpareWorker("services.registry.load_worker")

    # ---- reads of the tree (no personal data) ----

    @rpc
    def subtree(self, org_id: int, include_excluded: bool = False, level: str | None = None,
                limit: int = tree.MAX_PAGE, offset: int = 0) -> dict[str, Any]:
        with self.db.reading() as s:
            access.require_visible(s, self.caller, _id(org_id))
            return tree.subtree(s, _id(org_id), bool(include_excluded), level, int(limit),
                                int(offset))

    @rpc
    def subtree_gzip(self, org_id: int, include_excluded: bool = False,
                     level: str | None = None, limit: int = tree.MAX_PAGE,
                     offset: int = 0) -> str:
        """The subtree's JSON gzipped (base64 on the wire), for the gateway to send as it is.

        A region is 400 KB of Russian names and 30 KB gzipped: every hop after this one (the
        broker, the gateway, the network to a phone) carries and copies a fourteenth of it.
        The same answer is kept while the tree does not change (tree_cache); the caller's
        right to see the subtree is checked every time.
        """
        oid = _id(org_id)
        key = (oid, bool(include_excluded), level, int(limit), int(offset))
        with self.db.reading() as s:
            access.require_visible(s, self.caller, oid)

            def build() -> str:
                data = tree.subtree(s, oid, bool(include_excluded), level, int(limit),
                                    int(offset))
                packed = gzip.compress(serialization.dumps(data), compresslevel=1, mtime=0)
                return base64.b64encode(packed).decode()
            return self.subtrees.get(s, key, build)

    @rpc
    def ancestors(self, org_id: int) -> list[dict[str, Any]]:
        with self.db.reading() as s:
            access.require_visible(s, self.caller, _id(org_id))
            return tree.ancestors(s, _id(org_id))

    @rpc
    def children(self, org_id: int, include_excluded: bool = False) -> list[dict[str, Any]]:
        with self.db.reading() as s:
            access.require_visible(s, self.caller, _id(org_id))
            tree.fetch(s, _id(org_id))
            return tree.children(s, _id(org_id), bool(include_excluded))

    @rpc
    def search(self, query: str, within: int | None = None, level: str | None = None,
               include_excluded: bool = False, limit: int = 50) -> list[dict[str, Any]]:
        with self.db.reading() as s:
            scope = access.scope_within(s, self.caller,
                                        None if within is None else _id(within, "within"))
            return tree.search(s, str(query), scope, level, bool(include_excluded), int(limit))

    @rpc
    def counts(self, within: int | None = None) -> list[dict[str, Any]]:
        with self.db.reading() as s:
            scope = access.scope_within(s, self.caller,
                                        None if within is None else _id(within, "within"))
            return tree.counts(s, scope)

    @rpc
    def org_index(self, within: int | None = None, ids: list[int] | None = None,
                  after_id: int = 0, limit: int = 20_000) -> list[dict[str, Any]]:
        """Rows for other services' read models of the tree: names and places, no personal data.

        Not scoped: other services call it inside their callers' requests (the caller travels
        along), and decide themselves what each caller sees. The gateway does not expose it."""
        with self.db.reading() as s:
            return tree.index_rows(s, None if within is None else _id(within, "within"),
                                   None if ids is None else [_id(i) for i in ids],
                                   int(after_id), min(int(limit), 50_000))

    @rpc
    def tree_as_of(self, day: str | None = None) -> str:
        """The whole tree as it stood at the start of `day` (None: now), columns packed
        (services.common.packed), for the reports and data quality. Names and places, and
        whether a chair, a term and an e-mail are given; like org_index, not exposed by the
        gateway."""
        with self.db.reading() as s:
            return pack_columns(tree.AS_OF_COLUMNS, tree.as_of(
                s, None if day is None else parse_day(day, "day")))

    @rpc
    def health(self) -> dict[str, str]:
        with self.db.reading() as s:
            s.execute(text("SELECT 1"))
        return {"database": "ok"}

    # ---- reads of passports (chairs and staff are personal data: audited) ----

    def _audited_read(self, org_id: Any, action: str, read) -> Any:
        """A read of one passport, checked against the caller's scope and written to the audit
        log in the same transaction."""
        with self.db.transaction() as s:
            access.require_visible(s, self.caller, _id(org_id))
            result = read(s, _id(org_id))
            audit.record(s, SCHEMA, self.caller, action, ORG, org_id)
        return result

    @rpc
    def get_organization(self, org_id: int) -> dict[str, Any]:
        return self._audited_read(org_id, "read_passport", tree.get)

    @rpc
    def passport_as_of(self, org_id: int, day: str) -> dict[str, Any]:
        as_of = _day(day, "as_of")
        return self._audited_read(org_id, "read_passport_as_of",
                                  lambda s, oid: tree.passport_as_of(s, oid, as_of))

    @rpc
    def history(self, org_id: int) -> list[dict[str, Any]]:
        return self._audited_read(org_id, "read_history", tree.history)

    @rpc
    def mailing_orgs(self, roots: list[int] | None = None, levels: list[str] | None = None,
                     edu_types: list[str] | None = None) -> str:
        """Organizations of a mailing's audience with their chairs' addresses and consents
        (services only), as packed columns (audience.COLUMNS)."""
        access.require_global(self.caller, "Адресаты рассылки")
        wanted = audience.spec(roots, levels, edu_types)
        with self.db.transaction() as s:
            rows = audience.orgs(s, wanted)
            audit.record(s, SCHEMA, self.caller, "read_chairs", ORG,
                         f"mailing: {len(rows)} orgs")
        return pack_columns(audience.COLUMNS, rows)

    @rpc
    def chairs(self, org_ids: list[int]) -> list[dict[str, Any]]:
        """Chairs of many organizations at once (single sign-on provisions their accounts; a
        region's staff see those who have not reported): of those in the caller's subtrees
        only, the others left out as if they had no chair."""
        roots = self.caller.scope_roots
        if roots is not None and not roots:
            raise Forbidden("no_registry_access", "Нет доступа к реестру организаций")
        with self.db.transaction() as s:
            rows = s.execute(text("""
                SELECT o.id AS org_id, o.level, o.region_id, o.name, o.registry_number, o.chair
                FROM registry.organization o
                WHERE o.id = ANY(:ids) AND o.excluded_on IS NULL AND o.chair IS NOT NULL
                  AND (CAST(:roots AS bigint[]) IS NULL OR EXISTS (
                      SELECT 1 FROM registry.organization r
                      WHERE r.id = ANY(CAST(:roots AS bigint[])) AND o.path <@ r.path))
            """), {"ids": [_id(i) for i in org_ids],
                   "roots": None if roots is None else list(roots)}).mappings().all()
            audit.record(s, SCHEMA, self.caller, "read_chairs", ORG, f"{len(rows)} orgs")
        return [dict(r) for r in rows]

    @rpc
    def chairs_within(self, org_id: int) -> list[dict[str, Any]]:
        """The chairs of an organization and of everything beneath it that the caller may see
        (a region's staff their region; a chair their organization and its subdivisions), for
        the account states; audited as a read of the chairs."""
        with self.db.transaction() as s:
            access.require_visible(s, self.caller, _id(org_id))
            rows = s.execute(text("""
                SELECT o.id AS org_id, o.level, o.region_id, o.name, o.registry_number,
                       o.chair
                FROM registry.organization o
                JOIN registry.organization r ON r.id = :id AND o.path <@ r.path
                WHERE o.excluded_on IS NULL AND o.chair IS NOT NULL
                ORDER BY o.name LIMIT :n
            """), {"id": _id(org_id), "n": CHAIRS_WITHIN_LIMIT}).mappings().all()
            audit.record(s, SCHEMA, self.caller, "read_chairs", ORG,
                         f"within {org_id}: {len(rows)} orgs")
        return [dict(r) for r in rows]

    # ---- changes ----

    @rpc
    def create_organization(self, data: dict[str, Any]) -> dict[str, Any]:
        data = dict(data)
        with self.db.transaction() as s:
            parent_id = data.get("parent_id")
            if parent_id is None:
                access.require_global(self.caller, "Центральный Совет")
            else:
                access.require_visible(s, self.caller, _id(parent_id, "parent_id"))
            result = changes.create(s, self.caller.user, data)
            audit.record(s, SCHEMA, self.caller, "create", ORG, result["id"])
        self.relay.try_flush()
        return result

    @rpc
    def update_passport(self, org_id: int, patch: dict[str, Any]) -> dict[str, Any]:
        with self.db.transaction() as s:
            access.require_visible(s, self.caller, _id(org_id))
            result = changes.update(s, self.caller.user, _id(org_id), dict(patch))
            audit.record(s, SCHEMA, self.caller, "update_passport", ORG, org_id)
        self.relay.try_flush()
        return result

    @rpc
    def move_organization(self, org_id: int, parent_id: int) -> dict[str, Any]:
        with self.db.transaction() as s:
            access.require_visible(s, self.caller, _id(org_id), strictly_below=True)
            access.require_visible(s, self.caller, _id(parent_id, "parent_id"))
            result = changes.move(s, self.caller.user, _id(org_id), _id(parent_id, "parent_id"))
            audit.record(s, SCHEMA, self.caller, "move", ORG, org_id)
        self.relay.try_flush()
        return result

    @rpc
    def exclude_organization(self, org_id: int, excluded_on: str, reason: str,
                             into_id: int | None = None) -> dict[str, Any]:
        with self.db.reading() as s:
            access.require_visible(s, self.caller, _id(org_id), strictly_below=True)
        try:  # membership keeps the members: an organization with members is not excluded
            members = int(self.membership.member_counts([_id(org_id)]).get(str(org_id), 0))
        except UnknownService:
            raise Unavailable("membership_unavailable", "Учёт членов Профсоюза недоступен: "
                              "исключение невозможно проверить, повторите позже") from None
        with self.db.transaction() as s:
            access.require_visible(s, self.caller, _id(org_id), strictly_below=True)
            if into_id is not None:
                access.require_visible(s, self.caller, _id(into_id, "into_id"))
            result = changes.exclude(s, self.caller.user, _id(org_id),
                                     _day(excluded_on, "excluded_on"), reason,
                                     None if into_id is None else _id(into_id, "into_id"),
                                     members_registered=members)
            audit.record(s, SCHEMA, self.caller, "exclude", ORG, org_id)
        self.relay.try_flush()
        return result

    @rpc
    def import_template(self) -> dict[str, Any]:
        """The organizations file to fill in (XLSX), for those who may load one."""
        access.tree_loader_roots(self.caller)
        return {"content_b64": base64.b64encode(file_format.template_xlsx()).decode()}

    @rpc
    def import_organizations(self, content_b64: str, filename: str,
                             load_good_rows: bool = False) -> dict[str, Any]:
        roots = access.tree_loader_roots(self.caller)
        try:
            content = base64.b64decode(content_b64, validate=True)
        except (binascii.Error, ValueError, TypeError):
            raise ValidationFailed("file_format", "Файл передан повреждённым") from None
        started = time.perf_counter()
        result = self.loads(content, {
            "filename": filename, "actor": self.caller.user,
            "load_good_rows": bool(load_good_rows), "scope_roots": roots})
        worker_s = time.perf_counter() - started
        if result["rows_loaded"]:
            with self.db.transaction() as s:
                audit.record(s, SCHEMA, self.caller, "import", "import_run", result["import_id"])
        if result["rows_loaded"] >= load_indexes.BIG_LOAD:  # after the answer, not before it
            eventlet.spawn_n(self._analyze_tree)
        log.info("import of %s: %s loaded, %s rejected (%.1f s in the worker)", filename,
                 result["rows_loaded"], result["rows_rejected"], worker_s)
        self.relay.try_flush()
        return result

    # ---- background ----

    def _analyze_tree(self) -> None:
        try:
            with self.db.transaction() as s:
                load_indexes.analyze(s)
        except Exception:  # autovacuum gathers them a little later
            log.warning("statistics after a big load not gathered", exc_info=True)

    @timer(interval=settings().outbox_interval_s)
    def publish_outbox(self) -> None:
        self.relay.try_flush()
