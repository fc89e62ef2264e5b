"""`make national`: the national data set, generated and loaded in one command.

Into a database of its own (`reestr_national`), through the services running as processes on
their own RabbitMQ vhost, Keycloak realm and bucket, so that the platform of `make demo` is left
alone:
- the tree of 75,000 organizations (the registry's bulk load of the generated file);
- about 3.1 million members (the national members file, generated once into var/bench/ and
  shared with the other benchmarks; membership's bulk load);
- a plastic card for every member: requested per region, collected into the regions' batches,
  written to the vendor's bucket, answered by the simulated vendor (produced, then delivered,
  about 1 % refused) and applied; a share handed out to their holders;
- a year of statistical reports (1 January, April, July and October 2026) computed from the
  registry as it stood on each date, and the annual campaign reports (КДК, КДКО, 4-ПИ, ОВ) on
  1 January; the statistical reports of one region on 1 July filled in and submitted up to its
  1-СП, as its chairs do;
- a data-quality run.
`make bench` and `make bench-national` then measure against it (`--reuse` there). Each step's
time is printed; the last line is one JSON object with them and the counts loaded.
"""

import os

os.environ.setdefault("KEYCLOAK_REALM", "reestr-national")
os.environ["ACCOUNTS_ON_IMPORT"] = "false"

import argparse
import base64
import json
import random
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from reestr.demo import orgs
from services.cards import batches, cards, vendor_sim
from services.cards.settings import CardsSettings
from services.cards.storage import Bucket
from services.common.db import make_engine
from services.common.migrations import upgrade
from services.common.settings import nameko_config
from services.common.trust import ClusterProxy
from services.membership import bulk_import, members
from tests.bench import common
from tests.bench.common import (
    SCHEMAS,
    SERVICES,
    db_url,
    empty_bucket,
    fresh_database,
    running_services,
)
from tests.bench.membership import members_file

DATABASE = "reestr_national"
AMQP = os.environ.get("NATIONAL_AMQP_URI", f"{common.AMQP_BASE}/reestr_national")
HTTP = os.environ.get("NATIONAL_HTTP", "127.0.0.1:18110")
BUCKET = "reestr-cards-national"
STAT_DAYS = ("2026-01-01", "2026-04-01", "2026-07-01", "2026-10-01")
CAMPAIGNS = ("kdk", "kdko", "pi", "ov", "ovc")    # annual, on 1 January
ISSUED_SHARE = 0.6      # of the delivered cards, handed out to their holders
MARKER = common.ROOT / "var" / "bench" / "national.json"
ATTEMPTS = 4    # a build cut short by an outage goes on where it stopped


@contextmanager
def services(database: str = DATABASE, instances: int = 1
             ) -> Iterator[tuple[str, Any, Engine]]:
    """The services running on the national database: the gateway's address, an RPC proxy
    acting as the platform, an engine."""
    common.BENCH_AMQP, common.BENCH_HTTP, common.BENCH_BUCKET = AMQP, HTTP, BUCKET
    os.environ["PORTAL_URL"] = f"http://{HTTP}"
    url = db_url(database)
    for schema in SCHEMAS:  # a data set made by an earlier version: migrated, as a deploy does
        upgrade(schema, url)
    kwargs = {"instances": instances} if instances > 1 else {}
    with running_services(url, SERVICES, **kwargs) as base, \
            ClusterProxy(nameko_config(AMQP_URI=AMQP), timeout=1800) as rpc:
        engine = make_engine(url, pool_size=2)
        try:
            yield base, rpc, engine
        finally:
            engine.dispose()


def timed(figures: dict[str, Any], key: str, fn: Callable[[], Any]) -> Any:
    started = time.perf_counter()
    result = fn()
    figures[key] = round(time.perf_counter() - started, 1)
    print(f"{key}: {figures[key]} s", flush=True)
    return result


