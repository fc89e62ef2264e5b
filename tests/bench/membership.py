"""`make bench-membership`: the figures of issue 4, beside the naive approach, in one run.

- members_load_rows_per_s: the national members file (about 3.1 million rows for the 75,000
  organizations) read, checked row by row (SNILS, dates, categories, organizations, duplicates in
  the file and on the register) and written, as `reestr load-members` does it; and
  members_load_naive_rows_per_s: a sample of the same file through the SQLAlchemy ORM, one
  object, one duplicate lookup and one flush per row, into another database;
- chair_xlsx_2000_s: a chair's spreadsheet of 2,000 people imported through the gateway with its
  validation report;
- chair_file_check_2000_s: the check step (`…/members/import/check`: how the columns were
  understood, the first rows, every error; nothing written) on a 2,000-row .ods saved by
  LibreOffice, through the gateway; and chair_file_check_naive_s: the same rows checked the
  way a form checks them, one request a row (a sample, scaled to 2,000).
  `--chair-only` measures only these two, on a small tree: the national load takes the shared
  machine's both cores for minutes;
- member_search_p95_ms: searches by surname within a region of about 50,000 members through the
  gateway, with the national data loaded; and member_search_naive_ms: the same search done by
  a client that pages through the region's list and filters it itself.
The generated members file is kept in var/bench/ and reused by later runs. The last line printed
is one JSON object.
"""

import os

os.environ["KEYCLOAK_REALM"] = os.environ.get("BENCH_KEYCLOAK_REALM", "reestr-bench")
os.environ["ACCOUNTS_ON_IMPORT"] = "false"

