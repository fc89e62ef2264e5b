"""The bus as someone on the network sees it: raw AMQP messages, no nameko, any headers."""

import uuid
from typing import Any

from kombu import Connection, Exchange, Queue

from services.common.serialization import CONTENT_TYPE, dumps, loads

RPC_EXCHANGE = Exchange("nameko-rpc", type="topic", durable=True)


class RawBus:
    def __init__(self, amqp_uri: str) -> None:
        self.conn = Connection(amqp_uri)

    def close(self) -> None:
        self.conn.release()

    def _publish(self, exchange: Exchange, routing_key: str, body: Any,
                 headers: dict[str, Any], **props: Any) -> None:
        with self.conn.Producer() as producer:
            producer.publish(dumps(body), exchange=exchange, routing_key=routing_key,
                             content_type=CONTENT_TYPE, content_encoding="binary",
                             headers=headers, declare=[exchange], **props)

    def send(self, service: str, method: str, *args: Any, headers: dict[str, Any] | None = None,
             reply_to: str = "", **kwargs: Any) -> None:
        """A request no reply is waited for (to a `reply_to` of one's choosing)."""
        self._publish(RPC_EXCHANGE, f"{service}.{method}", {"args": args, "kwargs": kwargs},
                      headers or {}, reply_to=reply_to, correlation_id=str(uuid.uuid4()))

    def call(self, service: str, method: str, *args: Any, headers: dict[str, Any] | None = None,
             timeout: float = 15, **kwargs: Any) -> dict[str, Any]:
        """Send an RPC request as nameko would, with exactly `headers`; the raw reply
        ({"result": …, "error": …})."""
        reply_to = str(uuid.uuid4())  # nameko's reply routing key: the queue's uuid
        queue = Queue(f"rpc.reply-probe-{reply_to}", exchange=RPC_EXCHANGE,
                      routing_key=reply_to, exclusive=True, auto_delete=True)
        replies: list[Any] = []
        with self.conn.Consumer(queue, callbacks=[lambda body, msg: (replies.append(body),
                                                                     msg.ack())],
                                accept=[CONTENT_TYPE, "application/json"]):
            self._publish(RPC_EXCHANGE, f"{service}.{method}", {"args": args, "kwargs": kwargs},
                          headers or {}, reply_to=reply_to,
                          correlation_id=str(uuid.uuid4()))
            while not replies:
                self.conn.drain_events(timeout=timeout)
        reply = replies[0]
        return loads(reply) if isinstance(reply, bytes | str) else reply

    def emit(self, source: str, event_type: str, payload: dict[str, Any],
             headers: dict[str, Any] | None = None) -> None:
        exchange = Exchange(f"{source}.events", type="topic", durable=True, auto_delete=False)
        self._publish(exchange, event_type, payload, headers or {})
