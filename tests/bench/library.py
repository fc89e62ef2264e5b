"""`make bench-library`: the figures of issue 24 (the reference library), beside a naive
approach, in one run.

- search_p95_ms: a search in Russian through the gateway, as a chair (the access check, RPC,
  PostgreSQL's `russian` full-text search with ts_rank and the snippet), over 20,000 materials
  each with ~1,500 characters of extracted text; 300 queries of word forms;
  search_sql_p95_ms: the same queries' SQL alone; search_naive_ilike_p95_ms: the naive way,
  ILIKE over title, description and text (no morphology, no index);
- video_1gb_rss_mb: the gateway process's largest resident memory while it streams a 1 GB
  recording out of the store to a client (video_idle_rss_mb before it), and
  upload_1gb_rss_mb while it streams the same file in;
- upload_extract_100mb_s: a 100 MB PDF (300 pages of text, the rest an embedded file, as
  scans make PDFs large) uploaded through the gateway until its text is indexed and found.
Timings are printed, never asserted. The last line printed is one JSON object. Its own
database (BENCH_LIBRARY_DB), realm (BENCH_KEYCLOAK_REALM), vhost (BENCH_AMQP_VHOST), port
(BENCH_HTTP_ADDRESS) and bucket (BENCH_LIBRARY_BUCKET).
"""

import os
import random
import tempfile
import threading
import time
from pathlib import Path

os.environ["KEYCLOAK_REALM"] = os.environ.get("BENCH_KEYCLOAK_REALM", "reestr-bench-library")
os.environ["LIBRARY_BUCKET"] = os.environ.get("BENCH_LIBRARY_BUCKET", "reestr-library-bench")
if not (Path(os.environ.get("TRUST_KEYS_DIR", "/nonexistent")) / "library.key").exists():
    # a deploy made before the library had no key for it: the bench's own, for every principal
    from services.common.trust import PRINCIPALS, generate_keys

    _keys = Path(tempfile.mkdtemp(prefix="bench-library-trust-")) / "keys"
    generate_keys(_keys, list(PRINCIPALS))
    os.environ["TRUST_KEYS_DIR"] = str(_keys)

import psutil  # noqa: E402
import requests  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from services.common.settings import nameko_config  # noqa: E402
from services.common.trust import ClusterProxy  # noqa: E402
from services.library import search as library_search  # noqa: E402
from services.library.access import Viewer  # noqa: E402
from services.library.materials import VECTORS_SQL  # noqa: E402
from services.sso.settings import sso_settings  # noqa: E402
from tests.bench.common import (  # noqa: E402
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
    timed_ms,
)
from tests.factories import build_tree  # noqa: E402

DB = os.environ.get("BENCH_LIBRARY_DB", "reestr_bench_library")
MATERIALS = 20_000
QUERIES = 300
VIDEO_BYTES = 1024 ** 3
PDF_BYTES = 100 * 1024 ** 2
GOALS = {"search_p95_ms": 50, "video_1gb_rss_mb": 100, "upload_extract_100mb_s": 30}
# the union's vocabulary, in the forms a text has them; queries ask in other forms
WORDS = ("членских взносов уплата профсоюзной организации председатель первичной коллективный "
         "договор работодатель заработной платы охраны труда правовой инспектор заседание "
         "профкома протокол собрания отчёт выборы делегатов конференции молодых педагогов "
         "студентов обучающихся пенсионеров социальное партнёрство соглашение отраслевое "
         "методические рекомендации вебинар семинар обучение актива учебный центр аттестация "
         "педагогических работников нагрузка отпуск компенсация гарантии увольнение "
         "сокращение штатов трудовой спор комиссия юридическая консультация жалоба проверка "
         "бухгалтерия казначей ревизионная комиссия устав положение регламент цифровизация "
         "реестр электронный билет карта личный кабинет бонусная программа скидки "
         "оздоровление путёвки санаторий культурно-массовая работа спартакиада конкурс "
         "мастерства информационная работа сайт газета рассылка").split()
QUERY_WORDS = ["взносы", "председателя", "договоры", "работодателей", "инспекторы",
               "заседания", "протоколы", "выборах", "педагог", "студент", "соглашения",
               "вебинары", "семинаров", "аттестации", "отпуска", "увольнения", "споры",
               "консультации", "жалобы", "устава", "реестра", "карты", "санатории", "конкурсы",
               "рассылки", "коллективный договор", "охрана труда", "молодые педагоги"]


SYLLABLES = ("ра", "но", "ве", "ст", "ли", "ко", "ми", "ту", "ды", "па", "ре", "зо", "чи",
             "бу", "ня", "гр", "ол", "ем", "ик", "ус")
