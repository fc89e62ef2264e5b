"""Changing the registry: creating, editing, moving and excluding organizations.

Each function runs inside the caller's transaction, keeps the passport's history (a new version per
change, the previous one closed) and records its events in the outbox, so that the change, its
history and its events commit or fail together.
"""

import json
from datetime import UTC, date, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.common import outbox
from services.common.errors import Conflict, ValidationFailed, field_error
from services.common.validation import russian_errors
from services.registry import tree
from services.registry.errors import org_excluded, registry_number_taken
from services.registry.file_format import Level
from services.registry.hierarchy import (
    HierarchyError,
    Placement,
    check_kind,
    check_placement,
    check_rights_change,
)
from services.registry.passport import (
    EDITABLE_FIELDS,
    EXCLUSION_REASONS,
    Passport,
    passport_values,
)

SCHEMA = "registry"


def _now() -> datetime:
    return datetime.now(UTC)


def check_passport(data: dict[str, Any]) -> Passport:
    try:
        passport = Passport.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed(details=russian_errors(exc)) from None
    try:
        passport.kind = check_kind(passport.level, passport.kind)
    except HierarchyError as exc:
        raise ValidationFailed(details=[field_error("kind", exc.code, exc.message)]) from None
    return passport


def placement(org: dict[str, Any]) -> Placement:
    return Placement(Level(org["level"]), org["territorial_rights"], org["excluded_on"] is not None)


def _hierarchy_error(exc: HierarchyError) -> ValidationFailed:
    return ValidationFailed(exc.code, exc.message)


def record_versions(session: Session, ids: list[int], change_kind: str, actor: str,
                    valid_from: datetime | None = None, from_inclusion: bool = False) -> None:
    """Close the open version of each passport and open one holding the row as it is now.

    Set-based, so a moved subtree costs one statement (a bulk load writes its first versions
    with COPY instead, see bulk_load). The snapshot is the row itself (less the path and
    bookkeeping); the diff is taken against the version being closed.
    `from_inclusion` dates a new organization's first version from its inclusion in the registry,
    so that reports as of an earlier date see it.
    """
    session.execute(text("""
        WITH closed AS (
            UPDATE registry.organization_version v SET valid_to = GREATEST(:at, v.valid_from)
            WHERE v.org_id = ANY(:ids) AND v.valid_to IS NULL
            RETURNING v.org_id, v.passport, v.valid_to
        ), state AS (
            SELECT o.id, o.version, o.included_on,
                   to_jsonb(o) - 'path' - 'version' - 'updated_at' - 'updated_by' AS passport
            FROM registry.organization o WHERE o.id = ANY(:ids)
        )
        INSERT INTO registry.organization_version
            (org_id, version, valid_from, passport, change_kind, diff, changed_by)
        SELECT s.id, s.version,
               COALESCE(c.valid_to, CASE WHEN :from_inclusion AND s.included_on IS NOT NULL
                   THEN LEAST(:at, s.included_on::timestamp AT TIME ZONE 'UTC') ELSE :at END),
               s.passport, :kind,
               COALESCE((SELECT jsonb_object_agg(e.key, jsonb_build_array(c.passport -> e.key,
                                                                          e.value))
                         FROM jsonb_each(s.passport) e
                         WHERE c.passport -> e.key IS DISTINCT FROM e.value), '{}'),
               :actor
        FROM state s LEFT JOIN closed c ON c.org_id = s.id
    """), {"ids": ids, "at": valid_from or _now(), "kind": change_kind, "actor": actor,
           "from_inclusion": from_inclusion})


def create(session: Session, actor: str, data: dict[str, Any]) -> dict[str, Any]:
    parent_id = data.pop("parent_id", None)
    passport = check_passport(data)
    parent = tree.fetch(session, int(parent_id), lock=True) if parent_id is not None else None
    try:
        check_placement(passport.level, placement(parent) if parent else None)
    except HierarchyError as exc:
        raise _hierarchy_error(exc) from None
    org_id = session.execute(text("SELECT nextval('registry.organization_id_seq')")).scalar_one()
    values = passport_values(passport)
    row = {
        **values, "id": org_id, "parent_id": parent and parent["id"],
        "level": passport.level.value,
        "path": f"{parent['path']}.{org_id}" if parent else str(org_id),
        "region_id": org_id if passport.level is Level.REGIONAL else parent and parent["region_id"],
    }
    try:
        with session.begin_nested():
            session.execute(text("""
                INSERT INTO registry.organization
                    (id, parent_id, path, level, kind, registry_number, name, region_id,
                     region_code, territorial_rights, legal_entity, ogrn, inn, included_on,
                     chair, education, staff, updated_by)
                VALUES (:id, :parent_id, text2ltree(:path), :level, :kind, :registry_number,
                        :name, :region_id, :region_code, :territorial_rights, :legal_entity,
                        :ogrn, :inn, :included_on, CAST(:chair AS jsonb),
                        CAST(:education AS jsonb), CAST(:staff AS jsonb), :actor)
            """), {**row, **_json_sections(values), "actor": actor})
    except IntegrityError as exc:
        raise _integrity(exc, passport.registry_number) from None
    record_versions(session, [org_id], "created", actor, from_inclusion=True)
    outbox.add_event(session, SCHEMA, "org_created", {
        "org_id": org_id, "parent_id": row["parent_id"], "level": row["level"],
        "region_id": row["region_id"], "name": row["name"]})
    # a chair or staff named at inclusion are namings like a passport's edit (single sign-on
    # applies the same rule: services.sso.naming)
    if values.get("chair"):
        outbox.add_event(session, SCHEMA, "chair_changed", {
            "org_id": org_id, "old": None, "new": values["chair"]})
    if values.get("staff"):
        outbox.add_event(session, SCHEMA, "staff_changed", {
            "org_id": org_id, "level": row["level"], "old": [], "new": values["staff"]})
    return tree.get(session, org_id)


