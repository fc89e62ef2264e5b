"""`make bench-mailing`: the figures of issue 21 (targeted mailing), beside the naive way, in
one run, in a database of its own (BENCH_MAILING_DB) with a million members made by set-based
SQL (the national data set, reestr_national, is too heavy to copy on a shared machine).

- audience_1m_s: a union-wide campaign resolved (one bulk RPC to membership, packed columns,
  consent and bouncing decided in notify by set-based SQL) and its recipients queued;
- audience_naive_s: the same members gathered one organization at a time over RPC, timed on a
  sample of organizations and scaled to all of them;
- campaign_send_msgs_per_s: a region's campaign sent by the running notify service to a
  private Mailpit, from the start to the last recorded sent;
- duplicates_after_kill: notify killed (SIGKILL) mid-campaign and started again: messages
  that arrived twice (the README allows the one in flight on each connection), with the
  reconciliation sent + queued + refused = audience checked.
Timings are printed, never asserted. The last line printed is one JSON object.
"""

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

os.environ["KEYCLOAK_REALM"] = os.environ.get("BENCH_KEYCLOAK_REALM", "reestr-bench-mailing")
os.environ.setdefault("BENCH_AMQP_VHOST", "reestr_bench_load")
os.environ.setdefault("BENCH_HTTP_ADDRESS", "127.0.0.1:18050")
os.environ.setdefault("MAILING_SECRET", "bench-" + os.urandom(16).hex())
# the relay's pace is a deployment's: the local Mailpit takes more than the 250 a second
# default, so the figure shows the sender, not the throttle
os.environ.setdefault("MAIL_RATE_PER_S", "2000")
os.environ.setdefault("SEND_INTERVAL_S", "0.5")

import requests  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from services.common.settings import nameko_config  # noqa: E402
from services.common.trust import ClusterProxy  # noqa: E402
from services.sso.settings import sso_settings  # noqa: E402
from tests.bench.common import (  # noqa: E402
    BENCH_AMQP,
    SCHEMAS,
    SERVICES,
    fresh_database,
    fresh_realm,
    print_figures,
    running_services,
)
from tests.notify.private_mailpit import PrivateMailpit  # noqa: E402

DB = os.environ.get("BENCH_MAILING_DB", "reestr_bench_mailing")
MEMBERS = int(os.environ.get("BENCH_MAILING_MEMBERS", "1000000"))
REGIONS, PRIMARIES = 85, 100  # per region: 8,500 organizations
NAIVE_SAMPLE = 40
GOALS = {"audience_1m_s": 30, "campaign_send_msgs_per_s": 500, "duplicates_after_kill": 0}


def make_members(engine) -> None:
    """A central organization, 85 regions with 100 primary organizations each, a million
    members (9 in 10 with an address, 8 in 10 of those with consent), in three statements."""
    with engine.begin() as c:
        c.execute(text("""
            INSERT INTO membership.org (id, parent_id, path, level, region_id, registry_number,
                                        name)
            VALUES (1, NULL, '1', 'central', NULL, '0000', 'ЦС');
            INSERT INTO membership.org (id, parent_id, path, level, region_id, registry_number,
                                        name)
            SELECT r, 1, text2ltree('1.' || r), 'regional', r, r || '-Р', 'Регион ' || r
            FROM generate_series(2, :regions + 1) r;
            INSERT INTO membership.org (id, parent_id, path, level, region_id, registry_number,
                                        name)
            SELECT 1000 + (r - 2) * :prim + p, r,
                   text2ltree('1.' || r || '.' || (1000 + (r - 2) * :prim + p)),
                   'primary', r, r || '-П-' || p, 'ППО ' || r || '-' || p
            FROM generate_series(2, :regions + 1) r, generate_series(1, :prim) p;
        """.replace(":regions", str(REGIONS)).replace(":prim", str(PRIMARIES))))
        c.execute(text("""
            INSERT INTO membership.member (surname, first_name, birth_date, email, org_id,
                region_id, org_since, joined_on, registered_on, category, pd_consent_on,
                pd_consent_form, email_consent, person_key)
            SELECT 'Иванова', 'Мария', date '1960-01-01' + (i % 20000),
                   CASE WHEN i % 10 <> 0 THEN 'm' || i || '@bench.example.ru' END,
                   1001 + i % :orgs, 2 + (i % :orgs) / :prim, date '2015-09-01',
                   date '2015-09-01', date '2015-09-01',
                   (ARRAY['working','student','pensioner','not_given'])[1 + i % 4],
                   date '2024-01-10', 'paper', i % 5 <> 0, 'bench' || i
            FROM generate_series(0, :n - 1) i
        """), {"orgs": REGIONS * PRIMARIES, "prim": PRIMARIES, "n": MEMBERS})
        c.execute(text("ANALYZE membership.member"))


