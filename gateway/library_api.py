"""HTTP routes of the reference library: search and read materials, publish them and their
editions, download files (streamed, Range for video), usage. A mixin of GatewayService;
handlers only translate HTTP to RPC (and bytes to and from the store: library_files)."""

from typing import Any

from werkzeug.wrappers import Request, Response

from gateway import library_files
from gateway.http import api, call, json_body, json_response, query_int
from services.library.contract import FILE_TYPES

# what a file may come as: the types the library takes, by content
FILE_MEDIA = tuple(sorted({"application/octet-stream", *(t for kind in FILE_TYPES.values()
                                                          for t in kind.values())}))

MATERIAL_BODY = {"type": "object", "required": ["kind", "title", "audiences"], "properties": {
    "kind": {"type": "string", "enum": ["document", "presentation", "video", "link"]},
    "title": {"type": "string", "maxLength": 300},
    "event_id": {"type": ["integer", "null"], "description": "мероприятие, чья это запись"},
    "description": {"type": "string", "maxLength": 5000},
    "topics": {"type": "array", "items": {"type": "string", "maxLength": 80}, "maxItems": 20},
    "publisher_org_id": {"type": "integer"},
    "audiences": {"type": "array", "items": {"type": "string", "enum": [
        "chairs", "staff", "activists", "legal_inspectors", "members"]}},
    "levels": {"type": "array", "items": {"type": "string", "enum": [
        "central", "regional", "territorial", "primary", "subdivision"]}},
    "region_id": {"type": ["integer", "null"]},
    "addition_to": {"type": ["integer", "null"]},
    "normative": {"type": "boolean"},
    "url": {"type": ["string", "null"]}}}
SEARCH_QUERY = {"q": "слова (по-русски, с морфологией)", "kind": "document, presentation, "
                "video, link", "topic": "тема", "audience": "для кого", "since": "изданы с "
                "(ГГГГ-ММ-ДД)", "until": "по", "limit": "не больше 100", "offset": "сдвиг",
                "event_id": "материалы мероприятия (записи вебинара)"}


class LibraryApi:
    library: Any  # RpcProxy("library"), declared on GatewayService

    @api("GET", "/api/v1/library/materials", "Поиск в библиотеке: материалы, доступные мне",
         tag="library", query=SEARCH_QUERY)
    def library_search(self, request: Request) -> Response:
        a = request.args
        return json_response(call(self.library, "search", a.get("q", ""),
                                  a.get("kind") or None, a.get("topic") or None,
                                  a.get("audience") or None, a.get("since") or None,
                                  a.get("until") or None, query_int(request, "limit", 20),
                                  query_int(request, "offset", 0),
                                  query_int(request, "event_id", 0) or None))

    @api("POST", "/api/v1/library/materials", "Опубликовать материал (ЦС, аппарат региона)",
         tag="library", body=MATERIAL_BODY, statuses=(201,))
    def library_create(self, request: Request) -> Response:
        return json_response(call(self.library, "create_material", json_body(request)), 201)

    @api("GET", "/api/v1/library/materials/<int:material_id>",
         "Материал, его редакции и дополнения регионов", tag="library",
         query={"on": "редакция, действующая на дату (ГГГГ-ММ-ДД)"})
    def library_get(self, request: Request, material_id: int) -> Response:
        return json_response(call(self.library, "get_material", material_id,
                                  request.args.get("on") or None))

    @api("PATCH", "/api/v1/library/materials/<int:material_id>", "Изменить материал",
         tag="library", body={"type": "object"})
    def library_update(self, request: Request, material_id: int) -> Response:
        return json_response(call(self.library, "update_material", material_id,
                                  json_body(request)))

    @api("POST", "/api/v1/library/materials/<int:material_id>/retire",
         "Снять с публикации (retired: false — вернуть)", tag="library",
         body={"type": "object", "properties": {"retired": {"type": "boolean"}}})
    def library_retire(self, request: Request, material_id: int) -> Response:
        return json_response(call(self.library, "retire_material", material_id,
                                  json_body(request).get("retired", True) is not False))

    @api("POST", "/api/v1/library/materials/<int:material_id>/editions",
         "Новая редакция: файл (multipart: file, effective_on, supersedes_id, note; или тело "
         "запроса с этими полями в адресе)", tag="library", upload=True, statuses=(201,),
         query={"effective_on": "вступает в силу (ГГГГ-ММ-ДД)",
                "supersedes_id": "заменяет редакцию", "note": "примечание",
                "filename": "имя файла, если он передан телом запроса"})
    def library_add_edition(self, request: Request, material_id: int) -> Response:
        return json_response(library_files.upload_edition(self.library, request, material_id),
                             201)

    @api("GET", "/api/v1/library/materials/<int:material_id>/file",
         "Файл материала (действующая редакция или названная); Range для перемотки видео",
         tag="library", query={"edition_id": "редакция"}, statuses=(200, 206),
         produces=FILE_MEDIA)
    def library_file(self, request: Request, material_id: int) -> Response:
        return library_files.download(self.library, request, material_id,
                                      query_int(request, "edition_id"))

    @api("GET", "/api/v1/library/materials/<int:material_id>/history",
         "История публикации материала", tag="library")
    def library_history(self, request: Request, material_id: int) -> Response:
        return json_response(call(self.library, "history", material_id))

    @api("GET", "/api/v1/library/usage",
         "Просмотры и скачивания: по материалам, регионам и уровням; что не открывали",
         tag="library", query={"region_id": "регион"})
    def library_usage(self, request: Request) -> Response:
        return json_response(call(self.library, "usage", query_int(request, "region_id")))
