"""HTTP routes of data quality: the checks per region, drill-downs, the organizations at
fault, reconciliation with the statistical reports, usage, the workbook. A mixin of
GatewayService; handlers only translate HTTP to RPC."""

import base64
from typing import Any

from werkzeug.wrappers import Request, Response

from gateway.http import BadInput, api, call, file_response, json_response, query_int
from gateway.uploads import read_upload

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class QualityApi:
    reports: Any  # RpcProxy("reports"), declared on GatewayService

    @api("POST", "/api/v1/quality/runs", "Провести проверку качества данных по всему Профсоюзу",
         tag="quality")
    def quality_run(self, request: Request) -> Response:
        return json_response(call(self.reports, "run_quality", timeout=600))

    @api("GET", "/api/v1/quality/summary",
         "Проверки качества данных по регионам, с изменением за квартал", tag="quality")
    def quality_summary(self, request: Request) -> Response:
        return json_response(call(self.reports, "quality_summary"))

    @api("GET", "/api/v1/quality/orgs/<int:org_id>",
         "Проверки по входящим организациям (регион → территориальные → первичные)",
         tag="quality")
    def quality_drilldown(self, request: Request, org_id: int) -> Response:
        return json_response(call(self.reports, "quality_drilldown", org_id))

    @api("GET", "/api/v1/quality/orgs/<int:org_id>/faults",
         "Организации с недостатками в структуре, со ссылкой на место исправления",
         tag="quality", query={"check": "код проверки", "limit": "не больше 1000",
                               "offset": "сдвиг"})
    def quality_faults(self, request: Request, org_id: int) -> Response:
        return json_response(call(self.reports, "quality_faults", org_id,
                                  request.args.get("check") or None,
                                  query_int(request, "limit", 100),
                                  query_int(request, "offset", 0)))

    @api("GET", "/api/v1/quality/reconciliation",
         "Сверка реестра со статистическими отчётами по регионам и категориям",
         tag="quality", query={"day": "отчётная дата (по умолчанию последняя)"})
    def quality_reconciliation(self, request: Request) -> Response:
        return json_response(call(self.reports, "quality_reconciliation",
                                  request.args.get("day") or None))

    @api("POST", "/api/v1/quality/reported-figures",
         "Загрузить цифры статотчёта из файла: по строке на первичную организацию (рег. номер, "
         "членов Профсоюза, работающих, обучающихся, неработающих пенсионеров) — для сверки",
         tag="quality", upload=True,
         query={"day": "отчётная дата ГГГГ-ММ-ДД", "filename": "имя файла, если он передан "
                                                             "телом запроса"})
    def quality_reported_figures(self, request: Request) -> Response:
        content, filename = read_upload(request)
        day = request.args.get("day") or request.form.get("day")
        if not day:
            raise BadInput("day_required", "Укажите отчётную дату: параметр day=ГГГГ-ММ-ДД")
        report = call(self.reports, "load_reported_figures", base64.b64encode(content).decode(),
                      filename, day, timeout=300)
        return json_response(report, 200 if report["rows_loaded"] else 422)

    @api("GET", "/api/v1/quality/usage",
         "Доля вступивших онлайн и автоматически сформированных отчётов по регионам",
         tag="quality")
    def quality_usage(self, request: Request) -> Response:
        return json_response(call(self.reports, "quality_usage"))

    @api("GET", "/api/v1/quality/export.xlsx", "Качество данных, сверка и использование в XLSX",
         tag="quality", produces=(XLSX,))
    def quality_export(self, request: Request) -> Response:
        result = call(self.reports, "quality_xlsx", timeout=60)
        return file_response(result, XLSX)
