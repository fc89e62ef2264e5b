"""Protocols, extracts and certificates as PDF (WeasyPrint, as the reports' forms; DejaVu for
Cyrillic) and participants' lists as XLSX."""

import io
from datetime import date
from functools import cache
from importlib.resources import files
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from openpyxl import Workbook
from openpyxl.styles import Font

from services.common.tabular import safe_cell

VOTE_TITLES = {"for": "за", "against": "против", "abstained": "воздержался"}


@cache
def _templates() -> Environment:
    # autoescape: names and agenda are typed by people and may hold markup
    return Environment(loader=PackageLoader("services.events", "templates"),
                       autoescape=select_autoescape(["html"]))


@cache
def _css() -> str:
    return files("services.events").joinpath("templates/base.css").read_text()


def _pdf(template: str, **values: Any) -> bytes:
    from weasyprint import HTML  # heavy to import: only where PDFs are made

    html = _templates().get_template(template).render(css=_css(), **values)
    return HTML(string=html).write_pdf()


def _day(value: Any) -> str:
    return date.fromisoformat(str(value)[:10]).strftime("%d.%m.%Y")


def protocol(content: dict[str, Any], only_item: int | None = None) -> bytes:
    """The protocol in the usual form, or an extract (выписка) of one agenda item."""
    roster = content["roster"]
    names = {str(r["id"]): r["full_name"] for r in roster}
    items = []
    for item in content["agenda"]:
        if only_item is not None and item["id"] != only_item:
            continue
        named = [(names.get(k, k), VOTE_TITLES.get(v, v))
                 for k, v in (item.get("named_votes") or {}).items()]
        items.append({**item, "named": named})
    by_role = {r["role"]: r["full_name"] for r in reversed(roster)}
    return _pdf("protocol.html", p=content, extract=only_item is not None,
                held=_day(content["held_on"]), items=items,
                present=[r for r in roster if r["present"]],
                absent=[r for r in roster if not r["present"]],
                chair=by_role.get("chair", ""), secretary=by_role.get("secretary", ""))


def certificate(event: dict[str, Any], name: str, organizer: str) -> bytes:
    return _pdf("certificate.html", name=name, title=event["title"],
                kind=event["kind_title"], held=_day(event["starts_at"]), organizer=organizer)


def participants_xlsx(event: dict[str, Any], rows: list[dict[str, Any]]) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = "Участники"
    heading = f"{event['kind_title']} «{event['title']}», {_day(event['starts_at'])}"
    sheet.append([safe_cell(heading)])
    sheet["A1"].font = Font(bold=True)
    questions = event.get("questions") or []
    sheet.append(["№", "ФИО", "Организация (id)", "Номер карты", "Статус", "Зарегистрирован",
                  "Отмечен на входе", *questions])
    for n, r in enumerate(rows, start=1):
        sheet.append([n, safe_cell(r["full_name"]), r["org_id"], safe_cell(r["card_number"] or ""),
                      r["status_title"], str(r["registered_at"])[:16].replace("T", " "),
                      str(r["checked_in_at"] or "")[:16].replace("T", " "),
                      *[safe_cell((r["answers"] or {}).get(str(i), ""))
                        for i in range(len(questions))]])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
