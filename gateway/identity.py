"""Who is calling the gateway, attached to the worker so it travels with every RPC call.

Until single sign-on lands the gateway listens on loopback only and every caller is the local
operator; the token check replaces `caller_for` and nothing else changes.
"""

from nameko.extensions import DependencyProvider
from werkzeug.wrappers import Request

from services.common.caller import CONTEXT_KEY, Caller


def caller_for(request: Request) -> Caller:
    return Caller(user="operator@loopback", ip=request.remote_addr or "", roles=("operator",))


class Identity(DependencyProvider):
    def worker_setup(self, worker_ctx) -> None:
        request = worker_ctx.args[0] if worker_ctx.args else None
        if isinstance(request, Request):
            worker_ctx.data[CONTEXT_KEY] = caller_for(request).to_header()

    def get_dependency(self, worker_ctx) -> Caller:
        return Caller.from_header(worker_ctx.data.get(CONTEXT_KEY))