def _json_sections(values: dict[str, Any]) -> dict[str, str | None]:
    return {k: None if values.get(k) is None else json.dumps(values[k])
            for k in ("chair", "education", "staff")}


def _integrity(exc: IntegrityError, registry_number: str) -> Conflict:
    if "registry_number" in str(exc.orig):
        return registry_number_taken(registry_number)
    if "organization_one_central" in str(exc.orig):
        return Conflict("central_exists", "Центральный Совет в реестре уже есть")
    raise exc


def update(session: Session, actor: str, org_id: int, patch: dict[str, Any]) -> dict[str, Any]:
    """Edit passport fields; the result is checked as a whole passport."""
    unknown = sorted(set(patch) - set(EDITABLE_FIELDS))
    if unknown:
        raise ValidationFailed(details=[
            field_error(name, "field_not_editable",
                        "Это поле нельзя изменить правкой паспорта") for name in unknown])
    current = tree.fetch(session, org_id, lock=True)
    if current["excluded_on"]:
        raise org_excluded(current["name"])
    merged = {name: current[name] for name in EDITABLE_FIELDS} | patch | {"level": current["level"]}
    passport = check_passport(merged)
    has_primary_children = session.execute(text("""
        SELECT EXISTS (SELECT 1 FROM registry.organization
                       WHERE parent_id = :id AND level = 'primary' AND excluded_on IS NULL)
    """), {"id": org_id}).scalar_one()
    try:
        check_rights_change(Level(current["level"]), passport.territorial_rights,
                            has_primary_children)
    except HierarchyError as exc:
        raise _hierarchy_error(exc) from None
    values = passport_values(passport)
    new = {**current, **values, "version": current["version"] + 1}
    changed = sorted(k for k, v in values.items() if current[k] != v)
    if not changed:
        return tree.get(session, org_id)
    try:
        with session.begin_nested():
            session.execute(text("""
                UPDATE registry.organization SET
                    kind = :kind, registry_number = :registry_number, name = :name,
                    region_code = :region_code, territorial_rights = :territorial_rights,
                    legal_entity = :legal_entity, ogrn = :ogrn, inn = :inn,
                    included_on = :included_on, chair = CAST(:chair AS jsonb),
                    education = CAST(:education AS jsonb), staff = CAST(:staff AS jsonb),
                    version = :version, updated_at = now(), updated_by = :actor
                WHERE id = :id
            """), {**new, **_json_sections(values), "actor": actor})
    except IntegrityError as exc:
        raise _integrity(exc, passport.registry_number) from None
    record_versions(session, [org_id], "updated", actor)
    outbox.add_event(session, SCHEMA, "org_updated", {"org_id": org_id, "fields": changed})
    if "chair" in changed:
        outbox.add_event(session, SCHEMA, "chair_changed", {
            "org_id": org_id, "old": current["chair"], "new": values["chair"]})
    if "staff" in changed:
        outbox.add_event(session, SCHEMA, "staff_changed", {
            "org_id": org_id, "level": current["level"], "old": current["staff"],
            "new": values["staff"]})
    return tree.get(session, org_id)


