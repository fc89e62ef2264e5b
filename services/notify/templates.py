"""Messages from templates: one folder (templates/), a plain-text and an HTML file per kind.

`<kind>.txt` extends `_text.txt` with a `subject` block and the plain-text `body`;
`<kind>.html` extends `_layout.html`. Russian plural forms come from Babel's CLDR rules
(`{{ n|plural("заявление", "заявления", "заявлений") }}`), dates from Babel too.
"""

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from babel import Locale
from babel.dates import format_date
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

FOLDER = Path(__file__).resolve().parent / "templates"
RU = Locale("ru")


class RenderFailed(Exception):
    """A template could not be rendered with this message's context: the message is held."""


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def plural(n: int, one: str, few: str, many: str) -> str:
    """The Russian form of a word for a count: 1 заявление, 3 заявления, 5 заявлений."""
    form = RU.plural_form(abs(int(n)))
    return {"one": one, "few": few}.get(form, many)


def ru_date(value: Any) -> str:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        value = value.date()
    return format_date(value, "d MMMM y", locale=RU) if isinstance(value, date) else ""


def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(FOLDER), undefined=StrictUndefined,
                      autoescape=select_autoescape(["html"]), trim_blocks=True,
                      lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["plural"] = plural
    env.filters["ru_date"] = ru_date
    return env


ENV = _environment()


def render(kind: str, context: dict[str, Any]) -> Rendered:
    try:
        text_tmpl = ENV.get_template(f"{kind}.txt")
        html_tmpl = ENV.get_template(f"{kind}.html")
        subject = "".join(text_tmpl.blocks["subject"](text_tmpl.new_context(context))).strip()
        return Rendered(subject=" ".join(subject.split()), text=text_tmpl.render(context),
                        html=html_tmpl.render(context))
    except Exception as exc:  # any template error: the message waits for an operator
        raise RenderFailed(f"{type(exc).__name__}: {exc}") from exc


def kinds() -> set[str]:
    return {p.stem for p in FOLDER.glob("*.txt") if not p.name.startswith("_")}
