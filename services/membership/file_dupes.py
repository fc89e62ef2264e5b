"""The same person, or the same card number, twice in one file: an error on the later row.

Row by row (`Seen`) for spreadsheets. Block by block (`History`) for national files, where nearly
every row is new: polars compares hashes of a block's SNILS, person keys and card numbers with
those of the rows taken before and within the block, and only the rows sharing one go through
`Seen`, together with the earlier rows they share it with. A dictionary of three million names
filled row by row costs the interpreter more than checking the rows did.
"""

import polars as pl

from services.common.load_report import Report
from services.membership.import_writer import same_person

IDENTITY = ("snils", "person_key", "card_number")  # the columns a person or card is known by


class Seen:
    """Who the file has named so far."""

    def __init__(self, report: Report) -> None:
        self.report = report
        self.snils: dict[str, int] = {}  # SNILS -> row
        self.keys: dict[str, tuple[int, str | None]] = {}  # name and birth -> (row, SNILS)
        self.cards: dict[str, int] = {}  # card number -> row

    def first(self, line: int, snils: str | None, key: str, card: str | None = None) -> bool:
        """Whether the row names someone (and a card) new to the file; if not, it is reported."""
        if card and card in self.cards:
            self.report.error(line, "card_number", "card_number_twice",
                              f"Этот номер билета уже в строке {self.cards[card]}")
            return False
        earlier = self.snils.get(snils) if snils else None
        if earlier is None and key in self.keys:
            prior, prior_snils = self.keys[key]
            earlier = prior if same_person(snils, prior_snils) else None
        if earlier:
            self.report.error(line, "surname", "duplicate_in_file",
                              f"Тот же человек, что в строке {earlier}")
            return False
        self.remember(line, snils, key, card)
        return True

    def remember(self, line: int, snils: str | None, key: str, card: str | None) -> None:
        self.keys.setdefault(key, (line, snils))
        if snils:
            self.snils[snils] = line
        if card:
            self.cards[card] = line


class History:
    """The rows of a national file taken so far, block by block."""

    def __init__(self, report: Report) -> None:
        self.report = report
        self.hashes = {c: pl.Series(c, [], dtype=pl.UInt64) for c in IDENTITY}
        self.taken: list[pl.DataFrame] = []  # `_line` and IDENTITY of the rows taken

    def firsts(self, rows: pl.DataFrame) -> pl.DataFrame:
        """The block's rows (with `_line` and IDENTITY, in line order) that are new to the
        file; the others are reported."""
        ident = rows.select("_line", *IDENTITY)
        doubtful = ident.filter(pl.any_horizontal(
            pl.col(c).is_not_null() & (pl.col(c).is_duplicated()
                                       | pl.col(c).hash().is_in(self.hashes[c]))
            for c in IDENTITY))
        if doubtful.height:
            seen = self._seen_before(doubtful)
            refused = [line for line, *person in doubtful.iter_rows()
                       if not seen.first(line, *person)]
            if refused:
                rows = rows.filter(~pl.col("_line").is_in(refused))
                ident = ident.filter(~pl.col("_line").is_in(refused))
        self.taken.append(ident)
        for c in IDENTITY:
            self.hashes[c].append(ident[c].drop_nulls().hash())
        return rows

    def _seen_before(self, doubtful: pl.DataFrame) -> Seen:
        """A `Seen` that knows the earlier rows sharing something with the doubtful ones."""
        seen = Seen(self.report)
        if self.taken:
            earlier = pl.concat(self.taken).filter(pl.any_horizontal(
                pl.col(c).is_in(doubtful[c].drop_nulls()) for c in IDENTITY))
            for line, snils, key, card in earlier.sort("_line").iter_rows():
                seen.remember(line, snils, key, card)
        return seen
