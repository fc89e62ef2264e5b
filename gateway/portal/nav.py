"""The portal's navigation: one entry per area, shown to the roles that use it.

A new area adds a line here and a module beside this one (see README, «Портал»)."""

from dataclasses import dataclass

from services.common.caller import Caller
from services.common.operations import OPERATIONS_READERS
from services.common.roles import MEMBER


@dataclass(frozen=True)
class Entry:
    title: str
    href: str
    area: str  # the path prefix that marks the entry current


def entries(caller: Caller | None) -> list[Entry]:
    if caller is None:
        return [Entry("Вступить в Профсоюз", "/join", "/join")]
    out: list[Entry] = []
    acts_for_orgs = caller.is_global or bool(caller.scope_roots)
    if acts_for_orgs:
        out += [Entry("Главная", "/portal/home", "/portal/org"),
                Entry("Члены Профсоюза", "/portal/members", "/portal/members"),
                Entry("Заявления", "/portal/applications", "/portal/applications"),
                Entry("Билеты", "/portal/cards", "/portal/cards"),
                Entry("Переводы", "/portal/transfers", "/portal/transfers"),
                Entry("Отчёты", "/portal/reports", "/portal/reports"),
                Entry("Качество данных", "/portal/quality", "/portal/quality"),
                Entry("Рассылки", "/portal/mailing", "/portal/mailing"),
                Entry("Персональные данные", "/portal/privacy" if caller.is_global
                      else "/portal/privacy/requests", "/portal/privacy"),
                Entry("Мероприятия", "/portal/events", "/portal/events")]
    if OPERATIONS_READERS.intersection(caller.roles):
        out.append(Entry("Состояние платформы", "/portal/operations", "/portal/operations"))
    if caller.reads_audit:
        out.append(Entry("Журнал доступа", "/portal/audit", "/portal/audit"))
    if MEMBER in caller.roles:
        out.append(Entry("Личный кабинет", "/portal/account", "/portal/account"))
        out.append(Entry("Мои рассылки", "/portal/account/mailing", "/portal/account/mailing"))
        out.append(Entry("Мероприятия", "/portal/account/events", "/portal/account/events"))
    out.append(Entry("Библиотека", "/portal/library", "/portal/library"))
    return out
