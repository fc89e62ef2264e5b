"""HTTP plumbing of the gateway: JSON in and out, errors as a code and a Russian message.

Every route is declared once with `api(...)`; the same declaration feeds the OpenAPI document.
"""

import json
import logging
import socket
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import eventlet
from eventlet.event import Event
from nameko.exceptions import RemoteError, UnknownService
from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import WebServer
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request, Response

from services.common import serialization
from services.common.errors import DomainError

log = logging.getLogger(__name__)

RPC_TIMEOUT_S = 30.0


def json_response(payload: Any, status: int = 200) -> Response:
    return Response(serialization.dumps(payload), status=status, mimetype="application/json")


def error_response(status: int, code: str, message: str, details: Any = None) -> Response:
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    return json_response({"error": body}, status)


class ServiceUnavailable(Exception):
    """A service did not answer in time: the client may retry."""


def call(proxy, method: str, *args, timeout: float = RPC_TIMEOUT_S, **kwargs) -> Any:
    """An RPC call that gives up after `timeout` instead of hanging the request."""
    try:
        with eventlet.Timeout(timeout):
            return getattr(proxy, method).call_async(*args, **kwargs).result()
    except eventlet.Timeout:
        raise ServiceUnavailable(f"{method}: no answer in {timeout} s") from None
    except UnknownService:
        raise ServiceUnavailable(f"{method}: service not running") from None


class NoDelayWebServer(WebServer):
    """nameko's web server with Nagle's algorithm off on each connection.

    eventlet writes headers and body separately; with Nagle on, the body waits for the client's
    delayed ACK and every response of more than a few KB took 40 ms longer.
    """

    def process_request(self, sock, address):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return super().process_request(sock, address)


class ApiHandler(HttpRequestHandler):
    """An HTTP entrypoint that checks the caller's token before a worker is spawned."""

    server = NoDelayWebServer()

    def __init__(self, method: str, url: str, public: bool = False, **kwargs: Any) -> None:
        super().__init__(method, url, **kwargs)
        self.public = public

    def handle_request(self, request: Request) -> Response:
        from gateway.identity import bearer_token, caller_from_claims, context_for, verifier
        from gateway.tokens import KeysUnavailable, TokenRejected

        request.shallow = False
        token = bearer_token(request)
        if token is None:
            if self.public:
                return self._run(request, {})
            return error_response(401, "token_required",
                                  "Нужно войти: запрос без токена доступа")
        try:
            claims = verifier().verify(token)
        except TokenRejected as exc:
            return error_response(401, exc.code, exc.message)
        except KeysUnavailable:
            return error_response(503, "identity_provider_unavailable",
                                  "Сервер входа недоступен, повторите запрос позже")
        caller = caller_from_claims(claims, request.remote_addr or "")
        return self._run(request, context_for(caller))

    def _run(self, request: Request, context_data: dict[str, str]) -> Response:
        try:
            args, kwargs = self.get_entrypoint_parameters(request)
            self.check_signature(args, kwargs)
            event = Event()
            self.container.spawn_worker(self, args, kwargs, context_data=context_data,
                                        handle_result=partial(self.handle_result, event))
            return self.response_from_result(event.wait())
        except Exception as exc:
            return self.response_from_exception(exc)

    def response_from_exception(self, exc: Exception) -> Response:
        if isinstance(exc, DomainError):
            return error_response(exc.status, exc.code, exc.message, exc.details)
        if isinstance(exc, BadInput):
            return error_response(400, exc.code, exc.message, exc.details)
        if isinstance(exc, ServiceUnavailable):
            log.warning("service unavailable: %s", exc)
            return error_response(503, "service_unavailable",
                                  "Сервис временно недоступен, повторите запрос позже")
        if isinstance(exc, HTTPException):
            return error_response(exc.code or 400, "http_error", exc.description or "")
        if isinstance(exc, RemoteError):
            log.error("remote error: %s", exc)
        else:
            log.exception("unexpected error", exc_info=exc)
        return error_response(500, "internal_error",
                              "Внутренняя ошибка сервера; она записана в журнал")


class BadInput(Exception):
    def __init__(self, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.code, self.message, self.details = code, message, details


def json_body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(request.get_data(as_text=True) or "{}")
    except ValueError:
        raise BadInput("json_malformed", "Тело запроса — не корректный JSON") from None
    if not isinstance(body, dict):
        raise BadInput("json_not_object", "Тело запроса должно быть JSON-объектом")
    return body


def query_int(request: Request, name: str, default: int | None = None) -> int | None:
    value = request.args.get(name)
    if value in (None, ""):
        return default
    try:
        return int(value)
    except ValueError:
        raise BadInput("query_int", f"Параметр {name} должен быть целым числом") from None


def query_bool(request: Request, name: str) -> bool:
    return request.args.get(name, "").lower() in ("1", "true", "yes", "да")


@dataclass
class Route:
    method: str
    path: str
    summary: str
    tag: str
    query: dict[str, str] = field(default_factory=dict)  # name -> description
    body: dict[str, Any] | None = None  # JSON schema of the request body
    upload: bool = False
    public: bool = False


ROUTES: list[Route] = []


def api(method: str, path: str, summary: str, tag: str = "organizations",
        query: dict[str, str] | None = None, body: dict[str, Any] | None = None,
        upload: bool = False, public: bool = False):
    """Declare a route: registers it with nameko and describes it for OpenAPI.

    Every route needs a valid access token unless it is `public`."""
    ROUTES.append(Route(method, path, summary, tag, query or {}, body, upload, public))
    return ApiHandler.decorator(method, path, public=public)
