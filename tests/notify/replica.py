"""A notify replica of the test's own, in a process the test kills (SIGKILL) mid-delivery: it
takes the delivery lock first, so the messages the test queues afterwards are its alone until it
dies and the lock goes with its connection."""

import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# slow (20 a second) so that it dies with most of its batch unsent
SLOW = {"MAIL_RATE_PER_S": "20", "SEND_BATCH": "200"}
RUN = """
from services.common.db import Db, make_engine
from services.notify import delivery
from services.notify.settings import notify_settings
from tests.support.locks import holding
db = Db(make_engine())
with holding(db, "notify.deliver"):
    print("locked", flush=True)
    input()  # the test queues the messages now: nobody else can send them
    delivery.deliver(db, notify_settings())
"""


class DyingReplica:
    def __enter__(self) -> "DyingReplica":
        self.proc = subprocess.Popen([sys.executable, "-c", RUN], cwd=ROOT,
                                     env=dict(os.environ, **SLOW), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if self.proc.stdout.readline().strip() != "locked":
            self.kill()
            raise AssertionError(self.proc.stderr.read())
        return self

    def go(self) -> None:
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def __exit__(self, *exc: object) -> None:
        self.kill()
