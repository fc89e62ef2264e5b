"""The member's record card (учётная карточка): its fields, their words and the rules they obey.

One check (`check_card`) serves every way a card arrives: the form in the portal, the online
application, a chair's spreadsheet and a national file of millions of rows. It is plain Python on
purpose: pydantic's per-row cost alone would take a national load past its minute.
"""

import re
from datetime import date
from enum import StrEnum
from typing import Any

import phonenumbers

from services.common import tabular
from services.common.errors import field_error
from services.common.identifiers import IdentifierError, check_snils

MIN_AGE = 14  # students of colleges join from fourteen
MAX_AGE = 110
EARLIEST_JOINING = date(1990, 9, 27)  # the union's founding congress


class Category(StrEnum):
    WORKING = "working"
    STUDENT = "student"
    PENSIONER = "pensioner"  # non-working pensioner
    NOT_GIVEN = "not_given"


class JobCategory(StrEnum):
    TEACHER = "teacher"
    HEAD = "head"
    SUPPORT_STAFF = "support_staff"
    OTHER = "other"


class RemovalReason(StrEnum):
    OWN_WILL = "own_will"
    LEFT_JOB = "left_job"
    GRADUATED = "graduated"
    MOVED_AWAY = "moved_away"
    EXPELLED = "expelled"
    DIED = "died"
    # only through the withdrawal of consent (privacy.py), never a reason a chair picks
    CONSENT_WITHDRAWN = "consent_withdrawn"


CATEGORY_TITLES = {
    Category.WORKING: "работающий", Category.STUDENT: "обучающийся",
    Category.PENSIONER: "неработающий пенсионер", Category.NOT_GIVEN: "не указана",
}
JOB_TITLES = {
    JobCategory.TEACHER: "педагогический работник", JobCategory.HEAD: "руководитель",
    JobCategory.SUPPORT_STAFF: "учебно-вспомогательный и обслуживающий персонал",
    JobCategory.OTHER: "прочие работники",
}
REMOVAL_TITLES = {
    RemovalReason.OWN_WILL: "выход по собственному желанию",
    RemovalReason.LEFT_JOB: "увольнение с работы",
    RemovalReason.GRADUATED: "окончание обучения",
    RemovalReason.MOVED_AWAY: "переход в организацию вне Профсоюза",
    RemovalReason.EXPELLED: "исключение из Профсоюза",
    RemovalReason.DIED: "смерть",
    RemovalReason.CONSENT_WITHDRAWN: "отзыв согласия на обработку персональных данных",
}
SEX_TITLES = {"male": "мужской", "female": "женский"}
CONSENT_FORMS = {"paper": "письменное", "electronic": "электронное"}


def _words(titles: dict[Any, str], extra: dict[str, str]) -> dict[str, str]:
    return {str(k): str(k) for k in titles} | {v: str(k) for k, v in titles.items()} | extra


# what chairs write in their spreadsheets -> codes
CATEGORY_WORDS = _words(CATEGORY_TITLES, {
    "работает": "working", "работник": "working", "работающие": "working",
    "студент": "student", "студенты": "student", "учащийся": "student", "обучающиеся": "student",
    "пенсионер": "pensioner", "неработающий пенсионер": "pensioner", "пенсионеры": "pensioner",
    "работающий пенсионер": "working", "работающие пенсионеры": "working",
    "": "not_given", "нет": "not_given", "-": "not_given", "не указано": "not_given"})
