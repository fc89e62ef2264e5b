"""The column-wise checks of big files of organizations (passport_frame) give the answers of the
row path (row_checks.check_fields): a row they accept, it accepts with the same values; a row
they refuse goes to it for its message."""

import random
from datetime import date

import polars as pl
import pytest
from stdnum.ru import inn as stdnum_inn
from stdnum.ru import ogrn as stdnum_ogrn

from services.common.load_report import Report
from services.registry import bulk_write
from services.registry.file_format import COLUMNS, Level
from services.registry.passport_frame import _inn_ok, _ogrn_ok, check_frame
from services.registry.row_checks import Row, check_fields
from tests.factories import company_inn, ogrn

TODAY = date.today()
PRIMARY = {"registry_number": "59-П-1", "parent_registry_number": "59-Т-1", "level": "первичная",
           "kind": "", "name": "ППО СОШ № 1", "region_code": "", "territorial_rights": "нет",
           "legal_entity": "да", "ogrn": ogrn(1), "inn": company_inn(1),
           "included_on": "12.03.1991", "chair_surname": "Иванова", "chair_first_name": "Мария",
           "chair_patronymic": "Петровна", "chair_email": "M.Ivanova@Mail.ru",
           "chair_phone": "+7 912 345-67-89", "chair_elected_on": "01.09.2022",
           "chair_term_until": "01.09.2027", "chair_email_consent": "да",
           "edu_name": "МБОУ «СОШ № 1»", "edu_type": "школа", "edu_inn": company_inn(11)}
REGION = {**{k: "" for k in PRIMARY}, "registry_number": "59", "parent_registry_number": "0000",
          "level": "региональная", "name": "Пермская краевая организация", "region_code": "59"}
bad_inn = company_inn(1)[:-1] + str((int(company_inn(1)[-1]) + 1) % 10)
VARIANTS = [
    {}, {"name": "  ППО  "}, {"name": ""}, {"name": "Я" * 501}, {"registry_number": "59 П 1"},
    {"registry_number": "1" * 33}, {"level": "ПЕРВИЧНАЯ "}, {"level": "primary"},
    {"level": "колхоз"}, {"kind": "районная"}, {"kind": "профгруппа"}, {"kind": "школа"},
    {"region_code": "59"}, {"territorial_rights": "да"}, {"territorial_rights": "может быть"},
    {"territorial_rights": ""}, {"legal_entity": "нет"}, {"legal_entity": "нет", "ogrn": "",
                                                          "inn": ""},
    {"legal_entity": "", "ogrn": "", "inn": ""}, {"legal_entity": "Да"}, {"inn": bad_inn},
    {"inn": company_inn(1)[:9]}, {"inn": " " + company_inn(1) + " "},
    {"inn": company_inn(1)[:4] + " " + company_inn(1)[4:]}, {"ogrn": "1025900000000"},
    {"ogrn": "0" + ogrn(1)[1:]}, {"ogrn": ogrn(1)[:12]}, {"inn": ""}, {"ogrn": ""},
    {"included_on": ""}, {"included_on": "31.02.2020"}, {"included_on": "1991-03-12"},
    {"included_on": "12.03.91"}, {"included_on": "01.01.2999"}, {"included_on": "00.00.0000"},
    {"included_on": "+1.03.1991"}, {"chair_surname": ""}, {"chair_first_name": ""},
    {"chair_surname": "И" * 101}, {"chair_patronymic": ""}, {"chair_email": ""},
    {"chair_email": "not-an-email"}, {"chair_email": "почта@пример.рф"}, {"chair_phone": ""},
    {"chair_phone": "8 (912) 345-67-89"}, {"chair_phone": "9123456789"}, {"chair_phone": "123"},
    {"chair_phone": "+1 912 345-67-89"}, {"chair_phone": "тел. 89123456789"},
    {"chair_elected_on": ""}, {"chair_term_until": ""}, {"chair_term_until": "01.09.2021"},
    {"chair_term_until": "01.09.2022"}, {"chair_elected_on": "2022-09-01"},
    {"chair_email_consent": ""}, {"chair_email_consent": "нет"}, {"chair_email_consent": "?"},
    {k: "" for k in PRIMARY if k.startswith("chair_")},
    {**{k: "" for k in PRIMARY if k.startswith("chair_")}, "chair_email_consent": "нет"},
    {"edu_name": ""}, {"edu_type": ""}, {"edu_type": "Колледж"}, {"edu_type": "college"},
    {"edu_type": "COLLEGE"}, {"edu_type": "цирк"}, {"edu_inn": ""}, {"edu_inn": bad_inn},
    {"edu_name": "", "edu_type": "", "edu_inn": ""},
    {"level": "территориальная", "edu_name": "", "edu_type": "", "edu_inn": ""},
    {"level": "территориальная"}, {"level": "структурное подразделение", "kind": "",
                                   "edu_name": "", "edu_type": "", "edu_inn": ""},
]
REGION_VARIANTS = [{}, {"region_code": ""}, {"region_code": "5"}, {"region_code": "٥٩"},
                   {"kind": "межрегиональная"}, {"kind": "районная"}, {"level": "ЦС"},
                   {"level": "ЦС", "region_code": "", "parent_registry_number": ""}]
