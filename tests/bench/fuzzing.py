"""The API fuzzed from its OpenAPI document on the national data set (for `make bench-national`):
every operation under each role, requests that fit the document and requests that break it,
counting the answers that are server errors (5xx) or break the document.

The fuzz tests (tests/fuzz/) do the same on the tests' small tree and also look for other
organizations' data in each answer; here the figure is `fuzz_5xx` at national scale. The
Central Council's role fuzzes only reading operations and malformed requests: its fuzzed
changes would be accepted (it may rename or exclude any organization) and would spoil the data
set the other benchmarks measure.
"""

import time
from typing import Any

import requests
import schemathesis
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.fuzz.cases import draw_cases

CONFORMANCE = [status_code_conformance, content_type_conformance, response_schema_conformance]
SAFE = {"GET", "HEAD"}


def fuzz(base: str, tokens: dict[str, str | None], positive: int = 3, negative: int = 2
         ) -> dict[str, Any]:
    """`tokens`: role -> access token (None for anonymous). Returns the counts and the first few
    failures with curl commands that repeat them."""
    schema = schemathesis.openapi.from_url(f"{base}/api/v1/openapi.json")
    session = requests.Session()
    sent = server_errors = broken = 0
    examples: list[str] = []
    started = time.monotonic()
    for role, token in tokens.items():
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        for result in schema.get_all_operations():
            operation = result.ok()
            modes = [(GenerationMode.NEGATIVE, negative)]
            if role != "admin" or operation.method.upper() in SAFE:
                modes.insert(0, (GenerationMode.POSITIVE, positive))
            for mode, n in modes:
                for case in draw_cases(operation, mode, n):
                    response = case.call(base_url=base, session=session, headers=headers,
                                         timeout=120)
                    sent += 1
                    failed = None
                    if response.status_code >= 500:
                        server_errors += 1
                        failed = "5xx"
                    else:
                        try:
                            case.validate_response(response, checks=CONFORMANCE,
                                                   headers=headers)
                        except (AssertionError, BaseExceptionGroup) as exc:
                            broken += 1
                            failed = str(exc).splitlines()[0]
                    if failed and len(examples) < 10:
                        examples.append(f"[{role}] {failed}: {response.status_code} "
                                        f"{case.as_curl_command(base_url=base)}")
    return {"fuzz_requests": sent, "fuzz_5xx": server_errors, "fuzz_broken": broken,
            "fuzz_s": round(time.monotonic() - started), "fuzz_examples": examples}
