"""Membership's read model of the registry's tree, and the caller's scope over it.

Membership never reads the registry's tables: it keeps the few columns it needs (path, level,
region, names, whether excluded) in `membership.org`, refreshed from the registry's rows whenever
a registry event names an organization, and in full after a bulk load or on a timer. A refresh
copies the registry's current state, so events may arrive twice or out of order.
"""

from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.common.caller import Caller, within_scope
from services.common.errors import Forbidden, NotFound
from services.common.identifiers import registry_key

Fetch = Callable[..., list[dict[str, Any]]]  # registry.org_index(within=, ids=, after_id=, limit=)
REGISTRATION_LEVELS = ("primary", "subdivision")
PAGE = 20_000


def upsert(session: Session, rows: list[dict[str, Any]]) -> int:
    if not rows:
        return 0
    session.execute(text("""
        INSERT INTO membership.org (id, parent_id, path, level, region_id, registry_number, name,
                                    education_name, education_inn, excluded_on, synced_at)
        SELECT r.id, r.parent_id, text2ltree(r.path), r.level, r.region_id, r.registry_number,
               r.name, r.education_name, r.education_inn, r.excluded_on, now()
        FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(
            id bigint, parent_id bigint, path text, level text, region_id bigint,
            registry_number text, name text, education_name text, education_inn text,
            excluded_on date)
        ON CONFLICT (id) DO UPDATE SET parent_id = EXCLUDED.parent_id, path = EXCLUDED.path,
            level = EXCLUDED.level, region_id = EXCLUDED.region_id,
            registry_number = EXCLUDED.registry_number, name = EXCLUDED.name,
            education_name = EXCLUDED.education_name, education_inn = EXCLUDED.education_inn,
            excluded_on = EXCLUDED.excluded_on, synced_at = now()
    """), {"rows": _json(rows)})
    return len(rows)


def members_follow(session: Session, root_id: int) -> int:
    """After a subtree moved (perhaps to another region), its members' region follows: the
    per-region search index keys on it."""
    return session.execute(text("""
        UPDATE membership.member m SET region_id = o.region_id
        FROM membership.org o, membership.org r
        WHERE r.id = :root AND o.path <@ r.path AND m.org_id = o.id
          AND m.region_id IS DISTINCT FROM o.region_id
    """), {"root": root_id}).rowcount


def _json(rows: list[dict[str, Any]]) -> str:
    import orjson

    return orjson.dumps(rows).decode()


def refresh(session: Session, fetch: Fetch, within: int | None = None,
            ids: Iterable[int] | None = None) -> int:
    """Copy the registry's current rows (all, a subtree, or the ones named) into the model."""
    id_list = None if ids is None else sorted(set(ids))
    done, after = 0, 0
    while True:
        rows = fetch(within=within, ids=id_list, after_id=after, limit=PAGE)
        done += upsert(session, rows)
        if len(rows) < PAGE:
            return done
        after = rows[-1]["id"]


def get(session: Session, org_id: int) -> dict[str, Any] | None:
    row = session.execute(text("""
        SELECT id, parent_id, ltree2text(path) AS path, level, region_id, registry_number, name,
               education_name, education_inn, excluded_on
        FROM membership.org WHERE id = :id
    """), {"id": org_id}).mappings().first()
    return dict(row) if row else None


def org_not_found(org_id: Any) -> NotFound:
    return NotFound("org_not_found", f"Организация {org_id} не найдена в реестре")


def _roots(session: Session, caller: Caller) -> list[tuple[str, int | None]] | None:
    """(path, region) of each organization the caller acts for; None is everywhere."""
    roots = caller.scope_roots
    if roots is None:
        return None
    if not roots:
        raise Forbidden("no_members_access", "Нет доступа к учёту членов Профсоюза")
    return [tuple(r) for r in session.execute(text(
        "SELECT ltree2text(path), region_id FROM membership.org WHERE id = ANY(:ids)"),
        {"ids": list(roots)})]


def scope_paths(session: Session, caller: Caller) -> list[str] | None:
    """The paths of the subtrees the caller acts in; None is everywhere."""
    roots = _roots(session, caller)
    return None if roots is None else [path for path, _ in roots]


def list_scope(session: Session, caller: Caller) -> tuple[list[str] | None, int | None]:
    """The caller's subtrees, and their region when they all lie in one (lists search by
    region first)."""
    roots = _roots(session, caller)
    if roots is None:
        return None, None
    regions = {region for _, region in roots}
    return [path for path, _ in roots], regions.pop() if len(regions) == 1 else None


def visible(session: Session, caller: Caller, org_id: int) -> dict[str, Any]:
    """The organization, if the caller may act in it; else the same error as a missing one."""
    org = get(session, org_id)
    if org is None or not within_scope(org["path"], scope_paths(session, caller)):
        raise org_not_found(org_id)
    return org


def require_within(session: Session, caller: Caller, org_ids: list[int]) -> None:
    """All of `org_ids` in the caller's subtrees (checked in one query), or the error of a
    missing organization for the first that is not."""
    paths = scope_paths(session, caller)
    if paths is None:
        return
    outside = session.execute(text("""
        SELECT i FROM unnest(CAST(:ids AS bigint[])) AS i
        WHERE NOT EXISTS (SELECT 1 FROM membership.org o
                          WHERE o.id = i AND o.path <@ CAST(:paths AS ltree[]))
        LIMIT 1
    """), {"ids": org_ids, "paths": paths}).scalar()
    if outside is not None:
        raise org_not_found(outside)


def by_number(session: Session) -> dict[str, tuple[int, str, str, int | None, bool]]:
    """registry number (as registry_key gives it) -> (id, path, level, region, excluded),
    for files naming organizations."""
    rows = session.execute(text(
        "SELECT registry_number, id, ltree2text(path), level, region_id, excluded_on IS NOT NULL "
        "FROM membership.org"))
    # keyed as files are matched: case and Latin look-alikes ignored (identifiers.registry_key)
    return {registry_key(r[0]): (r[1], r[2], r[3], r[4], r[5]) for r in rows}
