"""The register of processing for the inspector (Роскомнадзор, 152-ФЗ ст. 18.1, 22): what
categories of data are kept, for what purposes, with which consents, for how long, and who has
access by role. Generated from the platform's own definitions — the member table's columns as
the database has them, the retention rules table, the consent texts, the realm's roles and which
of them read personal data — so it cannot drift from what the platform does."""

from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.common.roles import (
    AUDIT_READERS,
    GLOBAL_ROLES,
    PERSONAL_DATA_READERS,
    ROLES,
    SCOPED_ROLES,
)
from services.membership import retention
from services.membership.privacy import CONSENT_TEXTS

# what each column of membership.member is, and why it is kept; a column the platform adds
# without a line here shows up in the register as «не описано» (and tests/privacy fails)
COLUMNS: dict[str, tuple[str, str, str]] = {
    # column: (category of data, what it is, purpose)
    "surname": ("personal", "фамилия", "учёт членов Профсоюза"),
    "first_name": ("personal", "имя", "учёт членов Профсоюза"),
    "patronymic": ("personal", "отчество", "учёт членов Профсоюза"),
    "sex": ("personal", "пол", "статистическая отчётность"),
    "birth_date": ("personal", "дата рождения", "учёт; статистика (молодёжь до 35 лет)"),
    "snils": ("personal", "СНИЛС", "однозначное установление личности"),
    "phone": ("personal", "телефон", "связь с членом Профсоюза"),
    "email": ("personal", "адрес e-mail", "уведомления и рассылка (по согласию)"),
    "org_id": ("membership", "организация учёта", "учёт членов Профсоюза"),
    "region_id": ("membership", "регион", "учёт; отчётность"),
    "org_since": ("membership", "дата постановки на учёт в организации", "учёт"),
    "joined_on": ("membership", "дата вступления в Профсоюз", "учёт; стаж членства"),
    "registered_on": ("membership", "дата внесения в реестр", "учёт"),
    "removed_on": ("membership", "дата снятия с учёта", "учёт; отчётность"),
    "removal_reason": ("membership", "причина снятия с учёта", "учёт; отчётность"),
    "category": ("membership", "категория (работающий, обучающийся, пенсионер)", "отчётность"),
    "job_category": ("membership", "категория работника", "отчётность"),
    "pd_consent_on": ("consent", "дата согласия на обработку", "подтверждение согласия"),
    "pd_consent_form": ("consent", "форма согласия", "подтверждение согласия"),
    "pd_consent_withdrawn_on": ("consent", "дата отзыва согласия", "исполнение отзыва"),
    "email_consent": ("consent", "согласие на рассылку", "рассылка"),
    "email_consent_on": ("consent", "дата согласия на рассылку", "рассылка"),
    "card_number": ("personal", "номер профсоюзного билета", "выдача билета; скидки партнёров"),
    "account_subject": ("technical", "учётная запись личного кабинета", "вход в кабинет"),
    "account_active": ("technical", "кабинет действует", "вход в кабинет"),
    "person_key": ("technical", "ключ поиска (ФИО и дата рождения)", "поиск дублей"),
    "source": ("technical", "как внесена запись", "учёт"),
    "import_id": ("technical", "загрузка, внёсшая запись", "учёт"),
    "reduced_on": ("technical", "дата обезличивания", "хранение"),
}
TECHNICAL = ("id", "version", "valid_since", "updated_by")
CATEGORY_TITLES = {"personal": "Персональные данные", "membership": "Сведения о членстве",
                   "consent": "Согласия", "technical": "Служебные сведения"}


def _access() -> list[dict[str, Any]]:
    out = []
    for role, title in ROLES.items():
        if role in GLOBAL_ROLES:
            scope = "весь Профсоюз"
        elif role in SCOPED_ROLES:
            scope = "своя организация и входящие в неё"
        else:
            scope = "только своя карточка" if role == "member" else "—"
        reads = ("полностью" if role in PERSONAL_DATA_READERS or role == "member"
                 else "без даты рождения, СНИЛС и контактов")
        out.append({"role": role, "title": title, "scope": scope, "personal_data": reads,
                    "audit_log": role in AUDIT_READERS})
    return out


def register(session: Session) -> dict[str, Any]:
    columns = session.execute(text("""
        SELECT column_name FROM information_schema.columns
        WHERE table_schema = 'membership' AND table_name = 'member' ORDER BY ordinal_position
    """)).scalars().all()
    data = []
    for c in columns:
        if c in TECHNICAL:
            continue
        category, what, purpose = COLUMNS.get(c, ("technical", "не описано", "не описано"))
        data.append({"column": c, "category": category,
                     "category_title": CATEGORY_TITLES[category], "what": what,
                     "purpose": purpose,
                     "after_term": "удаляется" if c in retention.ERASED_KEYS
                     else ("округляется до квартала" if c == "birth_date" else "сохраняется")})
    return {"produced_at": datetime.now().astimezone().isoformat(),
            "operator": "Общероссийский Профсоюз образования",
            "data": data, "consents": [{"kind": k, "text": v} for k, v in CONSENT_TEXTS.items()],
            "terms": retention.rules(session), "access": _access(),
            "undescribed": [c for c in columns if c not in COLUMNS and c not in TECHNICAL]}
