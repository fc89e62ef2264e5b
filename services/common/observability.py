"""What an operator sees of a running service: one request followed across the services, log
lines as JSON, and metrics in the Prometheus format.

- **Request id.** The gateway makes one for each request (or keeps a well-formed `X-Request-ID`
  of the caller's), puts it in the worker's context data, and nameko sends context data with
  every RPC it makes (`nameko.request_id`); the verifying entrypoints (services.common.rpc) keep
  it. An outbox event carries the id of the request that wrote it in its payload, since the
  relay publishes it later, from another worker. A user sees it as «код обращения».
- **Log lines.** Every record gets the service, entrypoint, request id and user (the account's
  id, never a name) of the worker it comes from (a log record factory); `deploy/nameko.yml`
  writes them as JSON lines (python-json-logger). Each RPC, event and HTTP worker logs one line
  when it ends, with its duration; a timer's only when slow or failed.
- **Metrics** (prometheus_client): entrypoint latency histograms and errors by service and
  entrypoint, and, read from the database at each scrape, the outbox's waiting rows and their
  age, the connection pool in use, and each service's own gauges (cards waiting for the vendor,
  mail waiting). `METRICS_ADDRESS` (host:port, loopback by default, off when empty) serves them
  from each process, never through the public gateway.
"""

import logging
import re
import time
import uuid
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

from nameko.extensions import DependencyProvider
from prometheus_client import REGISTRY, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from pydantic_settings import BaseSettings, SettingsConfigDict

log = logging.getLogger(__name__)

REQUEST_KEY = "request_id"  # in context data, RPC headers (nameko.request_id) and event payloads
_WELL_FORMED = re.compile(r"[A-Za-z0-9._-]{8,64}")

# the worker this greenthread runs (eventlet's greenthreads each have their own context)
_current: ContextVar[dict[str, str] | None] = ContextVar("reestr_worker", default=None)

ENTRYPOINT_SECONDS = Histogram(
    "reestr_entrypoint_seconds", "Time a worker took, by service and entrypoint",
    ["service", "entrypoint", "kind"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120))
ENTRYPOINT_ERRORS = Counter(
    "reestr_entrypoint_errors_total",
    "Workers that ended in an error (an exception; for HTTP, an answer of 500 or more)",
    ["service", "entrypoint", "kind"])


class ObservabilitySettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")
    metrics_address: str = ""  # host:port; empty: no endpoint (tests scrape their own)
    slow_timer_s: float = 1.0  # a timer's run is logged only when it took longer


def new_request_id() -> str:
    return uuid.uuid4().hex[:16]


def request_id_from(value: Any) -> str:
    """The caller's id if it is well-formed (letters, digits, `.-_`, 8 to 64), else a new one:
    a header is not trusted to put anything into log lines."""
    if isinstance(value, str) and _WELL_FORMED.fullmatch(value):
        return value
    return new_request_id()


def current_request_id() -> str:
    return (_current.get() or {}).get(REQUEST_KEY, "")


def begin(request_id: str) -> None:
    """A new request on this greenthread (the gateway's connections are kept alive: the last
    request's fields must not linger)."""
    _current.set({REQUEST_KEY: request_id, "service": "gateway"})


def bind(**fields: str) -> None:
    """Fields of the worker (or the gateway's request) for the log lines that follow."""
    _current.set({**(_current.get() or {}), **{k: v for k, v in fields.items() if v}})


def with_request_id(payload: dict[str, Any]) -> dict[str, Any]:
    """An event's payload carrying the current request's id (the relay publishes it later)."""
    rid = current_request_id()
    return {**payload, REQUEST_KEY: rid} if rid and REQUEST_KEY not in payload else payload


TRACE_FIELDS = ("service", "entrypoint", REQUEST_KEY, "user_id")
_make_record = logging.getLogRecordFactory()


def _traced_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
    """Every record, whatever logger or handler takes it, gets the worker's service,
    entrypoint, request id and user id (set at creation: a filter on one handler would miss
    the others, pytest's among them)."""
    record = _make_record(*args, **kwargs)
    bound = _current.get() or {}
    for name in TRACE_FIELDS:
        setattr(record, name, bound.get(name, ""))
    return record


logging.setLogRecordFactory(_traced_record)


def _kind(entrypoint: Any) -> str:
    name = type(entrypoint).__name__.lower()
    for kind in ("rpc", "event", "timer", "http", "api", "page"):
        if kind in name:
            return {"api": "http", "page": "http"}.get(kind, kind)
    return name


def _user_id(worker_ctx) -> str:
    from services.common.caller import CONTEXT_KEY, Caller

    raw = worker_ctx.data.get(CONTEXT_KEY)
    if not raw:
        return ""
    caller = Caller.from_header(raw)
    return caller.subject or caller.service or ""


