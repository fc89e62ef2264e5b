"""JSON schemas of request bodies for the OpenAPI document.

The passport's schema comes from the registry's own model, so the document cannot drift from
what the registry checks.
"""

from typing import Any

from services.registry.passport import Passport


def _passport_schema() -> dict[str, Any]:
    return Passport.model_json_schema(ref_template="#/components/schemas/{model}")


PASSPORT = _passport_schema()
ORG_CREATE: dict[str, Any] = {
    "allOf": [{"type": "object", "properties": {
        "parent_id": {"type": ["integer", "null"],
                      "description": "вышестоящая организация (не нужна только ЦС)"}}}],
    "type": "object",
    "properties": {**PASSPORT.get("properties", {}), "parent_id": {"type": ["integer", "null"]}},
    "required": PASSPORT.get("required", []),
}
ORG_PATCH: dict[str, Any] = {
    "type": "object", "description": "поля паспорта, которые меняются; level не меняется",
    "properties": {k: v for k, v in PASSPORT.get("properties", {}).items() if k != "level"},
}
MOVE = {"type": "object", "required": ["parent_id"],
        "properties": {"parent_id": {"type": "integer"}}}
EXCLUDE = {"type": "object", "required": ["excluded_on", "reason"], "properties": {
    "excluded_on": {"type": "string", "format": "date"},
    "reason": {"type": "string", "enum": ["liquidated", "reorganized"]},
    "into_id": {"type": ["integer", "null"],
                "description": "правопреемник при реорганизации; дочерние перейдут к нему"},
}}
DEFS = PASSPORT.get("$defs", {})
PARTNER = {"type": "object", "required": ["code", "name", "redirect_uris"], "properties": {
    "code": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{1,40}$"},
    "name": {"type": "string"},
    "redirect_uris": {"type": "array", "items": {"type": "string", "format": "uri"}},
}}