# the rest of a real text's words: a lexicon of its own, so that a query's word is in a share
# of the materials as in real ones (the union's vocabulary is a tenth of each text)
LEXICON = sorted({"".join(random.Random(n).choices(SYLLABLES, k=4)) for n in range(20_000)})


def show(figures: dict[str, float]) -> dict[str, float]:
    print("measured:", figures, flush=True)
    return figures


def _text(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) if rng.random() < 0.1 else rng.choice(LEXICON)
                    for _ in range(n))


def seed(engine, regions: list[int], central: int) -> None:
    """20,000 materials with text, set-based (one INSERT, one UPDATE of the vectors)."""
    rng = random.Random(24)
    kinds = ("document", "document", "document", "presentation", "video", "link")
    rows = []
    for _ in range(MATERIALS):
        region = rng.choice([None, None, *regions])
        rows.append({"kind": (k := rng.choice(kinds)), "title": _text(rng, 6).capitalize(),
                     "description": _text(rng, 25), "topics": sorted({rng.choice(WORDS)
                                                                      for _ in range(3)}),
                     "org": region or central, "region": region,
                     "aud": rng.choice([["chairs"], ["chairs", "staff"], ["members"],
                                        ["activists", "chairs"], ["staff"]]),
                     "url": "https://eseur.ru/" if k == "link" else None,
                     "body": _text(rng, 180)})
    with engine.begin() as c:
        c.execute(text("""
            INSERT INTO library.material (kind, title, description, topics, publisher_org_id,
                region_id, audiences, url, body, created_by)
            VALUES (:kind, :title, :description, :topics, :org, :region, :aud, :url, :body,
                    'bench')
        """), rows)
        c.execute(text(f"UPDATE library.material m SET {VECTORS_SQL}"))
    with engine.connect() as c:
        c.execution_options(isolation_level="AUTOCOMMIT").execute(
            text("VACUUM ANALYZE library.material"))


def search_figures(base: str, token: str, engine) -> dict[str, float]:
    rng = random.Random(7)
    queries = [rng.choice(QUERY_WORDS) for _ in range(QUERIES)]
    headers = {"Authorization": f"Bearer {token}"}
    for q in queries[:20]:  # warm the caches a person's first searches warm
        requests.get(f"{base}/api/v1/library/materials", params={"q": q}, headers=headers)
    found = []

    def one(q: str) -> None:
        r = requests.get(f"{base}/api/v1/library/materials", params={"q": q},
                         headers=headers, timeout=30)
        r.raise_for_status()
        found.append(r.json()["total"])
    http = [timed_ms(lambda q=q: one(q)) for q in queries]
    # the chair's view (region 2, primary) as the service builds it
    viewer = Viewer(audiences=frozenset({"chairs", "activists", "members"}),
                    regions=frozenset({2}), levels=frozenset({"primary"}))
    with engine.connect() as c:
        sql = [timed_ms(lambda q=q: library_search.search(c, viewer.sql(), q))
               for q in queries]
        naive = [timed_ms(lambda q=q: library_search.naive(c, q)) for q in queries[:60]]
    print(f"search: {sum(found) / len(found):.0f} matches a query on average")
    return show({"search_p95_ms": p95(http), "search_sql_p95_ms": p95(sql),
            "search_naive_ilike_p95_ms": p95(naive)})


def _rss_while(pid: int, work) -> tuple[float, float]:
    """(idle RSS, the largest RSS while `work` runs) of process `pid` (and its children), MB."""
    proc = psutil.Process(pid)

    def rss() -> int:
        return proc.memory_info().rss + sum(c.memory_info().rss
                                            for c in proc.children(recursive=True))
    idle = rss()
    peak = [idle]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss())
            time.sleep(0.05)
    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    try:
        work()
    finally:
        done.set()
        watcher.join()
    return round(idle / 2**20, 1), round(peak[0] / 2**20, 1)


class _Video:
    """1 GB of an MP4's bytes made as they are read: the bench holds no more than a piece."""

    def __init__(self, size: int) -> None:
        self.size, self.sent = size, 0
        self.piece = os.urandom(1024 * 1024)

    def __len__(self) -> int:
        return self.size

    def read(self, n: int = 1024 * 1024) -> bytes:
        n = min(n if n and n > 0 else 1024 * 1024, self.size - self.sent, len(self.piece))
        if n <= 0:
            return b""
        if self.sent == 0:
            out = (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + self.piece)[:n]
        else:
            out = self.piece[:n]
        self.sent += len(out)
        return out


