"""Past imports with their reports (a list per organization), the columns a person mapped by
hand (remembered per organization), and the refused rows as a spreadsheet to fix and load again.
"""

import io
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.orm import Session

from services.common import tabular
from services.common.caller import Caller, within_scope
from services.common.errors import NotFound, ValidationFailed
from services.common.serialization import jsonable
from services.membership import orgs
from services.membership.file_format import COLUMNS

LIST_LIMIT = 200
SUMMARY = ("id", "org_id", "filename", "status", "rows_total", "rows_loaded", "rows_unchanged",
           "rows_updated", "rows_rejected", "rows_skipped", "imported_by", "started_at",
           "finished_at", "paper_consent_on")


def not_found(run_id: Any) -> NotFound:
    return NotFound("import_not_found", f"Загрузка {run_id} не найдена")


def _may_see(session: Session, caller: Caller, run: dict[str, Any]) -> bool:
    """One's own imports, and those into organizations of one's subtree."""
    if caller.is_global or run["imported_by"] == caller.user:
        return True
    if run["org_id"] is None:
        return False
    org = orgs.get(session, run["org_id"])
    return org is not None and within_scope(org["path"], orgs.scope_paths(session, caller))


def get(session: Session, caller: Caller, run_id: int) -> dict[str, Any]:
    """The run with its whole report (every error, the refused rows)."""
    row = session.execute(text("SELECT * FROM membership.import_run WHERE id = :id"),
                          {"id": run_id}).mappings().first()
    if row is None or not _may_see(session, caller, dict(row)):
        raise not_found(run_id)
    run = jsonable(dict(row))
    report = run.pop("report", None) or {}
    return {**{k: v for k, v in report.items() if k not in run}, **run}


def list_for_org(session: Session, org_id: int) -> list[dict[str, Any]]:
    """The organization's imports, newest first (the caller's access to it checked before)."""
    rows = session.execute(text(f"""
        SELECT {', '.join(SUMMARY)}, coalesce((report ->> 'errors_total')::int, 0) AS errors_total
        FROM membership.import_run WHERE org_id = :org
        ORDER BY started_at DESC, id DESC LIMIT {LIST_LIMIT}
    """), {"org": org_id}).mappings().all()
    return [jsonable(dict(r)) for r in rows]


# ---- columns mapped by hand -------------------------------------------------------------------

def check_mapping(mapping: Any) -> dict[str, str]:
    """{file header: field key or ""}: a key the file format knows, or "" for a column left
    out."""
    if mapping in (None, "", {}):
        return {}
    if isinstance(mapping, str | bytes):
        try:
            mapping = orjson.loads(mapping)
        except orjson.JSONDecodeError:
            raise ValidationFailed("mapping_format", "Сопоставление столбцов передано "
                                   "повреждённым: ожидается {\"заголовок\": \"поле\"}") from None
    if not isinstance(mapping, dict) or not all(
            isinstance(h, str) and isinstance(k, str) and (k == "" or k in COLUMNS)
            for h, k in mapping.items()):
        raise ValidationFailed("mapping_format", "Столбцы сопоставляются с полями карточки: "
                               + ", ".join(f"{k} ({t})" for k, t in COLUMNS.items()))
    return {h: k for h, k in mapping.items() if h.strip()}


def remembered(session: Session, org_id: int) -> dict[str, str]:
    rows = session.execute(text("SELECT header, field FROM membership.import_mapping "
                                "WHERE org_id = :org"), {"org": org_id}).all()
    return {h: f for h, f in rows}


def remember(session: Session, org_id: int, mapping: dict[str, str], actor: str) -> None:
    for header, field in mapping.items():
        session.execute(text("""
            INSERT INTO membership.import_mapping (org_id, header, field, mapped_by)
            VALUES (:org, :h, :f, :actor)
            ON CONFLICT (org_id, header) DO UPDATE
                SET field = EXCLUDED.field, mapped_by = EXCLUDED.mapped_by, mapped_at = now()
        """), {"org": org_id, "h": " ".join(header.lower().split()), "f": field,
               "actor": actor})


# ---- the refused rows as a spreadsheet --------------------------------------------------------

def errors_xlsx(run: dict[str, Any]) -> bytes:
    """The refused rows as the file gave them, with «Строка» (its row in the file) and
    «Ошибка» (every problem of the row): fix them and load this file again."""
    import openpyxl
    from openpyxl.styles import Alignment, Font

    refused = run.get("refused_rows") or []
    messages: dict[int, list[str]] = {}
    for e in run.get("errors") or []:
        messages.setdefault(e["row"], []).append(e["message"])
    headers: list[str] = []
    for r in refused:
        headers += [h for h in r["cells"] if h not in headers]
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Ошибки"
    sheet.append(["Строка", *headers, "Ошибка"])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for r in refused:
        sheet.append([r["row"], *(tabular.safe_cell(r["cells"].get(h)) for h in headers),
                      "; ".join(messages.get(r["row"], []))])
        sheet.cell(sheet.max_row, len(headers) + 2).alignment = Alignment(wrap_text=True)
    sheet.column_dimensions[openpyxl.utils.get_column_letter(len(headers) + 2)].width = 80
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
