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
    "name": {"type": "string", "minLength": 1, "maxLength": 200},
    "redirect_uris": {"type": "array", "items": {"type": "string", "format": "uri"}},
}}

PROPOSAL = {"type": "object", "required": ["role", "org_id"], "properties": {
    "role": {"type": "string", "enum": ["chair", "regional_staff", "ais_responsible"]},
    "org_id": {"type": "integer", "minimum": 1},
}}
PROPOSAL_CONFIRM = {"type": "object", "required": ["username", "role", "org_id"],
                    "properties": {**PROPOSAL["properties"],
                                   "username": {"type": "string", "minLength": 1},
                                   "accept": {"type": "boolean"}}}


_DATE = {"type": "string", "format": "date"}
MEMBER_CARD: dict[str, Any] = {"type": "object", "required": [
    "surname", "first_name", "birth_date", "pd_consent_on"], "properties": {
    "surname": {"type": "string"}, "first_name": {"type": "string"},
    "patronymic": {"type": ["string", "null"]},
    "sex": {"type": ["string", "null"], "enum": ["male", "female", None]},
    "birth_date": _DATE, "snils": {"type": ["string", "null"], "description": "11 цифр"},
    "phone": {"type": ["string", "null"]}, "email": {"type": ["string", "null"]},
    "joined_on": {**_DATE, "description": "дата вступления; по умолчанию сегодня"},
    "category": {"type": "string", "enum": ["working", "student", "pensioner", "not_given"]},
    "job_category": {"type": ["string", "null"],
                     "enum": ["teacher", "head", "support_staff", "other", None]},
    "pd_consent_on": {**_DATE, "description": "согласие на обработку ПДн (обязательно)"},
    "pd_consent_form": {"type": "string", "enum": ["paper", "electronic"]},
    "email_consent": {"type": "boolean"},
    "card_number": {"type": ["string", "null"], "description": "16 цифр"},
}}
MEMBER_PATCH: dict[str, Any] = {
    "type": "object", "description": "поля карточки, которые меняются",
    "properties": {k: v for k, v in MEMBER_CARD["properties"].items()
                   if k not in ("pd_consent_on", "pd_consent_form", "email_consent",
                                "card_number")}}
REMOVE = {"type": "object", "required": ["removed_on", "reason"], "properties": {
    "removed_on": _DATE, "reason": {"type": "string", "enum": [
        "own_will", "left_job", "graduated", "moved_away", "expelled", "died"]}}}
TRANSFER = {"type": "object", "required": ["to_org_id", "on"], "properties": {
    "to_org_id": {"type": "integer"}, "on": _DATE,
    "birth_date": {**_DATE, "description": "нужна, если член состоит на учёте вне вашей "
                                           "структуры: подтверждает, что заявление у вас"}}}
CONSENT = {"type": "object", "required": ["kind", "given"], "properties": {
    "kind": {"type": "string", "enum": ["personal_data", "email"]},
    "given": {"type": "boolean"}}}
DECLINE = {"type": "object", "required": ["reason"], "properties": {
    "reason": {"type": "string", "minLength": 5}}}
APPLICATION: dict[str, Any] = {"type": "object", "required": [
    "org_id", "surname", "first_name", "birth_date", "email", "pd_consent"], "properties": {
    "org_id": {"type": "integer"},
    **{k: v for k, v in MEMBER_CARD["properties"].items()
       if k in ("surname", "first_name", "patronymic", "sex", "birth_date", "snils", "phone",
                "email", "category", "job_category")},
    "pd_consent": {"type": "boolean", "description": "согласие на обработку ПДн"},
    "email_consent": {"type": "boolean"}}}