def video_figures(base: str, token: str, admin_token: str, gateway_pid: int
                  ) -> dict[str, float]:
    headers = {"Authorization": f"Bearer {admin_token}"}
    m = requests.post(f"{base}/api/v1/library/materials", headers=headers, json={
        "kind": "video", "title": "Запись вебинара", "audiences": ["chairs"],
        "publisher_org_id": 1}, timeout=30).json()
    uploaded = {}

    def upload() -> None:
        r = requests.post(f"{base}/api/v1/library/materials/{m['id']}/editions",
                          params={"effective_on": "2025-01-01", "filename": "webinar.mp4"},
                          data=_Video(VIDEO_BYTES),
                          headers={**headers, "Content-Type": "application/octet-stream",
                                   "Content-Length": str(VIDEO_BYTES)}, timeout=900)
        r.raise_for_status()
        uploaded.update(r.json())
    _, upload_peak = _rss_while(gateway_pid, upload)
    got = [0]
    reading = {"Authorization": f"Bearer {token}"}

    def stream() -> None:
        with requests.get(f"{base}/api/v1/library/materials/{m['id']}/file",
                          headers=reading, stream=True, timeout=120) as r:
            r.raise_for_status()
            for piece in r.iter_content(1024 * 1024):
                got[0] += len(piece)
    started = time.perf_counter()
    idle, peak = _rss_while(gateway_pid, stream)
    seconds = time.perf_counter() - started
    assert got[0] == VIDEO_BYTES, got[0]
    print(f"video: 1 GB streamed in {seconds:.1f} s ({VIDEO_BYTES / 2**20 / seconds:.0f} MB/s)")
    return show({"video_1gb_rss_mb": peak, "video_idle_rss_mb": idle,
                 "upload_1gb_rss_mb": upload_peak})


def big_pdf(path: Path) -> None:
    """300 pages of text, then an embedded file to 100 MB."""
    from pypdf import PdfReader, PdfWriter
    from weasyprint import HTML

    rng = random.Random(100)
    pages = "".join(f"<p style='page-break-after: always'>{_text(rng, 250)} "
                    f"{'пятисотмегабайтный' if i == 150 else ''}</p>" for i in range(300))
    small = path.with_suffix(".small.pdf")
    HTML(string=f"<html><body>{pages}</body></html>").write_pdf(small)
    writer = PdfWriter(clone_from=PdfReader(small))
    writer.add_attachment("scan.bin", os.urandom(PDF_BYTES - small.stat().st_size - 4096))
    with path.open("wb") as out:
        writer.write(out)
    small.unlink()


def pdf_figure(base: str, admin_token: str, token: str) -> dict[str, float]:
    headers = {"Authorization": f"Bearer {admin_token}"}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.pdf"
        big_pdf(path)
        size = path.stat().st_size
        m = requests.post(f"{base}/api/v1/library/materials", headers=headers, json={
            "kind": "document", "title": "Сборник нормативных документов",
            "audiences": ["chairs"], "publisher_org_id": 1}, timeout=30).json()
        started = time.perf_counter()
        with path.open("rb") as f:
            r = requests.post(f"{base}/api/v1/library/materials/{m['id']}/editions",
                              params={"effective_on": "2025-01-01", "filename": "big.pdf"},
                              data=f, headers={**headers,
                                               "Content-Type": "application/octet-stream",
                                               "Content-Length": str(size)}, timeout=900)
        r.raise_for_status()
        seconds = time.perf_counter() - started
    found = requests.get(f"{base}/api/v1/library/materials",
                         params={"q": "пятисотмегабайтного"},
                         headers={"Authorization": f"Bearer {token}"}, timeout=30).json()
    assert [i["id"] for i in found["items"]] == [m["id"]], found
    print(f"pdf: {size / 2**20:.0f} MB, {r.json()['pages']} pages, text {r.json()['text_status']}")
    return show({"upload_extract_100mb_s": round(seconds, 2)})


def main() -> None:
    url = fresh_database(DB, SCHEMAS)
    conf = sso_settings()
    admin = fresh_realm(conf)
    make_user(admin, "admin@bench.library", "central_admin")
    engine = create_engine(url)
    figures: dict[str, float] = {}
    procs: dict = {}
    with running_services(url, SERVICES, procs_out=procs, log_tag="library-") as base, \
            ClusterProxy(nameko_config(AMQP_URI=BENCH_AMQP), timeout=300) as rpc:
        ids = build_tree(rpc.registry.create_organization)
        make_user(admin, "chair@bench.library", "chair", [ids["primary"]])
        seed(engine, [ids["region"], ids["region2"]], ids["central"])
        chair = access_token(conf, "chair@bench.library")
        boss = access_token(conf, "admin@bench.library")
        figures.update(search_figures(base, chair, engine))
        figures.update(pdf_figure(base, boss, chair))
        figures.update(video_figures(base, chair, access_token(conf, "admin@bench.library"),
                                     procs["gateway"][0].pid))
    engine.dispose()
    print_figures(figures, GOALS)


if __name__ == "__main__":
    main()
