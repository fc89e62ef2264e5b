"""HTTP routes of membership: members' cards, imports, join applications and the public form.

A mixin of GatewayService (nameko finds entrypoints on base classes too), kept apart so that each
service's routes sit in one file. Handlers only translate HTTP to RPC.
"""

import base64
from typing import Any

from werkzeug.wrappers import Request, Response

from gateway import ratelimit, schemas
from gateway.http import BadInput, api, call, json_body, json_response, query_bool, query_int
from gateway.uploads import read_upload

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

FILTERS = ("q", "surname", "first_name", "birth_date", "card_number", "category", "status")
FILTER_DOC = {"q": "фамилия (и имя) по началу", "surname": "фамилия по началу",
              "first_name": "имя по началу", "birth_date": "дата рождения ГГГГ-ММ-ДД",
              "card_number": "номер билета", "category": "working, student, pensioner, not_given",
              "status": "active (по умолчанию), removed, all",
              "within": "в структуре организации с этим id"}


def _filters(request: Request) -> dict[str, Any]:
    return {k: request.args[k] for k in FILTERS if request.args.get(k)}


IMPORT_QUERY = {"load_good_rows": "загрузить правильные строки, даже если есть ошибки",
                "paper_consent": "письменные согласия всех членов из файла хранятся в "
                                 "организации (если в файле нет столбца согласия)",
                "mapping": "JSON {\"заголовок файла\": \"поле\"}: столбцы, сопоставленные "
                           "вручную (или поле формы mapping)",
                "filename": "имя файла, если он передан телом запроса"}


