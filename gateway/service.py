"""The HTTP gateway: the JSON API under /api/v1/, its OpenAPI document, /healthz, and the web
portal (gateway/portal/: pages at / and under /portal/, the public /join).

Handlers only translate HTTP to RPC: parse, call, shape the answer. Rules live in the services.
"""

import base64
import gzip
import logging
from typing import Any

from nameko.events import BROADCAST
from nameko.rpc import RpcProxy
from nameko.timer import timer
from werkzeug.wrappers import Request, Response

from gateway import health, schemas
from gateway.accounts_api import AccountsApi
from gateway.cards_api import CardsApi
from gateway.events_api import EventsApi
from gateway.http import (
    MAX_ID,
    BadInput,
    api,
    call,
    json_body,
    json_response,
    query_bool,
    query_int,
)
from gateway.identity import ContextData, verifier
from gateway.library_api import LibraryApi
from gateway.mailing_api import MailingApi
from gateway.members_api import XLSX, MembersApi
from gateway.openapi import document
from gateway.portal import Portal
from gateway.privacy_api import PrivacyApi
from gateway.quality_api import QualityApi
from gateway.reports_api import ReportsApi
from gateway.uploads import read_upload
from services.common.observability import Observed
from services.common.rpc import event_handler

log = logging.getLogger(__name__)
# how often a gateway asks the sso service for everything revoked (it hears each revocation as
# it happens; this covers a gateway that has just started or missed a broadcast)
REVOCATIONS_PULL_S = 30


def _proposal_fields(body: dict[str, Any]) -> tuple[str, int]:
    """role and org_id of an answer to a proposed naming, checked."""
    role, org_id = body.get("role"), body.get("org_id")
    if role not in schemas.PROPOSAL["properties"]["role"]["enum"]:
        raise BadInput("proposal_role", "Поле role: chair, regional_staff или ais_responsible")
    if not isinstance(org_id, int) or isinstance(org_id, bool) or not 1 <= org_id <= MAX_ID:
        raise BadInput("proposal_org_id", "Поле org_id: номер организации")
    return role, org_id


