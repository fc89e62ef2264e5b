"""`make bench-privacy`: the figures of issue 29, beside the naive approach, in one run.

- retention_100k_s: 100,000 removed members past their term (each with an earlier state in
  member_version), beside 100,000 on the register and 20,000 open applications, reduced by
  retention.run — the same set-based statements the service runs; retention_naive_100k_s: the
  same reduction row by row (a SELECT and two UPDATEs per member, as a loop in the application
  would do it), timed on a sample and scaled to 100,000 (said so in `retention_naive_sample`);
- past_reports_changed: of the statistical counts (counts.as_of, what the reports service asks)
  for every quarter start of the last eight years, how many dates give other figures after the
  run (goal 0); other_days_changed: the same for the 15th of each month (not reporting dates:
  these may differ by members who turned 35 in that quarter, README);
- my_data_p95_ms: a person's copy (privacy.collect: card, history, applications, requests and
  who read the card from an audit log of 300,000 rows) on this register, and my_data_pdf_p95_ms
  the same rendered as PDF through a lean user-agent sheet (my_data_pdf_naive_p95_ms: the same
  50 copies with WeasyPrint's whole HTML5 sheet; and my_data_pdf_cpu_p95_ms, its CPU time:
  WeasyPrint's layout is CPU-bound, so on a shared machine whose load average — printed — is
  above its cores, the wall time mostly measures waiting for a core). In-process against the
  database: the RPC and the gateway add their few milliseconds on top.
The last line printed is one JSON object.
"""

import json
import os
import random
import time
from datetime import date, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.common.db import make_engine
from services.membership import counts, members, privacy, retention
from tests.bench.common import fresh_database, p95

N = 100_000
ORGS = 200
NAIVE_SAMPLE = 2_000


def _fill(engine, today: date) -> None:
    """ORGS organizations; N removed members past the five-year term and N on the register,
    each with one earlier state; an audit log whose rows name the members they returned."""
    with engine.begin() as c:
        c.execute(text("""
            INSERT INTO membership.org (id, parent_id, path, level, region_id, registry_number,
                                        name)
            SELECT i, NULL, text2ltree(i::text), 'primary', 1 + i % 10, 'P-' || i,
                   'ППО № ' || i FROM generate_series(1, :n) i
        """), {"n": ORGS})
        # birth dates spread over 1950-2005, so the «youth» line crosses many of them
        c.execute(text("""
            INSERT INTO membership.member (surname, first_name, patronymic, sex, birth_date,
                snils, phone, email, org_id, region_id, org_since, joined_on, registered_on,
                removed_on, removal_reason, category, job_category, pd_consent_on,
                pd_consent_form, email_consent, card_number, person_key, account_subject)
            SELECT 'Фамилия' || i, 'Имя' || i, 'Отчество', CASE WHEN i % 3 = 0 THEN 'male'
                   ELSE 'female' END, DATE '1950-01-01' + (i * 7919) % 20000,
                   lpad(i::text, 11, '0'), '+7900' || lpad(i::text, 7, '0'),
                   'm' || i || '@example.ru', 1 + i % :orgs, 1 + (1 + i % :orgs) % 10,
                   DATE '2012-01-01' + i % 1500, DATE '2012-01-01' + i % 1500, DATE '2016-01-01',
                   CASE WHEN i <= :n THEN :removed - (i % 700) END,
                   CASE WHEN i <= :n THEN 'own_will' END,
                   (ARRAY['working','student','pensioner','not_given'])[1 + i % 4],
                   CASE WHEN i % 4 = 0 THEN 'teacher' END, DATE '2016-01-01', 'paper', true,
                   '1' || lpad(i::text, 15, '0'), 'k' || i, 'sub-' || i
            FROM generate_series(1, 2 * :n) i
        """), {"n": N, "orgs": ORGS, "removed": today - timedelta(days=1826)})
        c.execute(text("""
            INSERT INTO membership.member_version (member_id, version, valid_from, valid_to,
                card, change_kind, diff, changed_by)
            SELECT id, 1, TIMESTAMPTZ '2016-01-01', TIMESTAMPTZ '2018-01-01',
                   jsonb_build_object('surname', surname, 'first_name', first_name, 'snils', snils,
                                      'birth_date', birth_date, 'category', 'working',
                                      'job_category', job_category, 'phone', phone),
                   'edited', jsonb_build_object('phone', jsonb_build_array('+70000000000', phone)),
                   'chair'
            FROM membership.member
        """))
        c.execute(text("UPDATE membership.member SET version = 2"))
        # open applications retention must look through (half of people on the register)
        c.execute(text("""
            INSERT INTO membership.application (id, org_id, card, person_key, submitted_at)
            SELECT gen_random_uuid(), 1 + i % :orgs, '{}',
                   CASE WHEN i % 2 = 0 THEN 'k' || (:n + i) ELSE 'a' || i END, now()
            FROM generate_series(1, 20000) i
        """), {"n": N, "orgs": ORGS})
        c.execute(text("""
            INSERT INTO membership.audit_log (actor, action, record_type, record_id, record_ids,
                                              actor_roles, actor_orgs, at)
            SELECT 'chair' || (g % 50), 'search', 'member', '',
                   ARRAY(SELECT ((g * 37 + k * 7919) % (2 * :n) + 1)::text
                         FROM generate_series(1, 20) k),
                   ARRAY['chair'], ARRAY[1 + g % :orgs]::bigint[],
                   now() - make_interval(mins => g)
            FROM generate_series(1, 300000) g
        """), {"n": N, "orgs": ORGS})
        c.execute(text("ANALYZE"))


def _counts(engine, days: list[date]) -> dict[str, list]:
    with Session(engine) as s:
        return {d.isoformat(): counts.as_of(s, d)[1] for d in days}


