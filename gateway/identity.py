"""Who is calling the gateway: a Keycloak access token, checked before any work is started.

The checked identity becomes the worker's `caller` context data, which nameko forwards with every
RPC call the handler makes; the services decide from it what the caller may see and change.
"""

from functools import lru_cache

from nameko.extensions import DependencyProvider
from werkzeug.wrappers import Request

from gateway.tokens import TokenVerifier
from services.common.caller import CONTEXT_KEY, Caller
from services.sso.clients import API_CLIENT
from services.sso.settings import sso_settings


@lru_cache(maxsize=1)
def verifier() -> TokenVerifier:
    conf = sso_settings()
    return TokenVerifier(issuer=conf.issuer, audience=API_CLIENT)


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def caller_from_claims(claims: dict, ip: str) -> Caller:
    roles = tuple(claims.get("realm_access", {}).get("roles", ()))
    org_ids = []
    for value in claims.get("org_ids") or ():
        try:
            org_ids.append(int(value))
        except (TypeError, ValueError):
            continue  # an attribute an administrator mistyped gives no scope, not an error
    return Caller(user=claims.get("preferred_username") or claims["sub"], ip=ip, roles=roles,
                  org_ids=tuple(org_ids), subject=claims["sub"])


def context_for(caller: Caller) -> dict[str, str]:
    return {CONTEXT_KEY: caller.to_header()}


class ContextData(DependencyProvider):
    """The worker's context data (the checked caller), for handlers that report it."""

    def get_dependency(self, worker_ctx) -> dict:
        return worker_ctx.data
