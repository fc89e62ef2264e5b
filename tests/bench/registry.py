"""`make bench-registry`: the figures of issue 2, beside the naive approach, in one run.

- orgs_load_s: the national tree (75,000 organizations) loaded from a CSV file through the
  registry service (RPC, checks, COPY, history, the indexes built again), until the RPC returns
  with the rows committed and every index valid (searchable by name): the median of three loads
  into an empty registry (`--loads`), their spread beside it; and orgs_load_naive_s: the
  same file row by row through the SQLAlchemy ORM (one object and one flush per row) into another
  database (`--no-naive` skips it: about 12 minutes);
- subtree_p95_ms / ancestors_p95_ms: through the gateway over HTTP, and subtree_naive_ms: the
  same region walked level by level through the API, as a client without the subtree query would;
  subtree_after_change_p95_ms: the first request after a change of the tree (the service keeps
  a subtree's answer while the tree stays as it was, and builds it again after any change).
The last line printed is one JSON object.
"""

import os

os.environ["KEYCLOAK_REALM"] = os.environ.get("BENCH_KEYCLOAK_REALM", "reestr-bench")
# 65,000 chair accounts made in the background would compete with what is measured here
os.environ["ACCOUNTS_ON_IMPORT"] = "false"

import argparse
import base64
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import requests
from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Integer, String, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.types import UserDefinedType

from reestr.demo import orgs
from services.common import tabular
from services.common.db import make_engine
from services.common.settings import nameko_config
from services.common.trust import ClusterProxy
from services.registry import bulk_load
from services.registry.file_format import COLUMNS, REQUIRED
from services.sso.settings import sso_settings
from tests.bench.common import (
    BENCH_AMQP,
    SCHEMAS,
    SERVICES,
    access_token,
    fresh_database,
    fresh_realm,
    make_user,
    p95,
    print_figures,
    running_services,
    settle,
    timed_ms,
)

# ---- the naive baseline: the ORM, one row at a time ----

class Ltree(UserDefinedType):
    cache_ok = True

    def get_col_spec(self, **kw) -> str:
        return "LTREE"

    def bind_expression(self, bindvalue):
        from sqlalchemy import func
        return func.text2ltree(bindvalue, type_=self)


class Base(DeclarativeBase):
    pass


class Organization(Base):
    __tablename__ = "organization"
    __table_args__ = {"schema": "registry"}
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True,
                                    server_default=text("nextval('registry.organization_id_seq')"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("registry.organization.id"))
    path: Mapped[str] = mapped_column(Ltree)
    level: Mapped[str] = mapped_column(String)
    kind: Mapped[str | None] = mapped_column(String)
    registry_number: Mapped[str] = mapped_column(String)
    name: Mapped[str] = mapped_column(String)
    region_id: Mapped[int | None] = mapped_column(BigInteger)
    region_code: Mapped[str | None] = mapped_column(String)
    territorial_rights: Mapped[bool] = mapped_column(Boolean)
    legal_entity: Mapped[bool] = mapped_column(Boolean)
    ogrn: Mapped[str | None] = mapped_column(String)
    inn: Mapped[str | None] = mapped_column(String)
    included_on: Mapped[datetime | None] = mapped_column(Date)
    chair: Mapped[dict | None] = mapped_column(JSONB)
    education: Mapped[dict | None] = mapped_column(JSONB)
    staff: Mapped[list] = mapped_column(JSONB)


class Version(Base):
    __tablename__ = "organization_version"
    __table_args__ = {"schema": "registry"}
    org_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    valid_from: Mapped[datetime] = mapped_column()
    passport: Mapped[dict] = mapped_column(JSONB)
    change_kind: Mapped[str] = mapped_column(String)
    changed_by: Mapped[str] = mapped_column(String)


def naive_load(url: str, content: bytes) -> int:
    """Each row: the same checks, its parent looked up, an ORM object added and flushed."""
    engine = make_engine(url)
    table = tabular.read_table(content, "naive.csv", COLUMNS, REQUIRED)
    report = bulk_load.Report("naive.csv")
    loaded = 0
    with Session(engine) as session:
        for row in bulk_load.outline_rows(table, report):
            if not bulk_load.check_fields(row, report):
                continue
            parent = None
            if row.parent_number:
                parent = session.query(Organization).filter_by(
                    registry_number=row.parent_number).one()
            v = row.values
            org = Organization(**v, level=row.level.value, path="0",
                               parent_id=parent and parent.id)
            session.add(org)
            session.flush()
            org.path = f"{parent.path}.{org.id}" if parent else str(org.id)
            org.region_id = org.id if org.level == "regional" else parent and parent.region_id
            snapshot = {**v, "included_on": v["included_on"] and v["included_on"].isoformat()}
            session.add(Version(org_id=org.id, version=1, valid_from=datetime.now(UTC),
                                passport=snapshot, change_kind="imported", changed_by="naive"))
            session.flush()
            loaded += 1
        session.commit()
    engine.dispose()
    return loaded


