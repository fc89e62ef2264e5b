"""Who sent a message on the bus: every RPC call and event carries an assertion its sender signed.

Each principal (the gateway, every service, the operator's command line) holds an ES256 private key
of its own; every process knows the public keys of all of them (`TRUST_KEYS_DIR`: `NAME.key` is a
principal's private key, `NAME.pub` its public key; a container gets the public keys and only its
own private key). A sender signs, for each message, who it is (`iss`, also the key id), what the
message is for (`aud`: `membership.get_member` for a call, `registry.events` for an event), a
moment it expires (`exp`, a minute after) and, when it acts for a person, that person (`usr`): the
gateway takes the person from a checked Keycloak token; a service forwards only the person whose
verified call it is handling (delegation: the trust is in the services' keys). The receiving
entrypoint (services.common.rpc) checks all of it before a worker starts and refuses the rest.

A principal acting for itself (a timer, an event handler, the operator) is "system" and is told
from a person by `Caller.service`. The operator acts only for itself, never for a person.

ES256 rather than EdDSA: OpenSSL verifies P-256 faster here (0.15 ms against 0.2 ms with joserfc),
and verification is what every hop pays.
"""

import os
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet
from nameko.messaging import HEADER_PREFIX, HeaderEncoder
from nameko.rpc import MethodProxy
from nameko.standalone.rpc import ClusterRpcProxy
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.caller import CONTEXT_KEY, Caller

ALG = "ES256"
ASSERTION_KEY = "assertion"  # the context-data key (header `nameko.assertion`)
HEADER = f"{HEADER_PREFIX}.{ASSERTION_KEY}"
OPERATOR = "operator"  # the command line: acts for itself only
# every principal that signs on the bus: the services (their nameko names), the operator
PRINCIPALS = ("gateway", "registry", "membership", "cards", "reports", "sso", "notify", "library",
              "events", OPERATOR)
LEEWAY_S = 5  # clocks of two hosts may differ by this much


class TrustSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TRUST_", extra="ignore")

    keys_dir: str = ""  # no default on purpose: a process without keys must not start
    # the principal a standalone process (the command line, a script) signs as
    principal: str = OPERATOR
    # how long a call's assertion is good for: a call is answered or given up within it
    assertion_ttl_s: int = 60
    # an event waits in its queue while its consumer is down: it is good for much longer (its
    # event_id is bound into it and consumers skip ids they have seen)
    event_max_age_s: int = 7 * 24 * 3600


@lru_cache(maxsize=1)
def trust_settings() -> TrustSettings:
    return TrustSettings()


class Refused(Exception):
    """A message whose sender could not be verified; `code` says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message = code, message


# ---- keys ----

def keys_dir() -> Path:
    path = trust_settings().keys_dir
    if not path:
        raise RuntimeError("TRUST_KEYS_DIR is not set: the bus's keys are needed to send or "
                           "verify any message (deploy/up.sh makes them under var/secrets/trust)")
    return Path(path)


def generate_keys(directory: Path, principals: list[str]) -> list[str]:
    """Make a key pair for each principal that has none yet; returns those made."""
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    made = []
    for name in principals:
        private, public = directory / f"{name}.key", directory / f"{name}.pub"
        if private.exists() and public.exists():
            continue
        key = ECKey.generate_key("P-256", private=True)
        fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key.as_pem(private=True))
        public.write_bytes(key.as_pem(private=False))
        made.append(name)
    return made


@cache
def signing_key(principal: str) -> ECKey:
    path = keys_dir() / f"{principal}.key"
    if not path.exists():
        raise RuntimeError(f"no private key for principal {principal!r} in {path.parent}: this "
                           "process cannot send on the bus")
    return ECKey.import_key(path.read_bytes(), {"kid": principal})


@lru_cache(maxsize=1)
def public_keys() -> KeySet:
    keys = [ECKey.import_key(p.read_bytes(), {"kid": p.stem})
            for p in sorted(keys_dir().glob("*.pub"))]
    return KeySet(keys)


# ---- signing ----

def sign(principal: str, audience: str, caller: Caller | None, ttl_s: int | None = None,
         event_id: str | None = None) -> str:
    """An assertion that `principal` sends this message to `audience`, for `caller` (a person)
    or for itself (None, or a caller that is a service)."""
    now = int(time.time())
    claims: dict[str, Any] = {"iss": principal, "aud": audience, "iat": now,
                              "exp": now + (ttl_s or trust_settings().assertion_ttl_s),
                              "jti": secrets.token_urlsafe(12)}
    if caller is not None and not caller.service:
        if principal == OPERATOR:
            raise RuntimeError("the operator acts for itself only, never for a person")
        claims["usr"] = caller.to_dict()
    if event_id:
        claims["evt"] = event_id
    return jwt.encode({"alg": ALG, "kid": principal}, claims, signing_key(principal),
                      algorithms=[ALG])


def _audience(encoder: HeaderEncoder, worker_ctx) -> str:
    if isinstance(encoder, MethodProxy):
        return f"{encoder.service_name}.{encoder.method_name}"
    return f"{worker_ctx.container.service_name}.events"  # an EventDispatcher's


def _signed_headers(self: HeaderEncoder, worker_ctx) -> dict[str, Any]:
    """nameko's headers of an outgoing message with the sender's assertion in place of any
    identity the context claims: the caller travels only inside the signature."""
    data = worker_ctx.context_data
    raw = data.pop(CONTEXT_KEY, None)
    data.pop(ASSERTION_KEY, None)
    headers = {f"{HEADER_PREFIX}.{k}": v for k, v in data.items() if v is not None}
    caller = Caller.from_header(raw) if raw else None
    headers[HEADER] = sign(worker_ctx.container.service_name, _audience(self, worker_ctx),
                           caller)
    return headers


# Every publisher of nameko (RPC proxies, event dispatchers, the standalone proxies) takes its
# headers from here; importing this module (services.common.rpc does) makes them all sign.
HeaderEncoder.get_message_headers = _signed_headers


class ClusterProxy(ClusterRpcProxy):
    """nameko's standalone cluster proxy signing as `principal` (the operator by default), for a
    person (`caller`, which only a principal that may carry people can assert) or for itself.
    Its reply queue is named after the principal, which the broker's permissions expect."""

    def __init__(self, config: dict[str, Any], principal: str | None = None,
                 caller: Caller | None = None, **kwargs: Any) -> None:
        context = {CONTEXT_KEY: caller.to_header()} if caller else None
        super().__init__(config, context_data=context, **kwargs)
        self._worker_ctx.container.service_name = principal or trust_settings().principal


