"""nameko's RPC and event entrypoints, verifying who sent each message, and message
acknowledgements surviving a broker that goes away while a worker finishes.

Verification: before a worker starts, the entrypoint checks the message's signed assertion
(services.common.trust) and gives the worker, as its context data, only the caller it verified.
A message with none, a forged, expired, replayed or misdirected one starts no worker: a call gets
an `Unauthenticated` error back, an event is dropped; both are written to the service's audit log
(`call_refused`, `event_refused`) and logged.

Broker away:
nameko sends the reply, and acknowledges messages, from the worker's thread; when the broker has
just gone (restarted, stopped) that raises, and an exception there kills the whole container: one
broker restart took service processes down with it (a reply not sent; an acknowledgement on a
reset connection, which nameko means to ignore but catches only amqp's ConnectionError, not the
socket's). Here they are given up instead: the change the worker made is committed, the message
not acknowledged comes back once the broker is there (the operations are safe to repeat), and
an RPC caller gets its 503 after its timeout. Every service imports this module (for `rpc`), so
the acknowledgements are patched before any container starts.
"""

import logging
import sys
from functools import partial
from typing import Any

from amqp.exceptions import AccessRefused, RecoverableConnectionError
from amqp.exceptions import ConnectionError as AmqpConnectionError
from kombu.exceptions import OperationalError as KombuOperationalError
from nameko import rpc as nameko_rpc
from nameko.events import EventHandler
from nameko.exceptions import ContainerBeingKilled, MalformedRequest
from nameko.messaging import QueueConsumer
from nameko.timer import Timer
from nameko.web.handlers import HttpRequestHandler

from services.common import observability, trust
from services.common.caller import CONTEXT_KEY, Caller
from services.common.errors import Forbidden, NotFound, Unauthenticated

log = logging.getLogger(__name__)

# the broker itself away (stopped, restarting, the connection cut)
BROKER_AWAY = (OSError, KombuOperationalError, RecoverableConnectionError, AmqpConnectionError)
# a reply the broker would not route: a request naming a reply-to this service may not publish
# to (someone else's queue, a key outside its grant); the sender gets no answer, the service goes on
REPLY_REFUSED = (AccessRefused,)


def verified_context(message, audience: str, sender: str | None = None,
                     event_id: str | None = None) -> dict[str, Any]:
    """The context data a worker gets: the call stack and the verified caller, nothing else
    the message claims. Raises trust.Refused."""
    headers = message.headers or {}
    verified = trust.verify(headers.get(trust.HEADER), audience, sender=sender,
                            event_id=event_id,
                            redelivered=bool((message.delivery_info or {}).get("redelivered")))
    context = {CONTEXT_KEY: verified.caller.to_header()}
    stack = headers.get(f"{trust.HEADER_PREFIX}.call_id_stack")
    if isinstance(stack, list):
        context["call_id_stack"] = [str(c) for c in stack][-10:]
    request_id = headers.get(f"{trust.HEADER_PREFIX}.{observability.REQUEST_KEY}")
    if request_id:  # only to follow a request in the logs: kept if well-formed, else a new one
        context[observability.REQUEST_KEY] = observability.request_id_from(request_id)
    return context


def record_refusal(container, action: str, target: str, refusal: trust.Refused | Exception,
                   actor: Caller | None = None) -> None:
    """The refusal in the service's audit log, in a transaction of its own (the refused work's
    rolled back with it), off the consumer's thread; a service without a log (or a database
    away) leaves it to the warning logged."""
    log.warning("%s %s: %s", action, target, refusal)
    from services.common.audit import record
    from services.common.db import Database

    engines = [d.engine for d in container.dependencies if isinstance(d, Database)]
    if not engines:
        return
    if actor is None:
        actor = Caller(user="unverified", subject=getattr(refusal, "code", ""))

    def write() -> None:
        try:
            with engines[0].begin() as conn:
                from sqlalchemy.orm import Session

                with Session(bind=conn) as session:
                    record(session, container.service_name, actor, action, "message", target)
                    session.flush()
        except Exception:
            log.warning("the refusal of %s could not be audited", target, exc_info=True)
    container.spawn_managed_thread(write)