JOB_WORDS = _words(JOB_TITLES, {
    "педагог": "teacher", "учитель": "teacher", "воспитатель": "teacher",
    "преподаватель": "teacher", "педагогический": "teacher", "директор": "head",
    "заведующий": "head", "руководители": "head", "увп": "support_staff", "моп": "support_staff",
    "обслуживающий персонал": "support_staff", "прочие": "other", "другое": "other",
    "педагогические работники": "teacher", "учебно-вспомогательный персонал": "support_staff",
    "заместитель директора": "head", "заведующая": "head", "старший воспитатель": "teacher",
    "музыкальный руководитель": "teacher", "педагог-психолог": "teacher",
    "педагог дополнительного образования": "teacher", "социальный педагог": "teacher",
    "учитель-логопед": "teacher", "логопед": "teacher", "методист": "teacher",
    "инструктор по физической культуре": "teacher", "тренер-преподаватель": "teacher",
    "помощник воспитателя": "support_staff", "младший воспитатель": "support_staff",
    "лаборант": "support_staff", "секретарь": "support_staff", "библиотекарь": "support_staff",
    "повар": "support_staff", "уборщик": "support_staff", "уборщица": "support_staff",
    "сторож": "support_staff", "вахтёр": "support_staff", "вахтер": "support_staff",
    "дворник": "support_staff", "бухгалтер": "other", "медицинская сестра": "other"})
# the first word of a position, when the whole is not known: «учитель математики»
JOB_FIRST_WORDS = {"учитель": "teacher", "воспитатель": "teacher", "преподаватель": "teacher",
                   "педагог": "teacher", "директор": "head", "заведующий": "head",
                   "заведующая": "head"}
REMOVAL_WORDS = _words({k: v for k, v in REMOVAL_TITLES.items()
                        if k != RemovalReason.CONSENT_WITHDRAWN}, {
    "собственное желание": "own_will", "по собственному желанию": "own_will",
    "увольнение": "left_job", "выпуск": "graduated", "смерть": "died", "исключение": "expelled"})
SEX_WORDS = _words(SEX_TITLES, {"м": "male", "ж": "female", "муж": "male", "жен": "female",
                                "m": "male", "f": "female"})
CONSENT_WORDS = _words(CONSENT_FORMS, {"бумажное": "paper", "электронно": "electronic",
                                       "онлайн": "electronic"})
YES_WORDS = {"да", "1", "true", "yes", "есть", "+", "согласен", "согласна", "x", "х"}
NO_WORDS = {"нет", "0", "false", "no", "", "-"}

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
NAME = re.compile(r"^[А-ЯЁа-яёA-Za-z][А-ЯЁа-яёA-Za-z' .-]*$")
# parts of Turkic patronymics and names written in lower case: «Ибрагим оглы», «Алиевна кызы»
NAME_PARTICLES = {"оглы", "кызы", "улы", "уулу", "кзы", "оглу"}
# a SNILS in any spacing (no-break spaces from a copied cell included) or dashes
SNILS_SEPARATORS = re.compile(r"[\s\-]")
TWO_DIGIT_YEAR = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{2})$")

# how messages name the fields (a file's own headers take their place in an import)
TITLES = {"surname": "Фамилия", "first_name": "Имя", "patronymic": "Отчество", "sex": "Пол",
          "birth_date": "Дата рождения", "snils": "СНИЛС", "phone": "Телефон",
          "email": "E-mail", "joined_on": "Дата вступления", "category": "Категория",
          "job_category": "Категория должности",
          "pd_consent_on": "Согласие на обработку ПДн", "pd_consent_form": "Форма согласия",
          "email_consent": "Согласие на рассылку", "card_number": "Номер билета"}
ALLOWED = {"sex": SEX_TITLES.values(), "category": [CATEGORY_TITLES[c] for c in Category
                                                     if c != Category.NOT_GIVEN],
           "job_category": JOB_TITLES.values(), "pd_consent_form": CONSENT_FORMS.values()}

# the fields of a card, in the order of the database columns
FIELDS = ("surname", "first_name", "patronymic", "sex", "birth_date", "snils", "phone", "email",
          "joined_on", "category", "job_category", "pd_consent_on", "pd_consent_form",
          "email_consent", "card_number")
PERSONAL = ("birth_date", "snils", "phone", "email")  # not shown to those who only count


class CardErrors(Exception):
    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__(errors)
        self.errors = errors


