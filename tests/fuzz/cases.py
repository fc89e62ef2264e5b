"""The requests schemathesis draws for one operation of the OpenAPI document: shared by the fuzz
tests (tests/fuzz/test_api_fuzz.py) and the national benchmark's fuzzing (tests/bench/national.py).
"""

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation.modes import GenerationMode

KNOWN_IDS = 12   # ids 1 to 12 name records that exist, in the tests' world and nationally


def draw_cases(operation, mode: GenerationMode, examples: int) -> list:
    """`examples` requests for the operation; in the positive mode integer path parameters are
    bent to existing records, so that the requests reach real data. Hypothesis only draws the
    cases (no shrinking: a failure is reported as it came, with its curl command)."""
    cases: list = []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    def draw(case) -> None:
        if mode == GenerationMode.POSITIVE:
            for name, value in (case.path_parameters or {}).items():
                if isinstance(value, int) and not isinstance(value, bool):
                    case.path_parameters[name] = 1 + value % KNOWN_IDS
        cases.append(case)

    try:
        draw()
    except Unsatisfiable:  # nothing to break: an operation without parameters or body
        return []
    return cases
