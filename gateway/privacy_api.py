"""HTTP routes of personal data over its whole life (issue 29): a person's copy and the
withdrawal of consent (their own, or on paper through the chair), retention rules, what will be
and what was erased, legal holds, the register of processing. Handlers only translate HTTP to
RPC; membership decides who may."""

import base64
from typing import Any

from werkzeug.wrappers import Request, Response

from gateway.http import BadInput, api, call, json_body, json_response, query_int

PDF = "application/pdf"
FORMAT_DOC = {"format": "json (по умолчанию) или pdf"}
_DATE = {"type": "string", "format": "date"}
PAPER = {"type": "object", "properties": {"asked_on": _DATE}}
RULE = {"type": "object", "required": ["keep_days", "action"], "properties": {
    "keep_days": {"type": "integer", "minimum": 0}, "action": {"enum": ["reduce", "erase"]}}}
HOLD = {"type": "object", "required": ["reason"], "properties": {"reason": {"type": "string"}}}


def _format(request: Request) -> str:
    fmt = request.args.get("format") or "json"
    if fmt not in ("json", "pdf"):
        raise BadInput("format_unknown", "Формат: json или pdf")
    return fmt


def _file(result: dict[str, Any], fmt: str, name: str) -> Response:
    if fmt == "pdf":
        return Response(base64.b64decode(result["pdf_b64"]), mimetype=PDF, headers={
            "Content-Disposition": f'attachment; filename="{name}.pdf"'})
    response = json_response(result["data"])
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.json"'
    return response


def _body(request: Request) -> dict[str, Any]:
    return json_body(request) if request.get_data() else {}


class PrivacyApi:
    membership: Any  # RpcProxy("membership"), declared on GatewayService

    @api("GET", "/api/v1/me/data", "Мои данные: всё, что платформа хранит обо мне",
         tag="privacy", query=FORMAT_DOC, produces=("application/json", PDF))
    def my_data(self, request: Request) -> Response:
        fmt = _format(request)
        return _file(call(self.membership, "my_data", fmt, timeout=60), fmt, "my-data")

    @api("POST", "/api/v1/me/consent-withdrawal",
         "Отозвать согласие на обработку персональных данных", tag="privacy")
    def my_withdrawal(self, request: Request) -> Response:
        return json_response(call(self.membership, "withdraw_my_consent"))

    @api("GET", "/api/v1/members/<int:member_id>/data",
         "Сведения о персональных данных члена по его письменному запросу", tag="privacy",
         query={**FORMAT_DOC, "asked_on": "дата получения запроса, ГГГГ-ММ-ДД"},
         produces=("application/json", PDF))
    def member_data(self, request: Request, member_id: int) -> Response:
        fmt = _format(request)
        return _file(call(self.membership, "member_data", member_id,
                          request.args.get("asked_on"), fmt, timeout=60), fmt,
                     f"member-{member_id}-data")

    @api("POST", "/api/v1/members/<int:member_id>/consent-withdrawal",
         "Отзыв согласия по письменному заявлению члена", tag="privacy", body=PAPER)
    def member_withdrawal(self, request: Request, member_id: int) -> Response:
        return json_response(call(self.membership, "withdraw_consent", member_id,
                                  _body(request).get("asked_on")))

    @api("GET", "/api/v1/privacy/retention-rules", "Сроки хранения по видам записей",
         tag="privacy")
    def retention_rules(self, request: Request) -> Response:
        return json_response(call(self.membership, "retention_rules"))

    @api("PUT", "/api/v1/privacy/retention-rules/<kind>", "Установить срок хранения",
         tag="privacy", body=RULE)
    def retention_rule_set(self, request: Request, kind: str) -> Response:
        body = json_body(request)
        return json_response(call(self.membership, "set_retention_rule", kind,
                                  body.get("keep_days"), body.get("action")))

    @api("GET", "/api/v1/privacy/retention/preview", "Что будет удалено и когда (количества)",
         tag="privacy", query={"horizon_days": "на сколько дней вперёд (92)"})
    def retention_preview(self, request: Request) -> Response:
        return json_response(call(self.membership, "retention_preview",
                                  query_int(request, "horizon_days", 92)))

    @api("GET", "/api/v1/privacy/retention/erased", "Что удалено (количества)", tag="privacy")
    def retention_erased(self, request: Request) -> Response:
        return json_response(call(self.membership, "retention_erased"))

    @api("POST", "/api/v1/privacy/retention/run", "Удалить то, чей срок истёк, сейчас",
         tag="privacy")
    def retention_run(self, request: Request) -> Response:
        return json_response(call(self.membership, "run_retention", timeout=600))

    @api("POST", "/api/v1/members/<int:member_id>/legal-hold",
         "Удерживать запись (судебное разбирательство)", tag="privacy", body=HOLD)
    def legal_hold(self, request: Request, member_id: int) -> Response:
        return json_response(call(self.membership, "place_legal_hold", member_id,
                                  json_body(request).get("reason")))

    @api("DELETE", "/api/v1/members/<int:member_id>/legal-hold", "Снять удержание записи",
         tag="privacy", statuses=(204,))
    def legal_hold_release(self, request: Request, member_id: int) -> Response:
        call(self.membership, "release_legal_hold", member_id, request.args.get("reason", ""))
        return Response(status=204)

    @api("GET", "/api/v1/privacy/processing-register",
         "Перечень обработки персональных данных (для Роскомнадзора)", tag="privacy",
         query=FORMAT_DOC, produces=("application/json", PDF))
    def processing_register(self, request: Request) -> Response:
        fmt = _format(request)
        return _file(call(self.membership, "processing_register", fmt, timeout=60), fmt,
                     "processing-register")