def person_key(surname: str, first_name: str, patronymic: str | None, birth_date: date) -> str:
    """Full name and date of birth, normalized: the same person without a SNILS."""
    name = f"{surname} {first_name} {patronymic or ''}".lower().replace("ё", "е")
    return " ".join(name.split()) + "|" + birth_date.isoformat()


# The helpers below run a dozen times for each of millions of rows in a national load: each
# takes the common case (a string from a CSV file) first and calls out only for the rest.

def _text(raw: dict[str, Any], key: str) -> str:
    value = raw.get(key)
    return value.strip() if type(value) is str else tabular.cell_text(value)


def _choice(raw: dict[str, Any], key: str, words: dict[str, str], default: str | None,
            errors: list, titles: dict[str, str]) -> str | None:
    word = _text(raw, key).lower()
    if "ё" in word:
        word = word.replace("ё", "е")
    if not word:
        return default
    code = words.get(" ".join(word.split()))
    if code is None:
        errors.append(field_error(key, "enum", f"{titles[key]}: недопустимое значение "
                                  f"«{_text(raw, key)}»; допустимы: "
                                  + ", ".join(f"«{v}»" for v in ALLOWED[key])))
    return code


def job_of_position(position: Any) -> str | None:
    """The job category of a position as a file's «Должность» gives it, where it is known."""
    word = " ".join(tabular.cell_text(position).lower().replace("ё", "е").split())
    if not word:
        return None
    return JOB_WORDS.get(word) or JOB_FIRST_WORDS.get(word.split(" ")[0].split("-")[0])


def _two_digit_year(text: str, key: str, today: date) -> date:
    """ДД.ММ.ГГ: the century that gives a plausible date (a birth date for an age the union
    has, any other date not in the future); a cell formatted ДД.ММ.ГГ saved as CSV."""
    m = TWO_DIGIT_YEAR.match(text)
    assert m is not None
    day, month, yy = int(m[1]), int(m[2]), int(m[3])
    for century in (2000, 1900):
        candidate = date(century + yy, month, day)
        if candidate <= today and (key != "birth_date"
                                   or MIN_AGE <= _age(candidate, today) <= MAX_AGE):
            return candidate
    return date(1900 + yy if 2000 + yy > today.year else 2000 + yy, month, day)


def _day(raw: dict[str, Any], key: str, errors: list, titles: dict[str, str],
         today: date) -> date | None:
    value = raw.get(key)
    try:
        if type(value) is str and len(value) == 10 and value[2] == "." and value[5] == ".":
            return date(int(value[6:]), int(value[3:5]), int(value[:2]))  # ДД.ММ.ГГГГ
        if type(value) is str and TWO_DIGIT_YEAR.match(value.strip()):
            return _two_digit_year(value.strip(), key, today)
        return tabular.cell_date(value)
    except (ValueError, OverflowError, TypeError):
        errors.append(field_error(key, "date_parsing", f"{titles[key]}: дата «"
                                  f"{tabular.cell_text(value)}» не распознана: ожидается "
                                  "ДД.ММ.ГГГГ"))
        return None


def _flag(raw: dict[str, Any], key: str, errors: list, titles: dict[str, str]) -> bool:
    value = raw.get(key)
    if isinstance(value, bool):
        return value
    word = tabular.cell_text(value).lower()
    if word in YES_WORDS:
        return True
    if word not in NO_WORDS:
        errors.append(field_error(key, "bool_parsing", f"{titles[key]}: ожидается «да» или "
                                  f"«нет», в файле «{tabular.cell_text(value)}»"))
    return False


def proper_case(name: str) -> str:
    """A name typed in capitals or in lower case, as names are written: «ПЕТРОВ-ВОДКИН» →
    «Петров-Водкин», «ибрагим оглы» → «Ибрагим оглы». A name in mixed case is kept as typed
    («МакДональд»), and so is ё."""
    if not (name.isupper() or name.islower()):
        return name
    words = []
    for word in name.lower().split(" "):
        if word in NAME_PARTICLES:
            words.append(word)
        else:
            words.append("-".join(p[:1].upper() + p[1:] for p in word.split("-")))
    return " ".join(words)


