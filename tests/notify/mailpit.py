"""The test Mailpit read through its HTTP API (GET /api/v1/messages, /api/v1/message/{ID},
DELETE /api/v1/messages)."""

import os

import requests

from tests.support.waiting import wait_until

API = os.environ.get("MAILPIT_API", "http://127.0.0.1:8025").rstrip("/")


def clear() -> None:
    requests.delete(f"{API}/api/v1/messages", timeout=10).raise_for_status()


def listing(query: str | None = None) -> list[dict]:
    """Every message's summary (newest first), optionally those matching a search."""
    out, start = [], 0
    while True:
        if query:
            r = requests.get(f"{API}/api/v1/search", params={"query": query, "start": start,
                                                             "limit": 500}, timeout=10)
        else:
            r = requests.get(f"{API}/api/v1/messages", params={"start": start, "limit": 500},
                             timeout=10)
        r.raise_for_status()
        page = r.json()["messages"]
        out.extend(page)
        if len(page) < 500:
            return out
        start += len(page)


def to(address: str) -> list[dict]:
    return [m for m in listing() if any(t["Address"].lower() == address.lower()
                                        for t in m["To"])]


def message(message_id: str) -> dict:
    r = requests.get(f"{API}/api/v1/message/{message_id}", timeout=10)
    r.raise_for_status()
    return r.json()


def wait_for(address: str, count: int = 1, timeout: float = 20) -> list[dict]:
    """The full messages to an address, once at least `count` have arrived."""
    found = wait_until(lambda: len(to(address)) >= count and to(address), timeout=timeout)
    assert found, f"no mail to {address} within {timeout}s"
    return [message(m["ID"]) for m in found]


def wait_for_subject(address: str, fragment: str, timeout: float = 20) -> dict:
    """The full message to an address whose subject holds `fragment`, once it has arrived."""
    def found():
        return [m for m in to(address) if fragment in m["Subject"]]
    hits = wait_until(found, timeout=timeout)
    assert hits, f"no mail to {address} about «{fragment}» within {timeout}s"
    return message(hits[0]["ID"])
