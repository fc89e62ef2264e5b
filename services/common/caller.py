"""Who is calling: the identity the gateway attaches to a request travels with every RPC call.

nameko forwards a worker's context data as message headers to every call it makes, so the gateway
sets `caller` once and each service reads it with the `CallerProvider` dependency.
"""

import json
from dataclasses import dataclass, field

from nameko.extensions import DependencyProvider

CONTEXT_KEY = "caller"


@dataclass(frozen=True)
class Caller:
    user: str
    ip: str = ""
    roles: tuple[str, ...] = field(default_factory=tuple)

    def to_header(self) -> str:
        return json.dumps({"user": self.user, "ip": self.ip, "roles": list(self.roles)})

    @classmethod
    def from_header(cls, value: str | None) -> "Caller":
        if not value:
            return SYSTEM
        data = json.loads(value)
        return cls(user=data["user"], ip=data.get("ip", ""), roles=tuple(data.get("roles", ())))


# work started by the platform itself (timers, operator command line) acts as the system
SYSTEM = Caller(user="system")


class CallerProvider(DependencyProvider):
    def get_dependency(self, worker_ctx) -> Caller:
        return Caller.from_header(worker_ctx.data.get(CONTEXT_KEY))
