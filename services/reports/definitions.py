"""Report forms as data: the YAML files in forms/<year>/, one per family of forms.

A family (statistical reporting, the collective-bargaining campaign, ...) has a form per level of
the tree, its indicators and the checks between them. Definitions are versioned by year: a report
as of a date uses the newest file of its family from that year or before, so a form changed in
2026 leaves the reports of 2025 as they were.

How an indicator gets its value in a form (`Indicator.mode`):
- registry: counted from the register of members (primaries; by hand where the report is not
  generated automatically);
- manual: entered by hand;
- sum: the sum over the reports directly beneath (the consolidation);
- sum_manual: that sum plus the organization's own entry (conferences held by the territorial
  organization itself, say);
- tree: the number of organizations of a level reporting beneath.
"""

import operator
import re
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from services.common.errors import NotFound, ValidationFailed, field_error

FORMS_DIR = Path(__file__).resolve().parent / "forms"
LEVELS = ("primary", "territorial", "regional", "central")
# the levels a report consolidates (the others are the leaves of consolidation)
CONSOLIDATING = frozenset(LEVELS[1:])
EDITABLE = frozenset({"manual", "sum_manual"})
_OPS = {"<=": operator.le, ">=": operator.ge, "==": operator.eq}
_RULE = re.compile(r"^(.+?)\s*(<=|>=|==)\s*(.+)$")


def _is_code(term: str) -> bool:
    """Indicator codes have two digits ("01"); a rule's other numbers are literals ("1")."""
    return len(term) == 2


@dataclass(frozen=True)
class Indicator:
    code: str
    label: str
    mode: str
    count: str | None = None  # the count of membership (registry) or the level (tree)


@dataclass(frozen=True)
class Check:
    left: tuple[str, ...]
    op: str
    right: tuple[str, ...]
    message: str

    def fails(self, values: dict[str, int | None]) -> bool:
        """True when the rule is broken; a rule naming a value not yet given is not judged."""
        def total(terms: tuple[str, ...]) -> int | None:
            out = 0
            for term in terms:
                value = values.get(term) if _is_code(term) else int(term)
                if value is None:
                    return None
                out += value
            return out
        left, right = total(self.left), total(self.right)
        return left is not None and right is not None and not _OPS[self.op](left, right)


@dataclass(frozen=True)
class Form:
    code: str
    family: str
    year: int
    level: str
    title: str
    family_title: str
    indicators: tuple[Indicator, ...]
    checks: tuple[Check, ...]
    when: dict[str, Any] = field(default_factory=dict)

    @property
    def consolidating(self) -> bool:
        return self.level in CONSOLIDATING

    def indicator(self, code: str) -> Indicator | None:
        return next((i for i in self.indicators if i.code == code), None)

    def matches(self, org: dict[str, Any]) -> bool:
        """Whether a primary organization reports on this form (the first match wins)."""
        for key, wanted in self.when.items():
            value = org.get(key)
            if isinstance(wanted, list) and value not in wanted:
                return False
            if not isinstance(wanted, list) and value != wanted:
                return False
        return True

    def failed_checks(self, values: dict[str, int | None]) -> list[dict[str, Any]]:
        return [{"rule": f"{' + '.join(c.left)} {c.op} {' + '.join(c.right)}",
                 "message": c.message, "codes": list(dict.fromkeys((*c.left, *c.right)))}
                for c in self.checks if c.fails(values)]


@dataclass(frozen=True)
class Family:
    code: str
    year: int
    title: str
    dates: tuple[str, ...]
    forms: tuple[Form, ...]

    def form(self, code: str) -> Form:
        for form in self.forms:
            if form.code == code:
                return form
        raise NotFound("form_unknown", f"Форма «{code}» не входит в «{self.title}»")

    def form_for(self, org: dict[str, Any]) -> Form | None:
        """The form an organization of the tree reports on, if any."""
        return next((f for f in self.forms if f.level == org["level"] and f.matches(org)),
                    None)

    def check_date(self, day: date) -> None:
        if f"{day:%m-%d}" not in self.dates:
            allowed = ", ".join(d[3:] + "." + d[:2] for d in self.dates)
            raise ValidationFailed("report_date_invalid", (
                f"Отчёт «{self.title}» составляется на {allowed} года; "
                f"{day:%d.%m.%Y} — не отчётная дата"),
                [field_error("day", "report_date_invalid", "Не отчётная дата")])