# ---- verification ----

@dataclass(frozen=True)
class Verified:
    principal: str
    caller: Caller  # the person, or the principal acting for itself


class _SeenIds:
    """Assertion ids seen while they were good: a call replayed within its minute is refused
    (per process; a replica elsewhere would take it once more, within the same minute)."""

    def __init__(self, limit: int = 200_000) -> None:
        self.ids: OrderedDict[str, int] = OrderedDict()
        self.limit = limit
        self.lock = threading.Lock()

    def first_time(self, jti: str, exp: int, now: int) -> bool:
        with self.lock:
            while self.ids and (next(iter(self.ids.values())) < now - LEEWAY_S
                                or len(self.ids) > self.limit):
                self.ids.popitem(last=False)
            if jti in self.ids:
                return False
            self.ids[jti] = exp
            return True


_seen = _SeenIds()


def verify(token: Any, audience: str, *, sender: str | None = None,
           event_id: str | None = None, redelivered: bool = False) -> Verified:
    """The verified sender of a message to `audience`, or Refused. `sender` requires a given
    principal (an event's source service); `event_id` is the event's own id, which must be
    the one signed (events are good for days, so each is bound to its own id)."""
    if not token or not isinstance(token, str):
        raise Refused("identity_missing", "Вызов без удостоверения отправителя отклонён")
    try:
        decoded = jwt.decode(token, public_keys(), algorithms=[ALG])
    except (JoseError, ValueError) as exc:  # unknown key id, bad signature, malformed
        raise Refused("identity_forged",
                      "Подпись отправителя не подтверждена: вызов отклонён") from exc
    claims, principal = decoded.claims, decoded.header.get("kid")
    now = int(time.time())
    if claims.get("iss") != principal or (sender is not None and principal != sender):
        raise Refused("identity_forged", "Отправитель не тот, кем назвался: вызов отклонён")
    if claims.get("aud") != audience:
        raise Refused("identity_misdirected", "Удостоверение выдано для другого вызова")
    exp, iat = claims.get("exp"), claims.get("iat")
    if not isinstance(exp, int) or not isinstance(iat, int) or iat > now + LEEWAY_S:
        raise Refused("identity_forged", "Удостоверение отправителя повреждено")
    if event_id is None:
        if exp < now - LEEWAY_S:
            raise Refused("identity_expired", "Срок удостоверения отправителя истёк")
        # a message the broker redelivered (its first worker died with the broker) is the same
        # call again, not a replay: only the broker sets that flag
        if not _seen.first_time(str(claims.get("jti", "")), exp, now) and not redelivered:
            raise Refused("identity_replayed", "Этот вызов уже был принят: повтор отклонён")
    else:
        if iat < now - trust_settings().event_max_age_s:
            raise Refused("identity_expired", "Событие слишком старое: удостоверение истекло")
        if claims.get("evt") not in (None, event_id):
            raise Refused("identity_misdirected", "Удостоверение выдано для другого события")
    usr = claims.get("usr")
    if usr is None:
        return Verified(principal, Caller.of_service(principal))
    if principal == OPERATOR or not isinstance(usr, dict):
        raise Refused("identity_forged", "Этот отправитель не может действовать за человека")
    return Verified(principal, Caller.from_dict(usr))
