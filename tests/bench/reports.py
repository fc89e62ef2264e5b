"""`make bench-reports`: the figures of issue 6, beside the naive approach, in one run.

- national_stat_report_s: the statistical reports of the whole union for one date (5-СП, 3-СП
  or 4-СП of all 72,000 primaries, 2-СП, 1-СП and the Central Council's report) generated from
  the registry as it stood that day, with 3.1 million members loaded: the registry's tree and
  membership's counts asked for once each, then placed, counted and consolidated with SQL;
- national_stat_report_naive_s: the per-organization approach (one request to membership and
  one to the registry per primary), measured on a sample of primaries and scaled to all;
- primary_pdf_s: one primary's 5-СП as PDF (the median of a few);
- national_pdf_s: the national consolidated report as PDF, with its annex of the regions.
The national members file is the one `make bench-membership` keeps in var/bench/ (generated
here if missing). The last line printed is one JSON object.
"""

import os

os.environ["ACCOUNTS_ON_IMPORT"] = "false"

import argparse
import base64
import random
import statistics
import tempfile
import time
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.orm import Session

from reestr.demo import orgs
from services.common.db import make_engine
from services.common.settings import nameko_config
from services.common.trust import ClusterProxy
from services.membership import bulk_import
from tests.bench import dataset
from tests.bench.common import (
    BENCH_AMQP,
    SCHEMAS,
    SERVICES,
    fresh_database,
    print_figures,
    running_services,
)
from tests.bench.membership import members_file

DAY = "2026-10-01"
GOALS = {"national_stat_report_s": 30, "primary_pdf_s": 1, "national_pdf_s": 3}


def naive_per_primary(rpc, primaries: list[int]) -> float:
    """Seconds per primary when a report is built by asking the services about each one: its
    passport on the date from the registry, its members from membership. The members are
    asked with the cheapest per-organization call there is (today's count, by index), so the
    naive figure is if anything too kind: counting one organization as of a date scans the
    register."""
    started = time.perf_counter()
    for org_id in primaries:
        rpc.registry.passport_as_of(org_id, DAY)
        rpc.membership.member_counts([org_id])
    return (time.perf_counter() - started) / len(primaries)


def median_s(fn, runs: int) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return round(statistics.median(samples), 3)


@contextmanager
def national(database: str, orgs_n: int = 75_000, seed: int = 2026, reuse: bool = False):
    """The services running on a fresh database holding the national tree and members file
    (the file `make bench-membership` keeps in var/bench/, generated here if missing), or with
    `reuse` on the national data set of `make national`; yields the gateway's address, an RPC
    proxy and an engine."""
    if reuse:
        with dataset.services() as running:
            yield running
        return
    org_rows = orgs.generate_orgs(orgs_n, seed=seed)
    content = members_file(orgs_n, seed, org_rows)
    with tempfile.TemporaryDirectory() as tmp:
        orgs.write_csv(org_rows, f"{tmp}/orgs.csv")
        orgs_content = open(f"{tmp}/orgs.csv", "rb").read()  # noqa: SIM115
    url = fresh_database(database, SCHEMAS)
    with running_services(url, SERVICES) as base, \
            ClusterProxy(nameko_config(AMQP_URI=BENCH_AMQP), timeout=900) as rpc:
        report = rpc.registry.import_organizations(base64.b64encode(orgs_content).decode(),
                                                   "orgs.csv", False)
        assert report["rows_loaded"] == len(org_rows), report["errors"][:3]
        rpc.membership.sync_orgs()
        engine = make_engine(url, pool_size=2)
        started = time.perf_counter()
        with Session(engine) as session, session.begin():
            loaded = bulk_import.load(session, "bench", content, "members.csv",
                                      progress_engine=engine, max_bytes=len(content))
        print(f"loaded {loaded['rows_loaded']} members in {time.perf_counter() - started:.0f} s")
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
        try:
            yield base, rpc, engine
        finally:
            engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orgs", type=int, default=75_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--naive-sample", type=int, default=300)
    parser.add_argument("--national", action="store_true",
                        help="measure on the data set of `make national` (no loading)")
    args = parser.parse_args()

    figures: dict[str, float] = {}
    with national("reestr_bench_reports", args.orgs, args.seed, args.national) as (
            _, rpc, engine):
        with engine.connect() as conn:
            figures["members"] = conn.execute(
                text("SELECT count(*) FROM membership.member")).scalar_one()
        started = time.perf_counter()
        run = rpc.reports.generate_all("stat", DAY)
        figures["national_stat_report_s"] = round(time.perf_counter() - started, 1)
        figures["national_reports"] = run["reports"]
        figures["national_fetch_s"] = run["fetch_s"]
        figures["national_compute_s"] = run["compute_s"]
        print(f"national run: {run}")

        with engine.connect() as conn:
            primaries = conn.execute(text("""
                SELECT org_id FROM reports.report WHERE day = :d AND family = 'stat'
                  AND form = '5-СП' ORDER BY org_id"""), {"d": DAY}).scalars().all()
            central = conn.execute(text("""
                SELECT id FROM reports.report WHERE day = :d AND family = 'stat'
                  AND level = 'central'"""), {"d": DAY}).scalar_one()
            primary_report = conn.execute(text("""
                SELECT id FROM reports.report WHERE day = :d AND family = 'stat'
                  AND form = '5-СП' AND org_id = :o"""),
                {"d": DAY, "o": primaries[len(primaries) // 2]}).scalar_one()
            all_primaries = conn.execute(text("""
                SELECT count(*) FROM reports.report WHERE day = :d AND family = 'stat'
                  AND level = 'primary'"""), {"d": DAY}).scalar_one()
        figures["national_primaries"] = all_primaries

        sample = random.Random(args.seed).sample(primaries, args.naive_sample)
        per_primary = naive_per_primary(rpc, sample)
        figures["naive_per_primary_ms"] = round(per_primary * 1000, 1)
        figures["national_stat_report_naive_s"] = round(per_primary * all_primaries, 1)

        figures["primary_pdf_s"] = median_s(
            lambda: rpc.reports.report_file(primary_report, "pdf"), 5)
        figures["national_pdf_s"] = median_s(lambda: rpc.reports.report_file(central, "pdf"), 3)
    print_figures(figures, GOALS)


if __name__ == "__main__":
    main()
