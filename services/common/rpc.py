"""nameko's RPC entrypoint and message acknowledgements, surviving a broker that goes away
while a worker finishes.

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

from amqp.exceptions import ConnectionError as AmqpConnectionError
from amqp.exceptions import RecoverableConnectionError
from kombu.exceptions import OperationalError as KombuOperationalError
from nameko import rpc as nameko_rpc
from nameko.messaging import QueueConsumer

log = logging.getLogger(__name__)

# the broker itself away (stopped, restarting, the connection cut)
BROKER_AWAY = (OSError, KombuOperationalError, RecoverableConnectionError, AmqpConnectionError)


class Rpc(nameko_rpc.Rpc):
    def handle_result(self, message, worker_ctx, result, exc_info):
        try:
            return super().handle_result(message, worker_ctx, result, exc_info)
        except BROKER_AWAY as exc:
            log.warning("%s: the reply could not be sent, the broker is away (%s); the request "
                        "will come again", worker_ctx.call_id, exc)
            return result, exc_info


rpc = Rpc.decorator


def _forgiving(settle):
    def settle_unless_away(self, message) -> None:
        try:
            settle(self, message)
        except BROKER_AWAY as exc:  # the broker takes the message back by itself
            log.warning("a message could not be settled, the broker is away (%s)", exc)
    return settle_unless_away


QueueConsumer.ack_message = _forgiving(QueueConsumer.ack_message)
QueueConsumer.requeue_message = _forgiving(QueueConsumer.requeue_message)
