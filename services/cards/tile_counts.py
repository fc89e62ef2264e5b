"""Cards by status for the tile of an organization's page.

A region's or the union's counts read every card of it (130,000 in the largest region: half a
second, as no index names a card's status), so those are kept for WIDE_COUNTS_S in the process;
a chair's subtree or one organization is counted afresh each time.
"""

import time
from collections.abc import Callable

WIDE_COUNTS_S = 300
_kept: dict[tuple, tuple[float, dict[str, int]]] = {}  # (org, paths) -> (until, counts)


def is_wide(org_id: int | None, paths: list[str] | None) -> bool:
    """The union or a region: no organization asked for, and the caller's subtrees include the
    top or a region (a path of at most two labels)."""
    return org_id is None and (paths is None or any(p.count(".") < 2 for p in paths))


def counts(org_id: int | None, paths: list[str] | None,
           count: Callable[[], dict[str, int]]) -> dict[str, int]:
    """`count()`'s answer, or a wide scope's kept one while it is fresh."""
    if not is_wide(org_id, paths):
        return count()
    key = (org_id, None if paths is None else tuple(paths))
    kept = _kept.get(key)
    if kept and kept[0] > time.monotonic():
        return kept[1]
    fresh = count()
    _kept[key] = (time.monotonic() + WIDE_COUNTS_S, fresh)
    return fresh


def forget() -> None:
    """Drop every kept count (tests run the services in their own process)."""
    _kept.clear()
