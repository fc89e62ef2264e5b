"""The passport's rules over whole columns at once (polars), for big files of organizations.

Checking a national file row by row through the pydantic model costs more than PostgreSQL needs to
store it. Here the rules of `passport.Passport` (as `row_checks` feeds it a row of a file) run
as column expressions. A row that passes every one is taken as checked; a row that fails any is
checked again by `row_checks.check_fields`, which gives the precise Russian messages, so the two
can only disagree by refusing here what the model accepts (then the model wins). Words (levels,
kinds, yes and no) are looked up once per distinct value with the row path's own dictionaries;
tests/unit/test_passport_frame.py holds both to the same answers.
"""

from collections.abc import Callable
from datetime import date
from typing import Any

import polars as pl

from services.registry.file_format import (
    CHAIR_KEYS,
    EDU_COLUMNS,
    EDU_TYPE_TITLES,
    KIND_WORDS,
    LEVEL_WORDS,
    NO_WORDS,
    YES_WORDS,
    Level,
)
from services.registry.hierarchy import HierarchyError, check_kind
from services.registry.passport import EDU_TYPE_CODES, EMAIL

INN_WEIGHTS = (2, 4, 10, 3, 5, 9, 4, 6, 8)  # stdnum.ru.inn.calc_company_check_digit
KIND_REFUSED = "\x00"  # a kind check_kind refuses for the row's level


def _text(df: pl.DataFrame, name: str) -> pl.Expr:
    """The stripped text of a cell, blank as null (as `tabular.cell_text(v) or None`)."""
    if name not in df.columns:
        return pl.lit(None, dtype=pl.String).alias(name)
    value = pl.col(name).str.strip_chars()
    return pl.when(value == "").then(None).otherwise(value).alias(name)


def _lookup(df: pl.DataFrame, name: str, word: Callable[[str], Any], dtype: pl.DataType
            ) -> pl.Expr:
    """`word(stripped text)` for each distinct value of a column (a handful in a column of
    levels, kinds or yes and no), null where it gives None; a blank cell is looked up as ""."""
    if name not in df.columns:
        return pl.lit(word(""), dtype=dtype)
    mapping = {v: word(v.strip()) for v in df[name].fill_null("").unique().to_list()}
    return pl.col(name).fill_null("").replace_strict(mapping, default=None, return_dtype=dtype)


def _edu_type(word: str) -> str | None:
    """Education._type_word, then its list of codes."""
    code = EDU_TYPE_CODES.get(word.lower(), word)
    return code if code in EDU_TYPE_TITLES else None


def _yes_no(word: str) -> bool | None:
    word = word.lower()
    return True if word in YES_WORDS else False if word in NO_WORDS else None


def _level(word: str) -> str | None:
    word = word.lower()
    level = LEVEL_WORDS.get(word) or (word if word in set(Level) else None)
    return level and str(level)


def _day(expr: pl.Expr) -> pl.Expr:
    """ДД.ММ.ГГГГ, as files are written; other forms (ISO dates, Excel serials) leave the row
    to the model. Null when blank or not a date; `_day_ok` tells the two apart."""
    return expr.str.strptime(pl.Date, "%d.%m.%Y", strict=False)


def _day_ok(text: pl.Expr) -> pl.Expr:
    day = _day(text)
    return text.is_null() | (text.str.contains(r"^[0-9]{2}\.[0-9]{2}\.[0-9]{4}$")
                             & day.is_not_null() & (day.dt.year() >= 1))


def _digits_ok(text: pl.Expr, n: int) -> pl.Expr:
    return text.str.contains(f"^[0-9]{{{n}}}$")


def _inn_ok(text: pl.Expr) -> pl.Expr:
    """A legal entity's INN (identifiers.check_company_inn): ten digits, the last a check."""
    digit = [text.str.slice(i, 1).cast(pl.Int64, strict=False) for i in range(10)]
    total = pl.sum_horizontal([w * d for w, d in zip(INN_WEIGHTS, digit, strict=False)])
    return _digits_ok(text, 10) & (total % 11 % 10 == digit[9])


def _ogrn_ok(text: pl.Expr) -> pl.Expr:
    """OGRN (identifiers.check_ogrn): thirteen digits not starting with 0, the last a check."""
    body = text.str.slice(0, 12).cast(pl.Int64, strict=False)
    last = text.str.slice(12, 1).cast(pl.Int64, strict=False)
    return _digits_ok(text, 13) & ~text.str.starts_with("0") & (body % 11 % 10 == last)


def _phone(text: pl.Expr) -> pl.Expr:
    """passport.normalize_phone for phones written with ASCII digits, + ( ) - . and spaces;
    null when it would refuse (or when the phone is written otherwise: the model decides)."""
    digits = text.str.replace_all(r"[^0-9]", "")
    digits = pl.when(digits.str.len_chars() == 10).then(pl.lit("7") + digits).otherwise(digits)
    return pl.when(text.str.contains(r"^[0-9+()\-. ]+$") & _digits_ok(digits, 11)
                   & digits.str.contains("^[78]")).then(pl.lit("+7") + digits.str.slice(1))


def _kind(level: str | None, word: str) -> str | None:
    """The kind the row path settles on (check_kind over the file's word), or KIND_REFUSED."""
    word = word.strip().lower()
    if level is None or (word and word not in KIND_WORDS):
        return KIND_REFUSED
    try:
        return check_kind(Level(level), KIND_WORDS.get(word))
    except HierarchyError:
        return KIND_REFUSED


