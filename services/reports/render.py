"""A report as PDF (laid out like the paper form: WeasyPrint, DejaVu fonts for Cyrillic) and as
XLSX. A consolidating report carries an annex: the reports beneath, their state and figures."""

import io
from datetime import date, datetime
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from sqlalchemy.orm import Session

from services.common.tabular import safe_cell
from services.common.workbook import Sheet
from services.reports import workflow

STATUS_NAMES = {"submitted": "сдан", "draft": "черновик", None: "не сформирован"}
ANNEX_COLUMNS = 6  # the first summed indicators shown for each organization beneath


@cache
def _templates() -> Environment:
    # autoescape: organization names are typed by people and may hold markup
    return Environment(loader=PackageLoader("services.reports", "templates"),
                       autoescape=select_autoescape(["html"]))


def _annex(session: Session, report: dict[str, Any]) -> tuple[list[dict], list[str]]:
    fam, form = workflow.definitions(report)
    if not form.consolidating:
        return [], []
    columns = [i.code for i in form.indicators
               if i.mode in ("sum", "sum_manual")][:ANNEX_COLUMNS]
    return workflow.expected_children(session, fam, report), columns


def _context(session: Session, report: dict[str, Any]) -> dict[str, Any]:
    shown = workflow.shown(session, report)
    annex, columns = _annex(session, report)
    submitted = report["submitted_at"]
    return {"r": shown, "day": f"{report['day']:%d.%m.%Y}", "annex": annex,
            "annex_columns": columns, "status_names": STATUS_NAMES,
            "submitted": f"{submitted:%d.%m.%Y}" if submitted else "",
            "printed": f"{datetime.now():%d.%m.%Y %H:%M}"}


def pdf(session: Session, report: dict[str, Any]) -> bytes:
    from weasyprint import HTML  # heavy to import: only where PDFs are made

    html = _templates().get_template("report.html").render(**_context(session, report))
    return HTML(string=html).write_pdf()


def xlsx(session: Session, report: dict[str, Any]) -> bytes:
    ctx = _context(session, report)
    shown = ctx["r"]
    book = Workbook()
    sheet = book.active
    sheet.title = shown["form"][:31]
    sheet.append([f"Форма {shown['form']}. {shown['form_title']}"])
    sheet.append([safe_cell(f"{shown['org_name']} (рег. № {shown['registry_number']}), "
                            f"по состоянию на {ctx['day']}; {STATUS_NAMES[shown['status']]}")])
    sheet.append([])
    sheet.append(["Код", "Показатель", "Значение"])
    for cell in sheet[4]:
        cell.font = Font(bold=True)
    for i in shown["indicators"]:
        sheet.append([i["code"], i["label"], i["value"]])
    sheet.column_dimensions["B"].width = 70
    sheet.column_dimensions["C"].width = 14
    for row in sheet.iter_rows(min_row=5, max_col=2):
        row[1].alignment = Alignment(wrap_text=True)
    if ctx["annex"]:
        annex = Sheet(book, "Входящие организации", [
            ("Организация", 55), ("Рег. №", 14), ("Форма", 10), ("Состояние", 16),
            *((code, 10) for code in ctx["annex_columns"])])
        for c in ctx["annex"]:
            annex.append([c["name"], c["registry_number"], c["form"], STATUS_NAMES[c["status"]],
                          *[c["values"].get(code) for code in ctx["annex_columns"]]])
        annex.finish()
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def quality_xlsx(summary: dict[str, Any], reconciliation: dict[str, Any],
                 usage: dict[str, Any]) -> bytes:
    """Data quality as a workbook: faults per region and check, the reconciliation with the
    statistical reports, and the usage figures; each sheet with its header bold and filtered."""
    book = Workbook(write_only=True)
    titles = {c["code"]: c["title"] for c in summary["checks"]}
    taken = summary["run"]["taken_at"][:10]
    sheet = Sheet(book, "Качество данных", [
        ("Регион", 45), ("Проверка", 60), ("Организаций", 14), ("Записей", 12),
        ("Организаций в прошлом квартале", 18), ("Дата проверки", 14)])
    for r in summary["rows"]:
        sheet.append([r["region_name"] or "", titles[r["check_code"]], r["orgs"], r["records"],
                      r["orgs_before"], date.fromisoformat(taken)])
    sheet.finish()
    rec = Sheet(book, "Сверка со статотчётом", [
        ("Регион", 45), *((name, 14) for name in (
            "Членов в АИС", "Членов по отчёту", "Доля", "Работающих в АИС",
            "Работающих по отчёту", "Обучающихся в АИС", "Обучающихся по отчёту",
            "Пенсионеров в АИС", "Пенсионеров по отчёту", "ППО в АИС", "ППО по отчёту"))])
    for r in reconciliation["rows"]:
        rec.append([r["region_name"] or "", r["members"], r["members_reported"],
                    r["members_share"], r["working"], r["working_reported"], r["students"],
                    r["students_reported"], r["pensioners"], r["pensioners_reported"],
                    r["primaries"], r["primaries_reported"]])
    rec.finish()
    use = Sheet(book, "Использование АИС", [
        ("Регион", 45), *((name, 16) for name in (
            "Членов", "Вступили онлайн", "Доля", "ППО", "Отчёты сформированы автоматически",
            "Доля"))])
    for r in usage["rows"]:
        use.append([r["region_name"] or "", r["members"], r["joined_online"],
                    r["joined_online_share"], r["primaries"], r["auto"], r["auto_share"]])
    use.finish()
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
