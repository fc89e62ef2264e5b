"""The card's rules over whole columns at once (polars), for files of millions of rows.

Checking a national file row by row in Python costs some 35 µs a row: more than PostgreSQL needs
to store it. Here the same rules as `card.check_card` run as column expressions in polars' engine.
A row that passes every one is taken as checked; a row that fails any is checked again by
`check_card` itself, which gives the precise Russian messages, so the two can only disagree by
refusing here what `check_card` accepts (then `check_card` wins). tests/unit/test_card_frame.py
holds them to the same answers on a corpus of good and bad rows.
"""

from datetime import date

import polars as pl

from services.membership.card import (
    CATEGORY_WORDS,
    CONSENT_WORDS,
    EARLIEST_JOINING,
    EMAIL,
    FIELDS,
    JOB_WORDS,
    MAX_AGE,
    MIN_AGE,
    NAME,
    NO_WORDS,
    SEX_WORDS,
    YES_WORDS,
    Category,
)


def _text(name: str, columns: list[str]) -> pl.Expr:
    if name not in columns:
        return pl.lit(None, dtype=pl.String)
    value = pl.col(name).str.strip_chars()
    return pl.when(value == "").then(None).otherwise(value)


def _words(df: pl.DataFrame, name: str, words: dict[str, object]) -> pl.Expr:
    """The code of each value of a column of words (a category, a yes or a no). A file has a
    handful of distinct values in such a column: they are looked up once each, not per row."""
    # the type said, not guessed: a column missing or with no word known would be text
    dtype = pl.Boolean if isinstance(next(iter(words.values())), bool) else pl.String
    if name not in df.columns:
        return pl.lit(None, dtype=dtype)
    mapping = {v: words.get(v.strip().lower().replace("ё", "е"))
               for v in df[name].unique().to_list() if v is not None}
    return pl.col(name).replace_strict(mapping, default=None, return_dtype=dtype)


def _day(expr: pl.Expr) -> pl.Expr:
    """ДД.ММ.ГГГГ, as files are written; other forms (ISO dates, Excel serials, two-digit
    years, which strptime would read as the year 64) leave the row to check_card."""
    return pl.when(expr.str.contains(r"^\d\d\.\d\d\.\d{4}$")).then(
        expr.str.strptime(pl.Date, "%d.%m.%Y", strict=False))


def _as_written(name: pl.Expr) -> pl.Expr:
    """A name in mixed case, kept as typed; one in capitals or lower case is put in proper
    case by check_card (card.proper_case) and so leaves the row to it."""
    return (name != name.str.to_uppercase()) & (name != name.str.to_lowercase())


def _snils(text: pl.Expr) -> pl.Expr:
    """card.snils_digits: separators removed, leading zeros a number lost put back."""
    digits = text.str.replace_all(r"[\s\-]", "")
    return pl.when(digits.str.contains(r"^[0-9]{9,10}$")).then(digits.str.zfill(11)
                                                                  ).otherwise(digits)


# phones as most are written: +7 or 8 and ten digits, in any spacing. card.normalize_phone
# (libphonenumber) gives these +7 and the ten digits; any other form is left to it.
PHONE = r"^(?:\+7|8)?([3-9][0-9]{9})$"


def _md(day: pl.Expr) -> pl.Expr:
    """Month and day as one number (MMDD). polars gives both as 8-bit integers, where
    `month * 100` wraps (December became -80): widened first."""
    return day.dt.month().cast(pl.Int32) * 100 + day.dt.day().cast(pl.Int32)


def _age(birth: pl.Expr, on: pl.Expr) -> pl.Expr:
    before = _md(on) < _md(birth)
    return on.dt.year().cast(pl.Int32) - birth.dt.year().cast(pl.Int32) - before.cast(pl.Int32)


