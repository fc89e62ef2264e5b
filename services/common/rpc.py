"""nameko's RPC entrypoint, surviving a broker that goes away while a worker finishes.

nameko sends the reply from the worker's thread; when the broker has just gone (restarted,
stopped) that send raises, and an exception there kills the whole container: one broker restart
took the service process down with it. Here the reply is given up instead: the change the worker
made is committed, the request message was not acknowledged and comes back once the broker is
there (the operations are safe to repeat), and the caller gets its 503 after its timeout.
"""

import logging

from amqp.exceptions import ConnectionError as AmqpConnectionError
from amqp.exceptions import RecoverableConnectionError
from kombu.exceptions import OperationalError as KombuOperationalError
from nameko import rpc as nameko_rpc

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
