"""What the fault tests share: the servers stopped and started, the services run as processes and
killed, and every answer a client got timed and judged.

Which PostgreSQL cluster and RabbitMQ node are shaken comes from the environment, so that a
developer can point the fault tests at instances of their own (CI has only the main ones):
FAULT_PG_CLUSTER ("15/main"), FAULT_RABBIT_NODE (rabbitmqctl's default node), FAULT_RUN_DIR
(where deploy/up.sh keeps keycloak.pid and s3proxy.pid).
"""

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import eventlet
import requests

from tests.bench.common import SERVICES  # the one list of the services as processes

ROOT = Path(__file__).resolve().parents[2]
PG_CLUSTER = os.environ.get("FAULT_PG_CLUSTER", "15/main").split("/")
RABBIT_NODE = os.environ.get("FAULT_RABBIT_NODE", "")
RUN_DIR = Path(os.environ.get("FAULT_RUN_DIR", ROOT / "var" / "run"))
# a client must hear back within this long, whatever is down: the gateway gives up on a
# service after 30 s (gateway.http.RPC_TIMEOUT_S)
ANSWER_WITHIN_S = 35.0
IMPORT_WITHIN_S = 90.0
CYRILLIC = re.compile("[а-яё]", re.IGNORECASE)


def sh(*cmd: str, timeout: float = 600) -> None:
    subprocess.run(cmd, check=True, capture_output=True, timeout=timeout)


def wait_until(predicate: Callable[[], Any], timeout: float = 60.0) -> bool:
    """Poll while a server comes back: connection errors on the way count as not yet."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return True
        except (requests.RequestException, OSError):
            pass
        eventlet.sleep(0.3)
    return False


def restart_database() -> None:
    sh("pg_ctlcluster", *PG_CLUSTER, "restart")


def rabbitmqctl(*args: str) -> None:
    sh("rabbitmqctl", *(["-n", RABBIT_NODE] if RABBIT_NODE else []), *args)


@contextmanager
def broker_stopped() -> Iterator[None]:
    """RabbitMQ's application stopped for the block (the node stays: start_app is quick)."""
    rabbitmqctl("stop_app")
    try:
        yield
    finally:
        rabbitmqctl("start_app")


def stop_started_by_up(name: str) -> None:
    """Stop a server deploy/up.sh started (keycloak, s3proxy); `infra_up` starts it again."""
    pid = int((RUN_DIR / f"{name}.pid").read_text())
    os.killpg(pid, signal.SIGTERM)


def infra_up() -> None:
    sh("bash", str(ROOT / "deploy" / "up.sh"), "--infra-only")


# ---- what clients saw ----


@dataclass
class Answer:
    """One request's outcome: `status` None when no HTTP answer came (connection refused or
    cut: the gateway itself was down)."""

    what: str
    status: int | None
    seconds: float
    body: dict[str, Any] = field(default_factory=dict)
    retry_after: str | None = None
    error: str = ""

    @property
    def code(self) -> str:
        return (self.body.get("error") or {}).get("code", "")

    @property
    def accepted(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def timed(what: str, send: Callable[..., requests.Response], *args: Any,
          **kwargs: Any) -> Answer:
    started = time.monotonic()
    try:
        r = send(*args, timeout=IMPORT_WITHIN_S + 5, **kwargs)
    except requests.RequestException as exc:
        return Answer(what, None, time.monotonic() - started,
                      error=f"{type(exc).__name__}: {str(exc)[:200]}")
    try:
        body = r.json()
    except ValueError:
        body = {"raw": r.text[:200]}
    return Answer(what, r.status_code, time.monotonic() - started,
                  body if isinstance(body, dict) else {"items": body},
                  r.headers.get("Retry-After"))


def retryable(answer: Answer, gateway_down: bool = False) -> bool:
    """A clear error the client may retry: 503 with a Russian message and Retry-After, or (only
    while the gateway itself is down) no answer at all."""
    if answer.status is None:
        return gateway_down
    error = answer.body.get("error") or {}
    return (answer.status == 503 and bool(CYRILLIC.search(error.get("message", "")))
            and answer.retry_after is not None)


def judge(answers: list[Answer], allowed: dict[int, set[str]], gateway_down: bool,
          within: float = ANSWER_WITHIN_S) -> None:
    """Every answer came in time and was either expected (`allowed`: status -> error codes, an
    empty set for any) or a clear retryable error."""
    for a in answers:
        assert a.seconds < within, f"{a.what}: answered after {a.seconds:.1f} s"
        if a.status in allowed and (not allowed[a.status] or a.code in allowed[a.status]):
            continue
        assert retryable(a, gateway_down), f"{a.what}: {a.status} {a.error} {a.body}"


def until_final(what: str, send: Callable[[], Answer], attempts: int = 40) -> list[Answer]:
    """Send, and after a retryable error send again (as a client should), until an answer
    that is not one; every answer on the way is returned."""
    answers = []
    for _ in range(attempts):
        answer = send()
        answers.append(answer)
        if answer.status is not None and answer.status != 503:
            return answers
        eventlet.sleep(0.3)  # Retry-After is for people; a test client need not wait 5 s
    raise AssertionError(f"{what}: no final answer after {attempts} attempts: {answers[-1]}")


# ---- the services as processes ----



class ServiceProcesses:
    """Each service as a `nameko run` process, as production runs them, to be killed (SIGKILL:
    no shutdown, unacknowledged messages go back to their queues) and started again."""

    def __init__(self, env: dict[str, str], log_prefix: str = "fault") -> None:
        self.env = env
        self.log_prefix = log_prefix
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, name: str) -> None:
        log_dir = ROOT / "var" / "log"
        log_dir.mkdir(parents=True, exist_ok=True)
        log = open(log_dir / f"{self.log_prefix}-{name}.log", "a")  # noqa: SIM115 - the process's
        self.procs[name] = subprocess.Popen(
            [str(Path(sys.executable).parent / "nameko"), "run", "--config",
             str(ROOT / "deploy" / "nameko.yml"), SERVICES[name]],
            env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            cwd=ROOT)
        log.close()

    def start_all(self) -> None:
        for name in SERVICES:  # each run's logs of its own; a restart adds to them
            (ROOT / "var" / "log" / f"{self.log_prefix}-{name}.log").unlink(missing_ok=True)
            self.start(name)

    def kill(self, name: str) -> None:
        proc = self.procs.pop(name)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        self.procs.clear()