def queued_of(engine, cid: int) -> dict[str, int]:
    with engine.connect() as c:
        return dict(c.execute(text("SELECT status, count(*) FROM notify.message "
                                   "WHERE campaign_id = :c GROUP BY 1"), {"c": cid}).all())


def new_campaign(rpc, engine, roots: list[int], subject: str) -> int:
    made = rpc.notify.create_campaign({"subject": subject, "body": "Текст **рассылки**.",
                                       "audience": {"roots": roots, "members": {}}})
    with engine.begin() as c:  # approval is not what is measured: scheduled at once
        c.execute(text("UPDATE notify.campaign SET status = 'scheduled' WHERE id = :c"),
                  {"c": made["id"]})
    return int(made["id"])


def wait_sent(engine, cid: int, at_most_s: float) -> float:
    began = time.monotonic()
    while time.monotonic() - began < at_most_s:
        if queued_of(engine, cid).get("queued", 0) == 0:
            break
        time.sleep(0.2)
    with engine.connect() as c:
        return float(c.execute(text(
            "SELECT EXTRACT(EPOCH FROM max(sent_at) - min(c.started_at)) "
                              "FROM notify.message m JOIN notify.campaign c "
                              "ON c.id = m.campaign_id WHERE m.campaign_id = :c"),
                         {"c": cid}).scalar() or 0.0)


def mailpit_recipients(mailpit: PrivateMailpit, subject: str) -> Counter:
    """Every message Mailpit holds with this subject, by recipient (all pages, not its
    search: that answered a first slice only)."""
    out: Counter = Counter()
    start = 0
    while True:
        r = requests.get(f"{mailpit.api}/api/v1/messages", params={
            "start": start, "limit": 1000}, timeout=60)
        r.raise_for_status()
        page = r.json()["messages"]
        out.update(t["Address"] for m in page if m["Subject"] == subject for t in m["To"])
        if len(page) < 1000:
            return out
        start += len(page)


