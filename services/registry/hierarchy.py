"""The rules of the union's structure: which organization may sit under which.

Central Council → regional → territorial → primary → subdivision or union group; a primary may sit
directly under a region, and a primary holding territorial rights (ППО с правами ТПО) may have
primaries beneath it. Pure functions: used by single changes, moves and bulk loads alike.
"""

from dataclasses import dataclass

from services.registry.file_format import LEVEL_KINDS, LEVEL_TITLES, Level


@dataclass(frozen=True)
class Placement:
    """What the rules need to know about a prospective parent."""

    level: Level
    territorial_rights: bool = False
    excluded: bool = False


class HierarchyError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def allowed_parent(level: Level, parent: Placement) -> bool:
    match level:
        case Level.CENTRAL:
            return False
        case Level.REGIONAL:
            return parent.level is Level.CENTRAL
        case Level.TERRITORIAL:
            return parent.level is Level.REGIONAL
        case Level.PRIMARY:
            return parent.level in (Level.REGIONAL, Level.TERRITORIAL) or (
                parent.level is Level.PRIMARY and parent.territorial_rights
            )
        case Level.SUBDIVISION:
            return parent.level is Level.PRIMARY
    return False


def check_placement(level: Level, parent: Placement | None) -> None:
    """Raise HierarchyError when an organization of `level` may not sit under `parent`."""
    if parent is None:
        if level is not Level.CENTRAL:
            raise HierarchyError("parent_required",
                                 "Не указана вышестоящая организация")
        return
    if level is Level.CENTRAL:
        raise HierarchyError("central_has_no_parent",
                             "У Центрального Совета не может быть вышестоящей организации")
    if parent.excluded:
        raise HierarchyError("parent_excluded",
                             "Вышестоящая организация исключена из реестра")
    if allowed_parent(level, parent):
        return
    if level is Level.PRIMARY and parent.level is Level.PRIMARY:
        raise HierarchyError(
            "primary_without_rights",
            "Первичная организация может входить в другую первичную, только если у той есть "
            "права территориальной (права ТПО)")
    raise HierarchyError(
        "level_mismatch",
        f"Организация уровня «{LEVEL_TITLES[level]}» не может входить в организацию уровня "
        f"«{LEVEL_TITLES[parent.level]}»")


def check_kind(level: Level, kind: str | None) -> str | None:
    """The kind defaults to the level's first; a kind of another level is refused."""
    kinds = LEVEL_KINDS[level]
    if not kinds:
        if kind:
            raise HierarchyError("kind_mismatch",
                                 f"Для уровня «{LEVEL_TITLES[level]}» вид не указывается")
        return None
    if not kind:
        return kinds[0]
    if kind not in kinds:
        raise HierarchyError("kind_mismatch",
                             f"Вид не подходит для уровня «{LEVEL_TITLES[level]}»")
    return kind


def check_rights_change(level: Level, territorial_rights: bool, has_primary_children: bool) -> None:
    """A primary keeps its territorial rights while primaries sit beneath it."""
    if territorial_rights and level is not Level.PRIMARY:
        raise HierarchyError("rights_not_primary",
                             "Права ТПО бывают только у первичной организации")
    if level is Level.PRIMARY and not territorial_rights and has_primary_children:
        raise HierarchyError(
            "rights_in_use",
            "Нельзя снять права ТПО: в организацию входят первичные организации")


def find_cycle(parent_of: dict[str, str | None]) -> list[str] | None:
    """A cycle among references key → parent key, if there is one (for files of organizations)."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = known to reach a root
    for start in parent_of:
        path: list[str] = []
        node: str | None = start
        while node is not None and node in parent_of and state.get(node) != 2:
            if state.get(node) == 1:
                return path[path.index(node):]
            state[node] = 1
            path.append(node)
            node = parent_of[node]
        for n in path:
            state[n] = 2
    return None
