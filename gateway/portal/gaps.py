"""What is missing in a passport, as a chair's page lists it (the seed's quarterly monitoring
counts the same gaps: no chair, no term of office, no education organization's INN)."""

from datetime import date
from typing import Any

from gateway.portal.labels import TABS


def missing(org: dict[str, Any], today: date) -> list[dict[str, str]]:
    """Each gap with the passport tab where it is filled in."""
    out: list[dict[str, str]] = []

    def gap(tab: str, text: str) -> None:
        out.append({"tab": tab, "tab_title": TABS[tab], "text": text})

    if org.get("excluded_on"):
        return out  # an excluded organization's passport is history, not a to-do list
    chair = org.get("chair") or None
    if chair is None:
        gap("chair", "Не указан председатель")
    else:
        if not chair.get("term_until"):
            gap("chair", "Не указан срок полномочий председателя")
        elif str(chair["term_until"]) < today.isoformat():
            gap("chair", "Срок полномочий председателя истёк")
        if not chair.get("email"):
            gap("chair", "Нет e-mail председателя: без него нет доступа к реестру")
    if org.get("level") == "primary":
        education = org.get("education") or None
        if education is None:
            gap("education", "Не указана образовательная организация")
        elif not education.get("inn"):
            gap("education", "Не указан ИНН образовательной организации")
    if not org.get("included_on"):
        gap("registration", "Не указана дата включения в реестр")
    return out