class Rpc(nameko_rpc.Rpc):
    def handle_message(self, body, message):
        audience = f"{self.container.service_name}.{self.method_name}"
        try:
            args, kwargs = body["args"], body["kwargs"]
        except (KeyError, TypeError):
            raise MalformedRequest("Message missing `args` or `kwargs`") from None
        self.check_signature(args, kwargs)
        try:
            context_data = verified_context(message, audience)
        except trust.Refused as refusal:
            record_refusal(self.container, "call_refused", audience, refusal)
            try:
                raise Unauthenticated(refusal.code, refusal.message) from None
            except Unauthenticated:
                exc_info = sys.exc_info()
            try:
                self.rpc_consumer.handle_result(message, None, exc_info)
            except BROKER_AWAY + REPLY_REFUSED as exc:
                log.warning("the refusal of %s could not be sent (%s)", audience, exc)
                self.rpc_consumer.queue_consumer.ack_message(message)
            return
        try:
            self.container.spawn_worker(self, args, kwargs, context_data=context_data,
                                        handle_result=partial(self.handle_result, message))
        except ContainerBeingKilled:
            self.rpc_consumer.requeue_message(message)

    def _target(self, worker_ctx) -> str:
        """The method and its first arguments (ids, mostly), shortened: what was asked for."""
        args = ",".join(str(a) for a in worker_ctx.args[:3])[:200]
        return f"{self.container.service_name}.{self.method_name}({args}): {worker_ctx.call_id}"

    def handle_result(self, message, worker_ctx, result, exc_info):
        if exc_info is not None and isinstance(exc_info[1], Forbidden | NotFound):
            # a refused read (or change) is audited too: who asked for what, and was told no
            raw = worker_ctx.data.get(CONTEXT_KEY)
            if raw:
                record_refusal(self.container, "refused", self._target(worker_ctx),
                               exc_info[1], Caller.from_header(raw))
        try:
            return super().handle_result(message, worker_ctx, result, exc_info)
        except REPLY_REFUSED as exc:
            log.warning("%s: the broker refused the reply (%s); the request is dropped",
                        worker_ctx.call_id, exc)
            self.rpc_consumer.queue_consumer.ack_message(message)
            return result, exc_info
        except BROKER_AWAY as exc:
            log.warning("%s: the reply could not be sent, the broker is away (%s); the request "
                        "will come again", worker_ctx.call_id, exc)
            return result, exc_info


rpc = Rpc.decorator


class VerifiedEventHandler(EventHandler):
    """An event handler that takes only events signed by their source service. The handler
    acts as its own service (the fact is verified; what it does about it is its own)."""

    def handle_message(self, body, message):
        target = f"{self.source_service}.{self.event_type}"
        event_id = body.get("event_id") if isinstance(body, dict) else None
        try:
            context = verified_context(message, f"{self.source_service}.events",
                                       sender=self.source_service,
                                       event_id=str(event_id or ""))
        except trust.Refused as refusal:
            record_refusal(self.container, "event_refused", target, refusal)
            self.queue_consumer.ack_message(message)  # dropped: a forged event is not retried
            return
        context.pop(CONTEXT_KEY)  # the handler acts as this service: the call stack goes on
        try:
            self.container.spawn_worker(self, (body,), {}, context_data=context,
                                        handle_result=partial(self.handle_result, message))
        except ContainerBeingKilled:
            self.queue_consumer.requeue_message(message)


event_handler = VerifiedEventHandler.decorator

# entrypoints that may start a worker of a service with a CallerProvider: ours verify, a timer
# and the gateway's HTTP handlers start workers from no message
ALLOWED_ENTRYPOINTS = (Rpc, VerifiedEventHandler, Timer, HttpRequestHandler)


def check_entrypoints(container) -> None:
    bad = [f"{type(e).__name__} {e.method_name}" for e in container.entrypoints
           if not isinstance(e, ALLOWED_ENTRYPOINTS)]
    if bad:
        raise RuntimeError(f"{container.service_name}: entrypoints that do not verify their "
                           f"callers: {', '.join(bad)}; use services.common.rpc's rpc and "
                           "event_handler")


def _forgiving(settle):
    def settle_unless_away(self, message) -> None:
        try:
            settle(self, message)
        except BROKER_AWAY as exc:  # the broker takes the message back by itself
            log.warning("a message could not be settled, the broker is away (%s)", exc)
    return settle_unless_away


QueueConsumer.ack_message = _forgiving(QueueConsumer.ack_message)
QueueConsumer.requeue_message = _forgiving(QueueConsumer.requeue_message)