def _modes(spec: dict[str, Any], forms: list[dict[str, Any]]) -> dict[str, str]:
    """The mode of one indicator in each form that shows it (see the module's docstring)."""
    listed = [f for f in forms if f["code"] in spec.get("forms", [f["code"] for f in forms])]
    if spec["source"] == "tree":
        return {f["code"]: "tree" for f in listed}
    entered_in = spec.get("entered_in")
    lowest = min(LEVELS.index(f["level"]) for f in listed)
    if entered_in is None:
        entered_in = [f["code"] for f in listed if LEVELS.index(f["level"]) == lowest]
    modes = {}
    for f in listed:
        below = LEVELS.index(f["level"]) > lowest
        if f["code"] in entered_in:
            own = "registry" if spec["source"] == "registry" else "manual"
            modes[f["code"]] = "sum_manual" if below and own == "manual" else own
        else:
            modes[f["code"]] = "sum"
    return modes


def _family(path: Path, year: int) -> Family:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    forms_raw: list[dict[str, Any]] = raw["forms"]
    per_form: dict[str, list[Indicator]] = {f["code"]: [] for f in forms_raw}
    for spec in raw["indicators"]:
        # codes and levels are written into SQL (compute): only these shapes are accepted
        if not re.fullmatch(r"\d{2}", str(spec["code"])):
            raise ValueError(f"{path}: indicator code {spec['code']!r} is not two digits")
        if spec["source"] == "tree" and spec.get("count") not in LEVELS:
            raise ValueError(f"{path}: tree indicator {spec['code']} counts no level")
        for form_code, mode in _modes(spec, forms_raw).items():
            per_form[form_code].append(Indicator(str(spec["code"]), spec["label"], mode,
                                                 spec.get("count")))
    forms = []
    for f in forms_raw:
        codes = {i.code for i in per_form[f["code"]]}
        checks = []
        for c in raw.get("checks", []):
            if "forms" in c and f["code"] not in c["forms"]:
                continue
            left, op, right = _RULE.match(c["rule"]).groups()
            check = Check(tuple(left.split(" + ")), op, tuple(right.split(" + ")), c["message"])
            if all(t in codes for t in (*check.left, *check.right) if _is_code(t)):
                checks.append(check)
        forms.append(Form(f["code"], raw["family"], year, f["level"], f["title"], raw["title"],
                          tuple(per_form[f["code"]]), tuple(checks), f.get("when", {})))
    return Family(raw["family"], year, raw["title"], tuple(raw["dates"]), tuple(forms))


@cache
def _all() -> dict[str, list[Family]]:
    """Every family's versions, oldest first."""
    out: dict[str, list[Family]] = {}
    for year_dir in sorted(FORMS_DIR.iterdir(), key=lambda p: p.name):
        for path in sorted(year_dir.glob("*.yaml")):
            fam = _family(path, int(year_dir.name))
            out.setdefault(fam.code, []).append(fam)
    return out


def family(code: str, day: date) -> Family:
    """The family's definitions in force on `day`."""
    versions = _all().get(code)
    if not versions:
        known = ", ".join(sorted(_all()))
        raise NotFound("family_unknown", f"Нет отчётности «{code}» (есть: {known})")
    in_force = [v for v in versions if v.year <= day.year]
    if not in_force:
        raise ValidationFailed("report_date_invalid",
                               f"На {day:%d.%m.%Y} формы «{versions[0].title}» ещё не были "
                               "утверждены")
    return in_force[-1]


def families(day: date) -> list[Family]:
    return [family(code, day) for code in sorted(_all())
            if any(v.year <= day.year for v in _all()[code])]