def _naive(engine, today: date, ids: list[int]) -> float:
    """Row by row: read the member, update it, update its versions, one statement each."""
    started = time.perf_counter()
    with engine.connect() as c:
        for mid in ids:
            row = c.execute(text("SELECT birth_date FROM membership.member WHERE id = :id"),
                            {"id": mid}).one()
            c.execute(text("""
                UPDATE membership.member SET surname = NULL, first_name = NULL,
                    patronymic = NULL, snils = NULL, phone = NULL, email = NULL,
                    card_number = NULL, account_subject = NULL, person_key = 'erased:' || id,
                    birth_date = :b, reduced_on = :today WHERE id = :id
            """), {"id": mid, "b": retention.quarter_ceil(row.birth_date), "today": today})
            for v in c.execute(text("SELECT version, card, diff FROM membership.member_version "
                                    "WHERE member_id = :id"), {"id": mid}).all():
                card = {k: x for k, x in v.card.items() if k not in retention.ERASED_KEYS}
                c.execute(text("UPDATE membership.member_version SET card = CAST(:c AS jsonb), "
                               "diff = '{}' WHERE member_id = :id AND version = :v"),
                          {"c": json.dumps(card), "id": mid, "v": v.version})
        elapsed = time.perf_counter() - started
        c.rollback()  # the sample is undone: the set-based run below reduces everything
    return elapsed


def _copies(engine, ids: list[int], pdf: bool | str, cpu: list[float] | None = None) -> list[float]:
    """Wall times of each copy; `cpu` receives this process's CPU time for each (on a shared
    machine with a load above its cores, the wall time mostly measures waiting for a core)."""
    out = []
    for mid in ids:
        started, cpu_started = time.perf_counter(), time.process_time()
        with Session(engine) as s:
            data = privacy.collect(s, members.fetch(s, mid))
        if pdf == "full_ua":  # the naive: WeasyPrint's whole HTML5 user-agent sheet
            from weasyprint import HTML
            HTML(string=privacy._templates().get_template("my_data.html").render(d=data)
                 ).write_pdf(font_config=privacy._fonts())
        elif pdf:
            privacy.pdf(data)
        out.append((time.perf_counter() - started) * 1000)
        if cpu is not None:
            cpu.append((time.process_time() - cpu_started) * 1000)
    return out


def main() -> None:
    today = date.today()
    url = fresh_database(os.environ.get("BENCH_PRIVACY_DB", "reestr_bench_privacy"),
                         ("membership",))
    engine = make_engine(url, pool_size=2)
    started = time.perf_counter()
    _fill(engine, today)
    print(f"filled in {time.perf_counter() - started:.1f} s", flush=True)

    rng = random.Random(29)
    active = rng.sample(range(N + 1, 2 * N + 1), 200)
    _copies(engine, active[:5], pdf=True)  # warm: templates, fonts
    copy_ms = _copies(engine, active[:150], pdf=False)
    pdf_cpu: list[float] = []
    load = os.getloadavg()[0]
    pdf_ms = _copies(engine, active[150:], pdf=True, cpu=pdf_cpu)
    naive_pdf_ms = _copies(engine, active[150:200], pdf="full_ua")
    print(f"copy p95 {p95(copy_ms)} ms, as PDF {p95(pdf_ms)} ms (with the full UA sheet "
          f"{p95(naive_pdf_ms)} ms)", flush=True)

    quarter_days = [date(y, m, 1) for y in range(today.year - 8, today.year + 1)
                    for m in (1, 4, 7, 10) if date(y, m, 1) <= today]
    other_days = [date(y, m, 15) for y in range(today.year - 8, today.year + 1)
                  for m in range(1, 13) if date(y, m, 15) <= today]
    before_q, before_o = _counts(engine, quarter_days), _counts(engine, other_days)

    naive_s = _naive(engine, today, rng.sample(range(1, N + 1), NAIVE_SAMPLE))
    naive_100k = naive_s * N / NAIVE_SAMPLE
    print(f"naive: {NAIVE_SAMPLE} in {naive_s:.2f} s -> {naive_100k:.0f} s per 100,000",
          flush=True)

    started = time.perf_counter()
    with Session(engine) as s:
        done = retention.run(s, "bench", today)
        s.commit()
    retention_s = time.perf_counter() - started
    print(f"retention: {done} in {retention_s:.1f} s", flush=True)
    assert done["members"]["records"] == N, done

    after_q, after_o = _counts(engine, quarter_days), _counts(engine, other_days)
    changed = sum(before_q[d] != after_q[d] for d in before_q)
    other_changed = sum(before_o[d] != after_o[d] for d in before_o)
    with engine.connect() as c:
        left = c.execute(text("SELECT count(*) FROM membership.member WHERE removed_on IS NOT "
                              "NULL AND (surname IS NOT NULL OR snils IS NOT NULL)")).scalar()
    engine.dispose()
    print(json.dumps({
        "retention_100k_s": round(retention_s, 2), "retention_goal_s": 60,
        "retention_naive_100k_s": round(naive_100k, 1),
        "retention_naive_sample": NAIVE_SAMPLE,
        "past_reports_changed": changed, "past_report_days": len(quarter_days),
        "other_days_changed": other_changed, "other_days": len(other_days),
        "removed_left_with_names": left,
        "my_data_p95_ms": p95(copy_ms), "my_data_pdf_p95_ms": p95(pdf_ms),
        "my_data_pdf_naive_p95_ms": p95(naive_pdf_ms),
        "my_data_pdf_cpu_p95_ms": p95(pdf_cpu), "load_average": round(load, 1),
        "my_data_goal_ms": 500}, ensure_ascii=False))


if __name__ == "__main__":
    main()
