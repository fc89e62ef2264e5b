"""Gzipped subtrees kept in the service's memory while the tree does not change.

A region's subtree is a thousand rows to read, shape and compress (some 10 ms), and it is asked
again and again by the same staff. Each entry remembers the tree's version it was built at
(`registry.tree_version`, raised by a trigger in every transaction that changes organizations);
a request reads the version first and rebuilds an entry that is older. Every instance of the
service keeps its own entries, so nothing needs telling: the version is in the database.
"""

from collections import OrderedDict
from collections.abc import Callable, Hashable

from nameko.extensions import DependencyProvider
from sqlalchemy import text
from sqlalchemy.orm import Session

SIZE = 256  # entries; a region's subtree is some 30 KB gzipped


def version(session: Session) -> int:
    return session.execute(text("SELECT n FROM registry.tree_version")).scalar_one()


class Cache:
    def __init__(self, size: int = SIZE) -> None:
        self.size = size
        self.entries: OrderedDict[Hashable, tuple[int, str]] = OrderedDict()

    def get(self, session: Session, key: Hashable, build: Callable[[], str]) -> str:
        """The entry for `key` if it was built at the tree's current version; else built now.
        The version is read before building, so an entry is never older than its version."""
        current = version(session)
        hit = self.entries.get(key)
        if hit is not None and hit[0] == current:
            self.entries.move_to_end(key)
            return hit[1]
        value = build()
        self.entries[key] = (current, value)
        self.entries.move_to_end(key)
        while len(self.entries) > self.size:
            self.entries.popitem(last=False)
        return value


class SubtreeCache(DependencyProvider):
    def setup(self) -> None:
        self.cache = Cache()

    def get_dependency(self, worker_ctx) -> Cache:
        return self.cache
