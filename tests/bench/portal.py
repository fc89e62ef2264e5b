"""`make bench-portal`: the figures of issue 5, with the national data loaded, in one run.

- page_p95_ms: the chair's pages (their organization at a glance, the passport, its history,
  the members' list, a member's card, the applications, the registration form) as the gateway
  serves them, signed in through the portal's own cookies; time to the last byte on the same
  machine, which is the server's time;
- page_max_kb: the heaviest of those pages with its assets (the one stylesheet; no scripts, no
  images, no fonts);
- region_page_p95_ms: a regional staff member's page of their region (about 50,000 members
  counted by category, a thousand organizations beneath);
- members_page_naive_ms: the members' page built the obvious way, the list's ids first and then
  one RPC per row for each card (50 rows), beside members_page_p95_ms, the portal's one query.
The national tree (75,000 organizations) and members file (about 3.1 million people, generated
once into var/bench/ and shared with bench-membership) are loaded first, as bench-membership
does. The last line printed is one JSON object.
"""

import os

os.environ["KEYCLOAK_REALM"] = os.environ.get("BENCH_KEYCLOAK_REALM", "reestr-bench-portal")
os.environ["ACCOUNTS_ON_IMPORT"] = "false"

import argparse
import base64
import random
import re
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests
from sqlalchemy import text
from sqlalchemy.orm import Session

from gateway.portal.reports import report_days
from reestr.demo import orgs
from services.common.caller import Caller
from services.common.db import make_engine
from services.common.settings import nameko_config
from services.common.trust import ClusterProxy
from services.membership import bulk_import
from services.sso.settings import sso_settings
from tests.bench import common, dataset
from tests.bench.common import (
    SCHEMAS,
    SERVICES,
    db_url,
    fresh_database,
    fresh_realm,
    make_user,
    p95,
    print_figures,
    running_services,
    timed_ms,
)
from tests.bench.membership import members_file
from tests.support.oidc import code_flow

# the portal's bench may run beside another session's benches: its own port, vhost and realm
common.BENCH_HTTP = os.environ.get("BENCH_PORTAL_HTTP", "127.0.0.1:18101")
common.BENCH_AMQP = os.environ.get("BENCH_AMQP_URI", common.BENCH_AMQP)
os.environ["PORTAL_URL"] = f"http://{common.BENCH_HTTP}"
GOALS = {"page_p95_ms": 100, "page_max_kb": 200}


def portal_session(base: str, username: str) -> requests.Session:
    """Signed in as the portal signs people in (authorization code + PKCE on Keycloak's page),
    the tokens sealed into the portal's cookies."""
    from gateway.portal.session import ACCESS, REFRESH, box

    conf = sso_settings()
    tokens = code_flow(conf.issuer, "reestr-portal", f"{base}/portal/callback", username,
                       common.PASSWORD)
    http = requests.Session()
    http.cookies.set(ACCESS, box().seal(tokens["access_token"]))
    http.cookies.set(REFRESH, box().seal(tokens["refresh_token"]))
    return http


def fetch(http: requests.Session, url: str) -> requests.Response:
    r = http.get(url, allow_redirects=False, timeout=60)
    if r.status_code != 200:
        raise RuntimeError(f"{url}: {r.status_code} {r.text[:300]}")
    return r