import argparse
import base64
import io
import random
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import requests
from openpyxl import Workbook
from sqlalchemy import BigInteger, Boolean, Date, String, text
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from reestr.demo import members as demo_members
from reestr.demo import names, orgs
from services.common import tabular
from services.common.db import make_engine
from services.common.settings import nameko_config
from services.common.trust import ClusterProxy
from services.membership import bulk_import
from services.membership.card import CardErrors, check_card, person_key
from services.membership.file_format import ALIASES, COLUMNS, REQUIRED
from services.sso.settings import sso_settings
from tests.bench.common import (
    BENCH_AMQP,
    ROOT,
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

NAIVE_WALK = 10_000  # rows of the region the naive search pages through before scaling
GOALS = {"members_load_rows_per_s": 50_000, "chair_xlsx_2000_s": 3, "member_search_p95_ms": 50,
         "chair_file_check_2000_s": 2}
NAIVE_CHECK_SAMPLE = 50  # rows the one-request-a-row check sends before scaling


# ---- the naive baseline: the ORM, one row at a time ----

class Base(DeclarativeBase):
    pass


class Member(Base):
    __tablename__ = "member"
    __table_args__ = {"schema": "membership"}
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    surname: Mapped[str] = mapped_column(String)
    first_name: Mapped[str] = mapped_column(String)
    patronymic: Mapped[str | None] = mapped_column(String)
    sex: Mapped[str | None] = mapped_column(String)
    birth_date: Mapped[date] = mapped_column(Date)
    snils: Mapped[str | None] = mapped_column(String)
    phone: Mapped[str | None] = mapped_column(String)
    email: Mapped[str | None] = mapped_column(String)
    org_id: Mapped[int] = mapped_column(BigInteger)
    region_id: Mapped[int | None] = mapped_column(BigInteger)
    org_since: Mapped[date] = mapped_column(Date)
    joined_on: Mapped[date] = mapped_column(Date)
    registered_on: Mapped[date] = mapped_column(Date)
    category: Mapped[str] = mapped_column(String)
    job_category: Mapped[str | None] = mapped_column(String)
    pd_consent_on: Mapped[date] = mapped_column(Date)
    pd_consent_form: Mapped[str] = mapped_column(String)
    email_consent: Mapped[bool] = mapped_column(Boolean)
    person_key: Mapped[str] = mapped_column(String)
    source: Mapped[str] = mapped_column(String)


class Org(Base):
    __tablename__ = "org"
    __table_args__ = {"schema": "membership"}
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    registry_number: Mapped[str] = mapped_column(String)
    region_id: Mapped[int | None] = mapped_column(BigInteger)
    level: Mapped[str] = mapped_column(String)


def naive_load(url: str, content: bytes, limit: int) -> int:
    """Each row: the same checks, its organization and any earlier record of the person looked
    up through the ORM, an object added and flushed."""
    engine = make_engine(url)
    cut = 0
    for _ in range(limit + 200):  # the header and the sample, not the whole national file
        cut = content.index(b"\n", cut) + 1
    table = tabular.read_table(content[:cut], "naive.csv", COLUMNS, REQUIRED, ALIASES)
    today = date.today()
    loaded = 0
    with Session(engine) as session:
        for _, raw in table.rows:
            if loaded >= limit:
                break
            try:
                card = check_card(raw, today)
            except CardErrors:
                continue
            org = session.query(Org).filter_by(registry_number=raw["org_registry_number"]).one()
            key = person_key(card["surname"], card["first_name"], card["patronymic"],
                             card["birth_date"])
            if session.query(Member).filter((Member.snils == card["snils"])
                                            | (Member.person_key == key)).first():
                continue
            session.add(Member(**{k: card[k] for k in (
                "surname", "first_name", "patronymic", "sex", "birth_date", "snils", "phone",
                "email", "joined_on", "category", "job_category", "pd_consent_on",
                "pd_consent_form", "email_consent")}, org_id=org.id, region_id=org.region_id,
                org_since=card["joined_on"], registered_on=today, person_key=key,
                source="import"))
            session.flush()
            loaded += 1
        session.commit()
    engine.dispose()
    return loaded


def members_file(n_orgs: int, seed: int, org_rows) -> bytes:
    """The national file, generated once and kept (generating takes longer than loading)."""
    path = ROOT / "var" / "bench" / f"members-{n_orgs}-{seed}.csv"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        n = demo_members.write_csv(demo_members.generate_members(org_rows, seed=seed),
                                   path.with_suffix(".tmp"))
        path.with_suffix(".tmp").rename(path)
        print(f"generated {n} members in {time.perf_counter() - started:.0f} s: {path}")
    return path.read_bytes()


def chair_sheet(rows: int, seed: int, surname: str = "Бенчмаркова") -> bytes:
    """A chair's spreadsheet of new people, headed the way chairs head them."""
    rng = random.Random(seed)
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Лист1")
    sheet.append(["Список членов профсоюза"])
    sheet.append(["ФИО", "Дата рождения", "Пол", "Телефон", "Категория",
                  "Согласие на обработку персональных данных"])
    for i in range(rows):  # a surname nobody in the national file has; birth dates differ
        birth = date(1960, 1, 1) + timedelta(days=7 * i)
        sheet.append([f"{surname} {rng.choice(names.FEMALE_NAMES)} "
                      f"{rng.choice(names.MALE_NAMES)[2]}", birth, "ж",
                      f"+7 912 {i % 1000:03d}-00-00", "работающий", date(2024, 1, 15)])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def as_ods(xlsx: bytes) -> bytes:
    """The spreadsheet opened and saved by LibreOffice as .ods, as a chair saves it."""
    from tests.corpus.make_corpus import convert

    with tempfile.TemporaryDirectory() as tmp:
        source = f"{tmp}/list.xlsx"
        with open(source, "wb") as f:
            f.write(xlsx)
        convert(Path(source), "ods", Path(tmp))
        return Path(f"{tmp}/list.ods").read_bytes()


def chair_check(http: requests.Session, base: str, primary: int, seed: int) -> dict[str, float]:
    """The check step on a 2,000-row .ods, and the naive one-request-a-row check beside it."""
    ods = as_ods(chair_sheet(2000, seed, surname="Проверкина"))
    url = f"{base}/api/v1/organizations/{primary}/members/import/check"
    http.post(url, files={"file": ("члены.ods", ods)}).raise_for_status()  # warm
    settle()  # the spare load worker the first request took is made again, as between chairs
    started = time.perf_counter()
    r = http.post(url, files={"file": ("члены.ods", ods)})
    seconds = time.perf_counter() - started
    assert r.status_code == 200 and r.json()["rows_total"] == 2000, r.text[:500]
    assert r.json()["errors_total"] == 0, r.json()["errors"][:3]
    header = "ФИО;Дата рождения;Пол;Телефон;Категория;Согласие на обработку персональных данных"
    rng = random.Random(seed)
    started = time.perf_counter()
    for i in range(NAIVE_CHECK_SAMPLE):
        birth = date(1960, 1, 1) + timedelta(days=7 * i)
        line = (f"Проверкина {rng.choice(names.FEMALE_NAMES)} {rng.choice(names.MALE_NAMES)[2]};"
                f"{birth:%d.%m.%Y};ж;+7 912 {i:03d}-00-00;работающий;15.01.2024")
        http.post(url, files={"file": ("row.csv", f"{header}\n{line}".encode())}
                  ).raise_for_status()
    naive = (time.perf_counter() - started) * 2000 / NAIVE_CHECK_SAMPLE
    return {"chair_file_check_2000_s": round(seconds, 2),
            "chair_file_check_naive_s": round(naive, 1)}


def chair_only(args: argparse.Namespace) -> None:
    """Only the check step's figures, on a tree of `--orgs` organizations (default 300 here)."""
    org_rows = orgs.generate_orgs(args.orgs, seed=args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        orgs.write_csv(org_rows, f"{tmp}/orgs.csv")
        orgs_content = Path(f"{tmp}/orgs.csv").read_bytes()
    url = fresh_database(os.environ.get("BENCH_MEMBERS_DB", "reestr_bench_members"), SCHEMAS)
    with running_services(url, SERVICES) as base, \
            ClusterProxy(nameko_config(AMQP_URI=BENCH_AMQP), timeout=900) as rpc:
        report = rpc.registry.import_organizations(base64.b64encode(orgs_content).decode(),
                                                   "orgs.csv", False)
        assert report["rows_loaded"] == len(org_rows), report["errors"][:3]
        rpc.membership.sync_orgs()
        engine = make_engine(url, pool_size=1)
        with engine.connect() as conn:
            primary = conn.execute(text("SELECT id FROM membership.org WHERE level = 'primary' "
                                        "ORDER BY id LIMIT 1")).scalar_one()
        engine.dispose()
        conf = sso_settings()
        admin = fresh_realm(conf)
        make_user(admin, "chair@bench.reestr", "chair", [primary])
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {access_token(conf, 'chair@bench.reestr')}"
        figures = chair_check(http, base, primary, args.seed)
    print_figures(figures, GOALS)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orgs", type=int, default=75_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--naive-rows", type=int, default=10_000)
    parser.add_argument("--chair-only", action="store_true",
                        help="only chair_file_check_2000_s (and its naive baseline), on a small "
                             "tree: for a shared machine")
    args = parser.parse_args()
    if args.chair_only:
        if args.orgs == parser.get_default("orgs"):
            args.orgs = 300
        chair_only(args)
        return

    org_rows = orgs.generate_orgs(args.orgs, seed=args.seed)
    content = members_file(args.orgs, args.seed, org_rows)
    print(f"members file: {len(content) / 1e6:.0f} MB")
    with tempfile.TemporaryDirectory() as tmp:
        orgs_path = f"{tmp}/orgs.csv"
        orgs.write_csv(org_rows, orgs_path)
        orgs_content = open(orgs_path, "rb").read()  # noqa: SIM115

    url = fresh_database("reestr_bench_members", SCHEMAS)
    figures: dict[str, float] = {}
    with running_services(url, SERVICES) as base, \
            ClusterProxy(nameko_config(AMQP_URI=BENCH_AMQP), timeout=900) as rpc:
        report = rpc.registry.import_organizations(base64.b64encode(orgs_content).decode(),
                                                   "orgs.csv", False)
        assert report["rows_loaded"] == len(org_rows), report["errors"][:3]
        rpc.membership.sync_orgs()

        engine = make_engine(url, pool_size=2)
        # the tree just loaded is vacuumed now, not by autovacuum in the middle of the timing
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
        started = time.perf_counter()
        with Session(engine) as session, session.begin():
            loaded = bulk_import.load(session, "bench", content, "members.csv",
                                      progress_engine=engine, max_bytes=len(content))
        seconds = time.perf_counter() - started
        assert loaded["errors_total"] == 0, loaded["errors"][:5]
        figures["members_loaded"] = loaded["rows_loaded"]
        figures["members_load_s"] = round(seconds, 1)
        figures["members_load_rows_per_s"] = round(loaded["rows_loaded"] / seconds)
        print(f"loaded {loaded['rows_loaded']} members in {seconds:.1f} s")
        with engine.begin() as conn:
            conn.execute(text("ANALYZE membership.member"))
            region_id, region_members = conn.execute(text("""
                SELECT region_id, count(*) FROM membership.member GROUP BY region_id
                ORDER BY abs(count(*) - 50000) LIMIT 1""")).one()
            primary = conn.execute(text("""
                SELECT id FROM membership.org WHERE level = 'primary' AND region_id = :r
                LIMIT 1"""), {"r": region_id}).scalar_one()
        figures["search_region_members"] = region_members

        conf = sso_settings()
        admin = fresh_realm(conf)
        make_user(admin, "region@bench.reestr", "regional_staff", [region_id])
        make_user(admin, "chair@bench.reestr", "chair", [primary])
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {access_token(conf, 'chair@bench.reestr')}"
        sheet = chair_sheet(2000, args.seed)
        started = time.perf_counter()
        r = http.post(f"{base}/api/v1/organizations/{primary}/members/import",
                      files={"file": ("члены.xlsx", sheet)})
        figures["chair_xlsx_2000_s"] = round(time.perf_counter() - started, 2)
        assert r.status_code == 200 and r.json()["rows_loaded"] == 2000, r.text[:500]
        figures.update(chair_check(http, base, primary, args.seed))

        http.headers["Authorization"] = f"Bearer {access_token(conf, 'region@bench.reestr')}"
        rng = random.Random(5)
        prefixes = [s[:rng.randint(3, 6)] for s in names.SURNAMES]
        search = f"{base}/api/v1/members"
        for _ in range(20):
            http.get(search, params={"q": rng.choice(prefixes)}).raise_for_status()
        samples = [timed_ms(lambda: http.get(search, params={
            "q": rng.choice(prefixes), "limit": 50}).raise_for_status())
            for _ in range(args.requests)]
        figures["member_search_p95_ms"] = p95(samples)

        def naive_search() -> int:
            wanted, walked, offset = prefixes[0].lower(), 0, 0
            while offset < NAIVE_WALK:
                page = http.get(search, params={"limit": 500, "offset": offset}).json()
                walked += sum(1 for m in page["items"] if m["surname"].lower().startswith(wanted))
                offset += 500
                if len(page["items"]) < 500:
                    break
            return offset
        # the walk is cut at NAIVE_WALK rows and scaled to the whole region
        started = time.perf_counter()
        walked_rows = min(naive_search(), region_members)
        walked_ms = (time.perf_counter() - started) * 1000
        figures["member_search_naive_ms"] = round(walked_ms * region_members / walked_rows, 1)
        engine.dispose()

    naive_url = fresh_database("reestr_bench_members_naive", ("membership",))
    naive_engine = make_engine(naive_url, pool_size=1)
    bench_engine = make_engine(url, pool_size=1)
    with bench_engine.connect() as src, naive_engine.begin() as dst:
        rows = src.execute(text("SELECT id, parent_id, ltree2text(path) AS path, level, "
                                "region_id, registry_number, name FROM membership.org")).all()
        dst.execute(text("INSERT INTO membership.org (id, parent_id, path, level, region_id, "
                         "registry_number, name) VALUES (:id, :parent_id, text2ltree(:path), "
                         ":level, :region_id, :registry_number, :name)"),
                    [r._asdict() for r in rows])
    bench_engine.dispose()
    naive_engine.dispose()
    started = time.perf_counter()
    naive_rows = naive_load(naive_url, content, args.naive_rows)
    figures["members_load_naive_rows_per_s"] = round(naive_rows /
                                                     (time.perf_counter() - started))
    print_figures(figures, GOALS)


if __name__ == "__main__":
    main()
