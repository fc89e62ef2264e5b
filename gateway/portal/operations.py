"""The operators' page (issue 28): each component's health and the figures the metrics give —
outbox lag, the vendor, mail, imports, the last data-quality run, the WAL archive — for the
Central Council's operators. The services decide who may read them (`operations_figures`)."""

import time
from typing import Any

import eventlet
from nameko.exceptions import UnknownService
from werkzeug.wrappers import Request, Response

from gateway.http import BROKER_AWAY, ServiceUnavailable
from gateway.portal.audit import ACTORS
from gateway.portal.web import page as portal_page
from gateway.portal.web import render

SERVICES = ("registry", "membership", "cards", "reports", "notify", "library", "events")
# what each figure is called on the page, and how it is shown: a count or a time
FIGURES: dict[str, tuple[str, str]] = {
    "reestr_outbox_waiting": ("События в очереди на публикацию", "count"),
    "reestr_outbox_oldest_seconds": ("Самое старое неопубликованное событие", "age"),
    "reestr_db_pool_in_use": ("Занятые соединения с базой", "count"),
    "reestr_cards_batches_unanswered": ("Партии карт без ответа производителя", "count"),
    "reestr_cards_vendor_waiting_seconds": ("Производитель молчит", "age"),
    "reestr_mail_waiting": ("Письма в очереди", "count"),
    "reestr_mail_oldest_seconds": ("Самое старое неотправленное письмо", "age"),
    "reestr_mail_held": ("Письма, задержанные до решения оператора", "count"),
    "reestr_imports_running": ("Загрузки членов идут сейчас", "count"),
    "reestr_import_seconds_week_p50": ("Загрузка за неделю, медиана", "age"),
    "reestr_quality_run_age_seconds": ("Последняя проверка качества данных", "age"),
    "reestr_quality_run_seconds": ("Длительность последней проверки", "age"),
    "reestr_library_materials": ("Материалов в библиотеке", "count"),
    "reestr_library_text_failed": ("Файлы библиотеки, текст которых не извлечён", "count"),
    "reestr_library_uploads_open": ("Незавершённые загрузки в библиотеку (старше часа)",
                                    "count"),
    "reestr_wal_archive_age_seconds": ("Архив журнала базы (резервные копии) отстаёт на", "age"),
    "reestr_wal_archive_failures": ("Неудачные попытки архивации журнала базы", "count"),
}


class OperationsPages:
    registry: Any
    membership: Any
    cards: Any
    reports: Any
    notify: Any
    library: Any
    events: Any

    @portal_page("GET", "/portal/operations")
    def portal_operations(self, request: Request) -> Response:
        # every question asked at once: the page waits for the slowest service, and one that
        # does not answer is shown as such without holding up the others
        asked = {name: (_ask(getattr(self, name), "health"),
                        _ask(getattr(self, name), "operations_figures")) for name in SERVICES}
        deadline = time.monotonic() + 5
        rows = []
        for name, (health_reply, figures_reply) in asked.items():
            try:
                health = _answer(health_reply, deadline)
                figures = _answer(figures_reply, deadline)
                state = "работает" if all(v == "ok" for v in health.values()) else \
                    "; ".join(f"{k}: {v}" for k, v in health.items() if v != "ok")
            except ServiceUnavailable:
                figures, state = {}, "не отвечает"
            rows.append({"service": ACTORS.get(name, name), "state": state, "figures": [
                (FIGURES[k][0], FIGURES[k][1], v) for k, v in figures.items() if k in FIGURES]})
        return render(request, "operations/page.html", rows=rows)


def _ask(proxy, method: str) -> Any:
    """An RPC sent without waiting; a broker that is away is an answer of its own."""
    try:
        return getattr(proxy, method).call_async()
    except (UnknownService, *BROKER_AWAY) as exc:
        return exc


def _answer(reply: Any, deadline: float) -> Any:
    if isinstance(reply, Exception):
        raise ServiceUnavailable(str(reply))
    try:
        with eventlet.Timeout(max(deadline - time.monotonic(), 0.01)):
            return reply.result()
    except eventlet.Timeout:
        raise ServiceUnavailable("no answer in time") from None
    except (UnknownService, *BROKER_AWAY) as exc:
        raise ServiceUnavailable(str(exc)) from None
