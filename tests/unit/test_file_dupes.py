"""Duplicates within a file: the block-wise History of national files finds exactly what the
row-by-row Seen finds, with the same messages."""

import random

import polars as pl
import pytest

from services.common.load_report import Report
from services.membership.file_dupes import History, Seen


def _rows(n: int, seed: int) -> list[tuple]:
    """(line, SNILS, key, card): mostly distinct people, with repeats of every kind."""
    rng = random.Random(seed)
    rows = []
    for line in range(2, n + 2):
        snils = f"{rng.randrange(10**11):011d}" if rng.random() < 0.8 else None
        key = f"person {rng.randrange(10**9)}|1980-01-01"
        card = f"{rng.randrange(10**16):016d}" if rng.random() < 0.3 else None
        if rows and rng.random() < 0.05:  # someone from before, in one of several ways
            _, e_snils, e_key, e_card = rng.choice(rows)
            kind = rng.choice(("snils", "key", "namesake", "card", "all"))
            if kind == "snils" and e_snils:
                snils = e_snils
            elif kind == "key":
                key, snils = e_key, rng.choice((None, e_snils))
            elif kind == "namesake":  # same name and birth, another SNILS: another person
                key = e_key
            elif kind == "card" and e_card:
                card = e_card
            elif kind == "all":
                snils, key, card = e_snils, e_key, e_card
        rows.append((line, snils, key, card))
    return rows


def _frame(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={"_line": pl.Int64, "snils": pl.String,
                                      "person_key": pl.String, "card_number": pl.String},
                        orient="row")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_blocks_find_what_rows_find(seed):
    rows = _rows(3000, seed)
    by_row = Report(filename="f.csv")
    seen = Seen(by_row)
    expected = [r[0] for r in rows if seen.first(*r)]

    by_block = Report(filename="f.csv")
    history = History(by_block)
    taken = []
    for start in range(0, len(rows), 700):
        taken += history.firsts(_frame(rows[start:start + 700]))["_line"].to_list()

    assert len(expected) < len(rows) - 50  # the corpus does repeat people
    assert taken == expected
    assert by_block.as_dict()["errors"] == by_row.as_dict()["errors"]


def test_a_new_block_is_taken_whole():
    history = History(Report(filename="f.csv"))
    first = _frame([(2, "11223344595", "a|1980-01-01", None), (3, None, "b|1980-01-01", None)])
    assert history.firsts(first).height == 2
    again = _frame([(4, None, "a|1980-01-01", None), (5, "11223344595", "c|1990-01-01", None)])
    assert history.firsts(again).height == 0
