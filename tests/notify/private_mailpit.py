"""A Mailpit of the test's own, on free ports, that the test may stop, start, and make refuse
addresses: the shared one is left alone. Notify reads SMTP_PORT at every run, so pointing the
environment at this one redirects delivery."""

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
# addresses in this domain are refused with 550 (--smtp-allowed-recipients)
REFUSED_DOMAIN = "bounce.invalid"


def binary() -> str:
    for candidate in (os.environ.get("MAILPIT_BIN"), str(ROOT / "var/mailpit/mailpit"),
                      shutil.which("mailpit")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise AssertionError("no Mailpit binary: run deploy/up.sh (var/mailpit/mailpit) or set "
                         "MAILPIT_BIN")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivateMailpit:
    def __init__(self, workdir: Path) -> None:
        self.smtp_port, self.http_port = free_port(), free_port()
        self.api = f"http://127.0.0.1:{self.http_port}"
        self.db = workdir / "mailpit.db"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [binary(), "--smtp", f"127.0.0.1:{self.smtp_port}",
             "--listen", f"127.0.0.1:{self.http_port}", "--database", str(self.db),
             "--enable-chaos", "--smtp-disable-rdns", "--disable-version-check",
             # anything but the refused domain (RE2 has no negative look-ahead)
             "--smtp-allowed-recipients", r"@([^b]|b[^o]|bo[^u])[^@]*$"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                requests.get(f"{self.api}/api/v1/info", timeout=1).raise_for_status()
                with socket.create_connection(("127.0.0.1", self.smtp_port), timeout=1):
                    return
            except (requests.RequestException, OSError):
                time.sleep(0.1)
        raise AssertionError("the private Mailpit did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=20)
            self.proc = None

    def messages(self) -> list[dict]:
        out, start = [], 0
        while True:
            r = requests.get(f"{self.api}/api/v1/messages",
                             params={"start": start, "limit": 500}, timeout=10)
            r.raise_for_status()
            page = r.json()["messages"]
            out.extend(page)
            if len(page) < 500:
                return out
            start += len(page)

    def chaos(self, code: int, probability: int) -> None:
        requests.put(f"{self.api}/api/v1/chaos", json={
            "Recipient": {"ErrorCode": code, "Probability": probability}},
            timeout=10).raise_for_status()
