"""Turning HTML form fields into the dictionaries the services check, and back.

The services do every check; here empty inputs become None, check boxes become booleans, and a
list of rows (a passport's staff) is read from `staff.0.full_name`-style names, which are also
the names the services give to bad fields, so each message lands next to its field."""

from typing import Any

from werkzeug.datastructures import MultiDict


def text(form: MultiDict, name: str) -> str | None:
    value = (form.get(name) or "").strip()
    return value or None


def flag(form: MultiDict, name: str) -> bool:
    return form.get(name) in ("on", "1", "true", "yes", "да")


def section(form: MultiDict, prefix: str, names: tuple[str, ...],
            flags: tuple[str, ...] = ()) -> dict[str, Any] | None:
    """`prefix.name` fields as one object; None when nothing was typed in (the object is
    cleared)."""
    values: dict[str, Any] = {n: text(form, f"{prefix}.{n}") for n in names}
    if not any(values.values()):
        return None
    values.update({n: flag(form, f"{prefix}.{n}") for n in flags})
    return values


def rows(form: MultiDict, prefix: str, names: tuple[str, ...], key: str) -> list[dict]:
    """Rows `prefix.i.name` in order of i; rows whose `key` is empty are dropped."""
    indexes = sorted({int(k.split(".")[1]) for k in form
                      if k.startswith(prefix + ".") and k.split(".")[1].isdigit()})
    out = []
    for i in indexes:
        row = {n: text(form, f"{prefix}.{i}.{n}") for n in names}
        if row.get(key):
            out.append(row)
    return out


def flatten(value: Any, prefix: str = "") -> dict[str, str]:
    """A stored object as form values (`chair.surname`, `staff.0.position`, ...)."""
    out: dict[str, str] = {}
    if isinstance(value, dict):
        for k, v in value.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.update(flatten(v, f"{prefix}.{i}"))
    elif value is True:
        out[prefix] = "on"
    elif value is not None and value is not False:
        out[prefix] = str(value)
    return out
