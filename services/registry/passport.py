"""The passport of an organization (паспорт организации): its fields, their rules, and its history.

One pydantic model holds every editable field, so a whole passport is checked the same way whether
it comes from a form, an API patch or a row of a file. A change merges a patch into the current
passport and checks the result as a whole.
"""

import re
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from services.common.identifiers import IdentifierError, check_company_inn, check_ogrn
from services.common.validation import from_identifier
from services.registry.file_format import EDU_TYPE_TITLES, Level

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

STAFF_POSITIONS: dict[str, str] = {
    "deputy_chair": "Заместитель председателя",
    "treasurer": "Казначей",
    "accountant": "Бухгалтер",
    "legal_inspector": "Правовой инспектор труда",
    "safety_inspector": "Технический инспектор труда",
    "ais_responsible": "Ответственный за АИС в регионе",
    "specialist": "Специалист аппарата",
    "youth_council_chair": "Председатель молодёжного совета",
    "committee_member": "Член профкома",
}

EXCLUSION_REASONS = {"liquidated": "ликвидация", "reorganized": "реорганизация"}

EDU_TYPE_CODES = {title: code for code, title in EDU_TYPE_TITLES.items()}

Text = Annotated[str, Field(min_length=1, max_length=500)]
ShortText = Annotated[str, Field(min_length=1, max_length=100)]


def _custom(code: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(code, message)


def normalize_phone(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    digits = re.sub(r"\D", "", value)
    if len(digits) == 10:
        digits = "7" + digits
    if len(digits) != 11 or digits[0] not in "78":
        raise _custom("phone_format", "Телефон в формате +7 XXX XXX-XX-XX")
    return "+7" + digits[1:]


def normalize_email(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    value = value.strip()
    if not EMAIL.match(value):
        raise _custom("email_format", "Адрес e-mail в неверном формате")
    return value.lower()


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Contact(Strict):
    email: str | None = None
    phone: str | None = None

    _email = field_validator("email")(normalize_email)
    _phone = field_validator("phone")(normalize_phone)


class Chair(Contact):
    surname: ShortText
    first_name: ShortText
    patronymic: str | None = None
    elected_on: date | None = None
    term_until: date | None = None
    email_consent: bool = False

    @model_validator(mode="after")
    def _term(self) -> "Chair":
        if self.elected_on and self.term_until and self.term_until <= self.elected_on:
            raise _custom("term_order",
                          "Срок полномочий должен заканчиваться позже даты избрания")
        return self


class Education(Strict):
    name: Text
    type: Literal["school", "kindergarten", "college", "university", "additional", "other"]
    inn: str | None = None

    @field_validator("type", mode="before")
    @classmethod
    def _type_word(cls, value: Any) -> Any:
        return None if value is None else EDU_TYPE_CODES.get(str(value).strip().lower(), value)

    @field_validator("inn")
    @classmethod
    def _inn(cls, value: str | None) -> str | None:
        if not value:
            return None
        try:
            return check_company_inn(value)
        except IdentifierError as exc:
            raise from_identifier(exc) from None


class StaffMember(Contact):
    full_name: Text
    position: str

    @field_validator("position")
    @classmethod
    def _position(cls, value: str) -> str:
        if value not in STAFF_POSITIONS:
            raise _custom("position_unknown", "Неизвестная должность")
        return value


class Passport(Strict):
    """Everything about an organization that a passport edit may change."""

    level: Level
    name: Text
    registry_number: Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[\w\-./]+$")]
    kind: str | None = None
    region_code: str | None = None
    included_on: date | None = None
    territorial_rights: bool = False
    legal_entity: bool = False
    ogrn: str | None = None
    inn: str | None = None
    chair: Chair | None = None
    education: Education | None = None
    staff: list[StaffMember] = Field(default_factory=list, max_length=200)

    @field_validator("ogrn", "inn", "region_code", "kind", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("inn")
    @classmethod
    def _inn(cls, value: str | None) -> str | None:
        try:
            return check_company_inn(value) if value else None
        except IdentifierError as exc:
            raise from_identifier(exc) from None

    @field_validator("ogrn")
    @classmethod
    def _ogrn(cls, value: str | None) -> str | None:
        try:
            return check_ogrn(value) if value else None
        except IdentifierError as exc:
            raise from_identifier(exc) from None

    @field_validator("included_on")
    @classmethod
    def _not_future(cls, value: date | None) -> date | None:
        if value and value > date.today():
            raise _custom("date_in_future", "Дата включения не может быть в будущем")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> "Passport":
        if self.legal_entity and not (self.ogrn and self.inn):
            raise _custom("legal_entity_ids",
                          "Для юридического лица нужно указать ОГРН и ИНН")
        if not self.legal_entity and (self.ogrn or self.inn):
            raise _custom("not_legal_entity_ids",
                          "ОГРН и ИНН указываются только для юридического лица")
        if self.level is Level.REGIONAL:
            if not (self.region_code and re.fullmatch(r"\d{2}", self.region_code)):
                raise _custom("region_code",
                              "Для региональной организации нужен двузначный код региона")
        elif self.region_code:
            raise _custom("region_code_not_regional",
                          "Код региона указывается только для региональной организации")
        if self.education and self.level is not Level.PRIMARY:
            raise _custom("education_not_primary",
                          "Образовательная организация указывается только для первичной")
        if self.territorial_rights and self.level is not Level.PRIMARY:
            raise _custom("rights_not_primary",
                          "Права ТПО бывают только у первичной организации")
        return self


EDITABLE_FIELDS = tuple(name for name in Passport.model_fields if name != "level")


def passport_values(p: Passport) -> dict[str, Any]:
    """Column values of the organization table for a checked passport."""
    data = p.model_dump(mode="json", exclude={"level"})
    data["included_on"] = p.included_on
    return data
