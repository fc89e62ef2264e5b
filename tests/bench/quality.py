"""`make bench-quality`: the figures of issue 7, beside the naive approach, in one run.

- national_quality_s: every data-quality check over the national data (75,000 organizations,
  3.1 million members): the tree, the counts and the waiting cards asked for once each, the
  faults written with SQL;
- national_quality_naive_s: the same checks done by asking the services about each primary
  (its passport from the registry, its members from membership), measured on a sample and
  scaled;
- drilldown_p95_ms: a region's drill-down (its territorial organizations and primaries with their
  faults per check) through the gateway, as its staff reads it.
The last line printed is one JSON object.
"""

import os

os.environ["KEYCLOAK_REALM"] = os.environ.get("BENCH_KEYCLOAK_REALM", "reestr-bench")

import argparse
import random
import time

import requests
from sqlalchemy import text

from services.sso.settings import sso_settings
from tests.bench.common import (
    access_token,
    fresh_realm,
    make_user,
    p95,
    print_figures,
    timed_ms,
)
from tests.bench.reports import DAY, national

GOALS = {"national_quality_s": 10, "drilldown_p95_ms": 200}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orgs", type=int, default=75_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--naive-sample", type=int, default=300)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--national", action="store_true",
                        help="measure on the data set of `make national` (no loading)")
    args = parser.parse_args()

    figures: dict[str, float] = {}
    with national("reestr_bench_quality", args.orgs, args.seed, args.national) as (
            base, rpc, engine):
        rpc.reports.generate_all("stat", DAY)  # for the reconciliation and usage figures
        started = time.perf_counter()
        run = rpc.reports.run_quality()
        figures["national_quality_s"] = round(time.perf_counter() - started, 1)
        print(f"quality run: {run}")

        with engine.connect() as conn:
            primaries = conn.execute(text(
                "SELECT id FROM membership.org WHERE level = 'primary'")).scalars().all()
            region_id, size = conn.execute(text("""
                SELECT region_id, count(*) FROM reports.quality_org
                WHERE run_id = :run GROUP BY region_id ORDER BY abs(count(*) - 1000) LIMIT 1
            """), {"run": run["run_id"]}).one()
            faults = conn.execute(text("SELECT count(*) FROM reports.quality_fault "
                                       "WHERE run_id = :run"), {"run": run["run_id"]}).scalar()
        figures["quality_faults"] = faults
        figures["drilldown_region_orgs"] = size

        sample = random.Random(args.seed).sample(primaries, args.naive_sample)
        started = time.perf_counter()
        for org_id in sample:
            rpc.registry.get_organization(org_id)
            rpc.membership.member_counts([org_id])
        per_primary = (time.perf_counter() - started) / len(sample)
        figures["national_quality_naive_s"] = round(per_primary * len(primaries), 1)

        conf = sso_settings()
        admin = fresh_realm(conf)
        make_user(admin, "region@bench.reestr", "regional_staff", [region_id])
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {access_token(conf, 'region@bench.reestr')}"
        url = f"{base}/api/v1/quality/orgs/{region_id}"
        for _ in range(10):
            http.get(url).raise_for_status()
        figures["drilldown_p95_ms"] = p95([timed_ms(lambda: http.get(url).raise_for_status())
                                           for _ in range(args.requests)])
    print_figures(figures, GOALS)


if __name__ == "__main__":
    main()
