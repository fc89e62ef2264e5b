"""Waiting for what happens asynchronously (events between services)."""

import time


def wait_until(check, timeout: float = 10.0):
    """Poll `check` until it returns something true or the time is up; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.05)
