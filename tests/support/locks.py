"""Waiting for a periodic job's advisory lock: the test's own services run their timers, so a
test that plays a replica of its own takes the lock the way a replica would, but waits its turn
instead of skipping it (a slower machine has a service's run in progress more often)."""

import time
from collections.abc import Iterator
from contextlib import contextmanager

from services.common.db import Db


@contextmanager
def holding(db: Db, job: str, timeout: float = 60) -> Iterator[None]:
    deadline = time.monotonic() + timeout
    while True:
        with db.alone(job) as mine:
            if mine:
                yield
                return
        if time.monotonic() > deadline:
            raise TimeoutError(f"the lock of {job} was not free for {timeout} s")
        time.sleep(0.1)