def empty_registry(url: str) -> None:
    engine = make_engine(url, pool_size=1)
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE registry.organization, registry.organization_version, "
                          "registry.import_run, registry.outbox"))
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orgs", type=int, default=75_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--loads", type=int, default=3,
                        help="national loads, each into an empty registry (the median counts)")
    parser.add_argument("--no-naive", action="store_true",
                        help="skip the ORM baseline (about 12 minutes)")
    args = parser.parse_args()

    rows = orgs.generate_orgs(args.orgs)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "national.csv"
        orgs.write_csv(rows, path)
        content = path.read_bytes()
    print(f"file: {len(rows)} organizations, {len(content) / 1e6:.1f} MB")

    url = fresh_database("reestr_bench", SCHEMAS)
    figures: dict[str, float] = {}
    with running_services(url, SERVICES) as base:
        loads = []
        with ClusterProxy(nameko_config(AMQP_URI=BENCH_AMQP), timeout=900) as rpc:
            for attempt in range(args.loads):
                if attempt:  # the registry emptied, the others done with the last load's news
                    empty_registry(url)
                    settle()
                started = time.perf_counter()
                report = rpc.registry.import_organizations(base64.b64encode(content).decode(),
                                                           path.name, False)
                loads.append(round(time.perf_counter() - started, 2))
                assert report["rows_loaded"] == len(rows), report["errors"][:5]
                print(f"loaded {report['rows_loaded']} in {loads[-1]} s")
        # the median of a few: one load's time on a shared 2-core machine swings by a second
        figures["orgs_load_s"] = statistics.median(loads)
        figures["orgs_load_spread_s"] = round(max(loads) - min(loads), 2)

        http = requests.Session()
        conf = sso_settings()
        make_user(fresh_realm(conf), "operator@bench.reestr", "central_admin")
        http.headers["Authorization"] = f"Bearer {access_token(conf, 'operator@bench.reestr')}"
        counts = http.get(f"{base}/api/v1/stats/organizations").json()
        per_region: dict[int, int] = {}
        for c in counts:
            if c["region_id"]:
                per_region[c["region_id"]] = per_region.get(c["region_id"], 0) + c["count"]
        region_id = min(per_region, key=lambda r: abs(per_region[r] - 1000))
        subtree_url = f"{base}/api/v1/organizations/{region_id}/subtree"
        for _ in range(20):
            http.get(subtree_url).raise_for_status()
        samples = [timed_ms(lambda: http.get(subtree_url).raise_for_status())
                   for _ in range(args.requests)]
        figures["subtree_p95_ms"] = p95(samples)
        figures["subtree_size"] = http.get(subtree_url).json()["total"]
        # the first request after any change of the tree builds the answer again
        changer = make_engine(url, pool_size=1)

        def after_change() -> float:
            with changer.begin() as conn:
                conn.execute(text("UPDATE registry.organization SET updated_at = now() "
                                  "WHERE id = :id"), {"id": region_id})
            return timed_ms(lambda: http.get(subtree_url).raise_for_status())
        figures["subtree_after_change_p95_ms"] = p95([after_change() for _ in range(100)])
        changer.dispose()

        primaries = http.get(subtree_url, params={"level": "primary"}).json()["items"]
        engine = make_engine(url)
        with engine.connect() as conn:
            all_primaries = conn.execute(text(
                "SELECT id FROM registry.organization WHERE level = 'primary'")).scalars().all()
        engine.dispose()
        rnd = random.Random(7)
        samples = [timed_ms(lambda: http.get(
            f"{base}/api/v1/organizations/{rnd.choice(all_primaries)}/ancestors"
        ).raise_for_status()) for _ in range(args.requests)]
        figures["ancestors_p95_ms"] = p95(samples)

        def walk() -> int:
            seen, frontier = 1, [region_id]
            while frontier:
                next_frontier = []
                for org_id in frontier:
                    kids = http.get(f"{base}/api/v1/organizations/{org_id}/children").json()
                    seen += len(kids)
                    next_frontier += [k["id"] for k in kids]
                frontier = next_frontier
            return seen
        figures["subtree_naive_ms"] = round(timed_ms(walk), 1)
        assert primaries, "the chosen region has primaries"

    if not args.no_naive:
        naive_url = fresh_database("reestr_bench_naive", SCHEMAS)
        started = time.perf_counter()
        naive_rows = naive_load(naive_url, content)
        figures["orgs_load_naive_s"] = round(time.perf_counter() - started, 2)
        assert naive_rows == len(rows)

    print_figures(figures, {"orgs_load_s": 10, "subtree_p95_ms": 20, "ancestors_p95_ms": 20})


if __name__ == "__main__":
    main()
