"""`make bench-security`: the figures of issue 17, beside the naive approach, in one run.

- `rpc_identity_check_ms`: verifying a caller's signed assertion (tests.bench.identity);
- `audit_500_rows_ms`: the extra time a page of 500 people costs to audit, all ids in one
  statement (services.common.audit.record_many), against the naive row per id;
- `gateway_p99_ms`: with `--national`, the national load test (tests.bench.load) on the national
  data set (`make national`), after the change.
The last line is one JSON object.
"""

import argparse
import json
import statistics
import time

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.common import audit
from services.common.caller import Caller
from services.common.db import make_engine
from tests.bench import common
from tests.bench.identity import identity_figures

CHAIR = Caller(user="chair@bench.reestr", ip="10.0.0.1", roles=("chair",), org_ids=(5,),
               subject="0b1e2c3d-4e5f-6789-abcd-ef0123456789")


def audit_figures(rounds: int = 30, page: int = 500) -> dict[str, float]:
    url = common.fresh_database("reestr_bench_security", ("membership",))
    engine = make_engine(url, pool_size=2)
    ids = list(range(1, page + 1))

    def timed(write) -> float:
        samples = []
        for _ in range(rounds):
            with Session(engine) as s, s.begin():
                started = time.perf_counter()
                s.execute(text("SELECT 1"))  # the read the answer made
                write(s)
                s.flush()
                samples.append((time.perf_counter() - started) * 1000)
        return statistics.median(samples)

    none = timed(lambda s: None)
    whole = timed(lambda s: audit.record_many(s, "membership", CHAIR, "search", "member", ids))
    naive = timed(lambda s: [audit.record(s, "membership", CHAIR, "search", "member", i)
                             for i in ids])
    engine.dispose()
    return {"audit_500_rows_ms": round(whole - none, 2),
            "audit_500_rows_naive_ms": round(naive - none, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--national", action="store_true",
                        help="also the national load test's gateway_p99_ms (make national first)")
    parser.add_argument("--duration", type=int, default=300, help="seconds of the load test")
    args = parser.parse_args()
    figures: dict[str, float] = {}
    figures.update(identity_figures())
    print(f"identity: {figures}", flush=True)
    figures.update(audit_figures())
    print(f"audit: {figures}", flush=True)
    if args.national:  # the load test alone, as make bench-national runs it
        import sys

        from tests.bench import national

        sys.argv = ["national", "--duration", str(args.duration),
                    "--skip", "fuzz", "scaling", "mix", "faults"]
        national.main()
        kept = json.loads(national.KEPT.read_text())["figures"]
        figures.update({k: kept[k] for k in ("gateway_p50_ms", "gateway_p99_ms",
                                             "gateway_errors")})
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
