"""Files for the library's tests, made with the same well-kept libraries people's files come
from: a PDF with text (WeasyPrint), DOCX, PPTX, XLSX, an MP4's header."""

import io
import os


def pdf(text: str, pages: int = 1) -> bytes:
    from weasyprint import HTML

    body = "".join(f"<p style='page-break-after: always'>{text} (стр. {i + 1})</p>"
                   for i in range(pages))
    return HTML(string=f"<html><body>{body}</body></html>").write_pdf()


def scanned_pdf() -> bytes:
    """A PDF without a text layer (a drawing only), as a scan is."""
    from weasyprint import HTML

    return HTML(string="<div style='width:5cm;height:5cm;background:#333'></div>").write_pdf()


def docx(text: str) -> bytes:
    import docx as python_docx

    document = python_docx.Document()
    document.add_heading("Методические рекомендации", 1)
    document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def pptx(text: str) -> bytes:
    import pptx as python_pptx

    deck = python_pptx.Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[1])
    slide.shapes.title.text = "Вебинар"
    slide.placeholders[1].text = text
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()


def xlsx(text: str) -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    book.active["A1"] = text
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def mp4(size: int) -> bytes:
    """An MP4's ftyp box, then `size` bytes in all (the player never sees it: the store and
    the gateway move bytes, and the type shows in the first ones)."""
    head = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
    return head + os.urandom(size - len(head))