def load_tree(rpc, org_rows: list[dict[str, str]]) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        orgs.write_csv(org_rows, f"{tmp}/orgs.csv")
        content = open(f"{tmp}/orgs.csv", "rb").read()  # noqa: SIM115
    report = rpc.registry.import_organizations(base64.b64encode(content).decode(), "orgs.csv",
                                               False)
    assert report["rows_loaded"] == len(org_rows), report["errors"][:3]
    rpc.membership.sync_orgs()
    return report["rows_loaded"]


def load_members(engine: Engine, content: bytes) -> int:
    with Session(engine) as session, session.begin():
        loaded = bulk_import.load(session, "national", content, "members.csv",
                                  progress_engine=engine, max_bytes=len(content))
    vacuum(engine)
    return loaded["rows_loaded"]


def vacuum(engine: Engine) -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))


def make_cards(engine: Engine, rpc, rng: random.Random) -> dict[str, int]:
    """A plastic card for every member, region by region, through the vendor and back. Each
    step takes up what is left of it, so that a build cut short goes on (`--resume`)."""
    bucket = Bucket(CardsSettings(cards_bucket=BUCKET))
    prefix = CardsSettings().card_prefix
    with engine.connect() as conn:
        regions = conn.execute(text(
            "SELECT id, ltree2text(path) FROM membership.org WHERE level = 'regional' "
            "AND excluded_on IS NULL ORDER BY id")).all()
    requested = 0
    for _, path in regions:
        with Session(engine) as s, s.begin():
            holders = members.card_holders(s, [path], without_card=True, limit=10_000_000)
            requested += len(cards.request(s, "national", holders, "plastic", prefix))
    with Session(engine) as s, s.begin():
        batches.collect(s, "national")
        unwritten = batches.pending(s)
    for batch_id in unwritten:
        with Session(engine) as s, s.begin():
            batches.write(s, bucket, batch_id)
    for vendor_prefix in vendor_sim.batches_to_answer(bucket):
        vendor_sim.answer(bucket, vendor_prefix, rng, reject_share=0.01)
    rpc.cards.read_responses()   # the service applies the vendor's files, as it does hourly
    with engine.connect() as conn:
        delivered = conn.execute(text(
            "SELECT id FROM cards.card WHERE status = 'delivered' ORDER BY id")).scalars().all()
        issued = conn.execute(text("SELECT count(*) FROM cards.card WHERE status = 'issued'"
                                   )).scalar_one()
        n_batches = conn.execute(text("SELECT count(*) FROM cards.batch")).scalar_one()
    if not issued:
        handed = sorted(rng.sample(delivered, int(len(delivered) * ISSUED_SHARE)))
        with Session(engine) as s, s.begin():
            issued = cards.hand_out(s, "national", handed)
    return {"cards_requested": requested, "card_batches": n_batches, "cards_issued": issued}


def count_rows(engine: Engine, sql: str, **params: Any) -> int:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar_one()