def move(session: Session, actor: str, org_id: int, new_parent_id: int,
         change_kind: str = "moved") -> dict[str, Any]:
    """Put an organization (with everything beneath it) under another parent."""
    org = tree.fetch(session, org_id, lock=True)
    if org["excluded_on"]:
        raise org_excluded(org["name"])
    parent = tree.fetch(session, new_parent_id, lock=True)
    if parent["path"] == org["path"] or parent["path"].startswith(org["path"] + "."):
        raise ValidationFailed("tree_cycle",
                               "Нельзя переместить организацию внутрь её собственной структуры")
    try:
        check_placement(Level(org["level"]), placement(parent))
    except HierarchyError as exc:
        raise _hierarchy_error(exc) from None
    if org["parent_id"] == parent["id"]:
        return tree.get(session, org_id)
    old_prefix = org["path"].rsplit(".", 1)[0]
    region_id = org["id"] if org["level"] == Level.REGIONAL else parent["region_id"]
    # the whole subtree moves in one statement; its members keep their own relative paths
    moved = session.execute(text("""
        UPDATE registry.organization SET
            path = text2ltree(:new_prefix) || subpath(path, nlevel(text2ltree(:old_prefix))),
            region_id = CASE WHEN level = 'regional' THEN id ELSE :region_id END,
            parent_id = CASE WHEN id = :id THEN :parent_id ELSE parent_id END,
            version = version + 1, updated_at = now(), updated_by = :actor
        WHERE path <@ text2ltree(:path)
        RETURNING id
    """), {"new_prefix": parent["path"], "old_prefix": old_prefix, "region_id": region_id,
           "id": org_id, "parent_id": parent["id"], "path": org["path"], "actor": actor}).all()
    record_versions(session, [org_id], change_kind, actor)
    record_versions(session, [r.id for r in moved if r.id != org_id], "moved_with_parent", actor)
    outbox.add_event(session, SCHEMA, "org_moved", {
        "org_id": org_id, "old_parent_id": org["parent_id"], "new_parent_id": parent["id"],
        "region_id": region_id, "subtree_size": len(moved)})
    return tree.get(session, org_id)


def exclude(session: Session, actor: str, org_id: int, on: date, reason: str,
            into_id: int | None = None, members_registered: int = 0) -> dict[str, Any]:
    """Exclude from the registry: liquidation, or reorganization that moves the children along.

    One transaction: either the children are moved and the organization is excluded, or nothing.
    `members_registered` (membership's count) must be zero: members are transferred or removed
    first, so that nobody is left on the register of an organization that no longer exists.
    """
    org = tree.fetch(session, org_id, lock=True)
    if org["excluded_on"]:
        raise org_excluded(org["name"])
    if members_registered:
        raise Conflict("org_has_members",
                       f"В организации «{org['name']}» на учёте состоят {members_registered} "
                       "членов Профсоюза: переведите их в другие организации или снимите с "
                       "учёта, затем исключайте", {"org_id": org_id,
                                                   "members": members_registered})
    if reason not in EXCLUSION_REASONS:
        raise ValidationFailed(details=[field_error(
            "reason", "reason_unknown", "Причина исключения: ликвидация или реорганизация")])
    if on > date.today():
        raise ValidationFailed(details=[field_error(
            "excluded_on", "date_in_future", "Дата исключения не может быть в будущем")])
    if org["included_on"] and on < org["included_on"]:
        raise ValidationFailed(details=[field_error(
            "excluded_on", "date_before_inclusion",
            "Дата исключения раньше даты включения в реестр")])
    if org["level"] == Level.CENTRAL:
        raise ValidationFailed("central_not_excludable", "Центральный Совет исключить нельзя")
    active_children = tree.children(session, org_id)
    if reason == "liquidated":
        if into_id is not None:
            raise ValidationFailed(details=[field_error(
                "into_id", "into_not_for_liquidation",
                "При ликвидации организация-правопреемник не указывается")])
        if active_children:
            raise Conflict(
                "org_has_children",
                f"В организацию входят действующие организации ({len(active_children)}): "
                "переведите их в другую или выберите реорганизацию",
                {"children": [{"id": c["id"], "name": c["name"]} for c in active_children[:20]]})
    else:
        if into_id is None:
            raise ValidationFailed(details=[field_error(
                "into_id", "into_required", "Укажите организацию, в которую реорганизована эта")])
        target = tree.fetch(session, into_id, lock=True)
        if target["excluded_on"]:
            raise ValidationFailed("into_excluded",
                                   "Организация-правопреемник исключена из реестра")
        if target["path"] == org["path"] or target["path"].startswith(org["path"] + "."):
            raise ValidationFailed("tree_cycle",
                                   "Правопреемник не может входить в реорганизуемую организацию")
        for child in active_children:
            move(session, actor, child["id"], into_id, change_kind="moved_on_reorganization")
    new = {**org, "excluded_on": on, "exclusion_reason": reason, "reorganized_into_id": into_id,
           "version": org["version"] + 1}
    session.execute(text("""
        UPDATE registry.organization SET excluded_on = :excluded_on,
            exclusion_reason = :exclusion_reason, reorganized_into_id = :reorganized_into_id,
            version = :version, updated_at = now(), updated_by = :actor
        WHERE id = :id
    """), {**new, "actor": actor})
    # dated by the exclusion itself (often recorded late), but never before the open version
    record_versions(session, [org_id], "excluded", actor, valid_from=tree.start_of(on))
    outbox.add_event(session, SCHEMA, "org_excluded", {
        "org_id": org_id, "excluded_on": on.isoformat(), "reason": reason, "into_id": into_id,
        "moved_children": [c["id"] for c in active_children] if reason == "reorganized" else []})
    return tree.get(session, org_id)
