"""HTTP routes of reports: forms, drafts, typing in, submitting, reopening, tracking, and the
files (PDF, XLSX). A mixin of GatewayService, like members_api; handlers only translate HTTP
to RPC."""

from typing import Any

from werkzeug.wrappers import Request, Response

from gateway.http import BadInput, api, call, file_response, json_body, json_response

DAY_DOC = {"day": "отчётная дата, ГГГГ-ММ-ДД (01.01, 01.04, 01.07, 01.10)"}
FAMILY_DOC = "stat (1-5-СП), kdk, kdko, pi (4-ПИ), ov, ovc (1-6-ОВ)"
MIMETYPES = {"pdf": "application/pdf",
             "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


class ReportsApi:
    reports: Any  # RpcProxy("reports"), declared on GatewayService

    @api("GET", "/api/v1/reports/forms", "Формы отчётности, действующие на дату",
         tag="reports", query=DAY_DOC)
    def report_forms(self, request: Request) -> Response:
        return json_response(call(self.reports, "forms", _day(request)))

    @api("POST", "/api/v1/organizations/<int:org_id>/reports",
         "Сформировать отчёт организации на дату (черновик; данные реестра на эту дату)",
         tag="reports", body={"type": "object", "required": ["family", "day"], "properties": {
             "family": {"type": "string", "description": FAMILY_DOC},
             "day": {"type": "string", "format": "date"}}}, statuses=(201,))
    def report_generate(self, request: Request, org_id: int) -> Response:
        body = json_body(request)
        return json_response(call(self.reports, "generate", org_id, body.get("family"),
                                  body.get("day"), timeout=120), 201)

    @api("GET", "/api/v1/organizations/<int:org_id>/reports",
         "Найти отчёт организации на дату (id и состояние; null, если не сформирован)",
         tag="reports", query={**DAY_DOC, "family": FAMILY_DOC})
    def report_find(self, request: Request, org_id: int) -> Response:
        return json_response(call(self.reports, "find_report", org_id,
                                  request.args.get("family") or "stat", _day(request)))

    @api("POST", "/api/v1/reports/national", "Сформировать отчёты всего Профсоюза на дату и "
         "свести их до сводного отчёта ЦС", tag="reports",
         body={"type": "object", "required": ["family", "day"], "properties": {
             "family": {"type": "string"}, "day": {"type": "string", "format": "date"}}})
    def report_generate_all(self, request: Request) -> Response:
        body = json_body(request)
        return json_response(call(self.reports, "generate_all", body.get("family"),
                                  body.get("day"), timeout=600))

    @api("GET", "/api/v1/reports/<int:report_id>",
         "Отчёт: показатели, проверки, история; для сводного — отчёты входящих организаций",
         tag="reports")
    def report_get(self, request: Request, report_id: int) -> Response:
        return json_response(call(self.reports, "get_report", report_id, timeout=60))

    @api("PATCH", "/api/v1/reports/<int:report_id>", "Внести значения показателей",
         tag="reports", body={"type": "object", "required": ["values"], "properties": {
             "values": {"type": "object", "additionalProperties": {
                 "type": ["integer", "null"], "minimum": 0}},
             "version": {"type": "integer"}}})
    def report_edit(self, request: Request, report_id: int) -> Response:
        body = json_body(request)
        return json_response(call(self.reports, "edit_report", report_id, body.get("values"),
                                  body.get("version")))

    @api("POST", "/api/v1/reports/<int:report_id>/submit", "Сдать отчёт (закрывает его)",
         tag="reports")
    def report_submit(self, request: Request, report_id: int) -> Response:
        return json_response(call(self.reports, "submit_report", report_id, timeout=60))

    @api("POST", "/api/v1/reports/<int:report_id>/reopen",
         "Вернуть отчёт нижестоящей организации на доработку (с причиной)", tag="reports",
         body={"type": "object", "required": ["reason"],
               "properties": {"reason": {"type": "string"}}})
    def report_reopen(self, request: Request, report_id: int) -> Response:
        return json_response(call(self.reports, "reopen_report", report_id,
                                  json_body(request).get("reason")))

    @api("GET", "/api/v1/reports/<int:report_id>/file",
         "Отчёт файлом: PDF как бумажная форма или XLSX", tag="reports",
         query={"format": "pdf (по умолчанию) или xlsx"}, produces=tuple(MIMETYPES.values()))
    def report_file(self, request: Request, report_id: int) -> Response:
        kind = request.args.get("format") or "pdf"
        if kind not in MIMETYPES:
            raise BadInput("format_unknown", "Формат файла: pdf или xlsx")
        result = call(self.reports, "report_file", report_id, kind, timeout=60)
        return file_response(result, MIMETYPES[kind])

    @api("GET", "/api/v1/reports/tracking",
         "Сколько организаций сформировали и сдали отчёты, по регионам и формам",
         tag="reports", query={**DAY_DOC, "family": FAMILY_DOC})
    def report_tracking(self, request: Request) -> Response:
        return json_response(call(self.reports, "tracking",
                                  request.args.get("family") or "stat", _day(request)))


def _day(request: Request) -> str:
    day = request.args.get("day")
    if not day:
        raise BadInput("day_required", "Укажите отчётную дату: ?day=ГГГГ-ММ-ДД")
    return day
