"""XLSX sheets people can use as they open them: a bold header with filters on it, frozen
under the header, columns as wide as their contents want, real dates shown ДД.ММ.ГГГГ, and
text kept as text (a phone «+7 …» or a name starting with «=» is a string cell marked
«quote prefix»: never a formula, even once edited, and no apostrophe shows)."""

from datetime import date, datetime
from typing import Any

from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

BOLD = Font(bold=True)
RUNNABLE = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet might read as a formula
DAY, MOMENT = "DD.MM.YYYY", "DD.MM.YYYY HH:MM"


class Sheet:
    """A write-only sheet (rows streamed, a national export stays in memory bounds)."""

    def __init__(self, book: Any, title: str, columns: list[tuple[str, float]]) -> None:
        self.sheet = book.create_sheet(title[:31])
        self.width = len(columns)
        for i, (_, width) in enumerate(columns, start=1):
            self.sheet.column_dimensions[get_column_letter(i)].width = width
        self.sheet.freeze_panes = "A2"
        self.rows = 0
        header = []
        for name, _ in columns:
            cell = WriteOnlyCell(self.sheet, value=name)
            cell.font = BOLD
            header.append(cell)
        self.sheet.append(header)

    def append(self, values: list[Any]) -> None:
        self.sheet.append([self._cell(v) for v in values])
        self.rows += 1

    def _cell(self, value: Any) -> Any:
        if isinstance(value, str):
            cell = WriteOnlyCell(self.sheet, value=value)
            cell.data_type = "s"  # «=…», «+7 …»: text, as typed
            if value[:1] in RUNNABLE:  # and stays text when someone edits the cell
                cell.quotePrefix = True
            return cell
        if isinstance(value, datetime):
            cell = WriteOnlyCell(self.sheet, value=value.replace(tzinfo=None))
            cell.number_format = MOMENT
            return cell
        if isinstance(value, date):
            cell = WriteOnlyCell(self.sheet, value=value)
            cell.number_format = DAY
            return cell
        return value

    def finish(self) -> None:
        """Filters on the header over every row written."""
        last = get_column_letter(max(self.width, 1))
        self.sheet.auto_filter.ref = f"A1:{last}{self.rows + 1}"
