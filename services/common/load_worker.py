"""Bulk loads in a process of their own, so that a service keeps answering while one runs.

Many seconds of pure Python on a service's eventlet hub would stall every other call it is
answering; in a worker process psycopg's COPY also runs with its C wait function. The service
calls `run` (green: it waits without blocking the hub); the worker module calls `serve` with its
load function. The file travels through a temporary file (a green pipe moves tens of megabytes
slowly), the options as JSON in argv, the report back as JSON on stdout, or a domain error as
{"error": …} with exit code 3.

Starting the worker costs about a second of imports (polars, SQLAlchemy, nameko), so a service
may keep one started and waiting (`prepare`, or the `SpareWorker` dependency): it imports at the
service's start and reads its job from stdin; the next one starts when a job is done.
"""

import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import orjson
from nameko.extensions import DependencyProvider
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

DOMAIN_ERROR_EXIT = 3
WAIT_FOR_JOB = "-"  # argv of a worker started ahead of its job: the options come on stdin
LOG_PREFIX = "worker-log: "  # the worker's log lines on stderr, told apart from other output
Load = Callable[[Session, bytes, dict[str, Any]], dict[str, Any]]


_spares: dict[str, Any] = {}  # module -> a started worker waiting for its job on stdin


def _start(module: str, argv: str) -> Any:
    from eventlet.green import subprocess

    env = dict(os.environ)
    env.pop("PSYCOPG_WAIT_FUNC", None)  # no eventlet there: the C wait function is faster
    return subprocess.Popen([sys.executable, "-m", module, argv], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)


def prepare(module: str) -> None:
    """Start a worker for the next job, unless one is waiting already (service side)."""
    spare = _spares.get(module)
    if spare is None or spare.poll() is not None:
        _spares[module] = _start(module, WAIT_FOR_JOB)


def discard(module: str) -> None:
    """End the waiting worker (the service stops)."""
    spare = _spares.pop(module, None)
    if spare is not None and spare.poll() is None:
        spare.kill()
        spare.communicate()


def run(module: str, content: bytes, options: dict[str, Any]) -> dict[str, Any]:
    """Run the job in the waiting worker, or in a new `python -m module`; wait for its report
    (service side, green: the hub keeps running)."""
    from nameko.exceptions import deserialize

    spare = _spares.pop(module, None)
    with tempfile.NamedTemporaryFile(prefix="reestr-load-", suffix=".bin") as upload:
        upload.write(content)
        upload.flush()
        argv = orjson.dumps({**options, "path": upload.name}, default=str)
        if spare is not None and spare.poll() is None:
            proc, job = spare, argv
        else:
            proc, job = _start(module, argv.decode()), b""
        out, err = proc.communicate(job)
    if spare is not None:
        prepare(module)
    for line in err.decode(errors="replace").splitlines():
        if line.startswith(LOG_PREFIX):  # the worker's own log, into the service's
            log.info("%s: %s", module, line.removeprefix(LOG_PREFIX))
    if proc.returncode == DOMAIN_ERROR_EXIT:
        raise deserialize(orjson.loads(out)["error"])
    if proc.returncode != 0:
        log.error("%s failed: %s", module, err.decode(errors="replace")[-4000:])
        raise RuntimeError(f"{module} failed")
    return orjson.loads(out)


def serve(load: Load, service: str) -> int:
    """The worker's main: read the options and the file, load in one transaction (as the
    service's own login), report."""
    from nameko.exceptions import serialize

    from services.common.db import make_engine, retryable_when_away
    from services.common.errors import DomainError

    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"), stream=sys.stderr,
                        format=LOG_PREFIX + "%(name)s %(message)s")
    raw = sys.argv[1]
    if raw == WAIT_FOR_JOB:
        raw = sys.stdin.read()
        if not raw:  # the service let it go unused
            return 0
    started = time.perf_counter()
    options = orjson.loads(raw)
    with open(options["path"], "rb") as upload:
        content = upload.read()
    engine = make_engine(pool_size=2, service=service)
    try:
        # the database restarting under a load is the client's 503 (retry), not a 500
        with retryable_when_away(), Session(engine) as session, session.begin():
            report = load(session, content, options)
        log.info("job done and committed in %.1f s", time.perf_counter() - started)
    except DomainError as exc:
        sys.stdout.buffer.write(orjson.dumps({"error": serialize(exc)}))
        return DOMAIN_ERROR_EXIT
    finally:
        engine.dispose()
    sys.stdout.buffer.write(orjson.dumps(report))
    return 0


class SpareWorker(DependencyProvider):
    """A worker for `module` started with the service and waiting; the dependency runs a job."""

    def __init__(self, module: str) -> None:
        self.module = module

    def start(self) -> None:
        prepare(self.module)

    def stop(self) -> None:
        discard(self.module)

    def kill(self) -> None:
        discard(self.module)

    def get_dependency(self, worker_ctx: Any) -> Callable[[bytes, dict[str, Any]], dict[str, Any]]:
        return lambda content, options: run(self.module, content, options)
