"""The library's file checks and text readers, without the services: type by content, editions'
dates, the child process's verdicts on good, empty and broken files."""

from datetime import date
from pathlib import Path

import pytest

from services.common.errors import ValidationFailed
from services.library import editions, extract, files
from tests.library import files as made


def test_the_type_comes_from_the_content_not_the_name():
    assert files.check_type("document", made.docx("x")[:8192], "rules.docx")[0] == "docx"
    assert files.check_type("presentation", made.pptx("x")[:8192], "deck.pptx")[0] == "pptx"
    assert files.check_type("document", made.xlsx("x")[:8192], "sheet")[0] == "xlsx"
    assert files.check_type("video", made.mp4(4096), "rec.mp4") == ("mp4", "video/mp4")
    for kind, content, name, code in (
            ("document", made.docx("x")[:8192], "rules.pdf", "file_type_mismatch"),
            ("document", b"MZ\x90\x00" + b"\x00" * 100, "rules.pdf", "file_type"),
            ("video", made.pdf("x")[:8192], "rec.mp4", "file_type"),
            ("document", b"", "rules.pdf", "file_empty")):
        with pytest.raises(ValidationFailed) as refused:
            files.check_type(kind, content, name)
        assert refused.value.code == code


def test_an_edition_must_come_after_the_one_it_supersedes():
    first = {"id": 1, "number": 1, "effective_on": date(2024, 1, 1)}
    second = {"id": 2, "number": 2, "effective_on": date(2025, 1, 1)}
    assert editions.check_dates([first, second], date(2025, 6, 1), None) == 2
    assert editions.check_dates([first, second], date(2024, 6, 1), 1) == 1
    assert editions.check_dates([], date(2020, 1, 1), None) is None
    for day in (date(2025, 1, 1), date(2024, 12, 31)):
        with pytest.raises(ValidationFailed) as refused:
            editions.check_dates([first, second], day, None)
        assert refused.value.code == "edition_date_before"
    marked = editions.marked([first, second, {"id": 3, "number": 3,
                                              "effective_on": date(2099, 1, 1)}],
                             date(2025, 3, 1))
    assert [e["state"] for e in marked] == ["superseded", "current", "future"]
    assert editions.in_force([first, second], date(2024, 12, 31))["id"] == 1
    assert editions.in_force([first, second], date(2023, 12, 31)) is None


def test_text_in_a_child_process(tmp_path: Path):
    good = tmp_path / "a.pdf"
    good.write_bytes(made.pdf("Уплата членских взносов", pages=2))
    found = extract.extract_file(good, "pdf", 10_000, 60, 1024)
    assert found.status == "extracted" and "взносов" in found.text and found.pages == 2
    scan = tmp_path / "scan.pdf"
    scan.write_bytes(made.scanned_pdf())
    assert extract.extract_file(scan, "pdf", 10_000, 60, 1024).status == "empty"
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7\n" + b"\x00" * 1000)
    assert extract.extract_file(broken, "pdf", 10_000, 60, 1024).status == "failed"
    # text cut at the limit
    assert len(extract.extract_file(good, "pdf", 10, 60, 1024).text) == 10
    docx = tmp_path / "a.docx"
    docx.write_bytes(made.docx("Собрание"))
    assert "Собрание" in extract.extract_file(docx, "docx", 10_000, 60, 1024).text
    assert extract.extract_file(docx, "mp4", 10_000, 60, 1024).status == "none"