CORPUS = [PRIMARY | v for v in VARIANTS] + [REGION | v for v in REGION_VARIANTS]
# values of other forms than the frame reads (ISO dates, spaced numbers, other phones): the model
# reads them, so the frame may leave such rows to it
LEFT_TO_THE_MODEL = [{"inn": company_inn(1)[:4] + " " + company_inn(1)[4:]},
                     {"included_on": "1991-03-12"}, {"included_on": "12.03.91"},
                     {"included_on": "+1.03.1991"}, {"chair_elected_on": "2022-09-01"},
                     {"chair_phone": "тел. 89123456789"}, {"region_code": "٥٩"},
                     {"chair_email": "почта@пример.рф"}]


def _by_rows(cells: dict) -> dict | None:
    row = Row(1, Level.PRIMARY, cells["registry_number"], False, cells, None)
    return row.values if check_fields(row, Report("x")) else None


@pytest.fixture(scope="module")
def checked():
    df = pl.DataFrame({k: [r[k] for r in CORPUS] for k in COLUMNS}, schema=dict.fromkeys(
        COLUMNS, pl.String)).with_row_index("_line").with_columns(pl.col("_line").cast(pl.Int64))
    return check_frame(df, TODAY).select("ok", *bulk_write.PASSPORT).to_dicts()


@pytest.mark.parametrize("i", range(len(CORPUS)))
def test_frame_agrees_with_the_row_path(checked, i):
    expected = _by_rows(CORPUS[i])
    got = checked[i]
    variant = (VARIANTS + REGION_VARIANTS)[i]
    if got["ok"]:
        assert expected is not None, f"the frame accepts what the model refuses: {variant}"
        assert {k: got[k] for k in expected if k != "staff"} == \
            {k: v for k, v in expected.items() if k != "staff"}
    else:
        assert expected is None or variant in LEFT_TO_THE_MODEL, \
            f"the frame refuses what the model accepts: {variant}"


def test_most_rows_take_the_fast_way(checked):
    assert checked[0]["ok"] and sum(r["ok"] for r in checked) > len(CORPUS) // 3


def test_check_digits_are_stdnum_s():
    rnd = random.Random(5)
    inns = [f"{rnd.randrange(10**10):010d}" for _ in range(3000)] + \
        [company_inn(i) for i in range(200)]
    ogrns = [f"{rnd.randrange(10**13):013d}" for _ in range(3000)] + [ogrn(i) for i in range(200)]
    frame = pl.DataFrame({"inn": inns, "ogrn": ogrns})
    got = frame.select(inn=_inn_ok(pl.col("inn")), ogrn=_ogrn_ok(pl.col("ogrn")))
    assert got["inn"].to_list() == [
        stdnum_inn.calc_company_check_digit(n[:9]) == n[9] for n in inns]
    assert got["ogrn"].to_list() == [
        n[0] != "0" and stdnum_ogrn.calc_check_digit(n) == n[12] for n in ogrns]
