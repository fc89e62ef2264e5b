"""The OpenAPI document, built from the routes declared with `api(...)`."""

import re
from typing import Any

from gateway.http import MAX_ID, ROUTES, Route

ERROR = {
    "type": "object",
    "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
        "code": {"type": "string", "description": "стабильный код для программ"},
        "message": {"type": "string", "description": "сообщение для человека, по-русски"},
        "details": {},
    }}},
}


def _path(rule: str) -> tuple[str, list[dict[str, Any]]]:
    params = []
    for conv, name in re.findall(r"<(?:(\w+):)?(\w+)>", rule):
        params.append({"name": name, "in": "path", "required": True,
                       "schema": {"type": "integer", "minimum": 0, "maximum": MAX_ID}
                       if conv == "int" else {"type": "string"}})
    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule), params


# Query parameters are read by name the same way in every handler (query_int, query_bool, dates
# as ГГГГ-ММ-ДД), so their types are declared by name too.
_ID = {"type": "integer", "minimum": 0, "maximum": MAX_ID}
QUERY_TYPES: dict[str, dict[str, Any]] = {
    "within": _ID, "org_id": _ID, "region_id": _ID,
    "limit": _ID, "offset": _ID,
    "include_excluded": {"type": "boolean"}, "load_good_rows": {"type": "boolean"},
    "as_of": {"type": "string", "format": "date"}, "day": {"type": "string", "format": "date"},
    "birth_date": {"type": "string", "format": "date"},
    "since": {"type": "string", "format": "date-time"},
    "until": {"type": "string", "format": "date-time"},
}
SUCCESS = {200: "OK", 201: "Создано", 202: "Принято"}


def _responses(route: Route) -> dict[str, Any]:
    def body(media: str) -> dict[str, Any]:
        return {"schema": {} if media == "application/json"
                else {"type": "string", "format": "binary"}}
    out: dict[str, Any] = {str(code): {"description": SUCCESS.get(code, "OK"), "content": {
        media: body(media) for media in route.produces}} for code in route.statuses}
    out["4XX"] = {"description": ("Ошибка во входных данных, нет доступа, не найдено или "
                                   "слишком много попыток (429 с Retry-After)"),
                  "content": {"application/json": {"schema": ERROR}}}
    if "text/html" in route.produces:  # a page for people (unsubscribe): its refusals are pages
        out["4XX"]["content"]["text/html"] = {"schema": {"type": "string"}}
    out["503"] = {"description": "Сервис временно недоступен",
                  "content": {"application/json": {"schema": ERROR}}}
    return out


def document() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for route in ROUTES:
        path, params = _path(route.path)
        params += [{"name": n, "in": "query", "required": False, "description": d,
                    "schema": QUERY_TYPES.get(n, {"type": "string"})}
                   for n, d in route.query.items()]
        op: dict[str, Any] = {
            "summary": route.summary, "tags": [route.tag], "parameters": params,
            "responses": _responses(route),
        }
        if route.public:
            op["security"] = []
        if route.body is not None:
            op["requestBody"] = {"required": True,
                                 "content": {"application/json": {"schema": route.body}}}
        if route.upload:
            op["requestBody"] = {"required": True, "content": {
                "multipart/form-data": {"schema": {"type": "object", "properties": {
                    "file": {"type": "string", "format": "binary"}}}},
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            }}
        for method in route.method.split(","):
            paths.setdefault(path, {})[method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "Единый реестр Общероссийского Профсоюза образования — API",
                 "version": "1"},
        "paths": paths,
        "security": [{"bearer": []}],
        "components": {"securitySchemes": {"bearer": {
            "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
            "description": "токен доступа Keycloak (аудитория reestr-api)"}}},
    }
