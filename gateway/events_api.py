"""HTTP routes of events and meetings of elected bodies: a mixin of GatewayService; handlers
only translate HTTP to RPC (the events service checks scope and input)."""

from typing import Any

from werkzeug.wrappers import Request, Response

from gateway.http import api, call, file_response, json_body, json_response, query_int

PDF = "application/pdf"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EVENT_BODY = {"type": "object", "required": ["title", "kind", "starts_at"], "properties": {
    "title": {"type": "string"}, "kind": {"type": "string", "description":
                                          "webinar, seminar, contest, forum, training, "
                                          "meeting, other"},
    "starts_at": {"type": "string", "format": "date-time"},
    "ends_at": {"type": "string", "format": "date-time"},
    "place": {"type": "string"}, "link": {"type": "string"}, "description": {"type": "string"},
    "capacity": {"type": "integer", "minimum": 1},
    "registration_opens_at": {"type": "string", "format": "date-time"},
    "registration_closes_at": {"type": "string", "format": "date-time"},
    "confirm_hours": {"type": "integer"},
    "questions": {"type": "array", "items": {"type": "string"}},
    "audience": {"type": "object", "description": "levels, categories, within_org_id"}}}


class EventsApi:
    events: Any  # RpcProxy("events"), declared on GatewayService

    @api("GET", "/api/v1/events", "Мероприятия в своей структуре", tag="events",
         query={"org_id": "только организованные этой организацией и входящими в неё"})
    def events_list(self, request: Request) -> Response:
        return json_response(call(self.events, "list_events", query_int(request, "org_id")))

    @api("POST", "/api/v1/organizations/<int:org_id>/events", "Создать мероприятие",
         tag="events", body=EVENT_BODY, statuses=(201,))
    def events_create(self, request: Request, org_id: int) -> Response:
        return json_response(call(self.events, "create_event", org_id, json_body(request)), 201)

    @api("GET", "/api/v1/organizations/<int:org_id>/events",
         "Предстоящие мероприятия, открытые членам организации", tag="events")
    def events_of_org(self, request: Request, org_id: int) -> Response:
        return json_response(call(self.events, "org_events", org_id))

    @api("GET", "/api/v1/events/<int:event_id>", "Мероприятие и счётчики регистрации",
         tag="events")
    def events_get(self, request: Request, event_id: int) -> Response:
        return json_response(call(self.events, "get_event", event_id))

    @api("POST", "/api/v1/events/<int:event_id>/announcement",
         "Объявить мероприятие рассылкой (черновик рассылки его аудитории)", tag="events",
         statuses=(201,))
    def events_announce(self, request: Request, event_id: int) -> Response:
        return json_response(call(self.events, "announce_event", event_id), 201)

    @api("GET", "/api/v1/events/<int:event_id>/registrations", "Участники (в своей структуре)",
         tag="events", query={"q": "ФИО или номер карты"})
    def events_participants(self, request: Request, event_id: int) -> Response:
        return json_response(call(self.events, "participants", event_id,
                                  request.args.get("q", "")))

    @api("POST", "/api/v1/events/<int:event_id>/registrations",
         "Зарегистрировать своих членов Профсоюза (несколько сразу)", tag="events",
         body={"type": "object", "required": ["member_ids"], "properties": {
             "member_ids": {"type": "array", "items": {"type": "integer"}},
             "answers": {"type": "object"}}})
    def events_register(self, request: Request, event_id: int) -> Response:
        body = json_body(request)
        return json_response(call(self.events, "register_members", event_id,
                                  body.get("member_ids") or [], body.get("answers")))

    @api("DELETE", "/api/v1/events/<int:event_id>/registrations/<int:registration_id>",
         "Отменить регистрацию (место переходит к листу ожидания)", tag="events")
    def events_cancel(self, request: Request, event_id: int, registration_id: int) -> Response:
        return json_response(call(self.events, "cancel_registration", event_id,
                                  registration_id))

    @api("POST", "/api/v1/events/<int:event_id>/my-registration",
         "Зарегистрироваться самому (личный кабинет)", tag="events",
         body={"type": "object", "properties": {"answers": {"type": "object"}}})
    def events_register_self(self, request: Request, event_id: int) -> Response:
        return json_response(call(self.events, "register_self", event_id,
                                  json_body(request).get("answers")))

    @api("DELETE", "/api/v1/events/<int:event_id>/my-registration",
         "Отменить свою регистрацию", tag="events")
    def events_cancel_self(self, request: Request, event_id: int) -> Response:
        return json_response(call(self.events, "cancel_mine", event_id))

    @api("POST", "/api/v1/events/<int:event_id>/my-registration/confirm",
         "Подтвердить место, предложенное из листа ожидания", tag="events")
    def events_confirm_self(self, request: Request, event_id: int) -> Response:
        return json_response(call(self.events, "confirm_mine", event_id))

    @api("GET", "/api/v1/my/events", "Мои мероприятия и открытые для меня", tag="events")
    def events_mine(self, request: Request) -> Response:
        return json_response(call(self.events, "my_events"))

    @api("GET", "/api/v1/events/<int:event_id>/door-list",
         "Список для отметки на входе (хранится на телефоне)", tag="events")
    def events_door_list(self, request: Request, event_id: int) -> Response:
        return json_response(call(self.events, "door_list", event_id))

    @api("POST", "/api/v1/events/<int:event_id>/checkins",
         "Отметки на входе, накопленные телефоном (повтор с тем же client_id не дублирует)",
         tag="events", body={"type": "object", "required": ["checkins"], "properties": {
             "checkins": {"type": "array", "items": {"type": "object", "properties": {
                 "client_id": {"type": "string", "format": "uuid"},
                 "registration_id": {"type": "integer"}, "card_number": {"type": "string"},
                 "scanned_at": {"type": "string", "format": "date-time"}}}}}})
    def events_checkins(self, request: Request, event_id: int) -> Response:
        return json_response(call(self.events, "sync_checkins", event_id,
                                  json_body(request).get("checkins") or []))

    @api("GET", "/api/v1/events/<int:event_id>/participants.xlsx",
         "Участники и посещаемость (XLSX)", tag="events", produces=(XLSX,))
    def events_xlsx(self, request: Request, event_id: int) -> Response:
        return file_response(call(self.events, "participants_xlsx", event_id, timeout=120), XLSX)

    @api("GET", "/api/v1/events/<int:event_id>/certificates/<int:registration_id>",
         "Сертификат участника (PDF)", tag="events", produces=(PDF,))
    def events_certificate(self, request: Request, event_id: int,
                           registration_id: int) -> Response:
        return file_response(call(self.events, "certificate", event_id, registration_id), PDF)

    @api("GET", "/api/v1/events/participation", "Участие по организациям за год",
         tag="events", query={"org_id": "организация (без неё — весь Профсоюз)",
                              "year": "год", "depth": "уровней вниз (1–4)"})
    def events_participation(self, request: Request) -> Response:
        return json_response(call(self.events, "participation", query_int(request, "org_id"),
                                  query_int(request, "year"), query_int(request, "depth", 1),
                                  timeout=120))

    # ---- elected bodies ----

    @api("POST", "/api/v1/organizations/<int:org_id>/bodies", "Создать выборный орган",
         tag="bodies", body={"type": "object", "required": ["kind"], "properties": {
             "kind": {"type": "string", "description": "profcom, presidium, committee, "
                                                       "conference, general_meeting"},
             "name": {"type": "string"}, "quorum_num": {"type": "integer"},
             "quorum_den": {"type": "integer"}}}, statuses=(201,))
    def bodies_create(self, request: Request, org_id: int) -> Response:
        return json_response(call(self.events, "create_body", org_id, json_body(request)), 201)

    @api("GET", "/api/v1/bodies/<int:body_id>", "Выборный орган и его состав", tag="bodies")
    def bodies_get(self, request: Request, body_id: int) -> Response:
        return json_response(call(self.events, "get_body", body_id))

    @api("POST", "/api/v1/bodies/<int:body_id>/members", "Избрать в состав органа на срок",
         tag="bodies", body={"type": "object", "required": ["from_date"], "properties": {
             "from_date": {"type": "string", "format": "date"},
             "to_date": {"type": "string", "format": "date"},
             "member_ids": {"type": "array", "items": {"type": "integer"}},
             "people": {"type": "array", "items": {"type": "object"}},
             "role": {"type": "string"}}})
    def bodies_members(self, request: Request, body_id: int) -> Response:
        b = json_body(request)
        return json_response(call(self.events, "add_body_members", body_id, b.get("from_date"),
                                  b.get("to_date"), b.get("member_ids"), b.get("people"),
                                  b.get("role") or "member"))

    @api("POST", "/api/v1/bodies/<int:body_id>/members/from-passport",
         "Состав органа из паспорта организации (председатель и аппарат)", tag="bodies",
         body={"type": "object", "required": ["from_date"], "properties": {
             "from_date": {"type": "string", "format": "date"},
             "to_date": {"type": "string", "format": "date"}}})
    def bodies_from_passport(self, request: Request, body_id: int) -> Response:
        b = json_body(request)
        return json_response(call(self.events, "body_from_passport", body_id,
                                  b.get("from_date"), b.get("to_date")))

    @api("POST", "/api/v1/bodies/<int:body_id>/meetings", "Назначить заседание с повесткой",
         tag="bodies", body={"type": "object", "required": ["held_on", "agenda"],
                             "properties": {"held_on": {"type": "string", "format": "date"},
                                            "place": {"type": "string"},
                                            "online": {"type": "boolean"},
                                            "agenda": {"type": "array"}}}, statuses=(201,))
    def meetings_create(self, request: Request, body_id: int) -> Response:
        return json_response(call(self.events, "create_meeting", body_id, json_body(request)),
                             201)

    @api("GET", "/api/v1/meetings/<int:meeting_id>", "Заседание: состав, кворум, повестка",
         tag="bodies")
    def meetings_get(self, request: Request, meeting_id: int) -> Response:
        return json_response(call(self.events, "get_meeting", meeting_id))

    @api("PUT", "/api/v1/meetings/<int:meeting_id>/attendance", "Отметить присутствующих",
         tag="bodies", body={"type": "object", "required": ["present"], "properties": {
             "present": {"type": "array", "items": {"type": "integer"}}}})
    def meetings_attendance(self, request: Request, meeting_id: int) -> Response:
        return json_response(call(self.events, "mark_attendance", meeting_id,
                                  json_body(request).get("present") or []))

    @api("PUT", "/api/v1/meetings/<int:meeting_id>/items/<int:item_id>",
         "Слушали, постановили, голосование", tag="bodies", body={"type": "object"})
    def meetings_item(self, request: Request, meeting_id: int, item_id: int) -> Response:
        return json_response(call(self.events, "record_item", meeting_id, item_id,
                                  json_body(request)))

    @api("POST", "/api/v1/meetings/<int:meeting_id>/protocol",
         "Сформировать протокол (новая версия после подписания)", tag="bodies")
    def meetings_protocol(self, request: Request, meeting_id: int) -> Response:
        return json_response(call(self.events, "make_protocol", meeting_id, timeout=60))

    @api("POST", "/api/v1/meetings/<int:meeting_id>/protocol/sign",
         "Подписать протокол (версия окончательная; решения переносятся в реестр)",
         tag="bodies")
    def meetings_sign(self, request: Request, meeting_id: int) -> Response:
        return json_response(call(self.events, "sign_protocol", meeting_id, timeout=60))

    @api("GET", "/api/v1/meetings/<int:meeting_id>/protocol.pdf", "Протокол (PDF)",
         tag="bodies", query={"version": "редакция (по умолчанию последняя)"}, produces=(PDF,))
    def meetings_protocol_pdf(self, request: Request, meeting_id: int) -> Response:
        return file_response(call(self.events, "protocol_pdf", meeting_id,
                                  query_int(request, "version")), PDF)

    @api("GET", "/api/v1/meetings/<int:meeting_id>/items/<int:item_id>/extract.pdf",
         "Выписка из протокола по вопросу (PDF)", tag="bodies", produces=(PDF,))
    def meetings_extract(self, request: Request, meeting_id: int, item_id: int) -> Response:
        return file_response(call(self.events, "protocol_extract", meeting_id, item_id,
                                  timeout=60), PDF)