class MembersApi:
    membership: Any  # RpcProxy("membership"), declared on GatewayService

    # ---- members ----

    @api("GET", "/api/v1/members", "Поиск и список членов Профсоюза в своей структуре",
         tag="members", query={**FILTER_DOC, "limit": "не больше 500", "offset": "сдвиг"})
    def members_search(self, request: Request) -> Response:
        return json_response(call(self.membership, "search_members", _filters(request),
                                  query_int(request, "within"), query_int(request, "limit", 50),
                                  query_int(request, "offset", 0)))

    @api("GET", "/api/v1/members/export.xlsx", "Выгрузка членов Профсоюза в XLSX",
         tag="members", query=FILTER_DOC, produces=(XLSX,))
    def members_export(self, request: Request) -> Response:
        result = call(self.membership, "export_members", _filters(request),
                      query_int(request, "within"), timeout=300)
        return Response(base64.b64decode(result["content_b64"]), headers={
            "Content-Disposition": 'attachment; filename="members.xlsx"',
            "X-Rows": str(result["rows"])},
            mimetype=XLSX)

    @api("POST", "/api/v1/organizations/<int:org_id>/members",
         "Поставить на учёт в организации", tag="members", body=schemas.MEMBER_CARD,
         statuses=(201,))
    def members_register(self, request: Request, org_id: int) -> Response:
        ratelimit.check_address(request, "register")
        body = json_body(request)
        ratelimit.check_target("register", *ratelimit.person_targets(body))
        return json_response(call(self.membership, "register_member", org_id, body), 201)

    def _import(self, request: Request, org_id: int | None, check_only: bool = False
                ) -> Response:
        content, filename = read_upload(request)
        mapping = request.form.get("mapping") or request.args.get("mapping")
        report = call(self.membership, "import_members", base64.b64encode(content).decode(),
                      filename, org_id, query_bool(request, "load_good_rows"),
                      query_bool(request, "paper_consent") or request.form.get(
                          "paper_consent", "").lower() in ("1", "true", "да", "on"),
                      mapping, check_only, timeout=1800)
        if check_only:
            return json_response(report)
        ok = (report["rows_loaded"] or report["rows_unchanged"] or report.get("rows_updated")
              or not report["errors_total"]) and not report["file_errors"]
        return json_response(report, 200 if ok else 422)

    @api("GET", "/api/v1/members/import/template.xlsx",
         "Шаблон файла членов Профсоюза: заголовки, списки допустимых значений, пояснение о "
         "согласии", tag="members", produces=(XLSX,))
    def members_import_template(self, request: Request) -> Response:
        result = call(self.membership, "import_template")
        return Response(base64.b64decode(result["content_b64"]), headers={
            "Content-Disposition": 'attachment; filename="members-template.xlsx"'},
            mimetype=XLSX)

    @api("POST", "/api/v1/organizations/<int:org_id>/members/import",
         "Загрузить членов организации из XLSX или CSV (отчёт о проверке по строкам)",
         tag="members", upload=True, query=IMPORT_QUERY)
    def members_import(self, request: Request, org_id: int) -> Response:
        return self._import(request, org_id)

    @api("POST", "/api/v1/organizations/<int:org_id>/members/import/check",
         "Проверить файл, ничего не записывая: как поняты столбцы, первые строки, ошибки",
         tag="members", upload=True, query=IMPORT_QUERY)
    def members_import_check(self, request: Request, org_id: int) -> Response:
        return self._import(request, org_id, check_only=True)

    @api("GET", "/api/v1/member-imports", "Загрузки организации, новые первыми",
         tag="members", query={"org_id": "id организации"})
    def members_import_list(self, request: Request) -> Response:
        org_id = query_int(request, "org_id")
        if org_id is None:
            raise BadInput("org_id_required", "Укажите организацию: параметр org_id")
        return json_response({"items": call(self.membership, "import_runs", org_id)})

    @api("GET", "/api/v1/member-imports/<int:run_id>/errors.xlsx",
         "Строки с ошибками в XLSX со столбцом «Ошибка»", tag="members", produces=(XLSX,))
    def members_import_errors(self, request: Request, run_id: int) -> Response:
        result = call(self.membership, "import_errors_file", run_id)
        return Response(base64.b64decode(result["content_b64"]), headers={
            "Content-Disposition": f'attachment; filename="errors-{run_id}.xlsx"',
            "X-Rows": str(result["rows"])}, mimetype=XLSX)

    @api("POST", "/api/v1/members/import",
         "Загрузить членов разных организаций (столбец «Рег. номер организации»)",
         tag="members", upload=True,
         query={"load_good_rows": "загрузить правильные строки, даже если есть ошибки",
                "filename": "имя файла, если он передан телом запроса"})
    def members_import_many(self, request: Request) -> Response:
        return self._import(request, None)

    @api("GET", "/api/v1/member-imports/<int:run_id>",
         "Ход и итог загрузки с отчётом: все ошибки, отклонённые строки", tag="members")
    def members_import_status(self, request: Request, run_id: int) -> Response:
        return json_response(call(self.membership, "import_status", run_id))

    @api("GET", "/api/v1/members/<int:member_id>", "Учётная карточка", tag="members")
    def member_get(self, request: Request, member_id: int) -> Response:
        return json_response(call(self.membership, "get_member", member_id))

    @api("PATCH", "/api/v1/members/<int:member_id>", "Изменить карточку (с историей)",
         tag="members", body=schemas.MEMBER_PATCH)
    def member_update(self, request: Request, member_id: int) -> Response:
        return json_response(call(self.membership, "update_member", member_id,
                                  json_body(request)))

    @api("GET", "/api/v1/members/<int:member_id>/history",
         "История карточки: изменения и организации", tag="members")
    def member_history(self, request: Request, member_id: int) -> Response:
        return json_response(call(self.membership, "member_history", member_id))

    @api("GET", "/api/v1/members/<int:member_id>/card", "Карточка на дату (на конец дня)",
         tag="members", query={"as_of": "дата ГГГГ-ММ-ДД"})
    def member_as_of(self, request: Request, member_id: int) -> Response:
        day = request.args.get("as_of")
        if not day:
            raise BadInput("as_of_required", "Укажите дату: параметр as_of=ГГГГ-ММ-ДД")
        return json_response(call(self.membership, "member_as_of", member_id, day))

    @api("POST", "/api/v1/members/<int:member_id>/remove", "Снять с учёта", tag="members",
         body=schemas.REMOVE)
    def member_remove(self, request: Request, member_id: int) -> Response:
        body = json_body(request)
        return json_response(call(self.membership, "remove_member", member_id,
                                  body.get("removed_on"), body.get("reason")))

    @api("POST", "/api/v1/members/<int:member_id>/transfer",
         "Перевести в другую организацию (история сохраняется)", tag="members",
         body=schemas.TRANSFER)
    def member_transfer(self, request: Request, member_id: int) -> Response:
        ratelimit.check_address(request, "transfer")
        ratelimit.check_target("transfer", f"member:{member_id}")
        body = json_body(request)
        return json_response(call(self.membership, "transfer_member", member_id,
                                  body.get("to_org_id"), body.get("on"),
                                  body.get("birth_date")))

    @api("POST", "/api/v1/members/<int:member_id>/consents",
         "Дать или отозвать согласие (ПДн, рассылка)", tag="members", body=schemas.CONSENT)
    def member_consent(self, request: Request, member_id: int) -> Response:
        body = json_body(request)
        if not isinstance(body.get("given"), bool):
            raise BadInput("given_required", "Укажите given: true (дать) или false (отозвать)")
        return json_response(call(self.membership, "set_consent", member_id, body.get("kind"),
                                  body["given"]))

    @api("GET", "/api/v1/me/card", "Моя учётная карточка (личный кабинет)", tag="members")
    def my_card(self, request: Request) -> Response:
        return json_response(call(self.membership, "my_card"))

    # ---- applications, for chairs ----

    @api("GET", "/api/v1/applications", "Заявления о вступлении в своей структуре",
         tag="applications", query={"within": "в структуре организации с этим id",
                                    "status": "submitted (по умолчанию), accepted, declined, "
                                              "expired", "limit": "сколько", "offset": "сдвиг"})
    def applications_queue(self, request: Request) -> Response:
        return json_response(call(self.membership, "application_queue",
                                  query_int(request, "within"),
                                  request.args.get("status") or "submitted",
                                  query_int(request, "limit", 100),
                                  query_int(request, "offset", 0)))

    @api("POST", "/api/v1/applications/<app_id>/accept",
         "Принять: поставить на учёт и открыть личный кабинет", tag="applications")
    def application_accept(self, request: Request, app_id: str) -> Response:
        return json_response(call(self.membership, "accept_application", app_id))

    @api("POST", "/api/v1/applications/<app_id>/decline", "Отклонить с указанием причины",
         tag="applications", body=schemas.DECLINE)
    def application_decline(self, request: Request, app_id: str) -> Response:
        return json_response(call(self.membership, "decline_application", app_id,
                                  json_body(request).get("reason")))

    # ---- «Вступить в Профсоюз», public ----

    @api("GET", "/api/v1/join/regions", "Регионы для формы вступления", tag="join",
         public=True)
    def join_regions(self, request: Request) -> Response:
        return json_response(call(self.membership, "join_regions"))

    @api("GET", "/api/v1/join/organizations",
         "Образовательные организации региона по названию или ИНН", tag="join", public=True,
         query={"region_id": "регион", "q": "название или ИНН"})
    def join_organizations(self, request: Request) -> Response:
        region = query_int(request, "region_id")
        if region is None:
            raise BadInput("region_required", "Выберите регион: параметр region_id")
        return json_response(call(self.membership, "join_organizations", region,
                                  request.args.get("q", "")))

    @api("POST", "/api/v1/join/applications", "Подать заявление о вступлении", tag="join",
         public=True, body=schemas.APPLICATION)
    def join_apply(self, request: Request) -> Response:
        """The same answer (201, the new application's status) for a new person, a pending
        applicant and a registered member: the chair sees the duplicate in the queue."""
        ratelimit.check_address(request, "join")
        body = json_body(request)
        ratelimit.check_target("join", *ratelimit.person_targets(body))
        return json_response(call(self.membership, "submit_application", body), 201)

    @api("GET", "/api/v1/join/applications/<app_id>", "Что с моим заявлением", tag="join",
         public=True)
    def join_status(self, request: Request, app_id: str) -> Response:
        ratelimit.check_address(request, "lookup")
        return json_response(call(self.membership, "application_status", app_id))
