"""Which optional notifications a person switched off (by their address, the account's name)."""

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.common.errors import ValidationFailed, field_error
from services.notify.catalogue import OPTIONAL, choices
from services.notify.queue import normal_address


def of(session: Session, email: str,
       audiences: set[str] | None = None) -> list[dict[str, object]]:
    off = set(session.execute(text("SELECT kind FROM notify.opt_out WHERE email = :e"),
                              {"e": normal_address(email)}).scalars())
    return [{**c, "enabled": c["kind"] not in off} for c in choices(audiences)]


def set_many(session: Session, email: str, wanted: dict[str, bool],
             audiences: set[str] | None = None) -> list[dict[str, object]]:
    unknown = sorted(set(wanted) - OPTIONAL)
    if unknown:
        raise ValidationFailed(details=[field_error(
            "kind", "not_optional",
            f"Эти уведомления нельзя отключить или их нет: {', '.join(unknown)}")])
    address = normal_address(email)
    for kind, enabled in wanted.items():
        if enabled:
            session.execute(text("DELETE FROM notify.opt_out WHERE email = :e AND kind = :k"),
                            {"e": address, "k": kind})
        else:
            session.execute(text("""
                INSERT INTO notify.opt_out (email, kind) VALUES (:e, :k) ON CONFLICT DO NOTHING
            """), {"e": address, "k": kind})
    return of(session, address, audiences)
