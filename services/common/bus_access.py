"""Each principal's broker user and the least it may do on the bus, derived from the code.

What a service may touch follows from its class: the RPC queue and reply queues of its own, the
services it calls (its RpcProxy dependencies: the only routing keys it may publish calls to), its
own events exchange if it publishes events, and the queues of its event handlers, bound only to
the event types they handle. Derived, not written down, so a new call or handler cannot drift
from its grant; `reestr bus provision` applies them through the management API.

RabbitMQ checks vhost permissions (configure, write, read) as regular expressions over resource
names, and topic permissions over routing keys: a call's routing key is `service.method`, a reply's
the caller's reply-queue uuid, and binding a queue is a read of the routing key bound, so nobody
can bind a queue of theirs to another service's calls and read them.
"""

import importlib
import re
from dataclasses import dataclass, field
from typing import Any

from nameko.containers import ServiceContainer
from nameko.events import EventDispatcher, EventHandler
from nameko.rpc import RpcProxy

from services.common.outbox import OutboxRelay
from services.common.trust import OPERATOR

# The services by their nameko names, as deploy/up.sh starts them.
SERVICE_CLASSES = {
    "registry": "services.registry.service:RegistryService",
    "membership": "services.membership.service:MembershipService",
    "cards": "services.cards.service:CardsService",
    "reports": "services.reports.service:ReportsService",
    "sso": "services.sso.service:SsoService",
    "notify": "services.notify.service:NotifyService",
    "library": "services.library.service:LibraryService",
    "events": "services.events.service:EventsService",
    "gateway": "gateway.service:GatewayService",
}
RPC_EXCHANGE = "nameko-rpc"
REPLY_KEY = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@dataclass
class Grant:
    user: str
    configure: str
    write: str
    read: str
    topics: dict[str, tuple[str, str]] = field(default_factory=dict)  # exchange: (write, read)


def _any_of(names: list[str]) -> str:
    return "^(" + "|".join(names) + ")$"


def service_class(name: str) -> type:
    module, _, cls = SERVICE_CLASSES[name].partition(":")
    return getattr(importlib.import_module(module), cls)


def service_grant(name: str, cls: type) -> Grant:
    container = ServiceContainer(cls, config={"AMQP_URI": "memory://"})
    calls = sorted({d.target_service for d in container.dependencies
                    if isinstance(d, RpcProxy)})
    publishes = any(isinstance(d, EventDispatcher | OutboxRelay) for d in container.dependencies)
    handlers = [e for e in container.entrypoints if isinstance(e, EventHandler)]
    sources = sorted({h.source_service for h in handlers})
    n = re.escape(name)
    own = [re.escape(RPC_EXCHANGE), f"rpc-{n}", rf"rpc\.reply-{n}-.*"]
    if handlers:
        own.append(rf"evt-.*--{n}\..*")
    events = [rf"{re.escape(s)}\.events" for s in sources]
    mine = [rf"{n}\.events"] if publishes else []
    topics = {RPC_EXCHANGE: (_any_of([REPLY_KEY, *(rf"{re.escape(t)}\..+" for t in calls)]),
                             _any_of([REPLY_KEY, rf"{n}\.\*"]))}
    for source in sources:
        types = sorted({re.escape(h.event_type) for h in handlers if h.source_service == source})
        topics[f"{source}.events"] = ("^$", _any_of(types))
    return Grant(user=name, configure=_any_of(own + mine + events), write=_any_of(own + mine),
                 read=_any_of(own + events), topics=topics)


def operator_grant() -> Grant:
    """The command line calls any service and reads only its own replies."""
    own = [re.escape(RPC_EXCHANGE), rf"rpc\.reply-{OPERATOR}-.*"]
    return Grant(user=OPERATOR, configure=_any_of(own), write=_any_of(own), read=_any_of(own),
                 topics={RPC_EXCHANGE: (".*", _any_of([REPLY_KEY]))})


def grants() -> list[Grant]:
    return [*(service_grant(n, service_class(n)) for n in SERVICE_CLASSES), operator_grant()]


def provision(api: Any, vhost: str, passwords: dict[str, str], prefix: str = "") -> list[str]:
    """Create or update each principal's user (no tags: no management access) and set its
    permissions on `vhost`; `api` is a requests.Session with the administrator's login and a
    base URL attribute. `prefix` names users apart (a test run's own: `reestr_test.registry`).
    Returns the users provisioned."""
    from urllib.parse import quote

    done = []
    for g in grants():
        password = passwords.get(g.user)
        if not password:
            raise RuntimeError(f"no broker password for {g.user!r} (RABBIT_PASSWORD_"
                               f"{g.user.upper()})")
        user, vh = quote(prefix + g.user, safe=""), quote(vhost, safe="")
        _ok(api.put(f"{api.base}/api/users/{user}", json={"password": password, "tags": ""}))
        _ok(api.put(f"{api.base}/api/permissions/{vh}/{user}",
                    json={"configure": g.configure, "write": g.write, "read": g.read}))
        _ok(api.delete(f"{api.base}/api/topic-permissions/{vh}/{user}"), missing_ok=True)
        for exchange, (write, read) in g.topics.items():
            _ok(api.put(f"{api.base}/api/topic-permissions/{vh}/{user}",
                        json={"exchange": exchange, "write": write, "read": read}))
        done.append(prefix + g.user)
    return done


def _ok(response: Any, missing_ok: bool = False) -> None:
    if missing_ok and response.status_code == 404:
        return
    if response.status_code >= 400:
        raise RuntimeError(f"RabbitMQ management API: {response.request.method} "
                           f"{response.url}: {response.status_code} {response.text[:200]}")
