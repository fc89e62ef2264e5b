"""The members file format (XLSX or CSV): column keys, their Russian headers, and the other
headers chairs actually write for the same columns. The README documents it."""

# key -> Russian header, in the order the demo generator and the export write them
COLUMNS: dict[str, str] = {
    "org_registry_number": "Рег. номер организации",
    "surname": "Фамилия",
    "first_name": "Имя",
    "patronymic": "Отчество",
    "sex": "Пол",
    "birth_date": "Дата рождения",
    "snils": "СНИЛС",
    "phone": "Телефон",
    "email": "E-mail",
    "joined_on": "Дата вступления в Профсоюз",
    "category": "Категория",
    "job_category": "Категория должности",
    "pd_consent_on": "Согласие на обработку ПДн",
    "pd_consent_form": "Форма согласия",
    "email_consent": "Согласие на рассылку",
    "card_number": "Номер профсоюзного билета",
    "full_name": "ФИО",
    "position": "Должность",  # its job category is taken where known (card.job_of_position)
}

# other headers seen in chairs' spreadsheets (compared lower-case, ё as е, spaces collapsed)
ALIASES: dict[str, str] = {
    "регистрационный номер организации": "org_registry_number",
    "рег. номер": "org_registry_number", "рег номер организации": "org_registry_number",
    "организация (рег. номер)": "org_registry_number", "номер ппо": "org_registry_number",
    "фамилия, имя, отчество": "full_name", "ф.и.о.": "full_name", "ф. и. о.": "full_name",
    "фамилия имя отчество": "full_name",
    "дата рожд.": "birth_date", "д.р.": "birth_date", "др": "birth_date",
    "дата рождения (дд.мм.гггг)": "birth_date",
    "снилс (при наличии)": "snils", "страховой номер": "snils", "№ снилс": "snils",
    "тел.": "phone", "телефон мобильный": "phone", "мобильный телефон": "phone",
    "контактный телефон": "phone",
    "email": "email", "e-mail": "email", "электронная почта": "email", "эл. почта": "email",
    "почта": "email", "адрес электронной почты": "email",
    "дата вступления": "joined_on", "дата вступления в профсоюз (дд.мм.гггг)": "joined_on",
    "вступил(а)": "joined_on",
    "категория члена профсоюза": "category", "категория члена": "category",
    "должность (категория)": "job_category", "категория работника": "job_category",
    "занимаемая должность": "position", "должность по штатному расписанию": "position",
    "фамилия имя отчество (полностью)": "full_name", "ф.и.о. (полностью)": "full_name",
    "фио полностью": "full_name", "дата рождения (дд.мм.гг)": "birth_date",
    "дата рожд": "birth_date", "снилс (11 цифр)": "snils", "номер снилс": "snils",
    "телефон (мобильный)": "phone", "моб. телефон": "phone", "телефон сотовый": "phone",
    "дата вст.": "joined_on", "дата вступления в ппо": "joined_on",
    "дата приема в профсоюз": "joined_on", "категория (работающий, обучающийся, пенсионер)":
        "category", "согласие на обработку персональных данных (дата)": "pd_consent_on",
    "дата согласия": "pd_consent_on", "согласие на обработку пдн (дата)": "pd_consent_on",
    "согласие на обработку персональных данных": "pd_consent_on",
    "дата согласия на обработку пдн": "pd_consent_on", "согласие пдн": "pd_consent_on",
    "согласие на обработку пд": "pd_consent_on",
    "согласие на e-mail рассылку": "email_consent", "рассылка": "email_consent",
    "номер билета": "card_number", "эпб": "card_number", "номер эпб": "card_number",
    "№ билета": "card_number", "профсоюзный билет": "card_number",
}

CONSENT_VALUES = "дата согласия ДД.ММ.ГГГГ или «да» (согласие дано в день загрузки)"

REQUIRED = ("birth_date",)  # and the name: surname and first name, or ФИО in one column


def template_xlsx() -> bytes:
    """The members file to fill in: the columns as the export writes them, drop-downs of the
    allowed values, a note on consent above the header."""
    from services.common.sheet_template import template
    from services.membership.card import ALLOWED

    keys = [k for k in COLUMNS if k not in ("full_name", "position")]
    choices = {k: list(v) for k, v in ALLOWED.items()} | {"email_consent": ["да", "нет"]}
    note = ("Заполните по строке на члена Профсоюза начиная с 3-й строки; эту строку можно "
            "оставить. «" + COLUMNS["pd_consent_on"] + "»: " + CONSENT_VALUES + ". Без согласия "
            "на обработку персональных данных поставить на учёт нельзя; если письменные "
            "согласия хранятся в организации, столбец можно не заполнять и подтвердить это при "
            "загрузке. Даты — ДД.ММ.ГГГГ; «Рег. номер организации» можно не заполнять, если "
            "загружаете в свою организацию.")
    return template([(k, COLUMNS[k]) for k in keys], choices, note,
                    dates=("birth_date", "joined_on", "pd_consent_on"), sheet_title="Члены")