class Observed(DependencyProvider):
    """Declared in every service: the worker's trace fields, its line in the log, its metrics;
    the service's gauges (`gauges`: metric name → SQL giving one number) read at each scrape."""

    def __init__(self, gauges: dict[str, tuple[str, str]] | None = None) -> None:
        self.gauges = gauges or {}
        self._started: dict[int, float] = {}

    def setup(self) -> None:
        from services.common.db import Database
        from services.common.outbox import OutboxRelay

        conf = ObservabilitySettings()
        self.slow_timer_s = conf.slow_timer_s
        # the database's engine is read at each scrape: its provider may be set up after this
        dbs = [d for d in self.container.dependencies if isinstance(d, Database)]
        schemas = [d.schema for d in self.container.dependencies if isinstance(d, OutboxRelay)]
        if dbs:
            register(ServiceCollector(self.container.service_name, dbs[0],
                                      schemas[0] if schemas else None, self.gauges))
        if conf.metrics_address:
            serve_metrics(conf.metrics_address)

    def worker_setup(self, worker_ctx) -> None:
        data = worker_ctx.data
        rid = data.get(REQUEST_KEY)
        if not rid and worker_ctx.args and isinstance(worker_ctx.args[0], dict):
            rid = worker_ctx.args[0].get(REQUEST_KEY)  # an event's payload
            if rid:
                data[REQUEST_KEY] = rid = request_id_from(rid)  # and on to what it calls
        bind(service=worker_ctx.service_name, entrypoint=worker_ctx.entrypoint.method_name,
             request_id=rid or "", user_id=_user_id(worker_ctx))
        self._started[id(worker_ctx)] = time.perf_counter()

    def worker_result(self, worker_ctx, result=None, exc_info=None) -> None:
        started = self._started.pop(id(worker_ctx), None)
        if started is None:
            return
        seconds = time.perf_counter() - started
        kind = _kind(worker_ctx.entrypoint)
        labels = (worker_ctx.service_name, worker_ctx.entrypoint.method_name, kind)
        ENTRYPOINT_SECONDS.labels(*labels).observe(seconds)
        status = getattr(result, "status_code", None)
        failed = exc_info is not None or (status is not None and status >= 500)
        if failed:
            ENTRYPOINT_ERRORS.labels(*labels).inc()
        if kind != "timer" or failed or seconds > self.slow_timer_s:
            log.info("%s done", labels[1], extra={
                "duration_ms": round(seconds * 1000, 1), "kind": kind,
                "outcome": "error" if failed else "ok", **({"status": status} if status else {})})


class ServiceCollector:
    """A service's figures read from its database when scraped: a stale figure is worse than a
    scrape that takes a few milliseconds."""

    def __init__(self, service: str, database, outbox_schema: str | None,
                 gauges: dict[str, tuple[str, str]]) -> None:
        self.service, self.database, self.schema = service, database, outbox_schema
        self.gauges = gauges

    def figures(self) -> Iterator[tuple[str, str, float]]:
        """(metric name, help, value) for this service."""
        engine = getattr(self.database, "engine", None)
        if engine is None:  # not set up yet
            return
        yield "reestr_db_pool_in_use", "Database connections checked out", \
            engine.pool.checkedout()
        from sqlalchemy import text  # here: the gateway, which has no database, never loads it

        try:
            found = []
            with engine.connect() as c:
                if self.schema:
                    waiting, age = c.execute(text(
                        f"SELECT count(*), COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)"
                        f" FROM {self.schema}.outbox WHERE published_at IS NULL")).one()
                    found += [("reestr_outbox_waiting", "Events written, not yet published",
                               waiting),
                              ("reestr_outbox_oldest_seconds",
                               "Age of the oldest event not yet published", age)]
                for name, (help_text, sql) in self.gauges.items():
                    found.append((name, help_text, c.execute(text(sql)).scalar()))
        except Exception as exc:  # the database away: the pool figure still goes out
            log.warning("metrics of %s not read: %s", self.service, exc)
            yield "reestr_db_up", "The service's database answered", 0
        else:
            yield from found
            yield "reestr_db_up", "The service's database answered", 1


class _Services(Collector):
    """The gauges of every service in this process, one family per name (the registry refuses
    two collectors of the same names; services started together share a process in tests)."""

    def __init__(self) -> None:
        self.services: dict[str, ServiceCollector] = {}

    def collect(self) -> Iterator[GaugeMetricFamily]:
        families: dict[str, GaugeMetricFamily] = {}
        for service in list(self.services.values()):
            for name, help_text, value in service.figures():
                family = families.get(name)
                if family is None:
                    family = families[name] = GaugeMetricFamily(name, help_text,
                                                                labels=["service"])
                family.add_metric([service.service], float(value or 0))
        yield from families.values()


_services = _Services()
REGISTRY.register(_services)
_serving: set[str] = set()


def figures_of(service: str) -> dict[str, Any]:
    """A service's gauges as its metrics give them, by name (the operators' page)."""
    collector = _services.services.get(service)
    return {} if collector is None else {name: float(value or 0)
                                         for name, _, value in collector.figures()}


def register(collector: ServiceCollector) -> None:
    """A service's gauges (a restarted container replaces its own)."""
    _services.services[collector.service] = collector


def serve_metrics(address: str) -> None:
    """The exposition on `host:port`, once per process (services started together share it)."""
    if address in _serving:
        return
    host, _, port = address.rpartition(":")
    start_http_server(int(port), addr=host or "127.0.0.1")
    _serving.add(address)
    log.info("metrics on http://%s/metrics", address)
