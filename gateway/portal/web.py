"""Plumbing of the portal's pages: the entrypoint, templates, forms and redirects.

`page(...)` declares a route like `api(...)` does for JSON: the entrypoint reads the session
from its cookies before a worker is spawned, sends people who are not signed in to sign-in (a
posted form is kept as a draft), checks the CSRF token of every signed-in POST, runs the handler
with the caller's identity in the context data (so every RPC it makes acts as that person, and
the services decide what they may see), and writes the session's cookies on the way out.
"""

import logging
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import eventlet
from jinja2 import Environment, FileSystemLoader, select_autoescape
from nameko.exceptions import RemoteError, UnknownService
from nameko.web.handlers import HttpRequestHandler
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request, Response

from gateway.http import (
    BROKER_AWAY,
    RPC_TIMEOUT_S,
    NoDelayWebServer,
    ServiceUnavailable,
    run_worker,
)
from gateway.identity import context_for
from gateway.portal import nav, oidc, session, words
from gateway.portal.session import PortalSession
from gateway.tokens import KeysUnavailable
from services.common import observability
from services.common.errors import DomainError, TooManyRequests

log = logging.getLogger(__name__)
HERE = Path(__file__).parent

env = Environment(loader=FileSystemLoader(HERE / "templates"),
                  autoescape=select_autoescape(default=True, default_for_string=True),
                  trim_blocks=True, lstrip_blocks=True)


env.filters["ru_date"] = words.ru_date
env.filters["number"] = words.number
env.filters["percent"] = words.percent
env.filters["plural"] = words.plural
env.filters["count"] = words.count
env.filters["snils"] = words.snils
env.filters["card_number"] = words.card_number
env.filters["roles"] = words.roles
env.globals["by_sex"] = words.by_sex
env.globals["history_value"] = words.history_value
env.globals["today"] = lambda: date.today().isoformat()
env.globals["static_url"] = lambda name: f"/portal/static/{name}?v={STATIC_VERSION}"


def _static_version() -> str:
    import hashlib

    digest = hashlib.sha256()
    for path in sorted((HERE / "static").iterdir()):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


STATIC_VERSION = _static_version()


class PortalHandler(HttpRequestHandler):
    """An HTML page: the session comes from cookies, the caller travels with every RPC."""

    server = NoDelayWebServer()  # the same shared server as the JSON API

    def __init__(self, method: str, url: str, public: bool = False, **kwargs: Any) -> None:
        super().__init__(method, url, **kwargs)
        self.public = public

    def handle_request(self, request: Request) -> Response:
        request.shallow = False
        try:
            portal = session.load(request)
        except (oidc.KeycloakAway, KeysUnavailable):
            return error_page(503, "Сервер входа недоступен, обновите страницу через минуту")
        request.portal = portal  # type: ignore[attr-defined]
        if not portal.signed_in and not self.public:
            return portal.apply(to_sign_in(request, portal))
        if (request.method == "POST" and portal.signed_in
                and request.form.get("csrf") != portal.csrf):
            return portal.apply(error_page(
                400, "Форма устарела: откройте страницу заново и повторите действие"))
        context_data = context_for(portal.caller) if portal.caller else {}
        return portal.apply(self._run(request, context_data))

    def _run(self, request: Request, context_data: dict[str, str]) -> Response:
        try:
            return run_worker(self, request, context_data)
        except Exception as exc:
            return self.response_from_exception(exc, getattr(request, "portal", None))

    def response_from_exception(self, exc: Exception, portal: PortalSession | None = None
                                ) -> Response:
        """The error in the portal's layout: with the menu when the person is signed in."""
        if isinstance(exc, TooManyRequests):
            response = error_page(429, exc.message, portal)
            response.headers["Retry-After"] = str(exc.retry_after_s)
            return response
        if isinstance(exc, DomainError):
            return error_page(exc.status, exc.message, portal)
        if isinstance(exc, ServiceUnavailable):
            log.warning("service unavailable: %s", exc)
            return error_page(503, "Сервис временно недоступен, обновите страницу через минуту",
                              portal)
        if isinstance(exc, HTTPException):
            return error_page(exc.code or 400, ROUTING_MESSAGES.get(
                exc.code or 400, "Запрос не может быть выполнен"), portal)
        if isinstance(exc, RemoteError):
            log.error("remote error: %s", exc)
        else:
            log.exception("unexpected error", exc_info=exc)
        return error_page(500, "Что-то пошло не так на сервере. Ошибка записана в журнал; "
                          "повторите действие позже.", portal)


def page(method: str, path: str, public: bool = False):
    """Declare a page of the portal (`method` may be "GET,POST")."""
    return PortalHandler.decorator(method, path, public=public)


