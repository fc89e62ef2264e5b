"""Who may see and change which organizations: the caller's subtree, checked on every call.

An organization outside the caller's scope is reported exactly as a missing one, so that ids
cannot be probed. Rules: global roles everywhere; scoped roles (chair, regional staff, the
person responsible for the AIS) in the subtrees of their organizations; nobody else anywhere.
Moving or excluding an organization needs rights over its parent: a chair cannot take their
own organization out of the tree.
"""

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.common.caller import Caller
from services.common.errors import Forbidden
from services.common.roles import AIS_RESPONSIBLE, REGIONAL_STAFF
from services.registry.errors import org_not_found


def require_visible(session: Session, caller: Caller, org_id: int,
                    strictly_below: bool = False) -> None:
    roots = caller.scope_roots
    if roots is None:
        return
    inside = bool(roots) and session.execute(text("""
        SELECT EXISTS (
            SELECT 1 FROM registry.organization t
            JOIN registry.organization r ON t.path <@ r.path
            WHERE t.id = :id AND r.id = ANY(:roots) AND (NOT :strict OR t.id <> r.id))
    """), {"id": org_id, "roots": list(roots), "strict": strictly_below}).scalar_one()
    if not inside:
        raise org_not_found(org_id)


def scope_within(session: Session, caller: Caller, within: int | None) -> list[int] | None:
    """The subtrees a list or a count may cover: the one asked for, if visible, else all of
    the caller's. None means the whole registry."""
    if within is not None:
        require_visible(session, caller, within)
        return [within]
    roots = caller.scope_roots
    if roots is None:
        return None
    if not roots:
        raise Forbidden("no_registry_access", "Нет доступа к реестру организаций")
    return list(roots)


def require_global(caller: Caller, what: str) -> None:
    if not caller.is_global:
        raise Forbidden("forbidden", f"{what}: только для аппарата ЦС и операторов платформы")


def tree_loader_roots(caller: Caller) -> list[int] | None:
    """Who may load a file of organizations, and where: the Central Council's staff and
    operators anywhere (None); regional staff (and the region's AIS responsible) beneath their
    own organizations only; nobody else."""
    if caller.is_global:
        return None
    if {REGIONAL_STAFF, AIS_RESPONSIBLE} & set(caller.roles) and caller.org_ids:
        return list(caller.org_ids)
    raise Forbidden("forbidden", "Загрузка организаций из файла: только для аппарата ЦС, "
                                 "региональных организаций (в своём регионе) и операторов")
