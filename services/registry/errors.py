"""The registry's errors: each a stable code and a Russian message (see services.common.errors)."""

from services.common.errors import Conflict, NotFound


def org_not_found(org_id: int | str) -> NotFound:
    return NotFound("org_not_found", f"Организация {org_id} не найдена в реестре")


def registry_number_taken(number: str) -> Conflict:
    return Conflict("registry_number_taken",
                    f"Регистрационный номер {number} уже занят другой организацией")


def org_excluded(name: str) -> Conflict:
    return Conflict("org_excluded",
                    f"Организация «{name}» исключена из реестра; изменения невозможны")
