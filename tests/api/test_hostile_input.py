"""Hostile input through the gateway: uploads past the limit, a zip bomb named .xlsx, formulas
in what goes out as spreadsheets, scripts in names shown by the portal and in PDFs."""

import io
import time
import zipfile

import pytest
import requests
from openpyxl import load_workbook
from pypdf import PdfReader

from gateway.uploads import MAX_UPLOAD
from tests.conftest import GATEWAY_ADDRESS
from tests.factories import card, register
from tests.support.portal import portal_session

BASE = f"http://{GATEWAY_ADDRESS}"
FORMULA = '=HYPERLINK("http://evil.example/","Нажмите")'
SCRIPT = '<script>alert("reestr")</script>'
DAY = "2026-10-01"


def refused(r, status: int, code: str) -> dict:
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["code"] == code, error
    assert any("а" <= ch <= "я" for ch in error["message"].lower()), error  # Russian
    return error


# ---- uploads --------------------------------------------------------------------------------

def test_an_upload_over_the_limit_is_refused(api, synced_tree):
    body = b"0" * (MAX_UPLOAD + 1)
    for path in ("/api/v1/organizations/5/members/import?filename=big.csv",
                 "/api/v1/organizations/import?filename=big.csv"):
        r = api.post(path, data=body)
        refused(r, 413, "file_too_large")
    r = api.post("/api/v1/organizations/5/members/import",
                 files={"file": ("big.csv", body, "text/csv")})
    refused(r, 413, "file_too_large")


def _chunks(body: bytes, size: int = 64 * 1024):
    """A body requests sends with Transfer-Encoding: chunked (no Content-Length)."""
    for start in range(0, len(body), size):
        yield body[start:start + size]


