"""The library service: reference materials (нормативно-справочная информация), their editions
and files, search in Russian, publishing history and usage.

Files never pass through RabbitMQ: the gateway asks for a slot and PUTs the upload to the private
bucket by a presigned link made for it, then asks for the edition to be made of it; to read, it
asks for a link made for that one request, after the check of the reader here, and streams the
bytes through (services.library.storage).
"""

import logging
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

from nameko.extensions import DependencyProvider
from nameko.rpc import RpcProxy
from sqlalchemy import text

from services.common import audit
from services.common.caller import Caller, CallerProvider
from services.common.db import Database
from services.common.errors import DomainError, Forbidden, NotFound, ValidationFailed, field_error
from services.common.observability import Observed
from services.common.operations import OperationsRpc
from services.common.params import parse_day, parse_id
from services.common.rpc import rpc
from services.library import access, editions, extract, files, materials, search, usage
from services.library.contract import AUDIENCES, KINDS, TEXT_STATES
from services.library.settings import library_settings
from services.library.storage import Bucket, StoreErrors, unavailable

log = logging.getLogger(__name__)
SCHEMA = "library"
MATERIAL = "library_material"


class LibraryBucket(DependencyProvider):
    """The bucket, made (private) when the service starts; a store away then is logged and the
    bucket made at the first upload."""

    def setup(self) -> None:
        self.bucket = Bucket()

    def start(self) -> None:
        try:
            self.bucket.ensure()
        except StoreErrors as exc:
            log.warning("library bucket not checked at start: %s", exc)

    def get_dependency(self, worker_ctx) -> Bucket:
        return self.bucket


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value.isoformat() if hasattr(value, "isoformat") else value


def _shown(m: dict[str, Any]) -> dict[str, Any]:
    return {**m, "kind_title": KINDS[m["kind"]],
            "audience_titles": [AUDIENCES[a] for a in m["audiences"]]}


