"""HTTP plumbing of the gateway: JSON in and out, errors as a code and a Russian message.

Every route is declared once with `api(...)`; the same declaration feeds the OpenAPI document.
"""

import base64
import json
import logging
import socket
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from urllib.parse import quote

import eventlet
from amqp.exceptions import RecoverableConnectionError
from eventlet.event import Event
from kombu.exceptions import OperationalError as KombuOperationalError
from nameko.exceptions import RemoteError, UnknownService
from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import WebServer, WsgiApp
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.routing import IntegerConverter, Map
from werkzeug.wrappers import Request, Response

from gateway.headers import with_security_headers
from services.common import observability, serialization
from services.common.errors import DomainError, TooManyRequests

log = logging.getLogger(__name__)

RPC_TIMEOUT_S = 30.0


def json_response(payload: Any, status: int = 200) -> Response:
    return Response(serialization.dumps(payload), status=status, mimetype="application/json")


# a 503 says when to try again (RFC 9110): a service restarting is back within seconds
RETRY_AFTER_S = 5


def error_response(status: int, code: str, message: str, details: Any = None) -> Response:
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    request_id = observability.current_request_id()
    if request_id:  # what support asks for: the same id is in every log line of the request
        body["request_id"] = request_id
    response = json_response({"error": body}, status)
    if status == 503:
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response


class ServiceUnavailable(Exception):
    """A service did not answer in time: the client may retry."""


# the broker itself away (stopped, restarting): the request could not even be sent
BROKER_AWAY = (OSError, KombuOperationalError, RecoverableConnectionError)
# the database restarting under a service's code that does not go through services.common.db
DATABASE_AWAY = {"OperationalError", "InterfaceError"}


def run_worker(handler: HttpRequestHandler, request: Request,
               context_data: dict[str, str]) -> Response:
    """Run the handler's entrypoint as a worker carrying `context_data` (the caller, for every
    RPC it makes) and wait for its answer; the API's and the portal's handlers share it."""
    args, kwargs = handler.get_entrypoint_parameters(request)
    handler.check_signature(args, kwargs)
    request_id = observability.current_request_id()
    if request_id:  # on to every RPC the worker makes (nameko sends context data along)
        context_data = {**context_data, observability.REQUEST_KEY: request_id}
    event = Event()
    handler.container.spawn_worker(handler, args, kwargs, context_data=context_data,
                                   handle_result=partial(handler.handle_result, event))
    return handler.response_from_result(event.wait())


def file_response(result: dict[str, str], mimetype: str) -> Response:
    """A file a service sent as `{"filename", "content_b64"}`, for download."""
    return Response(base64.b64decode(result["content_b64"]), mimetype=mimetype, headers={
        "Content-Disposition": "attachment; filename*=UTF-8''" + quote(result["filename"])})


def call(proxy, method: str, *args, timeout: float = RPC_TIMEOUT_S, **kwargs) -> Any:
    """An RPC call that gives up after `timeout` instead of hanging the request; a broker or a
    service that is away is a retryable 503, not a 500."""
    try:
        with eventlet.Timeout(timeout):
            return getattr(proxy, method).call_async(*args, **kwargs).result()
    except eventlet.Timeout:
        raise ServiceUnavailable(f"{method}: no answer in {timeout} s") from None
    except UnknownService:
        raise ServiceUnavailable(f"{method}: service not running") from None
    except BROKER_AWAY as exc:
        raise ServiceUnavailable(f"{method}: broker unreachable ({exc})") from None


class NoDelayWebServer(WebServer):
    """nameko's web server with Nagle's algorithm off on each connection.

    eventlet writes headers and body separately; with Nagle on, the body waits for the client's
    delayed ACK and every response of more than a few KB took 40 ms longer.
    """

    def process_request(self, sock, address):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return super().process_request(sock, address)

    def get_wsgi_app(self):
        return JsonErrorsWsgiApp(self)

    def make_url_map(self) -> Map:
        url_map = Map(converters={"int": IdConverter})  # before the rules: they compile on add
        for provider in self._providers:
            rule = provider.get_url_rule()
            rule.endpoint = provider
            url_map.add(rule)
        return url_map


MAX_ID = 10**18 - 1  # ids are PostgreSQL bigints (up to 9.2e18): 18 digits name them all
INT64 = 2**63 - 1


class IdConverter(IntegerConverter):
    """`<int:…>` in a path: at most 18 digits (a bigint), otherwise no route matches: 404.
    (A `max` would do it after the match, and werkzeug then answers 405.)"""

    regex = r"\d{1,18}"


ROUTING_ERRORS = {
    404: ("route_not_found", "Такого адреса в API нет: проверьте путь и идентификаторы в нём"),
    405: ("method_not_allowed", "Этот метод не поддерживается по этому адресу"),
}


class JsonErrorsWsgiApp(WsgiApp):
    """Routing failures under /api/ answer in JSON like every other API error (werkzeug's
    own are HTML): an id that is not a number, a path that does not exist, a wrong method.
    Every answer, of the API and of the portal, leaves with the security headers (headers.py)."""

    def __call__(self, environ, start_response):
        request_id = observability.request_id_from(environ.get("HTTP_X_REQUEST_ID"))
        observability.begin(request_id)
        start_response = with_security_headers(environ, start_response,
                                               [("X-Request-ID", request_id)])
        request = Request(environ, shallow=True)  # as nameko's WsgiApp does
        try:
            provider, request.path_values = self.url_map.bind_to_environ(environ).match()
            answer = provider.handle_request(request)
        except HTTPException as exc:
            answer = exc
            if environ.get("PATH_INFO", "").startswith("/api/"):
                answer = _json_routing_error(exc)
            elif exc.code in (404, 405):  # the portal's own page, in Russian
                from gateway.portal.web import routing_error

                answer = routing_error(exc.code, Request(environ))
        return answer(environ, start_response)


