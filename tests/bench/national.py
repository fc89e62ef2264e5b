"""`make bench-national`: the figures of issue 9, on the national data set of `make national`.

1. The load test (tests/bench/load.py): 50 people (chairs, regional staff, members, people
   joining) for five minutes against one process of each service: gateway_p99_ms (goal 200),
   gateway_rps, gateway_errors (goal 0); the locust report is kept under var/bench/load/.
2. The API fuzzed from its OpenAPI document under each role (tests/bench/fuzzing.py):
   fuzz_5xx (goal 0) and fuzz_broken (answers that break the document).
3. Scaling out (tests/bench/scaling.py): the same mix closed-loop with one, then two processes
   of every service: rps_one, rps_two, scale_gain; and membership alone as the bottleneck
   (lists of 500 members asked by 8 callers at once over RPC): calls_per_s_1, calls_per_s_2,
   service_scale_gain.
4. Faults (tests/bench/faults.py): every service, RabbitMQ, PostgreSQL and the object store
   killed and restarted while clients register members, import a file, submit reports and the
   vendor's responses are applied: faults_lost and faults_duplicated (goals 0).
The last line printed is one JSON object.
"""

import os

os.environ.setdefault("KEYCLOAK_REALM", "reestr-national")
os.environ["ACCOUNTS_ON_IMPORT"] = "false"
# notify does not send during the figures: the data set's cards all came back from the vendor
# at once, which queued a card e-mail for each of 3.3 million members, and notify sending them
# (500 a second, the mailing bench's figure) took a core from the pages measured here
os.environ.setdefault("SEND_INTERVAL_S", "3600")

import argparse
import json
from typing import Any

from services.sso.settings import sso_settings
from tests.bench import dataset, faults, fuzzing, load, scaling
from tests.bench.common import access_token, db_url, fresh_realm, print_figures

GOALS = {"gateway_p99_ms": 200, "gateway_errors": 0, "faults_lost": 0, "faults_duplicated": 0,
         "fuzz_5xx": 0}
KEPT = dataset.MARKER.parent / "national-figures.json"


def role_tokens(users: dict[str, Any]) -> dict[str, str | None]:
    """One access token per role the fuzzing plays, from the load test's accounts."""
    conf = sso_settings()
    return {"anonymous": None,
            "member": access_token(conf, users["members"][0]["username"]),
            "chair": access_token(conf, users["chairs"][0]["username"]),
            "regional": access_token(conf, users["staff"][0]["username"]),
            "admin": access_token(conf, users["admin_user"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--duration", type=int, default=300, help="seconds of the load test")
    parser.add_argument("--scaling-users", type=int, default=30)
    parser.add_argument("--scaling-duration", type=int, default=60)
    parser.add_argument("--scaling-rounds", type=int, default=1)
    parser.add_argument("--skip", nargs="*", default=[],
                        choices=["load", "fuzz", "scaling", "mix", "faults"],
                        help="phases left out (mix: the whole mix's part of scaling)")
    args = parser.parse_args()
    if not dataset.loaded():
        raise SystemExit("the national data set is not loaded: make national")

    url = db_url(dataset.DATABASE)
    figures: dict[str, Any] = {}
    details: dict[str, Any] = {}
    with dataset.services() as (base, _, _):
        users = load.prepare_users(url, fresh_realm(sso_settings()))
        if "load" not in args.skip:
            got = load.run_load(base, users, args.users, args.duration)
            details["load"] = got
            figures.update({k: got[k] for k in (
                "gateway_p50_ms", "gateway_p95_ms", "gateway_p99_ms", "gateway_rps",
                "gateway_errors", "requests", "load_avg_1m_mean")})
            for e in got["endpoints"]:
                print(f"  {e['name']:<40}{e['requests']:>7}{e['errors']:>5}  p50 {e['p50_ms']:>6}"
                      f"  p95 {e['p95_ms']:>6}  p99 {e['p99_ms']:>6}")
            print(f"load test report: {got['report']}")
        if "fuzz" not in args.skip:
            got = fuzzing.fuzz(base, role_tokens(users))
            details["fuzz"] = got
            figures.update({k: got[k] for k in ("fuzz_requests", "fuzz_5xx", "fuzz_broken")})
            for example in got["fuzz_examples"]:
                print(f"  fuzz: {example}")
    if not {"scaling", "mix"} & set(args.skip):
        got = scaling.measure_scaling(url, users, args.scaling_users, args.scaling_duration,
                                      rounds=args.scaling_rounds)
        details["scaling"] = got
        figures.update({k: got[k] for k in ("rps_one", "rps_two", "scale_gain",
                                            "p95_one_ms", "p95_two_ms")})
        print(f"scaling split (cpu s, messages per instance): {json.dumps(got['split_two'])}")
    if "scaling" not in args.skip:
        got = scaling.measure_service_scaling(url)
        details["service_scaling"] = got
        figures.update({k: got[k] for k in ("calls_per_s_1", "calls_per_s_2",
                                            "service_scale_gain")})
        print(f"membership alone, cpu s per instance: {got['membership_cpu_s_2']}")
    if "faults" not in args.skip:
        got = faults.run(url)
        details["faults"] = got
        figures.update({k: got[k] for k in ("faults_lost", "faults_duplicated",
                                            "faults_unclear", "faults_slowest_s")})
    KEPT.write_text(json.dumps({"figures": figures, "details": details}, ensure_ascii=False,
                               indent=1, default=str))
    print(f"details kept in {KEPT}")
    print_figures(figures, GOALS)


if __name__ == "__main__":
    main()
