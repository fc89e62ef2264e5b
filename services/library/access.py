"""Who reads and who publishes what.

A reader sees a material when it is for one of their audiences (a role gives them: a chair is
among chairs, activists and members), for their region (or federal) and for the level of their
organization (or every level). Regional staff see everything of their region, the Central
Council and the platform's operators everything. Only the Central Council (anywhere) and
regional staff (within their region's subtree) publish.

The viewer's organizations come from the registry (`org_index`: places, no personal data) and,
for a member, their organization from membership; both are remembered a minute per caller.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from services.common.caller import Caller
from services.common.errors import Forbidden, ValidationFailed, field_error
from services.common.roles import AIS_RESPONSIBLE, CHAIR, MEMBER, REGIONAL_STAFF
from services.library.contract import AUDIENCES, LEVELS

ROLE_AUDIENCES: dict[str, frozenset[str]] = {
    REGIONAL_STAFF: frozenset({"staff", "activists", "legal_inspectors", "chairs", "members"}),
    AIS_RESPONSIBLE: frozenset({"staff", "activists", "members"}),
    CHAIR: frozenset({"chairs", "activists", "members"}),
    MEMBER: frozenset({"members"}),
}


@dataclass(frozen=True)
class Viewer:
    everything: bool = False
    audiences: frozenset[str] = frozenset()
    regions: frozenset[int] = frozenset()
    levels: frozenset[str] = frozenset()
    staff_regions: frozenset[int] = frozenset()  # regions whose materials they see all of
    region_id: int | None = None  # for the usage figures
    level: str = ""
    role: str = ""
    orgs: tuple[dict[str, Any], ...] = field(default_factory=tuple)

    def sql(self, alias: str = "m") -> tuple[str, dict[str, Any]]:
        """The materials this viewer may read, as a condition with its parameters."""
        if self.everything:
            return "TRUE", {}
        return (f"""(({alias}.region_id IS NULL OR {alias}.region_id = ANY(:v_regions))
                    AND {alias}.audiences && CAST(:v_audiences AS text[])
                    AND (cardinality({alias}.levels) = 0
                         OR {alias}.levels && CAST(:v_levels AS text[]))
                    AND {alias}.status = 'published'
                    OR {alias}.region_id = ANY(:v_staff))""",
                {"v_regions": sorted(self.regions), "v_audiences": sorted(self.audiences),
                 "v_levels": sorted(self.levels), "v_staff": sorted(self.staff_regions)})

    def may_read(self, material: dict[str, Any]) -> bool:
        if self.everything or material["region_id"] in self.staff_regions:
            return True
        return (material["status"] == "published"
                and (material["region_id"] is None or material["region_id"] in self.regions)
                and bool(self.audiences.intersection(material["audiences"]))
                and (not material["levels"] or bool(self.levels.intersection(
                    material["levels"]))))


OrgLookup = Callable[[list[int]], list[dict[str, Any]]]
_cache: dict[tuple[Any, ...], tuple[float, Viewer]] = {}


def viewer(caller: Caller, orgs_of: OrgLookup, member_org: Callable[[], int | None],
           ttl_s: float) -> Viewer:
    key = (caller.user, caller.roles, caller.org_ids, caller.service)
    hit = _cache.get(key)
    if hit and time.monotonic() - hit[0] < ttl_s:
        return hit[1]
    found = _build(caller, orgs_of, member_org)
    if len(_cache) > 10_000:
        _cache.clear()
    _cache[key] = (time.monotonic(), found)
    return found


def _build(caller: Caller, orgs_of: OrgLookup, member_org: Callable[[], int | None]) -> Viewer:
    role = next((r for r in caller.roles), "")
    if caller.is_global:
        return Viewer(everything=True, level="central", role=role or "system")
    audiences: set[str] = set()
    for r in caller.roles:
        audiences |= ROLE_AUDIENCES.get(r, frozenset())
    ids = list(caller.org_ids) if caller.scope_roots else []
    if not ids and MEMBER in caller.roles:
        org_id = member_org()
        ids = [org_id] if org_id else []
    orgs = tuple(orgs_of(ids)) if ids else ()
    regions = {int(o["region_id"]) for o in orgs if o.get("region_id")}
    staff = regions if REGIONAL_STAFF in caller.roles else set()
    first = orgs[0] if orgs else {}
    return Viewer(audiences=frozenset(audiences), regions=frozenset(regions),
                  levels=frozenset(str(o["level"]) for o in orgs),
                  staff_regions=frozenset(staff), region_id=first.get("region_id"),
                  level=str(first.get("level") or ("member" if MEMBER in caller.roles else "")),
                  role=role, orgs=orgs)


def require_publisher(caller: Caller) -> None:
    if not (caller.is_global or REGIONAL_STAFF in caller.roles):
        raise Forbidden("library_publish_forbidden", "Публикуют материалы аппарат "
                        "Центрального Совета и аппараты региональных организаций")


def publisher_place(caller: Caller, org: dict[str, Any]) -> None:
    """A regional staff member publishes in the name of an organization of their subtree."""
    if caller.is_global:
        return
    path = str(org["path"]).split(".")
    if not any(str(root) in path for root in caller.org_ids):
        raise Forbidden("library_publisher_outside", "Публиковать можно только от имени "
                        "своей организации или входящих в неё")


def check_audience(caller: Caller, viewer_: Viewer, data: dict[str, Any],
                   publisher: dict[str, Any]) -> tuple[list[str], list[str], int | None]:
    """(audiences, levels, region) of a material, or a refusal: unknown names, or a region or a
    level the publisher may not publish to (regional staff: their region, never federal)."""
    audiences = data.get("audiences")
    levels = data.get("levels") or []
    errors = []
    if (not isinstance(audiences, list) or not audiences
            or any(a not in AUDIENCES for a in audiences)):
        errors.append(field_error("audiences", "audiences_invalid",
                                  "Укажите, для кого материал: " + ", ".join(AUDIENCES)))
    if not isinstance(levels, list) or any(x not in LEVELS for x in levels):
        errors.append(field_error("levels", "levels_invalid",
                                  "Уровни организаций: " + ", ".join(LEVELS)))
    if errors:
        raise ValidationFailed(details=errors)
    region = data.get("region_id", publisher.get("region_id"))
    if region is not None:
        try:
            region = int(region)
        except (TypeError, ValueError):
            raise ValidationFailed(details=[field_error(
                "region_id", "id_format", "Регион — номер региональной организации")]) from None
    if not caller.is_global:
        if region is None or region not in viewer_.staff_regions:
            raise Forbidden("library_audience_forbidden",
                            "Аппарат региональной организации публикует материалы только для "
                            "своего региона, не для всего Профсоюза и не для другого региона",
                            [field_error("region_id", "audience_forbidden",
                                         "Выберите свой регион")])
        if "central" in levels:
            raise Forbidden("library_audience_forbidden",
                            "Материалы для Центрального Совета публикует ЦС",
                            [field_error("levels", "audience_forbidden",
                                         "Уберите уровень «Центральный Совет»")])
    return sorted(set(audiences)), sorted(set(levels)), region


def region_exists(orgs_of: OrgLookup, region: int | None) -> None:
    if region is None:
        return
    rows = orgs_of([region])
    if not rows or rows[0]["level"] != "regional":
        raise ValidationFailed(details=[field_error(
            "region_id", "region_unknown", "Такой региональной организации нет")])


def may_edit(caller: Caller, viewer_: Viewer, material: dict[str, Any]) -> None:
    require_publisher(caller)
    if caller.is_global or material["region_id"] in viewer_.staff_regions:
        return
    raise Forbidden("library_edit_forbidden",
                    "Менять материал может ЦС или аппарат региона, для которого он издан")


