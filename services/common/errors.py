"""Errors that cross RPC as types and reach people as Russian messages.

Every expected failure is a DomainError with a stable machine-readable `code`, a Russian `message`
and optional `details` (for example the list of bad fields or rows). Subclasses are registered with
nameko so that a caller gets the same class back, not a RemoteError.
"""

import json
from typing import Any

from nameko.exceptions import deserialize_to_instance

_WIRE = "json:"


@deserialize_to_instance
class DomainError(Exception):
    """Base of the errors a person can act on. HTTP status is chosen by the gateway."""

    status = 400

    def __init__(self, code: str, message: str, details: Any = None) -> None:
        if isinstance(details, str) and details.startswith(_WIRE):
            details = json.loads(details[len(_WIRE):])  # coming back from the other side
        # nameko turns each argument into a string on the wire: details travel as JSON text
        super().__init__(code, message, _WIRE + json.dumps(details, default=str))
        self.code = code
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            body["details"] = self.details
        return body

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


@deserialize_to_instance
class ValidationFailed(DomainError):
    status = 422

    def __init__(self, code: str = "validation_failed",
                 message: str = "Данные не прошли проверку", details: Any = None) -> None:
        super().__init__(code, message, details)


@deserialize_to_instance
class NotFound(DomainError):
    status = 404


@deserialize_to_instance
class Conflict(DomainError):
    status = 409


@deserialize_to_instance
class Forbidden(DomainError):
    status = 403


@deserialize_to_instance
class Unauthenticated(DomainError):
    """A message whose sender could not be verified (services.common.trust)."""

    status = 401


@deserialize_to_instance
class Unavailable(DomainError):
    """Something the platform depends on is away: the caller may retry."""

    status = 503


@deserialize_to_instance
class TooManyRequests(DomainError):
    """Too many tries in a short time (a guess, a probe, a flood): the caller may retry after
    `details["retry_after_s"]` seconds, which the gateway sends as Retry-After."""

    status = 429

    def __init__(self, code: str = "too_many_requests", message: str = "", details: Any = None
                 ) -> None:
        if isinstance(details, int):  # raised here with the seconds to wait
            details = {"retry_after_s": max(1, details)}
        if not message:
            wait = (details or {}).get("retry_after_s", 60) if isinstance(details, dict) else 60
            message = f"Слишком много попыток. Повторите через {wait} с"
        super().__init__(code, message, details)

    @property
    def retry_after_s(self) -> int:
        details = self.details if isinstance(self.details, dict) else {}
        return int(details.get("retry_after_s") or 60)


def field_error(field: str, code: str, message: str) -> dict[str, str]:
    return {"field": field, "code": code, "message": message}
