import pytest
from pydantic import ValidationError

from services.registry.passport import Passport
from tests.factories import company_inn, ogrn


def make(**kw):
    base = {"level": "primary", "name": "ППО", "registry_number": "59-П-1"}
    return Passport.model_validate(base | kw)


def codes(exc: ValidationError) -> set[str]:
    return {e["type"] for e in exc.errors()}


def test_valid_legal_entity():
    p = make(legal_entity=True, inn=company_inn(5), ogrn=ogrn(5))
    assert p.inn == company_inn(5)


@pytest.mark.parametrize("bad_inn, code", [
    ("5900000019", "inn_checksum"), ("59000", "inn_format"), ("59000000AB", "inn_format")])
def test_bad_inn(bad_inn, code):
    good = company_inn(5)
    if code == "inn_checksum":
        bad_inn = good[:-1] + str((int(good[-1]) + 1) % 10)
    with pytest.raises(ValidationError) as exc:
        make(legal_entity=True, inn=bad_inn, ogrn=ogrn(5))
    assert code in codes(exc.value)


def test_bad_ogrn_checksum():
    good = ogrn(7)
    bad = good[:-1] + str((int(good[-1]) + 1) % 10)
    with pytest.raises(ValidationError) as exc:
        make(legal_entity=True, inn=company_inn(7), ogrn=bad)
    assert "ogrn_checksum" in codes(exc.value)
    message = exc.value.errors()[0]["msg"]
    assert "ОГРН" in message


def test_legal_entity_needs_ids_and_others_have_none():
    with pytest.raises(ValidationError) as exc:
        make(legal_entity=True)
    assert "legal_entity_ids" in codes(exc.value)
    with pytest.raises(ValidationError) as exc:
        make(legal_entity=False, inn=company_inn(1))
    assert "not_legal_entity_ids" in codes(exc.value)


def test_education_inn_checked_and_type_words():
    p = make(education={"name": "Школа", "type": "школа", "inn": company_inn(3)})
    assert p.education.type == "school"
    with pytest.raises(ValidationError) as exc:
        make(education={"name": "Школа", "type": "school", "inn": "5900000000"})
    assert codes(exc.value) & {"inn_checksum", "inn_format"}


def test_education_only_for_primary():
    with pytest.raises(ValidationError) as exc:
        Passport.model_validate({"level": "territorial", "name": "Т", "registry_number": "1",
                                 "education": {"name": "Школа", "type": "school"}})
    assert "education_not_primary" in codes(exc.value)


def test_chair_term_and_contacts():
    p = make(chair={"surname": "Иванова", "first_name": "Мария", "phone": "8 (912) 345-67-89",
                    "email": "Ivanova@Mail.RU", "elected_on": "2022-01-10",
                    "term_until": "2027-01-10"})
    assert p.chair.phone == "+79123456789"
    assert p.chair.email == "ivanova@mail.ru"
    with pytest.raises(ValidationError) as exc:
        make(chair={"surname": "И", "first_name": "М", "elected_on": "2022-01-10",
                    "term_until": "2021-01-10"})
    assert "term_order" in codes(exc.value)
    with pytest.raises(ValidationError) as exc:
        make(chair={"surname": "И", "first_name": "М", "email": "not-an-email"})
    assert "email_format" in codes(exc.value)


def test_region_code_only_for_regional():
    Passport.model_validate({"level": "regional", "name": "Р", "registry_number": "59",
                             "region_code": "59"})
    with pytest.raises(ValidationError) as exc:
        Passport.model_validate({"level": "regional", "name": "Р", "registry_number": "59"})
    assert "region_code" in codes(exc.value)
    with pytest.raises(ValidationError) as exc:
        make(region_code="59")
    assert "region_code_not_regional" in codes(exc.value)


def test_unknown_fields_refused():
    with pytest.raises(ValidationError) as exc:
        make(colour="red")
    assert "extra_forbidden" in codes(exc.value)
