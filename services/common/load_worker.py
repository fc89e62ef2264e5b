"""Bulk loads in a process of their own, so that a service keeps answering while one runs.

Many seconds of pure Python on a service's eventlet hub would stall every other call it is
answering; in a worker process psycopg's COPY also runs with its C wait function. The service
calls `run` (green: it waits without blocking the hub); the worker module calls `serve` with its
load function. The file travels through a temporary file (a green pipe moves tens of megabytes
slowly), the options as JSON in argv, the report back as JSON on stdout, or a domain error as
{"error": …} with exit code 3.
"""

import logging
import os
import sys
import tempfile
from collections.abc import Callable
from typing import Any

import orjson
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

DOMAIN_ERROR_EXIT = 3
Load = Callable[[Session, bytes, dict[str, Any]], dict[str, Any]]


def run(module: str, content: bytes, options: dict[str, Any]) -> dict[str, Any]:
    """Run `python -m module` on the file and wait for its report (service side)."""
    from eventlet.green import subprocess
    from nameko.exceptions import deserialize

    env = dict(os.environ)
    env.pop("PSYCOPG_WAIT_FUNC", None)  # no eventlet there: the C wait function is faster
    with tempfile.NamedTemporaryFile(prefix="reestr-load-", suffix=".bin") as upload:
        upload.write(content)
        upload.flush()
        argv = orjson.dumps({**options, "path": upload.name}, default=str).decode()
        proc = subprocess.Popen([sys.executable, "-m", module, argv], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=env)
        out, err = proc.communicate()
    if proc.returncode == DOMAIN_ERROR_EXIT:
        raise deserialize(orjson.loads(out)["error"])
    if proc.returncode != 0:
        log.error("%s failed: %s", module, err.decode(errors="replace")[-4000:])
        raise RuntimeError(f"{module} failed")
    return orjson.loads(out)


def serve(load: Load) -> int:
    """The worker's main: read the options and the file, load in one transaction, report."""
    from nameko.exceptions import serialize

    from services.common.db import make_engine
    from services.common.errors import DomainError

    options = orjson.loads(sys.argv[1])
    with open(options["path"], "rb") as upload:
        content = upload.read()
    engine = make_engine(pool_size=2)
    try:
        with Session(engine) as session, session.begin():
            report = load(session, content, options)
    except DomainError as exc:
        sys.stdout.buffer.write(orjson.dumps({"error": serialize(exc)}))
        return DOMAIN_ERROR_EXIT
    finally:
        engine.dispose()
    sys.stdout.buffer.write(orjson.dumps(report))
    return 0
