"""Charts drawn on the server as SVG (no script): columns over time, readable on a phone and
in print, with the figures written on them and a description for screen readers."""

from datetime import date
from html import escape

from markupsafe import Markup

from gateway.portal.words import number


def quarter_label(day: str) -> str:
    """«4 кв. 2026» for the quarter that begins on `day` (Arabic: pages carry no Latin)."""
    d = date.fromisoformat(day)
    return f"{(d.month - 1) // 3 + 1} кв. {d.year}"


def columns(labels: list[str], values: list[int], title: str) -> Markup:
    """One column per label, its value above it; the tallest fills the height."""
    if not values:
        return Markup("")
    width, height, top, bottom = 64 * len(values), 150, 18, 30
    tallest = max(max(values), 1)
    step = width / len(values)
    parts = [f'<svg class="columns" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{escape(title)}: ' + "; ".join(
                 f"{escape(label)} — {number(v)}" for label, v in zip(labels, values,
                                                                    strict=True)) + '">',
             f"<title>{escape(title)}</title>"]
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        h = (height - top - bottom) * value / tallest
        x, y = i * step + step * 0.2, height - bottom - h
        parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{step * 0.6:.1f}" '
                     f'height="{max(h, 0.5):.1f}"/>')
        parts.append(f'<text x="{i * step + step / 2:.1f}" y="{y - 4:.1f}" '
                     f'text-anchor="middle">{number(value)}</text>')
        parts.append(f'<text class="axis" x="{i * step + step / 2:.1f}" y="{height - 10}" '
                     f'text-anchor="middle">{escape(label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
