"""What notify sends: each kind of message, to whom, and whether the person may switch it off.

Invitations and security messages (Keycloak's own: setting a password, reset, verification) and
the answers to a person's own application cannot be switched off; the rest can, in the personal
account.
"""

from dataclasses import dataclass

from services.common.roles import GLOBAL_ROLES, SCOPED_ROLES


@dataclass(frozen=True)
class Kind:
    title: str
    audience: str  # applicant, chair, member, account
    optional: bool
    # mail: notify renders and sends it; keycloak: Keycloak's own e-mail (an invitation with
    # its action link), which notify asks sso for at a pace
    channel: str = "mail"


KINDS: dict[str, Kind] = {
    "invitation": Kind("Приглашение: задать пароль и подтвердить адрес", "account", False,
                       "keycloak"),
    "application_received": Kind("Заявление о вступлении получено", "applicant", False),
    "application_accepted": Kind("Решение по заявлению: принято", "applicant", False),
    "application_declined": Kind("Решение по заявлению: отклонено", "applicant", False),
    "applications_waiting": Kind("Сводка заявлений, ждущих решения (раз в день)", "chair", True),
    "report_reopened": Kind("Отчёт возвращён на доработку вышестоящей организацией", "chair",
                            True),
    "transfer_done": Kind("Перевод на учёт в другую организацию", "member", True),
    "card_ready": Kind("Карта члена Профсоюза изготовлена или доставлена", "member", True),
    "cards_waiting": Kind("Сводка карт, ждущих выдачи (раз в неделю)", "chair", True),
    "report_due": Kind("Приближается отчётная дата, а отчёт не сдан", "chair", True),
    # asked for by those above, who see on the tracking page that it was sent
    "report_asked": Kind("Вышестоящая организация напоминает о несданном отчёте", "chair",
                         False),
    "import_finished": Kind("Долгая загрузка файла завершена", "chair", True),
}

OPTIONAL = {code for code, kind in KINDS.items() if kind.optional}
MAILED = {code for code, kind in KINDS.items() if kind.channel == "mail"}
INVITATION = "invitation"


def choices(audiences: set[str] | None = None) -> list[dict[str, object]]:
    """The optional notifications, as the personal account lists them (those meant for the
    given audiences; None: all)."""
    return [{"kind": code, "title": kind.title, "audience": kind.audience}
            for code, kind in KINDS.items()
            if kind.optional and (audiences is None or kind.audience in audiences)]


def audiences_of(roles: tuple[str, ...]) -> set[str]:
    """Whom a signed-in person is, for the notifications they may receive."""
    out = set()
    if "member" in roles:
        out.add("member")
    if SCOPED_ROLES.intersection(roles) or GLOBAL_ROLES.intersection(roles):
        out.add("chair")  # a chair, or staff who load files and read reports
    return out
