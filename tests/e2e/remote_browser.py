"""Playwright in a process of its own, used from tests whose services run in the test process.

The services, the gateway and the tests share one OS thread under eventlet. Playwright's
synchronous client blocks its thread while it waits for the browser, the browser waits for the
gateway, and the gateway cannot answer while that thread is blocked. So the client runs in a
child process (plain Python, no eventlet), and the tests reach its objects through a pipe: a
line of JSON per call, Playwright objects handed out as references. Reading the pipe yields to
eventlet's hub, so the gateway answers the browser meanwhile. Tests use the usual sync API.

Run as `python -m tests.e2e.remote_browser CHROMIUM_PATH` (the tests start it).
"""

import base64
import json
import os
import re
import subprocess
import sys
from typing import Any


class RemoteBrowserError(AssertionError):
    """Playwright raised in the child (a timeout, a missing element): the test fails."""


def aborting(reason: str = "failed") -> dict[str, str]:
    """A route handler that fails every request it gets with `reason`, for `context.route`
    (a function cannot cross the pipe; this stands for one)."""
    return {"__abort__": reason}


# ---- the child: owns Playwright and every object it hands out ----

def _serve(chromium_path: str) -> None:
    from playwright.sync_api import sync_playwright

    objects: dict[int, Any] = {}

    def encode(value: Any) -> Any:
        if type(value).__module__.startswith("playwright."):
            objects[id(value)] = value
            return {"__ref__": id(value)}
        if isinstance(value, bytes):
            return {"__bytes__": base64.b64encode(value).decode()}
        if isinstance(value, list | tuple):
            return [encode(v) for v in value]
        if isinstance(value, dict):
            return {k: encode(v) for k, v in value.items()}
        if value is None or isinstance(value, str | int | float | bool):
            return value
        return repr(value)

    def decode(value: Any) -> Any:
        if isinstance(value, dict):
            if "__ref__" in value:
                return objects[value["__ref__"]]
            if "__re__" in value:
                return re.compile(value["__re__"])
            if "__bytes__" in value:
                return base64.b64decode(value["__bytes__"])
            if "__abort__" in value:  # a route handler (see `aborting`)
                reason = value["__abort__"]
                return lambda route: route.abort(reason)
            return {k: decode(v) for k, v in value.items()}
        if isinstance(value, list):
            return [decode(v) for v in value]
        return value

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path, headless=True)
        objects[0] = browser
        out = sys.stdout
        out.write(json.dumps({"ready": True}) + "\n")
        out.flush()
        for line in sys.stdin:
            request = json.loads(line)
            if request["op"] == "quit":
                break
            try:
                target = objects[request["ref"]]
                if request["op"] == "get":
                    attribute = getattr(target, request["name"])
                    if callable(attribute) and not type(attribute).__module__.startswith(
                            "playwright."):
                        answer = {"callable": True}
                    else:
                        answer = {"value": encode(attribute)}
                else:
                    method = getattr(target, request["name"])
                    answer = {"value": encode(method(*decode(request["args"]),
                                                     **decode(request["kwargs"])))}
            except Exception as exc:  # goes back to the test as its failure
                answer = {"error": f"{type(exc).__name__}: {exc}"}
            out.write(json.dumps(answer, ensure_ascii=False) + "\n")
            out.flush()
        browser.close()


# ---- the tests' side ----

class RemoteBrowser:
    def __init__(self, chromium_path: str) -> None:
        # a service worker's own fetches are routed like the page's (the door's offline
        # check-ins: Chromium's offline emulation alone does not stop them)
        env = {**os.environ, "PW_EXPERIMENTAL_SERVICE_WORKER_NETWORK_EVENTS": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.e2e.remote_browser", chromium_path],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, encoding="utf-8",
            env=env)
        hello = self.process.stdout.readline()
        if not hello:
            raise RemoteBrowserError("the browser process did not start")
        self.browser = Remote(self, 0)

    def send(self, request: dict[str, Any]) -> dict[str, Any]:
        self.process.stdin.write(json.dumps(request, ensure_ascii=False) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()  # green under eventlet: the gateway runs
        if not line:
            raise RemoteBrowserError("the browser process ended")
        answer = json.loads(line)
        if "error" in answer:
            raise RemoteBrowserError(answer["error"])
        return answer

    def close(self) -> None:
        try:
            self.process.stdin.write(json.dumps({"op": "quit"}) + "\n")
            self.process.stdin.flush()
            self.process.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()


def _encode(value: Any) -> Any:
    if isinstance(value, Remote):
        return {"__ref__": value._ref}
    if isinstance(value, re.Pattern):
        return {"__re__": value.pattern}
    if isinstance(value, bytes):
        return {"__bytes__": base64.b64encode(value).decode()}
    if isinstance(value, list | tuple):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    return value


def _decode(owner: RemoteBrowser, value: Any) -> Any:
    if isinstance(value, dict):
        if "__ref__" in value:
            return Remote(owner, value["__ref__"])
        if "__bytes__" in value:
            return base64.b64decode(value["__bytes__"])
        return {k: _decode(owner, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(owner, v) for v in value]
    return value


class Remote:
    """A Playwright object living in the browser process."""

    def __init__(self, owner: RemoteBrowser, ref: int) -> None:
        self._owner, self._ref = owner, ref

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        answer = self._owner.send({"op": "get", "ref": self._ref, "name": name})
        if not answer.get("callable"):
            return _decode(self._owner, answer["value"])

        def call(*args: Any, **kwargs: Any) -> Any:
            result = self._owner.send({"op": "call", "ref": self._ref, "name": name,
                                       "args": _encode(list(args)),
                                       "kwargs": _encode(kwargs)})
            return _decode(self._owner, result["value"])
        return call


if __name__ == "__main__":
    _serve(sys.argv[1])