class GatewayService(MembersApi, CardsApi, Portal, ReportsApi, QualityApi, AccountsApi,
                     LibraryApi, MailingApi, PrivacyApi, EventsApi):
    name = "gateway"

    registry = RpcProxy("registry")
    membership = RpcProxy("membership")
    sso = RpcProxy("sso")
    cards = RpcProxy("cards")
    reports = RpcProxy("reports")
    notify = RpcProxy("notify")
    library = RpcProxy("library")
    events = RpcProxy("events")
    context = ContextData()
    rpc_queues = health.RpcQueues()
    observed = Observed()

    @event_handler("sso", "user_disabled", handler_type=BROADCAST, reliable_delivery=False)
    def on_user_disabled(self, payload: dict[str, Any]) -> None:
        """Every gateway instance refuses a disabled account's tokens from now on."""
        verifier().deny(payload["subject"], payload.get("before"), payload.get("until"))

    @event_handler("sso", "tokens_revoked", handler_type=BROADCAST, reliable_delivery=False)
    def on_tokens_revoked(self, payload: dict[str, Any]) -> None:
        """Accounts disabled and sessions ended in Keycloak itself (its console, say)."""
        verifier().revocations.add_all(payload)

    @timer(interval=REVOCATIONS_PULL_S, eager=True)
    def pull_revocations(self) -> None:
        try:
            verifier().revocations.add_all(call(self.sso, "revocations", timeout=10))
        except Exception as exc:  # the sso service away: the broadcasts still come
            log.warning("revocations not fetched from sso: %s", exc)

    @api("GET", "/healthz", "Состояние платформы и её зависимостей", tag="platform",
         public=True)
    def healthz(self, request: Request) -> Response:
        checks = {"gateway": "ok", **health.service_checks(
            {"registry": self.registry, "membership": self.membership, "sso": self.sso,
             "cards": self.cards, "reports": self.reports, "notify": self.notify,
             "library": self.library, "events": self.events}, self.rpc_queues)}
        ok = all(health.healthy(v) for v in checks.values())
        status = "degraded" if not ok else "ok" if all(v == "ok" for v in checks.values()) \
            else "busy"
        return json_response({"status": status, "checks": checks}, 200 if ok else 503)

    @api("GET", "/api/v1/openapi.json", "Этот документ", tag="platform", public=True)
    def openapi(self, request: Request) -> Response:
        doc = document()
        doc["components"]["schemas"] = schemas.DEFS
        return json_response(doc)

    # ---- organizations ----

    @api("GET", "/api/v1/organizations", "Поиск по наименованию, рег. номеру или ИНН",
         query={"q": "что искать", "within": "в структуре организации с этим id",
                "level": "уровень", "include_excluded": "и исключённые", "limit": "не больше"})
    def search(self, request: Request) -> Response:
        q = request.args.get("q", "").strip()
        if not q:
            raise BadInput("query_required", "Укажите, что искать: параметр q")
        return json_response(call(
            self.registry, "search", q, query_int(request, "within"),
            request.args.get("level") or None, query_bool(request, "include_excluded"),
            query_int(request, "limit", 50)))

    @api("POST", "/api/v1/organizations", "Включить организацию в реестр",
         body=schemas.ORG_CREATE, statuses=(201,))
    def create(self, request: Request) -> Response:
        return json_response(call(self.registry, "create_organization", json_body(request)), 201)

    @api("GET", "/api/v1/organizations/import/template.xlsx",
         "Шаблон файла организаций: заголовки и списки допустимых значений",
         produces=(XLSX,))
    def import_orgs_template(self, request: Request) -> Response:
        result = call(self.registry, "import_template")
        return Response(base64.b64decode(result["content_b64"]), headers={
            "Content-Disposition": 'attachment; filename="organizations-template.xlsx"'},
            mimetype=XLSX)

    @api("POST", "/api/v1/organizations/import",
         "Загрузить дерево организаций из XLSX или CSV (отчёт о проверке по строкам)",
         query={"load_good_rows": "загрузить правильные строки, даже если есть ошибки",
                "filename": "имя файла, если он передан телом запроса"}, upload=True)
    def import_orgs(self, request: Request) -> Response:
        content, filename = read_upload(request)
        report = call(self.registry, "import_organizations",
                      base64.b64encode(content).decode(), filename,
                      query_bool(request, "load_good_rows"), timeout=600)
        status = 200 if report["rows_loaded"] or not report["errors_total"] else 422
        return json_response(report, status)

    @api("GET", "/api/v1/organizations/<int:org_id>", "Паспорт организации")
    def get(self, request: Request, org_id: int) -> Response:
        return json_response(call(self.registry, "get_organization", org_id))

    @api("PATCH", "/api/v1/organizations/<int:org_id>", "Изменить паспорт (с историей)",
         body=schemas.ORG_PATCH)
    def update(self, request: Request, org_id: int) -> Response:
        return json_response(call(self.registry, "update_passport", org_id, json_body(request)))

    @api("GET", "/api/v1/organizations/<int:org_id>/subtree",
         "Организация и вся её структура (постранично)",
         query={"level": "только этот уровень", "include_excluded": "и исключённые",
                "limit": "не больше 10000", "offset": "сдвиг"})
    def subtree(self, request: Request, org_id: int) -> Response:
        body = base64.b64decode(call(
            self.registry, "subtree_gzip", org_id, query_bool(request, "include_excluded"),
            request.args.get("level") or None, query_int(request, "limit", 10_000),
            query_int(request, "offset", 0)))
        if "gzip" in request.headers.get("Accept-Encoding", ""):
            return Response(body, mimetype="application/json",
                            headers={"Content-Encoding": "gzip", "Vary": "Accept-Encoding"})
        return Response(gzip.decompress(body), mimetype="application/json")

    @api("GET", "/api/v1/organizations/<int:org_id>/ancestors",
         "Вышестоящие организации, от ЦС до этой")
    def ancestors(self, request: Request, org_id: int) -> Response:
        return json_response(call(self.registry, "ancestors", org_id))

    @api("GET", "/api/v1/organizations/<int:org_id>/children", "Непосредственно входящие",
         query={"include_excluded": "и исключённые"})
    def children(self, request: Request, org_id: int) -> Response:
        return json_response(call(self.registry, "children", org_id,
                                  query_bool(request, "include_excluded")))

    @api("GET", "/api/v1/organizations/<int:org_id>/history", "История изменений паспорта")
    def history(self, request: Request, org_id: int) -> Response:
        return json_response(call(self.registry, "history", org_id))

    @api("GET", "/api/v1/organizations/<int:org_id>/passport",
         "Паспорт на дату (на начало дня)", query={"as_of": "дата ГГГГ-ММ-ДД"})
    def passport_as_of(self, request: Request, org_id: int) -> Response:
        day = request.args.get("as_of")
        if not day:
            raise BadInput("as_of_required", "Укажите дату: параметр as_of=ГГГГ-ММ-ДД")
        return json_response(call(self.registry, "passport_as_of", org_id, day))

    @api("POST", "/api/v1/organizations/<int:org_id>/move",
         "Перевести организацию со всей структурой в другую", body=schemas.MOVE)
    def move(self, request: Request, org_id: int) -> Response:
        body = json_body(request)
        return json_response(call(self.registry, "move_organization", org_id,
                                  body.get("parent_id")))

    @api("POST", "/api/v1/organizations/<int:org_id>/exclude",
         "Исключить из реестра: ликвидация или реорганизация", body=schemas.EXCLUDE)
    def exclude(self, request: Request, org_id: int) -> Response:
        body: dict[str, Any] = json_body(request)
        return json_response(call(self.registry, "exclude_organization", org_id,
                                  body.get("excluded_on"), body.get("reason"),
                                  body.get("into_id")))

    @api("GET", "/api/v1/stats/organizations", "Число организаций по регионам и уровням",
         query={"within": "в структуре организации с этим id"})
    def counts(self, request: Request) -> Response:
        return json_response(call(self.registry, "counts", query_int(request, "within")))

    # ---- identity, audit, partners ----

    @api("GET", "/api/v1/me", "Кто я: учётная запись, роли, организации", tag="identity")
    def me(self, request: Request) -> Response:
        from services.common.caller import CONTEXT_KEY, Caller

        caller = Caller.from_header(self.context.get(CONTEXT_KEY))
        return json_response({"user": caller.user, "subject": caller.subject,
                              "roles": list(caller.roles), "org_ids": list(caller.org_ids)})

    @api("GET", "/api/v1/me/proposals",
         "Предложенные мне назначения (председатель, аппарат), ждущие моего согласия",
         tag="identity")
    def my_proposals(self, request: Request) -> Response:
        return json_response(call(self.sso, "my_proposals"))

    @api("POST", "/api/v1/me/proposals/accept", "Принять предложенное назначение",
         tag="identity", body=schemas.PROPOSAL)
    def accept_proposal(self, request: Request) -> Response:
        return self._settle_mine(request, True)

    @api("POST", "/api/v1/me/proposals/decline", "Отказаться от предложенного назначения",
         tag="identity", body=schemas.PROPOSAL)
    def decline_proposal(self, request: Request) -> Response:
        return self._settle_mine(request, False)

    def _settle_mine(self, request: Request, accept: bool) -> Response:
        role, org_id = _proposal_fields(json_body(request))
        return json_response(call(self.sso, "settle_my_proposal", role, org_id, accept))

    @api("GET", "/api/v1/accounts/proposals",
         "Назначения, ждущие согласия владельцев учётных записей (операторы)", tag="identity",
         query={"offset": "сдвиг", "limit": "не больше 500"})
    def pending_proposals(self, request: Request) -> Response:
        return json_response(call(self.sso, "pending_proposals", query_int(request, "offset", 0),
                                  query_int(request, "limit", 100)))

    @api("POST", "/api/v1/accounts/proposals/confirm",
         "Подтвердить (или отклонить) назначение за владельца учётной записи (операторы)",
         tag="identity", body=schemas.PROPOSAL_CONFIRM)
    def confirm_proposal(self, request: Request) -> Response:
        body = json_body(request)
        role, org_id = _proposal_fields(body)
        username = body.get("username")
        if not isinstance(username, str) or not username.strip():
            raise BadInput("username_required", "Укажите учётную запись: поле username")
        accept = body.get("accept", True)
        if not isinstance(accept, bool):
            raise BadInput("accept_not_boolean", "Поле accept: true или false")
        return json_response(call(self.sso, "confirm_proposal", username.strip(), role, org_id,
                                  accept))

    @api("GET", "/api/v1/audit", "Журнал доступа к персональным данным (аудиторы ЦС)",
         tag="identity", query={"actor": "кто", "record_id": "какая запись",
                                "since": "с момента", "until": "до момента", "limit": "сколько"})
    def audit(self, request: Request) -> Response:
        """One log across the services that keep personal data, newest first."""
        limit = query_int(request, "limit", 500)
        args = (request.args.get("actor") or None, request.args.get("record_id") or None,
                request.args.get("since") or None, request.args.get("until") or None, limit)
        rows = []
        for service, proxy in (("registry", self.registry), ("membership", self.membership),
                               ("cards", self.cards)):
            rows += [{**r, "service": service} for r in call(proxy, "audit_log", *args)]
        rows.sort(key=lambda r: r["at"], reverse=True)
        return json_response(rows[:limit])

    @api("POST", "/api/v1/partners", "Подключить партнёрскую программу (операторы)",
         tag="identity", body=schemas.PARTNER, statuses=(201,))
    def register_partner(self, request: Request) -> Response:
        body = json_body(request)
        return json_response(call(self.sso, "register_partner", body.get("code"),
                                  body.get("name"), body.get("redirect_uris") or []), 201)