def _snils_ok(digits: pl.Expr) -> pl.Expr:
    """Eleven digits whose check number (identifiers.snils_check_digits) matches, the digits
    taken arithmetically from the number: cheaper than slicing the text nine times."""
    number = digits.cast(pl.Int64, strict=False)
    body = number // 100
    total = pl.sum_horizontal([(body // 10 ** (8 - i)) % 10 * (9 - i) for i in range(9)])
    check = pl.when(total > 101).then(total % 101).otherwise(total)
    check = pl.when(check.is_in([100, 101])).then(0).otherwise(check)
    return digits.str.contains(r"^[0-9]{11}$") & (
        (digits.str.slice(0, 9) <= "001001998") | (check == number % 100))


def check_frame(df: pl.DataFrame, today: date,
                default_consent_on: date | None = None) -> pl.DataFrame:
    """The frame with the cleaned card columns and `ok`: whether the row passed every rule.

    Expects text columns named by the card's keys (missing ones count as empty); the consent
    column may say «да», meaning consent given today (as in bulk_import).
    `default_consent_on`: the date of consents kept on paper for the whole file (check_card's
    argument of the same name)."""
    cols = df.columns
    name_re, email_re = NAME.pattern, EMAIL.pattern
    t = {k: _text(k, cols) for k in FIELDS}
    names = {k: t[k].str.replace_all(r"\s+", " ") for k in ("surname", "first_name",
                                                             "patronymic")}
    phone_digits = t["phone"].str.replace_all(r"[\s\-().]", "")
    consent_default = pl.lit(default_consent_on, dtype=pl.Date)
    yes_no = {w: True for w in YES_WORDS} | {w: False for w in NO_WORDS}
    consent_word = _words(df, "pd_consent_on", dict.fromkeys(YES_WORDS, True)).fill_null(False)
    out = df.with_columns(
        **names,
        sex=_words(df, "sex", SEX_WORDS),
        sex_given=t["sex"].is_not_null(),
        job_given=t["job_category"].is_not_null(),
        birth_date=_day(t["birth_date"]),
        snils=_snils(t["snils"]),
        phone=pl.lit("+7") + phone_digits.str.extract(PHONE, 1),
        phone_ok=t["phone"].is_null() | phone_digits.str.contains(PHONE),
        email=t["email"].str.to_lowercase(),
        joined_on=pl.when(t["joined_on"].is_null()).then(pl.lit(today))
        .otherwise(_day(t["joined_on"])),
        category=pl.when(t["category"].is_null()).then(pl.lit(Category.NOT_GIVEN.value))
        .otherwise(_words(df, "category", CATEGORY_WORDS)),
        job_category=_words(df, "job_category", JOB_WORDS),
        pd_consent_on=pl.when(consent_word).then(pl.lit(today))
        .otherwise(pl.coalesce(_day(t["pd_consent_on"]), consent_default)),
        pd_consent_form=pl.when(t["pd_consent_form"].is_null()).then(pl.lit("paper"))
        .otherwise(_words(df, "pd_consent_form", CONSENT_WORDS)),
        email_consent=_words(df, "email_consent", yes_no).fill_null(False),
        email_consent_ok=t["email_consent"].is_null()
        | _words(df, "email_consent", yes_no).is_not_null(),
        card_number=t["card_number"].str.replace_all(" ", ""),
    )
    birth, joined = pl.col("birth_date"), pl.col("joined_on")
    age = _age(birth, pl.lit(today))
    ok = [
        pl.col("surname").is_not_null() & (pl.col("surname").str.len_chars() <= 100)
        & pl.col("surname").str.contains(name_re) & _as_written(pl.col("surname")),
        pl.col("first_name").is_not_null() & (pl.col("first_name").str.len_chars() <= 100)
        & pl.col("first_name").str.contains(name_re) & _as_written(pl.col("first_name")),
        pl.col("patronymic").is_null() | ((pl.col("patronymic").str.len_chars() <= 100)
                                          & pl.col("patronymic").str.contains(name_re)
                                          & _as_written(pl.col("patronymic"))),
        ~pl.col("sex_given") | pl.col("sex").is_not_null(),
        birth.is_not_null() & (birth <= today) & age.is_between(MIN_AGE, MAX_AGE),
        pl.col("snils").is_null() | _snils_ok(pl.col("snils")),
        pl.col("phone_ok"),
        pl.col("email").is_null() | ((pl.col("email").str.len_chars() <= 200)
                                     & pl.col("email").str.contains(email_re)),
        joined.is_not_null() & (joined <= today) & (joined >= EARLIEST_JOINING)
        & (_age(birth, joined) >= MIN_AGE),
        pl.col("category").is_not_null(),
        (~pl.col("job_given") | pl.col("job_category").is_not_null())
        & (pl.col("job_category").is_null() | (pl.col("category") == Category.WORKING.value)),
        pl.col("pd_consent_on").is_not_null() & (pl.col("pd_consent_on") <= today),
        pl.col("pd_consent_form").is_not_null(),
        pl.col("email_consent_ok") & (~pl.col("email_consent") | pl.col("email").is_not_null()),
        pl.col("card_number").is_null() | pl.col("card_number").str.contains(r"^[0-9]{16}$"),
    ]
    return out.with_columns(ok=pl.all_horizontal(ok).fill_null(False))




def with_person_key(checked: pl.DataFrame) -> pl.DataFrame:
    """card.person_key over the column: full name (lower case, ё as е) and date of birth. The
    names of a row that passed are stripped, with single spaces, so only the missing
    patronymic needs care (no trailing space)."""
    name = pl.concat_str([pl.col("surname"), pl.col("first_name"), pl.col("patronymic")],
                         separator=" ", ignore_nulls=True)
    return checked.with_columns(person_key=pl.concat_str([
        name.str.to_lowercase().str.replace_all("ё", "е", literal=True), pl.lit("|"),
        pl.col("birth_date").dt.strftime("%Y-%m-%d")]))
