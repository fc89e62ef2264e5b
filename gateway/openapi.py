"""The OpenAPI document, built from the routes declared with `api(...)`."""

import re
from typing import Any

from gateway.http import ROUTES

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
                       "schema": {"type": "integer" if conv == "int" else "string"}})
    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule), params


def document() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for route in ROUTES:
        path, params = _path(route.path)
        params += [{"name": n, "in": "query", "required": False, "description": d,
                    "schema": {"type": "string"}} for n, d in route.query.items()]
        op: dict[str, Any] = {
            "summary": route.summary, "tags": [route.tag], "parameters": params,
            "responses": {
                "200": {"description": "OK", "content": {"application/json": {"schema": {}}}},
                "4XX": {"description": "Ошибка во входных данных",
                        "content": {"application/json": {"schema": ERROR}}},
                "503": {"description": "Сервис временно недоступен",
                        "content": {"application/json": {"schema": ERROR}}},
            },
        }
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
    }