class KeepingMailpit(PrivateMailpit):
    """The private Mailpit keeping every message (by default it prunes past 500), so that
    the messages that arrived twice can be counted."""

    def start(self) -> None:
        from tests.notify import private_mailpit as pm

        self.proc = subprocess.Popen(
            [pm.binary(), "--smtp", f"127.0.0.1:{self.smtp_port}", "--listen",
             f"127.0.0.1:{self.http_port}", "--database", str(self.db), "--max", "0",
             "--smtp-disable-rdns", "--disable-version-check"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                requests.get(f"{self.api}/api/v1/info", timeout=1).raise_for_status()
                return
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError("Mailpit did not start")


def main() -> None:
    figures: dict[str, float] = {}
    work = Path(tempfile.mkdtemp(prefix="bench-mailing-"))
    mailpit = KeepingMailpit(work)
    os.environ["SMTP_PORT"] = str(mailpit.smtp_port)
    mailpit.start()  # /healthz asks notify for the mail server before the run begins
    url = fresh_database(DB, SCHEMAS)
    fresh_realm(sso_settings())
    engine = create_engine(url)
    began = time.monotonic()
    make_members(engine)
    print(f"{MEMBERS} members made in {time.monotonic() - began:.1f} s", flush=True)
    services = {k: SERVICES[k] for k in SERVICES}
    procs: dict[str, list[subprocess.Popen]] = {}
    with running_services(url, services, procs_out=procs, log_tag="mailing-"), \
            ClusterProxy(nameko_config(AMQP_URI=BENCH_AMQP), timeout=600) as rpc:
        # 1. a million resolved and queued (the mail server stopped: nothing of it is sent)
        mailpit.stop()
        cid = new_campaign(rpc, engine, [], "Рассылка на миллион")
        t0 = time.monotonic()
        rpc.notify.start_due_now()
        figures["audience_1m_s"] = round(time.monotonic() - t0, 2)
        counts = queued_of(engine, cid)
        print(f"1M campaign: {counts}", flush=True)
        figures["audience_1m_queued"] = counts.get("queued", 0)
        with engine.begin() as c:  # not sent: 800,000 messages would take the run's hour
            c.execute(text("UPDATE notify.message SET status = 'skipped', error = 'bench' "
                           "WHERE campaign_id = :c AND status = 'queued'"), {"c": cid})
        # 2. the naive way: one organization at a time
        sample = list(range(1001, 1001 + REGIONS * PRIMARIES, REGIONS * PRIMARIES
                            // NAIVE_SAMPLE))[:NAIVE_SAMPLE]
        t0 = time.monotonic()
        for org in sample:
            rpc.membership.mailing_audience(None, None, False, [org])
        figures["audience_naive_s"] = round((time.monotonic() - t0) / len(sample)
                                            * REGIONS * PRIMARIES, 1)
        # 3. a region's campaign sent
        mailpit.start()
        cid = new_campaign(rpc, engine, [2], "Рассылка региону 2")
        rpc.notify.start_due_now()
        took = wait_sent(engine, cid, 600)
        sent = queued_of(engine, cid).get("sent", 0)
        figures["campaign_send_msgs"] = sent
        figures["campaign_send_msgs_per_s"] = round(sent / took, 1) if took else 0.0
        # 4. notify killed mid-campaign and started again
        subject = "Рассылка региону 3"
        cid = new_campaign(rpc, engine, [3], subject)
        rpc.notify.start_due_now()
        time.sleep(4)
        [notify] = procs["notify"]
        os.killpg(notify.pid, signal.SIGKILL)
        notify.wait()
        mid = queued_of(engine, cid)
        print(f"killed with {mid}", flush=True)
        env = dict(os.environ, DATABASE_URL=url, AMQP_URI=BENCH_AMQP,
                   WEB_SERVER_ADDRESS=os.environ["BENCH_HTTP_ADDRESS"],
                   PSYCOPG_WAIT_FUNC="wait_selector", LOG_LEVEL="WARNING")
        log = open(Path("var/log/bench-mailing-notify-2.log"), "w")  # noqa: SIM115
        again = subprocess.Popen([str(Path(sys.executable).parent / "nameko"), "run",
                                  "--config", "deploy/nameko.yml", SERVICES["notify"]],
                                 env=env, stdout=log, stderr=subprocess.STDOUT,
                                 start_new_session=True)
        procs["notify"] = [again]
        wait_sent(engine, cid, 600)
        time.sleep(3)
        got = mailpit_recipients(mailpit, subject)
        final = queued_of(engine, cid)
        audience = sum(final.values())
        figures["duplicates_after_kill"] = sum(n - 1 for n in got.values() if n > 1)
        figures["kill_reconciled"] = int(
            final.get("sent", 0) + final.get("queued", 0) + final.get("skipped", 0)
            + final.get("bounced", 0) + final.get("held", 0) == audience
            and len(got) == final.get("sent", 0))
        print(f"after the kill: {final}; {len(got)} distinct, {sum(got.values())} in Mailpit",
              flush=True)
        os.killpg(again.pid, signal.SIGTERM)
        again.wait(timeout=30)
    mailpit.stop()
    print_figures(figures, GOALS)


if __name__ == "__main__":
    main()