def to_sign_in(request: Request, portal: PortalSession) -> Response:
    """Off to sign-in, and back to this page after it; what a POST carried waits as a draft."""
    if request.method == "POST":
        fields = {k: v for k, v in request.form.items() if k != "csrf"}
        owner = session.expired_owner(request)
        if owner:  # a post with no session of ours (cross-site, say) leaves nothing behind
            if fields:
                portal.keep_draft(request.path, fields, owner)
            portal.set_flash("Сеанс истёк. Войдите снова — введённые данные сохранены в форме.")
        target = request.path
    else:
        target = request.full_path.rstrip("?")
    return redirect("/portal/login?" + urlencode({"next": target}))


def ctx(request: Request) -> PortalSession:
    return request.portal  # type: ignore[attr-defined,no-any-return]


def render(request: Request, template: str, status: int = 200, **values: Any) -> Response:
    portal = ctx(request)
    if portal.flash:
        portal.to_delete.add(session.FLASH)
    body = env.get_template(template).render(
        portal=portal, nav=nav.entries(portal.caller), path=request.path,
        csrf=portal.csrf if portal.signed_in else "", **values)
    return Response(body, status=status, mimetype="text/html",
                    headers={"Cache-Control": "no-store"})


def error_page(status: int, message: str, portal: PortalSession | None = None) -> Response:
    title = {400: "Запрос отклонён", 403: "Нет доступа", 404: "Страница не найдена",
             405: "Так эту страницу не открыть", 409: "Действие невозможно",
             422: "Данные не прошли проверку", 429: "Слишком много попыток",
             500: "Ошибка на сервере", 503: "Временно недоступно"}.get(status, "Ошибка")
    body = env.get_template("error.html").render(
        portal=portal, nav=nav.entries(portal.caller) if portal else [], path="",
        csrf=portal.csrf if portal and portal.signed_in else "", title=title, message=message,
        status=status,
        request_id=observability.current_request_id() if status >= 500 else "")
    return Response(body, status=status, mimetype="text/html",
                    headers={"Cache-Control": "no-store"})


def redirect(location: str, flash: str | None = None, request: Request | None = None,
             bad: bool = False) -> Response:
    """To `location` (303), with a message for the next page: `bad` shows it as a refusal."""
    if flash and request is not None:
        ctx(request).set_flash(flash, bad)
    return Response("", status=303, headers={"Location": location})


def gather(*calls: tuple) -> list[Any]:
    """Several RPC calls at once, each `(proxy, method, *args)`: a page waits for the slowest,
    not for their sum."""
    try:
        with eventlet.Timeout(RPC_TIMEOUT_S):
            replies = [getattr(proxy, method).call_async(*args)
                       for proxy, method, *args in calls]
            return [reply.result() for reply in replies]
    except eventlet.Timeout:
        raise ServiceUnavailable("portal: no answer in time") from None
    except UnknownService:
        raise ServiceUnavailable("portal: service not running") from None
    except BROKER_AWAY as exc:
        raise ServiceUnavailable(f"portal: broker unreachable ({exc})") from None


def field_errors(exc: DomainError) -> dict[str, str]:
    """A service's list of bad fields, by field name, for messages next to the fields."""
    out: dict[str, str] = {}
    general: list[str] = []
    details = exc.details if isinstance(exc.details, list) else []
    for item in details:
        if not isinstance(item, dict):
            continue
        message = str(item.get("message") or exc.message)
        if item.get("field"):
            out.setdefault(str(item["field"]), message)
        elif message not in general:
            general.append(message)
    if general or not out:
        out["_form"] = "; ".join(general) or exc.message
    return out


def form_failure(exc: DomainError) -> dict[str, str]:
    """A refused form's messages by field. What no form can fix (the record is not the
    caller's to see, or a service is away) goes on to the error page instead."""
    if exc.status >= 500 or exc.status in (403, 404):
        raise exc
    return field_errors(exc)


def page_link(path: str, args: dict[str, Any], **changes: Any) -> str:
    merged = {k: v for k, v in {**args, **changes}.items() if v not in (None, "")}
    return path + ("?" + urlencode(merged) if merged else "")


env.globals["page_link"] = page_link
env.globals["quote"] = quote


ROUTING_MESSAGES = {
    404: "Такой страницы нет: проверьте адрес или начните с главной.",
    405: "Эта страница так не открывается: вернитесь назад и воспользуйтесь ссылкой или кнопкой.",
}


def routing_error(status: int, request: Request | None = None) -> Response:
    """An address no page answers (404) or a method it does not take (405), in the portal's
    own layout: the menu is there when the cookies carry a session."""
    portal = None
    if request is not None:
        try:
            portal = session.load(request)
        except (oidc.KeycloakAway, KeysUnavailable):
            portal = None
    response = error_page(status, ROUTING_MESSAGES.get(status, "Запрос не может быть выполнен"),
                          portal)
    return portal.apply(response) if portal else response