def test_chunked_bodies_are_read_and_held_to_the_limits(api, synced_tree):
    """A client that streams its upload or its JSON in chunks is heard (eventlet's server does
    not tell werkzeug it ends such a body, which then read it as empty), and the limits hold."""
    member = card(801)
    y, m, d = member["birth_date"].split("-")
    csv = ("ФИО;Дата рождения;Пол;СНИЛС;Дата вступления;Категория;Согласие на обработку ПДн\n"
           f"Чанкова Мария Петровна;{d}.{m}.{y};ж;{member['snils']};01.09.2015;работающий;"
           "10.01.2024\n")
    r = api.post("/api/v1/organizations/5/members/import?filename=chunked.csv",
                 data=_chunks(csv.encode(), 16))
    assert r.status_code == 200, r.text
    assert r.json()["rows_loaded"] == 1, r.json()
    r = api.patch("/api/v1/organizations/5", data=_chunks('{"name": "ППО чанк"}'.encode(), 8),
                  headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "ППО чанк"
    r = api.post("/api/v1/organizations/5/members/import?filename=big.csv",
                 data=_chunks(b"0" * (MAX_UPLOAD + 2**20), 2**20))
    refused(r, 413, "file_too_large")


def _bomb(inflated: int) -> bytes:
    """A workbook whose one sheet inflates to `inflated` bytes of blanks: a few hundred KB."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as book:
        book.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://'
                      'schemas.openxmlformats.org/package/2006/content-types"/>')
        with book.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(b'<?xml version="1.0"?><worksheet><sheetData>')
            chunk = b" " * 2**20
            for _ in range(inflated // len(chunk)):
                sheet.write(chunk)
            sheet.write(b"</sheetData></worksheet>")
    return out.getvalue()


def test_a_zip_bomb_named_xlsx_is_refused_without_inflating_it(api, synced_tree):
    bomb = _bomb(1024 * 2**20)  # 1 GiB inside, about 1 MB on the wire
    assert len(bomb) < 5 * 2**20
    for path, user in (("/api/v1/organizations/5/members/import", "chair"),
                       ("/api/v1/organizations/import", "admin")):
        started = time.monotonic()
        r = api.as_user(user).post(path, files={"file": ("members.xlsx", bomb)})
        refused(r, 422, "file_bomb")
        assert time.monotonic() - started < 10, "the bomb was inflated"


def test_a_truncated_xlsx_is_refused_with_a_message(api, synced_tree):
    r = api.as_user("chair").post("/api/v1/organizations/5/members/import",
                                  files={"file": ("members.xlsx", _bomb(2**20)[:2000])})
    refused(r, 422, "file_truncated")


def hostile_tree(api, engine, text: str, **primary: object) -> None:
    """The test tree (ids as in tests.factories.build_tree), included on 1 January 2020, with
    `text` in the names of the region (2) and the primary (5) from the start, so reports as of
    a past date show it too; `primary` adds fields to 5's passport."""
    from sqlalchemy import text as sql

    from tests.factories import build_tree
    from tests.support.waiting import wait_until

    def create(data):
        data = {**data, "included_on": "2020-01-01"}
        if data["registry_number"] in ("59-Р", "59-П-1"):
            data["name"] = f"{text} {data['name']}"
        if data["registry_number"] == "59-П-1":
            data.update(primary)
        r = api.post("/api/v1/organizations", json=data)
        assert r.status_code == 201, r.text
        return r.json()
    ids = build_tree(create)
    assert (ids["region"], ids["primary"]) == (2, 5)

    def synced():
        with engine.connect() as c:
            return c.execute(sql("SELECT count(*) FROM membership.org")).scalar() == len(ids)
    assert wait_until(synced), "membership's read model of the tree did not catch up"


# ---- formulas in exports --------------------------------------------------------------------

def _cells(content: bytes) -> list:
    book = load_workbook(io.BytesIO(content))
    return [c for sheet in book.worksheets for row in sheet.iter_rows() for c in row]


def assert_no_formulas(content: bytes, must_show: str) -> None:
    """No cell is a formula or text a spreadsheet would run, and the hostile text is there,
    shown as text (so the check has something to find)."""
    cells = _cells(content)
    formulas = [c.coordinate for c in cells if c.data_type == "f"]
    assert not formulas, f"formula cells: {formulas}"
    # text that starts like a formula is either prefixed with «'» or a string cell marked
    # «quote prefix» (Excel and LibreOffice keep it text even when the cell is edited)
    runnable = [c.value for c in cells if isinstance(c.value, str)
                and c.value[:1] in ("=", "+", "-", "@") and not c.quotePrefix]
    assert not runnable, runnable
    texts = [c.value for c in cells if isinstance(c.value, str)]
    assert any(must_show in t for t in texts), (must_show, texts[:20])


def test_exports_carry_no_formulas(api, engine):
    admin = api.as_user("admin")
    hostile_tree(admin, engine, FORMULA)  # the region's name goes into the quality workbook
    register(api, 5, 1, user="chair", email="=1+2@evil.example", phone="+7 912 345-67-89")

    export = admin.get("/api/v1/members/export.xlsx", params={"within": 5})
    assert export.status_code == 200, export.text
    assert_no_formulas(export.content, "=1+2@evil.example")
    phones = [c.value for c in _cells(export.content)
              if isinstance(c.value, str) and c.value.startswith("+79")]
    assert phones, "the phone is shown as typed, with no apostrophe"

    r = admin.post("/api/v1/organizations/4/reports", json={"family": "stat", "day": DAY})
    assert r.status_code == 201, r.text
    for org_id in (4, 5):  # 5's own report, and 4's with 5 in its annex
        found = admin.get(f"/api/v1/organizations/{org_id}/reports",
                          params={"day": DAY, "family": "stat"}).json()
        book = admin.get(f"/api/v1/reports/{found['id']}/file", params={"format": "xlsx"})
        assert book.status_code == 200, book.text
        assert_no_formulas(book.content, FORMULA)

    assert admin.post("/api/v1/quality/runs").status_code == 200
    quality = admin.get("/api/v1/quality/export.xlsx")
    assert quality.status_code == 200, quality.text
    assert_no_formulas(quality.content, FORMULA)


# ---- scripts in names -----------------------------------------------------------------------

@pytest.mark.parametrize("field", ["surname", "first_name", "patronymic"])
def test_member_names_refuse_markup_with_a_message(api, synced_tree, field):
    r = api.as_user("chair").post("/api/v1/organizations/5/members",
                                  json=card(1, **{field: SCRIPT}))
    error = refused(r, 422, "validation_failed")
    assert [d["field"] for d in error["details"]] == [field], error


def test_scripts_in_names_are_text_in_every_page_and_pdf(api, engine, keycloak):

    admin = api.as_user("admin")
    hostile_tree(admin, engine, SCRIPT, chair={
        "surname": "<img src=x onerror=alert(1)>", "first_name": "Ольга"})
    register(api, 5, 1, user="chair")
    assert admin.post("/api/v1/quality/runs").status_code == 200
    http = portal_session(keycloak, "regional")
    escaped = "&lt;script&gt;alert("
    shown_on = ["/portal/org/5", "/portal/org/4", "/portal/org/5/passport",
                "/portal/org/5/history", "/portal/quality", "/portal/quality/org/4"]
    for path in [*shown_on, "/portal/members?within=5", "/portal/applications",
                 "/portal/cards", "/portal/reports", "/portal/quality/reconciliation"]:
        page = http.get(BASE + path, timeout=60)
        assert page.status_code == 200, (path, page.status_code)
        assert SCRIPT not in page.text and "<img src=x" not in page.text, path
        if path in shown_on:
            assert escaped in page.text, path
    join = requests.get(f"{BASE}/join", params={"region_id": 2, "q": "СОШ"}, timeout=30)
    assert SCRIPT not in join.text and escaped in join.text

    assert admin.post("/api/v1/organizations/4/reports",
                      json={"family": "stat", "day": DAY}).status_code == 201
    for org_id in (4, 5):
        found = admin.get(f"/api/v1/organizations/{org_id}/reports",
                          params={"day": DAY, "family": "stat"}).json()
        pdf = admin.get(f"/api/v1/reports/{found['id']}/file", params={"format": "pdf"})
        assert pdf.status_code == 200, pdf.text
        text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
        assert "<script>alert(" in " ".join(text.split()), text[:500]


# ---- what the fuzzing found -----------------------------------------------------------------

@pytest.mark.parametrize(("method", "path", "body", "status", "code"), [
    ("GET", "/api/v1/organizations/abc", None, 404, "route_not_found"),
    ("GET", "/api/v1/organizations/99999999999999999999999", None, 404, "route_not_found"),
    ("GET", "/api/v1/no-such-thing", None, 404, "route_not_found"),
    ("DELETE", "/api/v1/organizations/5", None, 405, "method_not_allowed"),
    ("GET", "/api/v1/organizations?q=%00", None, 400, "text_invalid"),
    ("GET", "/api/v1/members?limit=-1", None, 400, "query_int_range"),
    ("GET", "/api/v1/members?within=99999999999999999999", None, 400, "query_int_range"),
    ("POST", "/api/v1/organizations", '{"name": "\\u0000"}', 400, "text_invalid"),
    ("POST", "/api/v1/organizations", '{"name": "\\ud800"}', 400, "text_invalid"),
    ("POST", "/api/v1/organizations", '{"parent_id": NaN}', 400, "json_malformed"),
    ("PATCH", "/api/v1/reports/1", '{"values": {"01": 1' + "0" * 30 + "}}", 400,
     "number_too_large"),
    ("POST", "/api/v1/partners", '{"code": "abc", "name": 5, "redirect_uris": [1]}', 422,
     "validation_failed"),
])
def test_malformed_requests_get_a_clear_4xx(api, method, path, body, status, code):
    r = getattr(api, method.lower())(path, data=body,
                                     headers={"Content-Type": "application/json"})
    refused(r, status, code)
