"""Who is calling: a person (from a checked Keycloak token) or a principal acting for itself.

The gateway sets `caller` in a worker's context data from the token; every message a worker sends
carries it only inside an assertion the sender signs (services.common.trust), and the receiving
entrypoint (services.common.rpc) puts the caller it verified back into the context data. Each
service reads it with the `CallerProvider` dependency. A worker no message started (a timer's)
is the service acting for itself: "system", told from a person by `service`.
"""

import json
from dataclasses import dataclass, field
from typing import Any

from nameko.extensions import DependencyProvider

from services.common.roles import (
    AUDIT_READERS,
    GLOBAL_ROLES,
    PERSONAL_DATA_READERS,
    SCOPED_ROLES,
)

CONTEXT_KEY = "caller"


@dataclass(frozen=True)
class Caller:
    user: str
    ip: str = ""
    roles: tuple[str, ...] = field(default_factory=tuple)
    org_ids: tuple[int, ...] = field(default_factory=tuple)
    subject: str = ""
    service: str = ""  # set only for a principal acting for itself (a service, the operator)

    @classmethod
    def of_service(cls, name: str) -> "Caller":
        return cls(user=f"system:{name}", roles=("system",), service=name)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"user": self.user, "ip": self.ip, "roles": list(self.roles),
                                "org_ids": list(self.org_ids), "subject": self.subject}
        if self.service:
            data["service"] = self.service
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Caller":
        return cls(user=str(data["user"]), ip=str(data.get("ip", "")),
                   roles=tuple(str(r) for r in data.get("roles", ())),
                   org_ids=tuple(int(i) for i in data.get("org_ids", ())),
                   subject=str(data.get("subject", "")), service=str(data.get("service", "")))

    def to_header(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_header(cls, value: str) -> "Caller":
        return cls.from_dict(json.loads(value))

    @property
    def is_system(self) -> bool:
        return bool(self.service)

    @property
    def is_global(self) -> bool:
        return self.is_system or bool(GLOBAL_ROLES.intersection(self.roles))

    @property
    def scope_roots(self) -> tuple[int, ...] | None:
        """The organizations whose subtrees this caller acts in; None means everywhere."""
        if self.is_global:
            return None
        if SCOPED_ROLES.intersection(self.roles):
            return self.org_ids
        return ()

    @property
    def reads_personal_data(self) -> bool:
        return self.is_system or bool(PERSONAL_DATA_READERS.intersection(self.roles))

    @property
    def reads_audit(self) -> bool:
        return self.is_system or bool(AUDIT_READERS.intersection(self.roles))


def within_scope(path: str, paths: list[str] | None) -> bool:
    """Whether an organization's tree path lies in one of the caller's subtrees (`paths`, as
    membership's `scope_paths` gives them; None: everywhere)."""
    return paths is None or any(path == p or path.startswith(p + ".") for p in paths)


def ran_through(path: str, roots: tuple[int, ...] | None) -> bool:
    """Whether a tree path as it stood on some date (a report's) runs through one of the
    caller's organizations (`scope_roots`; None: everywhere): the caller's subtrees as they were
    then, whatever has moved since. A path is the ids from the top down."""
    return roots is None or not set(roots).isdisjoint(map(int, path.split(".")))


def in_subtrees(column: str, paths: list[str] | None) -> tuple[str, dict[str, Any]]:
    """The caller's subtrees (`paths`; None: everywhere) as a condition on an ltree column,
    with its parameters, that the column's GiST index answers: `path ? lquery[]` is indexable,
    `path <@ ltree[]` is not (a chair's cards among 3.2 million: 1 ms against 3.5 s)."""
    if paths is None:
        return "TRUE", {}
    return f"{column} ? CAST(:subtrees AS lquery[])", {"subtrees": [f"{p}.*" for p in paths]}


class CallerProvider(DependencyProvider):
    """The worker's verified caller. Only the verifying entrypoints of services.common.rpc (and
    timers, which no message starts) may start this service's workers: a plain nameko
    entrypoint would let an unverified message run as the service itself."""

    def setup(self) -> None:
        from services.common.rpc import check_entrypoints

        check_entrypoints(self.container)

    def get_dependency(self, worker_ctx) -> Caller:
        raw = worker_ctx.data.get(CONTEXT_KEY)
        return Caller.from_header(raw) if raw else Caller.of_service(worker_ctx.service_name)