def _kinds(df: pl.DataFrame) -> pl.Expr:
    """check_kind for each distinct pair of level and kind in the file."""
    kind = pl.col("kind").fill_null("") if "kind" in df.columns else pl.lit("")
    pairs = df.select(level=pl.col("level"), kind=kind).unique().rows()
    mapping = {f"{lv}|{word}": _kind(lv, word) for lv, word in pairs}
    key = pl.col("level").fill_null("") + "|" + kind
    return key.replace_strict(mapping, default=KIND_REFUSED, return_dtype=pl.String)


def outline_frame(df: pl.DataFrame) -> pl.DataFrame:
    """What each row says about its place in the tree: its level's code, its registry number and
    its parent's (stripped, blank as null), its territorial rights (null when neither yes nor
    no). Cheap: the tree is checked on these while the other columns are (check_frame)."""
    return df.with_columns(
        _text(df, "registry_number"), _text(df, "parent_registry_number"),
        level=_lookup(df, "level", _level, pl.String),
        territorial_rights=_lookup(df, "territorial_rights", _yes_no, pl.Boolean))


def check_frame(df: pl.DataFrame, today: date) -> pl.DataFrame:
    """The frame with the passport's column values (passport_values' shape: chair and education
    as structs of JSON values) and `ok`: whether the row passed every rule.

    Expects text columns named by the file's column keys; missing ones count as empty."""
    texts = ["name", "region_code", "ogrn", "inn", "included_on",
             *(f"chair_{k}" for k in CHAIR_KEYS), *EDU_COLUMNS.values()]
    df = outline_frame(df)
    df = df.with_columns(
        [_text(df, k) for k in texts],
        legal_entity=_lookup(df, "legal_entity", _yes_no, pl.Boolean),
        chair_email_consent_word=_lookup(df, "chair_email_consent", _yes_no, pl.Boolean),
        edu_type_code=_lookup(df, "edu_type", _edu_type, pl.String),
    )
    df = df.with_columns(kind=_kinds(df))
    c = {k: pl.col(f"chair_{k}") for k in CHAIR_KEYS}
    edu = {k: pl.col(column) for k, column in EDU_COLUMNS.items()}
    level, rights, legal = pl.col("level"), pl.col("territorial_rights"), pl.col("legal_entity")
    ogrn, inn, region = pl.col("ogrn"), pl.col("inn"), pl.col("region_code")
    chair_given = pl.any_horizontal(v.is_not_null() for v in c.values())
    edu_given = pl.any_horizontal(v.is_not_null() for v in edu.values())
    email = c["email"].str.to_lowercase()
    phone = _phone(c["phone"])
    elected, term = _day(c["elected_on"]), _day(c["term_until"])
    included = _day(pl.col("included_on"))
    chair_ok = ~chair_given | pl.all_horizontal(
        c["surname"].is_not_null() & (c["surname"].str.len_chars() <= 100),
        c["first_name"].is_not_null() & (c["first_name"].str.len_chars() <= 100),
        c["email"].is_null() | (c["email"].str.contains(r"^[\x21-\x7e]+$")
                                & c["email"].str.contains(EMAIL.pattern)),
        c["phone"].is_null() | phone.is_not_null(),
        _day_ok(c["elected_on"]), _day_ok(c["term_until"]),
        elected.is_null() | term.is_null() | (term > elected),
        pl.col("chair_email_consent_word").is_not_null(),
    )
    edu_ok = ~edu_given | pl.all_horizontal(
        level == Level.PRIMARY.value,
        edu["name"].is_not_null() & (edu["name"].str.len_chars() <= 500),
        pl.col("edu_type_code").is_not_null(),
        edu["inn"].is_null() | _inn_ok(edu["inn"]),
    )
    ok = pl.all_horizontal(
        level.is_not_null(),
        pl.col("kind").ne_missing(KIND_REFUSED),
        pl.col("name").is_not_null() & (pl.col("name").str.len_chars() <= 500),
        pl.col("registry_number").is_not_null()
        & (pl.col("registry_number").str.len_chars() <= 32)
        & pl.col("registry_number").str.contains(r"^[\w\-./]+$"),
        pl.when(level == Level.REGIONAL.value).then(_digits_ok(region, 2))
        .otherwise(region.is_null()),
        _day_ok(pl.col("included_on")), included.is_null() | (included <= today),
        rights.is_not_null(), ~rights | (level == Level.PRIMARY.value),
        legal.is_not_null(),
        pl.when(legal).then(ogrn.is_not_null() & inn.is_not_null())
        .otherwise(ogrn.is_null() & inn.is_null()),
        ogrn.is_null() | _ogrn_ok(ogrn), inn.is_null() | _inn_ok(inn),
        chair_ok, edu_ok,
    ).fill_null(False)
    iso = "%Y-%m-%d"
    chair = pl.struct(email=email, phone=phone, surname=c["surname"], first_name=c["first_name"],
                      patronymic=c["patronymic"], elected_on=elected.dt.strftime(iso),
                      term_until=term.dt.strftime(iso),
                      email_consent=pl.col("chair_email_consent_word"))
    education = pl.struct(name=edu["name"], type=pl.col("edu_type_code"), inn=edu["inn"])
    return df.with_columns(
        included_on=included,
        chair=pl.when(chair_given).then(chair),
        education=pl.when(edu_given).then(education),
        ok=ok,
    )