class LibraryService(audit.AuditLogRpc, OperationsRpc):
    name = "library"

    db = Database()
    caller = CallerProvider()
    observed = Observed({
        "reestr_library_materials": ("Materials published in the library",
                                     "SELECT count(*) FROM library.material "
                                     "WHERE status = 'published'"),
        "reestr_library_text_failed": ("Editions whose text could not be extracted",
                                       "SELECT count(*) FROM library.edition "
                                       "WHERE text_status = 'failed'"),
        "reestr_library_uploads_open": (
            "Upload slots handed out an hour ago and never used (files left in the bucket?)",
            "SELECT count(*) FROM library.upload WHERE used_at IS NULL "
            "AND created_at < now() - interval '1 hour'")})
    bucket = LibraryBucket()
    registry = RpcProxy("registry")
    membership = RpcProxy("membership")
    events = RpcProxy("events")

    # ---- who is asking ----

    def _viewer(self) -> access.Viewer:
        caller: Caller = self.caller

        def member_org() -> int | None:
            try:
                return self.membership.my_card().get("org_id")
            except DomainError:  # an account without a record yet
                return None
        return access.viewer(caller, self._orgs, member_org,
                             library_settings().library_viewer_cache_s)

    def _orgs(self, ids: list[int]) -> list[dict[str, Any]]:
        return self.registry.org_index(ids=[int(i) for i in ids]) if ids else []

    def _event_link(self, data: dict[str, Any]) -> dict[str, Any]:
        """The event a material belongs to (a webinar's recording), as far as the caller sees
        it; `event_id` null unlinks it."""
        if "event_id" not in data:
            return {}
        if data["event_id"] in (None, ""):
            return {"event_id": None, "event_title": ""}
        try:
            event = self.events.get_event(parse_id(data["event_id"], "event_id"))
        except NotFound:
            raise ValidationFailed(details=[field_error(
                "event_id", "event_unknown", "Такого мероприятия нет")]) from None
        return {"event_id": event["id"], "event_title": event["title"]}

    def _readable(self, s: Any, material_id: int) -> tuple[dict[str, Any], access.Viewer]:
        material = materials.get(s, parse_id(material_id, "material_id"))
        viewer = self._viewer()
        if not viewer.may_read(material):
            # the same answer as for a material that does not exist: its existence is not told
            raise NotFound("material_not_found", "Такого материала в библиотеке нет")
        return material, viewer

    # ---- publishing ----

    @rpc
    def create_material(self, data: dict[str, Any]) -> dict[str, Any]:
        access.require_publisher(self.caller)
        if not isinstance(data, dict):
            raise ValidationFailed("body_object", "Передайте материал объектом")
        values = {**materials.fields(data), **self._event_link(data)}
        viewer = self._viewer()
        publisher_id = data.get("publisher_org_id") or (
            self.caller.org_ids[0] if self.caller.org_ids else None)
        if publisher_id is None and self.caller.is_global:
            # the Central Council's own: the root of the tree
            root = [o for o in self.registry.org_index(limit=1) if o["level"] == "central"]
            publisher_id = root[0]["id"] if root else None
        if publisher_id is None:
            raise ValidationFailed(details=[field_error(
                "publisher_org_id", "publisher_required", "Укажите организацию, которая издаёт "
                "материал")])
        found = self._orgs([parse_id(publisher_id, "publisher_org_id")])
        if not found:
            raise ValidationFailed(details=[field_error(
                "publisher_org_id", "publisher_unknown", "Такой организации нет")])
        publisher = found[0]
        access.publisher_place(self.caller, publisher)
        audiences, levels, region = access.check_audience(self.caller, viewer, data, publisher)
        access.region_exists(self._orgs, region)
        addition_to = data.get("addition_to")
        with self.db.transaction() as s:
            if addition_to is not None:
                parent = materials.get(s, parse_id(addition_to, "addition_to"))
                if parent["region_id"] is not None or region is None:
                    raise ValidationFailed(details=[field_error(
                        "addition_to", "addition_invalid", "Дополнение региона делают к "
                        "федеральному материалу, и оно само региональное")])
                addition_to = parent["id"]
            made = materials.create(s, self.caller.user, {
                **values, "publisher_org_id": publisher["id"],
                "publisher_name": publisher.get("name") or "", "region_id": region,
                "audiences": audiences, "levels": levels, "addition_to": addition_to})
            audit.record(s, SCHEMA, self.caller, "publish", MATERIAL, made["id"])
        return _jsonable(_shown(made))

    @rpc
    def update_material(self, material_id: int, patch: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(patch, dict):
            raise ValidationFailed("body_object", "Передайте изменения объектом")
        viewer = self._viewer()
        values = {**materials.fields({k: v for k, v in patch.items() if k != "kind"},
                                     partial=True), **self._event_link(patch)}
        with self.db.transaction() as s:
            material = materials.get(s, parse_id(material_id, "material_id"), lock=True)
            access.may_edit(self.caller, viewer, material)
            if "audiences" in patch or "levels" in patch or "region_id" in patch:
                audiences, levels, region = access.check_audience(
                    self.caller, viewer, {"audiences": material["audiences"],
                                          "levels": material["levels"],
                                          "region_id": material["region_id"], **patch}, {})
                access.region_exists(self._orgs, region)
                values.update(audiences=audiences, levels=levels, region_id=region)
            if material["kind"] == "link" and values.get("url", "x") is None:
                raise ValidationFailed(details=[field_error("url", "url_required",
                                                            "У ссылки должен быть адрес")])
            materials.update(s, material["id"], self.caller.user, values)
            audit.record(s, SCHEMA, self.caller, "edit", MATERIAL, material["id"])
            return _jsonable(_shown(materials.get(s, material["id"])))

    @rpc
    def retire_material(self, material_id: int, retired: bool = True) -> dict[str, Any]:
        """Снять с публикации (or publish again): readers no longer see it; its history and
        files stay."""
        viewer = self._viewer()
        with self.db.transaction() as s:
            material = materials.get(s, parse_id(material_id, "material_id"), lock=True)
            access.may_edit(self.caller, viewer, material)
            materials.set_status(s, material["id"], self.caller.user,
                                 "retired" if retired else "published")
            audit.record(s, SCHEMA, self.caller, "retire" if retired else "restore", MATERIAL,
                         material["id"])
            return _jsonable(_shown(materials.get(s, material["id"])))

    @rpc
    def upload_slot(self, material_id: int, size_bytes: int) -> dict[str, Any]:
        """Where the gateway PUTs the file of a new edition: a key of its own and a presigned
        link to it, short-lived; refused at once when the declared size is over the limit."""
        viewer = self._viewer()
        conf = library_settings()
        with self.db.transaction() as s:
            material = materials.get(s, parse_id(material_id, "material_id"))
            access.may_edit(self.caller, viewer, material)
            key = editions.open_slot(s, material, self.caller.user,
                                     parse_id(size_bytes, "size_bytes", "Размер"), conf)
        try:
            self.bucket.ensure()
            url = self.bucket.link_put(key)
        except StoreErrors:
            raise unavailable() from None
        return {"key": key, "url": url,
                "max_bytes": editions.limit_bytes(material["kind"], conf)}

    @rpc
    def add_edition(self, material_id: int, key: str, filename: str, effective_on: str,
                    supersedes_id: int | None = None, note: str = "") -> dict[str, Any]:
        """An edition of the file the gateway put at `key`: its size and type checked by content
        (a refused file is deleted), its text extracted (a broken file stays, its text marked
        not extracted), its date after the edition it supersedes."""
        viewer = self._viewer()
        conf = library_settings()
        material_id = parse_id(material_id, "material_id")
        filename = str(filename or "file")[:255]
        note = str(note or "")[:1000]
        refusal: DomainError | None = None
        with self.db.transaction() as s:
            material = materials.get(s, material_id)
            access.may_edit(self.caller, viewer, material)
            editions.slot(s, str(key), material_id, self.caller.user)
            try:
                if not effective_on:
                    raise ValidationFailed(details=[field_error(
                        "effective_on", "effective_on_required",
                        "Укажите дату, с которой действует редакция")])
                day = parse_day(effective_on, "effective_on")
                superseded = None if supersedes_id in (None, "") else parse_id(
                    supersedes_id, "supersedes_id")
                editions.check_dates(editions.of_material(s, material_id), day, superseded)
                size = self.bucket.size(key)
                if not size:
                    raise ValidationFailed("file_missing", "Файл не получен: загрузите его "
                                                           "ещё раз")
                if too_big := editions.too_big(material["kind"], size, conf):
                    raise too_big
                file_type, media_type = files.check_type(
                    material["kind"], self.bucket.head_bytes(key, files.SNIFF_BYTES), filename)
            except DomainError as exc:  # the file goes, the slot is spent, the refusal told
                refusal = exc
                self.bucket.delete(key)
                editions.close_slot(s, key)
            except StoreErrors:
                raise unavailable() from None
        if refusal is not None:
            raise refusal
        found = self._text(key, file_type, conf)
        with self.db.transaction() as s:
            material = materials.get(s, material_id, lock=True)
            existing = editions.of_material(s, material_id)
            # another edition may have come meanwhile: the date is checked again under the lock
            previous = editions.check_dates(existing, day, superseded)
            edition_id = editions.insert(s, material_id, self.caller.user, {
                "effective_on": day, "supersedes_id": previous, "note": note,
                "object_key": key, "filename": filename, "file_type": file_type,
                "media_type": media_type, "size_bytes": size, "text_status": found.status,
                "text_error": found.error, "pages": found.pages})
            editions.close_slot(s, key)
            newest = max(editions.of_material(s, material_id),
                         key=lambda e: (e["effective_on"], e["number"]))
            if newest["id"] == edition_id:
                s.execute(text("UPDATE library.material SET body = :b, updated_at = now() "
                               "WHERE id = :id"), {"b": found.text, "id": material_id})
                materials.refresh_search(s, material_id)
            materials.history(s, material_id, self.caller.user, "edition_added", {
                "edition_id": edition_id, "effective_on": day, "filename": filename,
                "size_bytes": size, "text_status": found.status})
            audit.record(s, SCHEMA, self.caller, "add_edition", MATERIAL, material_id)
            edition = editions.get(s, edition_id)
        edition.pop("object_key")
        return _jsonable({**edition, "text_status_title": TEXT_STATES[found.status]})

    def _text(self, key: str, file_type: str, conf: Any) -> extract.Extracted:
        if file_type not in extract.TEXT_TYPES:
            return extract.Extracted(extract.NONE)
        with tempfile.TemporaryDirectory(prefix="library-") as tmp:
            path = Path(tmp) / f"file.{file_type}"
            try:
                with path.open("wb") as out:
                    self.bucket.download(key, out)
            except StoreErrors:
                raise unavailable() from None
            return extract.extract_file(path, file_type, conf.library_text_chars,
                                        conf.library_extract_timeout_s,
                                        conf.library_extract_memory_mb)

    # ---- reading ----

    @rpc
    def search(self, q: str = "", kind: str | None = None, topic: str | None = None,
               audience: str | None = None, since: str | None = None,
               until: str | None = None, limit: int = 20, offset: int = 0,
               event_id: int | None = None) -> dict[str, Any]:
        """Materials the caller may read; `event_id`: those of one event (its recordings)."""
        if kind and kind not in KINDS:
            raise ValidationFailed(details=[field_error("kind", "kind_invalid",
                                                        "Вид материала: " + ", ".join(KINDS))])
        if audience and audience not in AUDIENCES:
            raise ValidationFailed(details=[field_error(
                "audience", "audience_invalid", "Для кого: " + ", ".join(AUDIENCES))])
        viewer = self._viewer()
        with self.db.reading() as s:
            found = search.search(
                s, viewer.sql(), str(q or "")[:500], kind, topic, audience,
                # a moment is taken for its day (the API's since/until are date-times elsewhere)
                parse_day(str(since)[:10], "since") if since else None,
                parse_day(str(until)[:10], "until") if until else None,
                max(1, min(int(limit), 100)), max(0, int(offset)),
                None if event_id is None else parse_id(event_id, "event_id"))
        found["items"] = [_shown(i) for i in found["items"]]
        return _jsonable(found)

    @rpc
    def get_material(self, material_id: int, on: str | None = None) -> dict[str, Any]:
        """A material with its editions (each marked current, superseded or coming), the
        edition in force on `on` (today by default), the regions' additions the reader may see;
        counted as a view."""
        day = parse_day(on, "on") if on else date.today()
        with self.db.transaction() as s:
            material, viewer = self._readable(s, material_id)
            marked = editions.marked(editions.of_material(s, material["id"]), date.today())
            on_day = editions.in_force(marked, day)
            adds = materials.additions(s, material["id"], *viewer.sql())
            usage.record(s, material["id"], None, "view", viewer)
            editable = self.caller.is_global or material["region_id"] in viewer.staff_regions
            out = {**_shown(material), "editions": marked,
                   "in_force": on_day and on_day["id"], "on": day,
                   "additions": [_shown(a) for a in adds], "editable": editable}
            if editable:
                out["usage"] = usage.of_material(s, material["id"])
        return _jsonable(out)

    @rpc
    def open_file(self, material_id: int, edition_id: int | None = None,
                  count: bool = True) -> dict[str, Any]:
        """A link to the file of an edition (the one in force today unless named), made for this
        one request and short-lived, after the check of the reader; only the gateway gets it
        and it streams the bytes. `count`: a download (a video's later Range requests are not
        counted again)."""
        with self.db.transaction() as s:
            material, viewer = self._readable(s, material_id)
            all_editions = editions.of_material(s, material["id"])
            if edition_id is not None:
                edition = next((e for e in all_editions
                                if e["id"] == parse_id(edition_id, "edition_id")), None)
            else:
                edition = editions.in_force(all_editions, date.today()) or (
                    all_editions[-1] if all_editions else None)
            if edition is None:
                raise NotFound("file_not_found", "У материала нет файла")
            if count:
                usage.record(s, material["id"], edition["id"], "download", viewer)
        try:
            url = self.bucket.link_get(edition["object_key"])
        except StoreErrors:
            raise unavailable() from None
        return {"url": url, "filename": edition["filename"],
                "media_type": edition["media_type"], "size_bytes": edition["size_bytes"]}

    @rpc
    def history(self, material_id: int) -> list[dict[str, Any]]:
        viewer = self._viewer()
        with self.db.reading() as s:
            material = materials.get(s, parse_id(material_id, "material_id"))
            access.may_edit(self.caller, viewer, material)
            return _jsonable(materials.history_of(s, material["id"]))

    @rpc
    def usage(self, region_id: int | None = None) -> dict[str, Any]:
        """Views and downloads: the Central Council's of all or one region, regional staff's of
        their region."""
        access.require_publisher(self.caller)
        viewer = self._viewer()
        region = None if region_id is None else parse_id(region_id, "region_id")
        if not self.caller.is_global:
            if region is None and len(viewer.staff_regions) == 1:
                region = next(iter(viewer.staff_regions))
            if region not in viewer.staff_regions:
                raise Forbidden("library_usage_forbidden",
                                       "Статистика доступна по своему региону")
        with self.db.reading() as s:
            return _jsonable(usage.figures(s, region))

    @rpc
    def health(self) -> dict[str, str]:
        with self.db.reading() as s:
            s.execute(text("SELECT 1"))
        return {"database": "ok"}
