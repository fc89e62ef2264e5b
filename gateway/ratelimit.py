"""Rate limits of the gateway: the public join form, the portal's sign-in, transfer look-ups and
other answers that differ for existing records.

Each rule counts requests in a sliding window (the `limits` library's moving window) per client
address and, where a request names someone (a SNILS, a member's id), per that target too. The
counters live in this process: each gateway instance limits on its own, so N instances behind a
balancer let through up to N times a rule. The memory store is guarded by locks (eventlet makes
them green), so concurrent requests of one instance count exactly once each.

A refusal is `TooManyRequests` (429 with Retry-After and a Russian message, `too_many_requests`).
"""

import hashlib
import logging
import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from werkzeug.wrappers import Request

from gateway.settings import GatewaySettings, gateway_settings
from services.common.errors import TooManyRequests

log = logging.getLogger(__name__)

RULES = ("join", "signin", "transfer", "register", "lookup")


@dataclass(frozen=True)
class Rule:
    per_address: tuple[RateLimitItem, ...]
    per_target: tuple[RateLimitItem, ...]


def rules_from(conf: GatewaySettings) -> dict[str, Rule]:
    def items(name: str) -> tuple[RateLimitItem, ...]:
        value = getattr(conf, f"rate_{name}", "")
        return tuple(parse_many(value)) if value else ()
    return {name: Rule(items(f"{name}_address"), items(f"{name}_target")) for name in RULES}


class Limiter:
    def __init__(self, rules: dict[str, Rule], trusted_proxies: int = 0) -> None:
        self.rules = rules
        self.trusted_proxies = trusted_proxies
        self._window = MovingWindowRateLimiter(MemoryStorage())

    def client_address(self, request: Request) -> str:
        """The TCP peer, or behind `trusted_proxies` proxies the address they were given
        (X-Forwarded-For, counted from the right: the left part is whatever the client said)."""
        if self.trusted_proxies:
            forwarded = [a.strip() for a in
                         ",".join(request.headers.getlist("X-Forwarded-For")).split(",")
                         if a.strip()]
            if len(forwarded) >= self.trusted_proxies:
                return forwarded[-self.trusted_proxies]
        return request.remote_addr or ""

    def check(self, request: Request | None, rule: str, targets: Iterable[str] = ()) -> None:
        """Count this request under `rule` for its client address (when `request` is given)
        and for each of `targets`; raise TooManyRequests, counting nothing, when a window is
        full."""
        conf = self.rules[rule]
        keys = []
        if request is not None:
            keys += [(item, (rule, "address", self.client_address(request)))
                     for item in conf.per_address]
        for target in targets:
            digest = hashlib.blake2b(target.encode(), digest_size=16).hexdigest()
            keys += [(item, (rule, "target", digest)) for item in conf.per_target]
        full = [(item, ids) for item, ids in keys if not self._window.test(item, *ids)]
        if full:
            now = time.time()
            wait = max(math.ceil(self._window.get_window_stats(item, *ids).reset_time - now)
                       for item, ids in full)
            log.warning("rate limit %s: %s refused for %d s", rule,
                        ", ".join(ids[1] for _, ids in full), wait)
            raise TooManyRequests(details=max(wait, 1))
        for item, ids in keys:
            self._window.hit(item, *ids)


_limiter: Limiter | None = None


def limiter() -> Limiter:
    global _limiter
    if _limiter is None:
        conf = gateway_settings()
        _limiter = Limiter(rules_from(conf), conf.trusted_proxies)
    return _limiter


def use(new: Limiter | None) -> Limiter | None:
    """Put another limiter in place (None: built again from the settings on next use); returns
    the one it replaces. For a deploy's tuning at run time and for tests of tight limits."""
    global _limiter
    old, _limiter = _limiter, new
    return old


def check_address(request: Request, rule: str) -> None:
    """Count a request under `rule` for the address it came from."""
    limiter().check(request, rule)


def check_target(rule: str, *targets: str) -> None:
    """Count a request under `rule` for the people or records it names."""
    limiter().check(None, rule, targets)


def person_targets(data: Mapping[str, Any]) -> tuple[str, ...]:
    """What names a person in a card or an application: the SNILS, and the full name with the
    date of birth; a probe counts under each it gives."""
    snils = "".join(ch for ch in str(data.get("snils") or "") if ch.isdigit())
    name = "|".join(" ".join(str(data.get(k) or "").lower().replace("ё", "е").split())
                    for k in ("surname", "first_name", "patronymic", "birth_date"))
    return (("snils:" + snils,) if snils else ()) + ("person:" + name,)