def snils_digits(value: str) -> str:
    """The digits of a SNILS as a file gives it: any spacing or dashes removed, and the leading
    zeros a spreadsheet drops from a number put back (a SNILS has eleven digits)."""
    digits = SNILS_SEPARATORS.sub("", value)
    if digits.isdigit() and digits.isascii() and 9 <= len(digits) < 11:
        digits = digits.zfill(11)
    return digits


def normalize_phone(text: str) -> str | None:
    """One format for every phone (E.164, as organizations' phones are kept: +79123456789),
    read by libphonenumber with Russia as the default country; None if it is no number."""
    try:
        number = phonenumbers.parse(text, "RU")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _age(birth: date, on: date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def check_card(raw: dict[str, Any], today: date, require_consent: bool = True,
               default_consent_on: date | None = None,
               titles: dict[str, str] | None = None) -> dict[str, Any]:
    """A card's values cleaned and checked; raises CardErrors naming every bad field.

    `titles`: how the messages name the fields (a file's own headers), TITLES by default.
    Every date message shows the date as read (a two-digit year read to its century)."""
    titles = TITLES if titles is None else TITLES | titles
    errors: list[dict[str, str]] = []
    card: dict[str, Any] = {}
    for key in ("surname", "first_name"):
        value = " ".join(_text(raw, key).split())
        if not value:
            errors.append(field_error(key, "missing", f"{titles[key]}: обязательное поле"))
        elif len(value) > 100 or not NAME.match(value):
            errors.append(field_error(key, "name_format",
                                      f"{titles[key]}: только буквы, дефис, пробел"))
        card[key] = proper_case(value)
    patronymic = " ".join(_text(raw, "patronymic").split())
    if patronymic and (len(patronymic) > 100 or not NAME.match(patronymic)):
        errors.append(field_error("patronymic", "name_format",
                                  f"{titles['patronymic']}: только буквы"))
    card["patronymic"] = proper_case(patronymic) or None
    card["sex"] = _choice(raw, "sex", SEX_WORDS, None, errors, titles)

    birth = _day(raw, "birth_date", errors, titles, today)
    title = titles["birth_date"]
    if birth is None and not any(e["field"] == "birth_date" for e in errors):
        errors.append(field_error("birth_date", "missing", f"{title}: обязательное поле"))
    elif birth is not None:
        if birth > today:
            errors.append(field_error("birth_date", "date_in_future",
                                      f"{title} {birth:%d.%m.%Y} — в будущем"))
        elif _age(birth, today) < MIN_AGE:
            errors.append(field_error("birth_date", "too_young", f"{title} {birth:%d.%m.%Y}: "
                                      f"в Профсоюз вступают с {MIN_AGE} лет"))
        elif _age(birth, today) > MAX_AGE:
            errors.append(field_error("birth_date", "too_old", f"{title} {birth:%d.%m.%Y}: "
                                      "проверьте год рождения"))
    card["birth_date"] = birth

    snils = _text(raw, "snils")
    card["snils"] = None
    if snils:
        try:
            card["snils"] = check_snils(snils_digits(snils))
        except IdentifierError as exc:
            errors.append(field_error("snils", exc.code, f"{titles['snils']} «{snils}»: "
                                      + exc.message))
    phone = _text(raw, "phone")
    card["phone"] = normalize_phone(phone) if phone else None
    if phone and card["phone"] is None:
        errors.append(field_error("phone", "phone_format", f"{titles['phone']}: номер «{phone}» "
                                  "не распознан; нужно 10 цифр после +7 или 8, например "
                                  "+7 912 345-67-89"))
    email = _text(raw, "email").lower()
    if email and (len(email) > 200 or not EMAIL.match(email)):
        errors.append(field_error("email", "email_format",
                                  f"{titles['email']}: адрес «{email}» записан неверно"))
    card["email"] = email or None

    joined = _day(raw, "joined_on", errors, titles, today)
    title = titles["joined_on"]
    if joined is not None:
        if joined > today:
            errors.append(field_error("joined_on", "date_in_future",
                                      f"{title} {joined:%d.%m.%Y} — в будущем"))
        elif joined < EARLIEST_JOINING:
            errors.append(field_error("joined_on", "date_too_early", f"{title} "
                                      f"{joined:%d.%m.%Y} — раньше основания Профсоюза"))
        elif birth is not None and birth < today and _age(birth, joined) < MIN_AGE:
            errors.append(field_error("joined_on", "too_young", f"{title} {joined:%d.%m.%Y}: "
                                      f"на эту дату не было {MIN_AGE} лет"))
    card["joined_on"] = joined or today

    card["category"] = _choice(raw, "category", CATEGORY_WORDS, Category.NOT_GIVEN.value,
                               errors, titles)
    job = _choice(raw, "job_category", JOB_WORDS, None, errors, titles)
    if job and card["category"] not in (Category.WORKING, None):
        errors.append(field_error("job_category", "job_without_work",
                                  f"{titles['job_category']} указывается только работающим"))
    card["job_category"] = job

    consent_on = _day(raw, "pd_consent_on", errors, titles, today) or default_consent_on
    title = titles["pd_consent_on"]
    if consent_on is None and require_consent and \
            not any(e["field"] == "pd_consent_on" for e in errors):
        errors.append(field_error("pd_consent_on", "consent_required",
                                  "Без согласия на обработку персональных данных поставить на "
                                  f"учёт нельзя: укажите в столбце «{title}» дату согласия "
                                  "(ДД.ММ.ГГГГ) или «да»"))
    elif consent_on is not None and consent_on > today:
        errors.append(field_error("pd_consent_on", "date_in_future",
                                  f"{title} {consent_on:%d.%m.%Y} — в будущем"))
    card["pd_consent_on"] = consent_on
    card["pd_consent_form"] = _choice(raw, "pd_consent_form", CONSENT_WORDS, "paper", errors,
                                      titles)
    card["email_consent"] = _flag(raw, "email_consent", errors, titles)
    if card["email_consent"] and not card["email"]:
        errors.append(field_error("email_consent", "email_missing",
                                  f"{titles['email_consent']}: согласие на рассылку без адреса "
                                  "e-mail"))
    card["card_number"] = _text(raw, "card_number").replace(" ", "") or None
    if card["card_number"] and not (len(card["card_number"]) == 16
                                    and card["card_number"].isdigit()):
        errors.append(field_error("card_number", "card_format",
                                  f"{titles['card_number']}: 16 цифр"))
    if errors:
        raise CardErrors(errors)
    return card


def check_patch(current: dict[str, Any], patch: dict[str, Any], today: date,
                editable: tuple[str, ...]) -> dict[str, Any]:
    """The card with `patch` applied, checked as a whole; only `editable` fields may change."""
    unknown = [k for k in patch if k not in editable]
    if unknown:
        raise CardErrors([field_error(k, "not_editable",
                                      "Это поле меняется отдельной операцией или не существует")
                          for k in unknown])
    merged = {k: current.get(k) for k in FIELDS} | patch
    return check_card(merged, today, require_consent=True)


def removal_reason(value: Any) -> str:
    code = REMOVAL_WORDS.get(tabular.cell_text(value).lower())
    if code is None:
        raise CardErrors([field_error("reason", "enum", "Причина снятия с учёта: одна из "
                                      + ", ".join(t for k, t in REMOVAL_TITLES.items()
                                                if k != RemovalReason.CONSENT_WITHDRAWN))])
    return code
