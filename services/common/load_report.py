"""The validation report of a bulk load: each bad row, the column and why, in Russian.

Shared by every loader. A file with thousands of errors stays readable: the report counts every
error by code but lists only the first MAX_ERRORS_REPORTED, in row order.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

MAX_ERRORS_REPORTED = 5000


@dataclass
class Report:
    filename: str
    titles: dict[str, str] = field(default_factory=dict)  # column key -> Russian header
    rows_total: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    rejected_rows: set[int] = field(default_factory=set)
    loaded: int = 0
    unknown_columns: list[str] = field(default_factory=list)
    # rows below the header that are not data: blank, totals, signatures (tabular.skip_reason)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    # what concerns the whole file rather than a row (a column missing), said once
    file_errors: list[dict[str, str]] = field(default_factory=list)
    people: dict[int, str] = field(default_factory=dict)  # row -> who it names, for messages
    # row -> its cells as the file gave them (header -> value), for the file of refused rows
    originals: dict[int, dict[str, Any]] = field(default_factory=dict)

    def error(self, row: int, column: str, code: str, message: str) -> None:
        self.rejected_rows.add(row)
        self.errors.append({"row": row, "column": column,
                            "column_title": self.titles.get(column, ""),
                            "code": code, "message": message})

    def file_error(self, code: str, message: str) -> None:
        self.file_errors.append({"code": code, "message": message})

    def as_dict(self, loaded_ids: list[int] | None = None) -> dict[str, Any]:
        by_code: dict[str, int] = defaultdict(int)
        for e in self.errors:
            by_code[e["code"]] += 1
        self.errors.sort(key=lambda e: e["row"])
        for e in self.errors:
            if e["row"] in self.people:
                e["person"] = self.people[e["row"]]
        skipped = [s for s in self.skipped if s["reason"] != "blank"]
        return {
            "filename": self.filename, "rows_total": self.rows_total,
            "rows_loaded": self.loaded, "rows_rejected": len(self.rejected_rows),
            "errors_total": len(self.errors), "errors_by_code": dict(by_code),
            "errors": self.errors[:MAX_ERRORS_REPORTED],
            "unknown_columns": self.unknown_columns,
            "file_errors": self.file_errors,
            "rows_skipped": len(self.skipped),
            "skipped": skipped[:MAX_ERRORS_REPORTED],
            "refused_rows": [{"row": n, "cells": self.originals[n]}
                             for n in sorted(self.rejected_rows)
                             if n in self.originals][:MAX_ERRORS_REPORTED],
            "loaded_ids_count": len(loaded_ids or []),
        }
