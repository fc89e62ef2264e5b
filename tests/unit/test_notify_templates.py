"""Notify's templates: every kind renders in Russian, plain text and HTML, says why the person
receives it, and counts with the right plural form."""

import pytest

from services.notify.catalogue import MAILED
from services.notify.templates import RenderFailed, kinds, plural, render

LINKS = {"status_url": "http://p/s", "account_url": "http://p/a", "queue_url": "http://p/q",
         "settings_url": "http://p/n", "report_url": "http://p/r"}
SAMPLES = {
    "application_received": {"number": "AB12", "first_name": "Мария", "org_name": "ППО"},
    "application_accepted": {"number": "AB12", "first_name": "Мария", "org_name": "ППО"},
    "application_declined": {"number": "AB12", "org_name": "ППО", "decision": "declined",
                             "reason": "нет оснований"},
    "applications_waiting": {"first_name": "Анна", "total": 2, "expire_days": 30, "orgs": [
        {"name": "ППО", "applications": [{"number": "A1", "submitted_at": "2026-12-01"},
                                         {"number": "A2", "submitted_at": "2026-12-02"}]}]},
    "report_reopened": {"first_name": "Анна", "org_name": "ППО", "family_title": "Статотчёт",
                        "day": "2027-01-01", "reason": "ошибка в строке 3"},
    "transfer_done": {"first_name": "Олег", "org_name": "ППО № 2", "on": "2025-01-10"},
    "card_ready": {"first_name": "Олег", "org_name": "ППО", "number": "1234", "status":
                   "delivered"},
    "cards_waiting": {"first_name": "Анна", "total": 3, "cards_url": "http://p/c",
                      "orgs": [{"name": "ППО", "cards": 2}, {"name": "ППО № 2", "cards": 1}]},
    "report_due": {"first_name": "Анна", "org_name": "ППО", "family_title": "Статотчёт",
                   "day": "2027-01-01", "days_left": 1, "reports_url": "http://p/r"},
    "report_asked": {"first_name": "Анна", "org_name": "ППО", "family_title": "Статотчёт",
                     "day": "2027-01-01", "reports_url": "http://p/r"},
    "import_finished": {"import_id": 7, "filename": "список.xlsx", "started_at":
                        "2026-12-03T10:00:00", "minutes": 3, "rows_total": 21, "loaded": 21,
                        "rejected": 0, "long_minutes": 2, "result_url": "http://p/m"},
}


def test_every_kind_has_both_files_and_a_sample():
    assert kinds() == MAILED == set(SAMPLES)


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_kind_renders_with_reason_for_receiving(kind):
    out = render(kind, {**SAMPLES[kind], **LINKS})
    assert out.subject and "\n" not in out.subject and "{{" not in out.text
    assert "потому что" in out.text and "потому что" in out.html
    assert out.html.startswith("<!doctype html>") and out.subject not in out.text.split("\n")[0]


def test_html_is_escaped_and_text_is_not():
    out = render("application_declined", {**SAMPLES["application_declined"], **LINKS,
                                           "reason": "<b>нет</b> & всё"})
    assert "&lt;b&gt;нет&lt;/b&gt; &amp; всё" in out.html
    assert "Причина: <b>нет</b> & всё" in out.text


def test_missing_value_is_a_render_failure():
    with pytest.raises(RenderFailed, match="number"):
        render("application_received", {"first_name": "x"})


@pytest.mark.parametrize(("n", "word"), [(1, "заявление"), (2, "заявления"), (5, "заявлений"),
                                         (11, "заявлений"), (21, "заявление"),
                                         (22, "заявления"), (0, "заявлений")])
def test_plural(n, word):
    assert plural(n, "заявление", "заявления", "заявлений") == word


def test_digest_subject_counts():
    out = render("applications_waiting", {**SAMPLES["applications_waiting"], **LINKS,
                                           "total": 21})
    assert out.subject == "21 заявление ждёт вашего решения"


@pytest.mark.parametrize(("kind", "values", "subject"), [
    ("cards_waiting", {"total": 21}, "21 карта ждёт выдачи членам Профсоюза"),
    ("cards_waiting", {"total": 5}, "5 карт ждут выдачи членам Профсоюза"),
    ("report_due", {"days_left": 1}, "1 день до отчётной даты: «Статотчёт» не сдан"),
    ("report_due", {"days_left": 3}, "3 дня до отчётной даты: «Статотчёт» не сдан"),
    ("import_finished", {"loaded": 1}, "Загрузка «список.xlsx» завершена: 1 запись"),
    ("card_ready", {"status": "produced"}, "Ваша карта члена Профсоюза изготовлена"),
    ("report_asked", {}, "Напоминание: отчёт «Статотчёт» на 1 января 2027 не сдан"),
])
def test_new_kinds_count_and_say(kind, values, subject):
    out = render(kind, {**SAMPLES[kind], **LINKS, **values})
    assert out.subject == subject


def test_report_due_text_agrees_with_the_count():
    out = render("report_due", {**SAMPLES["report_due"], **LINKS, "days_left": 1})
    assert "остался 1 день" in out.text and "1 января 2027" in out.text
