"""The text inside a file, for search: PDF with pypdfium2 (Chrome's PDFium), DOCX with
python-docx, PPTX with python-pptx, XLSX with python-calamine.

`extract_file` runs the work in a child process (`python -m services.library.extract PATH
TYPE`) with a time and a memory limit: a broken or hostile file costs that much at most and
never the service; a file the parser refuses gets `failed`, one without text (a scan) `empty`,
and the material is stored either way.
"""

import json
import resource
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

EXTRACTED, EMPTY, FAILED, NONE = "extracted", "empty", "failed", "none"
TEXT_TYPES = ("pdf", "docx", "pptx", "xlsx")


@dataclass(frozen=True)
class Extracted:
    status: str
    text: str = ""
    pages: int = 0
    error: str = ""


def _pdf(path: Path, limit: int) -> tuple[str, int]:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(path))
    parts, total = [], 0
    try:
        for i in range(len(pdf)):
            page = pdf[i]
            textpage = page.get_textpage()
            chunk = textpage.get_text_range()
            textpage.close()
            page.close()
            parts.append(chunk)
            total += len(chunk)
            if total >= limit:
                break
        return "\n".join(parts), len(pdf)
    finally:
        pdf.close()


def _docx(path: Path, limit: int) -> tuple[str, int]:
    import docx

    document = docx.Document(str(path))
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            parts.append(" ".join(cell.text for cell in row.cells))
    return "\n".join(parts), 0


def _pptx(path: Path, limit: int) -> tuple[str, int]:
    import pptx

    deck = pptx.Presentation(str(path))
    parts = []
    for slide in deck.slides:
        for shape in slide.shapes:
            if shape.has_text_frame:
                parts.append(shape.text_frame.text)
        if slide.has_notes_slide:
            parts.append(slide.notes_slide.notes_text_frame.text)
    return "\n".join(parts), len(deck.slides)


def _xlsx(path: Path, limit: int) -> tuple[str, int]:
    from python_calamine import CalamineWorkbook

    book = CalamineWorkbook.from_path(str(path))
    parts, total = [], 0
    for name in book.sheet_names:
        parts.append(name)
        for row in book.get_sheet_by_name(name).to_python():
            line = " ".join(str(v) for v in row if v not in (None, ""))
            parts.append(line)
            total += len(line)
            if total >= limit:
                return "\n".join(parts), len(book.sheet_names)
    return "\n".join(parts), len(book.sheet_names)


READERS = {"pdf": _pdf, "docx": _docx, "pptx": _pptx, "xlsx": _xlsx}


def extract_here(path: Path, file_type: str, limit: int) -> Extracted:
    """In this process (the child's work; tests of the readers)."""
    if file_type not in READERS:
        return Extracted(NONE)
    try:
        text, pages = READERS[file_type](path, limit)
    except Exception as exc:  # the parser's verdict on a broken file, whatever its class
        return Extracted(FAILED, error=f"{type(exc).__name__}: {exc}"[:300])
    text = " ".join(text.replace("\x00", " ").split())[:limit]
    return Extracted(EXTRACTED if text else EMPTY, text, pages)


def _limits(memory_mb: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory_mb * 1024 * 1024,) * 2)


def extract_file(path: Path, file_type: str, limit: int, timeout_s: float,
                 memory_mb: int) -> Extracted:
    """In a child process with limits; under eventlet the green subprocess lets the service's
    other workers run meanwhile."""
    if file_type not in READERS:
        return Extracted(NONE)
    try:
        from eventlet.green import subprocess as green
    except ImportError:  # pragma: no cover - eventlet is always there in the services
        green = subprocess
    try:
        done = green.run([sys.executable, "-m", "services.library.extract", str(path),
                          file_type, str(limit)], capture_output=True, timeout=timeout_s,
                         preexec_fn=lambda: _limits(memory_mb))
    except subprocess.TimeoutExpired:
        return Extracted(FAILED, error=f"no text in {timeout_s:.0f} s")
    if done.returncode != 0:
        return Extracted(FAILED, error=done.stderr.decode(errors="replace")[-300:])
    data = json.loads(done.stdout)
    return Extracted(data["status"], data["text"], data["pages"], data["error"])


if __name__ == "__main__":
    found = extract_here(Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]))
    json.dump({"status": found.status, "text": found.text, "pages": found.pages,
               "error": found.error}, sys.stdout, ensure_ascii=False)
