"""What /healthz answers: each service's own health RPC, all at once, and for one that does not
answer in time, whether it is away or only busy.

A service whose workers are all on a backlog (notify after a national load: hundreds of
`cards_changed` events) leaves the health call waiting in its queue like any other message;
it is running, and reading it as down kept whole deployments from starting. Its RPC queue
tells the two apart: a queue with consumers is a service at work.
"""

import logging
from typing import Any

import eventlet
import kombu
from nameko.exceptions import UnknownService
from nameko.extensions import DependencyProvider

from gateway.http import BROKER_AWAY

log = logging.getLogger(__name__)

HEALTH_TIMEOUT_S = 3.0


class RpcQueues(DependencyProvider):
    """How many messages wait in a service's RPC queue and how many consumers read it.

    A passive declare: it needs no permission on the queue and changes nothing."""

    def get_dependency(self, worker_ctx: Any):
        uri = self.container.config["AMQP_URI"]
        return lambda service: queue_depth(uri, service)


def queue_depth(uri: str, service: str) -> tuple[int, int] | None:
    """(messages waiting, consumers) of `service`'s RPC queue, None if there is none."""
    try:
        with kombu.Connection(uri, connect_timeout=2) as conn:
            ok = conn.default_channel.queue_declare(queue=f"rpc-{service}", passive=True)
            return ok.message_count, ok.consumer_count
    except Exception as exc:  # no such queue, or the broker away: not busy
        log.info("rpc queue of %s not read: %s", service, exc)
        return None


def service_checks(proxies: dict[str, Any], depth) -> dict[str, str]:
    """Every service's health answer, asked of all at once; "busy: N waiting" for a service
    that is running (its queue has consumers) but did not answer in time."""
    checks: dict[str, str] = {}
    pending = {}
    for name, proxy in proxies.items():
        try:
            pending[name] = proxy.health.call_async()
        except UnknownService:
            checks[name] = "unavailable"
        except BROKER_AWAY:
            checks[name] = checks["rabbitmq"] = "unavailable"
    with eventlet.Timeout(HEALTH_TIMEOUT_S, False):
        for name, reply in list(pending.items()):
            try:
                checks.update(reply.result())
                checks[name] = checks["rabbitmq"] = "ok"
            except Exception as exc:  # the service answered, its own dependency did not
                checks[name] = f"error: {type(exc).__name__}"
            del pending[name]
    for name in pending:  # no answer in time
        queue = depth(name)
        checks[name] = f"busy: {queue[0]} waiting" if queue and queue[1] else "unavailable"
    return checks


def healthy(value: str) -> bool:
    return value == "ok" or value.startswith("busy")