def manual_values(indicators: list[dict[str, Any]], rng: random.Random) -> dict[str, int]:
    """What a chair types into the lines the registry cannot know, consistent with the
    registry's lines (employees at least the working members, and so on)."""
    v = {i["code"]: i["value"] or 0 for i in indicators}
    plausible = {"20": v.get("04", 0) + rng.randint(0, 1 + v.get("04", 0) // 4),
                 "21": v.get("09", 0) * 3 + rng.randint(0, 50),
                 "22": rng.randint(0, 4), "23": 0, "40": rng.randint(1, 6)}
    return {i["code"]: plausible.get(i["code"], 0) for i in indicators
            if i["editable"] and i["mode"] == "manual" and i["value"] is None}


def submit_region(engine: Engine, rpc, day: str, rng: random.Random) -> int:
    """The statistical reports of the smallest region filled in and submitted bottom-up."""
    with engine.connect() as conn:
        region = conn.execute(text("""
            SELECT region_id FROM reports.report WHERE day = :d AND family = 'stat'
              AND region_id IS NOT NULL GROUP BY region_id ORDER BY count(*) LIMIT 1"""),
            {"d": day}).scalar_one()
        ids = conn.execute(text("""
            SELECT id FROM reports.report WHERE day = :d AND family = 'stat'
              AND region_id = :r AND level <> 'central' AND status = 'draft'
            ORDER BY nlevel(path) DESC, id"""), {"d": day, "r": region}).scalars().all()
    for report_id in ids:
        report = rpc.reports.get_report(report_id)
        if values := manual_values(report["indicators"], rng):
            rpc.reports.edit_report(report_id, values)
        rpc.reports.submit_report(report_id)
    return len(ids)


def build(n_orgs: int, seed: int, resume: bool = False) -> dict[str, Any]:
    """The data set into a fresh database, or (`resume`) what an earlier build left undone."""
    rng = random.Random(seed)
    org_rows = orgs.generate_orgs(n_orgs, seed=seed)
    content = members_file(n_orgs, seed, org_rows)
    if not resume:
        fresh_database(DATABASE, SCHEMAS)
        # the cards service would take an earlier set's response for one of the new batches
        empty_bucket(BUCKET)
    figures: dict[str, Any] = {}
    with services() as (_, rpc, engine):
        if not count_rows(engine, "SELECT count(*) FROM registry.organization"):
            timed(figures, "orgs_load_s", lambda: load_tree(rpc, org_rows))
        if not count_rows(engine, "SELECT count(*) FROM membership.member"):
            timed(figures, "members_load_s", lambda: load_members(engine, content))
        figures.update(timed(figures, "cards_s", lambda: make_cards(engine, rpc, rng)))
        for fam, day in [*(("stat", d) for d in STAT_DAYS), *((f, STAT_DAYS[0])
                                                             for f in CAMPAIGNS)]:
            if not count_rows(engine, "SELECT count(*) FROM reports.report WHERE family = :f "
                              "AND day = :d", f=fam, d=day):
                timed(figures, f"{fam}_{day}_s",
                      lambda fam=fam, day=day: rpc.reports.generate_all(fam, day))
        figures["reports_submitted"] = timed(figures, "submit_region_s", lambda: submit_region(
            engine, rpc, STAT_DAYS[-2], rng))
        timed(figures, "quality_s", rpc.reports.run_quality)
        vacuum(engine)
        for key, sql in (("organizations", "SELECT count(*) FROM registry.organization"),
                         ("members", "SELECT count(*) FROM membership.member"),
                         ("cards", "SELECT count(*) FROM cards.card"),
                         ("reports", "SELECT count(*) FROM reports.report"),
                         ("quality_faults", "SELECT count(*) FROM reports.quality_fault")):
            figures[key] = count_rows(engine, sql)
    MARKER.parent.mkdir(parents=True, exist_ok=True)
    MARKER.write_text(json.dumps({"orgs": n_orgs, "seed": seed, **figures}))
    return figures


def loaded(n_orgs: int = 75_000, seed: int = 2026) -> bool:
    """Whether the national data set of this size is in place (from an earlier `make national`)."""
    if not MARKER.exists():
        return False
    made = json.loads(MARKER.read_text())
    if (made.get("orgs"), made.get("seed")) != (n_orgs, seed):
        return False
    engine = make_engine(db_url(DATABASE), pool_size=1)
    try:
        with engine.connect() as conn:
            # the benchmarks register members of their own: more is fine
            return conn.execute(text("SELECT count(*) FROM membership.member")
                                ).scalar_one() >= made["members"]
    except DBAPIError:  # the database is gone
        return False
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orgs", type=int, default=75_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--if-missing", action="store_true",
                        help="do nothing if the data set of this size is loaded already")
    parser.add_argument("--resume", action="store_true",
                        help="go on with what an earlier build cut short left undone")
    args = parser.parse_args()
    if args.if_missing and loaded(args.orgs, args.seed):
        print(f"national data set in place: {MARKER.read_text()}")
        return
    resume = args.resume
    for attempt in range(1, ATTEMPTS + 1):
        try:
            figures = build(args.orgs, args.seed, resume)
            break
        except Exception as exc:   # an outage (the store, the broker) cut the build short
            if attempt == ATTEMPTS:
                raise
            print(f"build cut short ({exc!r}); going on in 30 s", flush=True)
            time.sleep(30)
            resume = True
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
