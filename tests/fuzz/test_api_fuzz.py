"""The API fuzzed from its own OpenAPI document (schemathesis), under each role.

For every operation of /api/v1/openapi.json and every role, schemathesis generates requests
that fit the document and requests that break it, sends them to the real gateway and services,
and checks each answer: never a 5xx, the status, content type and body as the document declares
them, and nothing of an organization outside the caller's rights (the members of org 9 never
reach the chair of org 5, and so on: see FOREIGN). Failures of all operations are collected and
reported together, each with a curl command that repeats it.

The tree is tests.factories.build_tree: 1 ЦС → 2 Пермская (→ 4 → 5 ППО → 6; 7 ППО ТПО → 8) and
3 Свердловская → 9 ППО. The roles run in FUZZ_ORDER, the admin last: its fuzzed changes (a
member renamed, an organization excluded) must not hide what the others could have leaked.
"""

import io
import os
import time
import zipfile
from collections.abc import Callable

import pytest
import requests
import schemathesis
from pypdf import PdfReader
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import GATEWAY_ADDRESS, Api, _tree_through_api, empty_all
from tests.factories import register
from tests.fuzz.cases import draw_cases

BASE = f"http://{GATEWAY_ADDRESS}"
# examples per operation, role and mode: 66 operations x 5 roles x (6 + 4) requests in all
POSITIVE = int(os.environ.get("FUZZ_POSITIVE", "6"))
NEGATIVE = int(os.environ.get("FUZZ_NEGATIVE", "4"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]

# Members whose names, SNILS and card numbers mark their organization in any answer.
MARKED = {5: "Пятёркина", 7: "Семёркина", 9: "Девяткина"}
# What each role must never receive, in any answer of a non-public operation; for the public
# ones (the join form) member data must never appear for anyone.
FOREIGN_ORGS = {
    "chair": {7, 9},
    "regional": {9},
    "member": {5, 7, 9},
    None: {5, 7, 9},
}
FOREIGN_NUMBERS = {"chair": ["59-П-2", "59-П-3", "66-П-1", "66-Р"], "regional": ["66-П-1", "66-Р"]}
FUZZ_ORDER = [None, "member", "chair", "regional", "admin"]


@pytest.fixture(scope="module")
def world(services, tokens, engine) -> dict[int, list[str]]:
    """The test tree with one marked member per organization in MARKED, each with a card, and
    the statistical reports of 1 October 2026 generated for the whole union. Returns, per
    organization, the strings that would betray its members."""
    empty_all(engine)
    admin = Api(tokens, "admin")
    ids = _tree_through_api(admin, engine, included_on="2020-01-01")
    assert (ids["primary"], ids["rights"], ids["primary2"]) == (5, 7, 9)
    marks: dict[int, list[str]] = {}
    for n, (org_id, surname) in enumerate(MARKED.items(), start=1):
        member_id = register(admin, org_id, 700 + n, user="admin", surname=surname)
        card = admin.post(f"/api/v1/members/{member_id}/card-requests?kind=plastic")
        assert card.status_code in (200, 201), card.text
        got = admin.get(f"/api/v1/members/{member_id}").json()
        marks[org_id] = [surname, got["snils"], card.json()["number"]]
    r = admin.post("/api/v1/organizations/1/reports", json={"family": "stat", "day": "2026-10-01"})
    assert r.status_code == 201, r.text
    # a library material of the other region, named by its registry number: no answer to the
    # first region's chair or staff may carry it (FOREIGN_NUMBERS)
    r = admin.post("/api/v1/library/materials", json={
        "kind": "link", "title": "Памятка 66-Р", "url": "https://eseur.ru/",
        "audiences": ["chairs", "staff"], "publisher_org_id": ids["region2"]})
    assert r.status_code == 201, r.text
    return marks


@pytest.fixture(scope="module")
def schema(services):
    """The document as the gateway serves it."""
    return schemathesis.openapi.from_url(f"{BASE}/api/v1/openapi.json")


def answer_text(content: bytes, content_type: str) -> str:
    """What a person would read in an answer: the text inside a spreadsheet or a PDF too."""
    if content_type.startswith("application/pdf"):
        return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)
    if content_type.startswith("application/vnd.openxmlformats"):
        with zipfile.ZipFile(io.BytesIO(content)) as book:
            return "\n".join(book.read(n).decode() for n in book.namelist()
                             if n.endswith(".xml"))
    return content.decode("utf-8", "replace")


