"""Russian words the pages show for the services' codes."""

from services.cards.titles import STATUS_TITLES as CARD_STATUS_TITLES
from services.membership.card import (
    CATEGORY_TITLES,
    CONSENT_FORMS,
    JOB_TITLES,
    REMOVAL_TITLES,
    SEX_TITLES,
)
from services.membership.titles import APPLICATION_STATUS_TITLES
from services.registry.file_format import EDU_TYPE_TITLES, KIND_TITLES, LEVEL_TITLES
from services.registry.passport import EXCLUSION_REASONS, STAFF_POSITIONS

TABS = {"registration": "Регистрация", "legal": "Правовой статус", "chair": "Председатель",
        "education": "Образовательная организация", "staff": "Кадры и актив"}

LEVELS = {str(k): v for k, v in LEVEL_TITLES.items()}
KINDS = dict(KIND_TITLES)
EDU_TYPES = dict(EDU_TYPE_TITLES)
CATEGORIES = {str(k): v for k, v in CATEGORY_TITLES.items()}
JOBS = {str(k): v for k, v in JOB_TITLES.items()}
REMOVALS = {str(k): v for k, v in REMOVAL_TITLES.items()}
SEXES = dict(SEX_TITLES)
CONSENT_FORM_TITLES = dict(CONSENT_FORMS)
POSITIONS = dict(STAFF_POSITIONS)
EXCLUSIONS = dict(EXCLUSION_REASONS)
CARD_STATUSES = dict(CARD_STATUS_TITLES)
APPLICATION_STATUSES = dict(APPLICATION_STATUS_TITLES)

# field names in histories (passport and record card)
FIELDS = {
    "name": "Наименование", "registry_number": "Рег. номер", "kind": "Вид",
    "included_on": "Дата включения", "excluded_on": "Дата исключения",
    "exclusion_reason": "Причина исключения", "reorganized_into_id": "Правопреемник",
    "legal_entity": "Юридическое лицо", "ogrn": "ОГРН", "inn": "ИНН",
    "territorial_rights": "Права ТПО", "chair": "Председатель",
    "education": "Образовательная организация", "staff": "Кадры и актив",
    "parent_id": "Вышестоящая организация", "region_id": "Регион", "level": "Уровень",
    "region_code": "Код региона", "surname": "Фамилия", "first_name": "Имя",
    "patronymic": "Отчество", "sex": "Пол", "birth_date": "Дата рождения", "snils": "СНИЛС",
    "phone": "Телефон", "email": "E-mail", "joined_on": "Дата вступления",
    "category": "Категория", "job_category": "Категория работника", "org_id": "Организация",
    "removed_on": "Снят с учёта", "removal_reason": "Причина снятия",
    "pd_consent_on": "Согласие на обработку ПДн", "pd_consent_withdrawn_on": "Отзыв согласия",
    "email_consent": "Согласие на рассылку", "card_number": "Номер билета",
    "org_since": "На учёте в организации с", "email_consent_on": "Дата согласия на рассылку",
    "pd_consent_form": "Форма согласия на обработку ПДн", "account_active": "Личный кабинет",
    "person_key": "Ключ поиска дублей", "registered_on": "Поставлен(а) на учёт",
}
# values of a history shown by name, field by field
VALUE_TITLES = {"removal_reason": REMOVALS, "category": CATEGORIES, "job_category": JOBS,
                "sex": SEXES, "pd_consent_form": CONSENT_FORM_TITLES, "level": LEVELS,
                "kind": KINDS, "exclusion_reason": EXCLUSIONS}
# a member's history: what each change was
MEMBER_CHANGES = {"edited": "карточка изменена", "removed": "снят(а) с учёта",
                  "transferred": "перевод в другую организацию",
                  "restored": "восстановлен(а) на учёте",
                  "transfer_undone": "перевод отменён",
                  "consent_email_given": "согласие на рассылку дано",
                  "consent_email_withdrawn": "согласие на рассылку отозвано",
                  "consent_personal_data_given": "согласие на обработку ПДн дано",
                  "consent_personal_data_withdrawn": "согласие на обработку ПДн отозвано",
                  "imported": "загрузка из файла"}
# fields of the card no person needs to read in its history (bookkeeping)
HIDDEN_FIELDS = frozenset({"person_key", "region_id"})

CHANGE_KINDS = {"created": "включение в реестр", "updated": "изменение паспорта",
                "moved": "перевод в другую организацию",
                "moved_with_parent": "перевод вместе с вышестоящей", "excluded": "исключение",
                "loaded": "загрузка из файла", "imported": "загрузка из файла"}

ALL = {"FIELDS": FIELDS, "CHANGE_KINDS": CHANGE_KINDS, "TABS": TABS, "LEVELS": LEVELS,
       "KINDS": KINDS, "EDU_TYPES": EDU_TYPES,
       "CATEGORIES": CATEGORIES, "JOBS": JOBS, "REMOVALS": REMOVALS, "SEXES": SEXES,
       "CONSENT_FORMS": CONSENT_FORM_TITLES, "POSITIONS": POSITIONS,
       "EXCLUSIONS": EXCLUSIONS, "CARD_STATUSES": CARD_STATUSES,
       "APPLICATION_STATUSES": APPLICATION_STATUSES, "VALUE_TITLES": VALUE_TITLES,
       "MEMBER_CHANGES": MEMBER_CHANGES, "HIDDEN_FIELDS": HIDDEN_FIELDS}
