"""HTTP routes of cards: requests, a chair's handing out, lists, the personal account's card,
and the operators' batches. A mixin of GatewayService, like members_api; handlers only
translate HTTP to RPC."""

from typing import Any

from werkzeug.wrappers import Request, Response

from gateway.http import api, call, json_body, json_response, query_int

KIND_DOC = {"kind": "plastic (по умолчанию) или virtual"}
STATUS_DOC = "requested, batched, produced, delivered, issued, refused, virtual"


class CardsApi:
    cards: Any  # RpcProxy("cards"), declared on GatewayService

    @api("POST", "/api/v1/members/<int:member_id>/card-requests",
         "Заказать карту (ЭПБ) члену Профсоюза", tag="cards", query=KIND_DOC,
         statuses=(200, 201))
    def card_request(self, request: Request, member_id: int) -> Response:
        card = call(self.cards, "request_for_member", member_id,
                    request.args.get("kind") or "plastic")
        return json_response(card, 201 if card["created"] else 200)

    @api("POST", "/api/v1/organizations/<int:org_id>/card-requests",
         "Заказать карты всем членам организации, у кого их нет", tag="cards",
         query=KIND_DOC)
    def card_request_org(self, request: Request, org_id: int) -> Response:
        return json_response(call(self.cards, "request_for_org", org_id,
                                  request.args.get("kind") or "plastic", timeout=120))

    @api("GET", "/api/v1/cards", "Карты своей структуры (постранично, со счётом по статусам)",
         tag="cards", query={"org_id": "только этой организации", "status": STATUS_DOC,
                             "limit": "не больше 500", "offset": "сдвиг"})
    def cards_list(self, request: Request) -> Response:
        return json_response(call(self.cards, "list_cards", query_int(request, "org_id"),
                                  request.args.get("status") or None,
                                  query_int(request, "limit", 50),
                                  query_int(request, "offset", 0)))

    @api("GET", "/api/v1/cards/<int:card_id>", "Карта и история её статусов", tag="cards")
    def card_get(self, request: Request, card_id: int) -> Response:
        return json_response(call(self.cards, "get_card", card_id))

    @api("POST", "/api/v1/cards/<int:card_id>/status",
         "Выдать карту (issued) или отметить отказ (refused, с причиной)", tag="cards",
         body={"type": "object", "required": ["status"], "properties": {
             "status": {"type": "string", "enum": ["issued", "refused"]},
             "reason": {"type": "string"}}})
    def card_move(self, request: Request, card_id: int) -> Response:
        body = json_body(request)
        return json_response(call(self.cards, "move_card", card_id, body.get("status"),
                                  body.get("reason")))

    @api("GET", "/api/v1/me/member-card", "Моя карта и виртуальная карта (личный кабинет)",
         tag="cards")
    def my_member_card(self, request: Request) -> Response:
        return json_response(call(self.cards, "my_card"))

    @api("PUT", "/api/v1/regions/<int:region_id>/card-policy",
         "Заказывать ли карты всем новым членам региона", tag="cards",
         body={"type": "object", "required": ["auto_request"],
               "properties": {"auto_request": {"type": "boolean"}}})
    def card_policy(self, request: Request, region_id: int) -> Response:
        return json_response(call(self.cards, "set_region_policy", region_id,
                                  json_body(request).get("auto_request") is True))

    @api("POST", "/api/v1/card-batches", "Собрать заказанные карты в партии и передать "
         "поставщику", tag="cards", query={"region_id": "только этот регион"},
         statuses=(201,))
    def card_batches_collect(self, request: Request) -> Response:
        return json_response(call(self.cards, "collect_batches",
                                  query_int(request, "region_id"), timeout=300), 201)

    @api("GET", "/api/v1/card-batches", "Партии карт", tag="cards",
         query={"region_id": "только этот регион"})
    def card_batches(self, request: Request) -> Response:
        return json_response(call(self.cards, "list_batches", query_int(request, "region_id")))

    @api("POST", "/api/v1/card-batches/responses",
         "Прочитать ответы поставщика сейчас (иначе — по таймеру)", tag="cards")
    def card_responses(self, request: Request) -> Response:
        return json_response(call(self.cards, "read_responses", timeout=300))
