"""HTTP routes of chairs' accounts: their states within a subtree and «Отправить приглашение
ещё раз». A mixin of GatewayService; notify answers (the registry decides what the caller may
see)."""

from typing import Any

from werkzeug.wrappers import Request, Response

from gateway.http import api, call, json_response, query_bool


class AccountsApi:
    notify: Any  # RpcProxy("notify"), declared on GatewayService

    @api("GET", "/api/v1/organizations/<int:org_id>/chair-accounts",
         "Учётные записи председателей в структуре: приглашён, входил, не входил, "
         "приглашение истекло, адрес не принимает почту", tag="organizations",
         query={"all": "true — и председатели с доступом (по умолчанию только без доступа)"})
    def chair_accounts(self, request: Request, org_id: int) -> Response:
        return json_response(call(self.notify, "chair_accounts", org_id,
                                  not query_bool(request, "all")))

    @api("POST", "/api/v1/organizations/<int:org_id>/chair/invitation",
         "Отправить председателю приглашение ещё раз", tag="organizations",
         statuses=(202,))
    def chair_reinvite(self, request: Request, org_id: int) -> Response:
        return json_response(call(self.notify, "reinvite_chair", org_id), status=202)