@contextmanager
def platform(args: argparse.Namespace) -> Iterator[tuple[str, Any, str]]:
    """The services on the portal bench's own database (loaded here unless `--reuse`), or on the
    national data set: the gateway's address, an RPC proxy, the database's URL."""
    if args.national:
        with dataset.services() as (base, rpc, _):
            yield base, rpc, db_url(dataset.DATABASE)
        return
    url = db_url("reestr_bench_portal") if args.reuse else fresh_database(
        "reestr_bench_portal", SCHEMAS)
    with running_services(url, SERVICES) as base, \
            ClusterProxy(nameko_config(AMQP_URI=common.BENCH_AMQP), timeout=900) as rpc:
        yield base, rpc, url


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orgs", type=int, default=75_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--reuse", action="store_true",
                        help="measure again on the data the last run loaded (no reload)")
    parser.add_argument("--national", action="store_true",
                        help="measure on the data set of `make national` (no loading)")
    args = parser.parse_args()

    org_rows = orgs.generate_orgs(args.orgs, seed=args.seed)
    content = members_file(args.orgs, args.seed, org_rows)
    with tempfile.TemporaryDirectory() as tmp:
        orgs.write_csv(org_rows, f"{tmp}/orgs.csv")
        orgs_content = open(f"{tmp}/orgs.csv", "rb").read()  # noqa: SIM115

    figures: dict[str, float] = {}
    with platform(args) as (base, rpc, url):
        engine = make_engine(url, pool_size=2)
        if not (args.reuse or args.national):
            started = time.perf_counter()
            report = rpc.registry.import_organizations(
                base64.b64encode(orgs_content).decode(), "orgs.csv", False)
            assert report["rows_loaded"] == len(org_rows), report["errors"][:3]
            rpc.membership.sync_orgs()
            with Session(engine) as session, session.begin():
                loaded = bulk_import.load(session, "bench", content, "members.csv",
                                          progress_engine=engine, max_bytes=len(content))
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))
            print(f"national data loaded in {time.perf_counter() - started:.0f} s: "
                  f"{len(org_rows)} organizations, {loaded['rows_loaded']} members")
        with engine.connect() as conn:
            figures["members_loaded"] = conn.execute(text(
                "SELECT count(*) FROM membership.member")).scalar_one()
            # a primary of typical size (the median), and the region closest to 50,000 members
            primary = conn.execute(text("""
                SELECT org_id FROM membership.member GROUP BY org_id
                ORDER BY abs(count(*) - 40), org_id LIMIT 1""")).scalar_one()
            region_id = conn.execute(text("""
                SELECT region_id FROM membership.member GROUP BY region_id
                ORDER BY abs(count(*) - 50000) LIMIT 1""")).scalar_one()
            member_id, surname, first_name, birth_date = conn.execute(text(
                "SELECT id, surname, first_name, birth_date FROM membership.member "
                "WHERE org_id = :o LIMIT 1"), {"o": primary}).one()
        engine.dispose()

        conf = sso_settings()
        admin = fresh_realm(conf)
        make_user(admin, "chair@bench.reestr", "chair", [primary])
        make_user(admin, "region@bench.reestr", "regional_staff", [region_id])
        public = requests.Session()
        for n in range(5):  # applications waiting in the chair's queue (kept from a last run)
            r = public.post(f"{base}/api/v1/join/applications", json={
                "org_id": primary, "surname": "Заявителева", "first_name": "Ирина",
                "birth_date": f"{2000 + n}-02-03", "email": f"a{n}@bench.reestr",
                "pd_consent": True, "category": "student"})
            assert r.status_code in (201, 409), r.text

        chair = portal_session(base, "chair@bench.reestr")
        # issue 20's pages too: the cards list (paged, searchable), transfers and the look-up
        # of a person to transfer in, the members' search by a first name and sorted by date
        pages = [f"/portal/org/{primary}", f"/portal/org/{primary}/passport",
                 f"/portal/org/{primary}/history", f"/portal/members?within={primary}",
                 f"/portal/members/{member_id}", "/portal/applications",
                 f"/portal/org/{primary}/members/new", "/portal/cards",
                 "/portal/cards?status=issued&q=" + surname[:3],
                 f"/portal/members?within={primary}&q={first_name}",
                 f"/portal/members?within={primary}&sort=-joined", "/portal/transfers",
                 f"/portal/transfers/new?to={primary}&surname={surname}&first_name="
                 f"{first_name}&birth_date={birth_date}"]
        first = fetch(chair, base + pages[0]).text
        css = re.search(r'href="(/portal/static/[^"]+)"', first)
        assert css, "no stylesheet on the page"
        css_bytes = len(fetch(chair, base + css.group(1)).content)
        assert "<script" not in first.lower()
        sizes = {p: len(fetch(chair, base + p).content) + css_bytes for p in pages}
        samples: dict[str, list[float]] = {p: [] for p in pages}
        rng = random.Random(args.seed)
        for _ in range(args.rounds):
            for p in rng.sample(pages, len(pages)):
                samples[p].append(timed_ms(lambda p=p: fetch(chair, base + p)))
        every = [ms for s in samples.values() for ms in s]
        for p, s in samples.items():
            print(f"  {p:<45} p95 {p95(s):7.1f} ms  {sizes[p] / 1024:6.1f} KB")
        figures["members_page_p95_ms"] = p95(samples[f"/portal/members?within={primary}"])

        region = portal_session(base, "region@bench.reestr")
        fetch(region, f"{base}/portal/org/{region_id}")
        figures["region_page_p95_ms"] = p95([
            timed_ms(lambda: fetch(region, f"{base}/portal/org/{region_id}"))
            for _ in range(args.rounds)])
        # regional staff's pages of issue 20: who has not reported (with the chairs' contacts),
        # data quality with its quarters, the region's applications and the audit of a member
        day = report_days("stat")[1]  # the last quarter's date, whose reports the set has
        region_pages = [f"/portal/reports/tracking?family=stat&day={day}&region_id={region_id}",
                        "/portal/quality?check=no_chair", f"/portal/quality/org/{region_id}",
                        f"/portal/applications?within={region_id}",
                        f"/portal/members?within={region_id}"]
        region_samples: dict[str, list[float]] = {p: [] for p in region_pages}
        for p in region_pages:
            sizes[p] = len(fetch(region, base + p).content) + css_bytes
        for _ in range(args.rounds):
            for p in rng.sample(region_pages, len(region_pages)):
                region_samples[p].append(timed_ms(lambda p=p: fetch(region, base + p)))
        for p, s in region_samples.items():
            print(f"  {p:<45} p95 {p95(s):7.1f} ms  {sizes[p] / 1024:6.1f} KB")
        figures["page_p95_ms"] = p95(every + [ms for s in region_samples.values() for ms in s])
        figures["page_max_kb"] = round(max(sizes.values()) / 1024, 1)
        figures["chair_pages_p95_ms"] = p95(every)
        figures["region_pages_p95_ms"] = p95([ms for s in region_samples.values() for ms in s])

        # the obvious way: the list's ids, then one RPC per row for each card
        caller = Caller(user="chair@bench.reestr", roles=("chair",), org_ids=(primary,))
        with ClusterProxy(nameko_config(AMQP_URI=common.BENCH_AMQP), "gateway", caller,
                          timeout=60) as as_chair:
            def naive_page() -> None:
                ids = [m["id"] for m in as_chair.membership.search_members(
                    {}, primary, 50, 0)["items"]]
                for mid in ids:
                    as_chair.membership.get_member(mid)
            naive_page()
            figures["members_page_naive_ms"] = round(sorted(
                timed_ms(naive_page) for _ in range(5))[2], 1)
    print_figures(figures, GOALS)


if __name__ == "__main__":
    main()