def _json_routing_error(exc: HTTPException) -> Response:
    status = exc.code or 400
    code, message = ROUTING_ERRORS.get(status, ("http_error", f"Ошибка запроса ({status})"))
    response = error_response(status, code, message)
    if status == 405 and getattr(exc, "valid_methods", None):
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    return response


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
            for name, value in [*request.args.items(multi=True),
                                *getattr(request, "path_values", {}).items()]:
                check_input(value, name)
            return run_worker(self, request, context_data)
        except Exception as exc:
            return self.response_from_exception(exc)

    def response_from_exception(self, exc: Exception) -> Response:
        if isinstance(exc, DomainError):
            response = error_response(exc.status, exc.code, exc.message, exc.details)
            if isinstance(exc, TooManyRequests):
                response.headers["Retry-After"] = str(exc.retry_after_s)
            return response
        if isinstance(exc, BadInput):
            return error_response(exc.status, exc.code, exc.message, exc.details)
        if isinstance(exc, ServiceUnavailable):
            log.warning("service unavailable: %s", exc)
            return error_response(503, "service_unavailable",
                                  "Сервис временно недоступен, повторите запрос позже")
        if isinstance(exc, HTTPException):
            return error_response(exc.code or 400, "http_error", exc.description or "")
        if isinstance(exc, RemoteError) and exc.exc_type in DATABASE_AWAY:
            log.warning("database away behind a service: %s", exc)
            return error_response(503, "database_unavailable",
                                  "База данных временно недоступна, повторите запрос позже")
        if isinstance(exc, RemoteError):
            log.error("remote error: %s", exc)
        else:
            log.exception("unexpected error", exc_info=exc)
        return error_response(500, "internal_error", "Внутренняя ошибка сервера; она записана "
                              f"в журнал, код обращения {observability.current_request_id()}")


class BadInput(Exception):
    """A request the gateway refuses itself (400 unless said otherwise)."""

    def __init__(self, code: str, message: str, details: Any = None,
                 status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.details, self.status = code, message, details, status


def check_input(value: Any, where: str) -> None:
    """Refuse what nothing behind the gateway can carry: NUL and halves of UTF-16 pairs (JSON's
    \\uD800 escapes let them through; no text column or UTF-8 message can hold them), and
    integers past 64 bits (the RPC encoder and PostgreSQL's bigint stop there)."""
    if isinstance(value, bool):
        return
    if isinstance(value, int):
        if not -INT64 - 1 <= value <= INT64:
            raise BadInput("number_too_large", f"Слишком большое число в поле {where}",
                           {"field": where})
    elif isinstance(value, str):
        if "\x00" in value or not value.isprintable() and _has_surrogate(value):
            raise BadInput("text_invalid", f"Недопустимые символы в поле {where or 'запроса'}: "
                           "нулевой символ или неполная суррогатная пара", {"field": where})
    elif isinstance(value, dict):
        for key, item in value.items():
            check_input(key, where)
            check_input(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            check_input(item, f"{where}[{i}]")


def _has_surrogate(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")  # NaN, Infinity: Python's json accepts them


MAX_JSON_BODY = 10 * 1024 * 1024


def limit_body(request: Request, limit: int) -> None:
    """Read at most `limit` bytes of the body, a chunked one too: eventlet's server de-chunks
    it and ends the stream after the last chunk but does not say so (`wsgi.input_terminated`),
    and werkzeug would read a body of unknown length as empty."""
    if "chunked" in request.headers.get("Transfer-Encoding", "").lower():
        request.environ["wsgi.input_terminated"] = True
    request.max_content_length = limit


def json_body(request: Request) -> dict[str, Any]:
    limit_body(request, MAX_JSON_BODY)
    try:
        body = json.loads(request.get_data(as_text=True) or "{}", parse_constant=_no_constant)
    except RequestEntityTooLarge:
        raise BadInput("body_too_large", "Тело запроса больше 10 МБ", status=413) from None
    except ValueError:
        raise BadInput("json_malformed", "Тело запроса — не корректный JSON") from None
    if not isinstance(body, dict):
        raise BadInput("json_not_object", "Тело запроса должно быть JSON-объектом")
    check_input(body, "")
    return body


def query_int(request: Request, name: str, default: int | None = None) -> int | None:
    """A whole number from 0 to MAX_ID: every integer parameter is an id, a limit or an
    offset, and a larger or negative one would only reach PostgreSQL to fail there."""
    value = request.args.get(name)
    if value in (None, ""):
        return default
    try:
        number = int(value)
    except ValueError:
        raise BadInput("query_int", f"Параметр {name} должен быть целым числом") from None
    if not 0 <= number <= MAX_ID:
        raise BadInput("query_int_range", f"Параметр {name} должен быть целым числом "
                       f"от 0 до {MAX_ID}")
    return number


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
    statuses: tuple[int, ...] = (200,)  # the successful answers
    produces: tuple[str, ...] = ("application/json",)  # their media types


ROUTES: list[Route] = []


def api(method: str, path: str, summary: str, tag: str = "organizations",
        query: dict[str, str] | None = None, body: dict[str, Any] | None = None,
        upload: bool = False, public: bool = False, statuses: tuple[int, ...] = (200,),
        produces: tuple[str, ...] = ("application/json",)):
    """Declare a route: registers it with nameko and describes it for OpenAPI.

    Every route needs a valid access token unless it is `public`."""
    ROUTES.append(Route(method, path, summary, tag, query or {}, body, upload, public,
                        statuses, produces))
    return ApiHandler.decorator(method, path, public=public)