def leaks(role: str | None, public: bool, marks: dict[int, list[str]],
          text: str) -> list[str]:
    """The strings of other organizations found in an answer given to `role`."""
    if role == "admin":
        return []
    orgs = {5, 7, 9} if public else FOREIGN_ORGS[role]
    found = [m for org_id in orgs for m in marks[org_id] if m in text]
    if not public:
        found += [n for n in FOREIGN_NUMBERS.get(role, []) if n in text]
    return found


def fuzz_operation(operation, mode: GenerationMode, examples: int,
                   headers: Callable[[], dict[str, str]], check_leaks: Callable[[str], list[str]],
                   session: requests.Session) -> str | None:
    """Fuzz one operation; the first failure as text, or None."""
    cases = draw_cases(operation, mode, examples)
    for case in cases:
        sent = headers()
        response = case.call(base_url=BASE, session=session, headers=sent, timeout=120)
        try:
            case.validate_response(response, checks=CHECKS, headers=sent)
            leaked = check_leaks(answer_text(response.content,
                                             response.headers.get("content-type", [""])[0]))
            assert not leaked, f"answer carries another organization's data: {leaked}"
        except (AssertionError, BaseExceptionGroup) as exc:  # schemathesis: a group of failures
            curl = case.as_curl_command(headers={"Authorization": "Bearer …"}
                                        if sent else None, base_url=BASE)
            return f"{exc}\n    {response.status_code} {response.text[:300]}\n    {curl}"
    return None


def fuzz_role(role: str | None, schema, tokens, marks: dict[int, list[str]]) -> None:
    failures: list[str] = []
    operations = 0
    session = requests.Session()
    started = time.monotonic()

    def headers() -> dict[str, str]:
        return {"Authorization": f"Bearer {tokens(role)}"} if role else {}

    for result in schema.get_all_operations():
        operation = result.ok()
        public = operation.path.startswith(("/api/v1/join/", "/api/v1/openapi", "/healthz"))
        operations += 1
        print(f"{role} {operation.method.upper()} {operation.path}", flush=True)

        def check(text: str, public: bool = public) -> list[str]:
            return leaks(role, public, marks, text)

        for mode, examples in ((GenerationMode.POSITIVE, POSITIVE),
                               (GenerationMode.NEGATIVE, NEGATIVE)):
            if failure := fuzz_operation(operation, mode, examples, headers, check, session):
                failures.append(f"{operation.method.upper()} {operation.path} [{role}, "
                                f"{mode}]: {failure}")
                break
    assert operations >= 60, "the document lost its operations"
    print(f"fuzzed {operations} operations as {role} in {time.monotonic() - started:.0f} s")
    assert not failures, "\n\n".join(failures)


def test_leak_check_can_fail(world) -> None:
    """The leak check sees another organization's member in an answer, and lets one's own
    through: it is not a check that passes whatever happens."""
    assert leaks("chair", False, world, f'{{"surname": "{MARKED[9]}"}}')
    assert leaks("chair", False, world, '{"registry_number": "66-П-1"}')
    assert leaks(None, True, world, world[5][1])  # a SNILS on a public page
    assert not leaks("chair", False, world, f'{{"surname": "{MARKED[5]}"}}')


def test_the_fuzzed_roles_see_their_own(world, tokens) -> None:
    """The markers are real: each role's own members do come back to it, so their absence from
    the other answers means something."""
    chair, regional = Api(tokens, "chair"), Api(tokens, "regional")
    assert MARKED[5] in chair.get("/api/v1/members?status=all").text
    assert MARKED[9] not in chair.get("/api/v1/members?status=all").text
    text = regional.get("/api/v1/members?status=all").text
    assert MARKED[5] in text and MARKED[7] in text and MARKED[9] not in text


@pytest.mark.parametrize("role", FUZZ_ORDER, ids=lambda r: r or "anonymous")
def test_fuzz(role: str | None, world, schema, tokens) -> None:
    fuzz_role(role, schema, tokens, world)
