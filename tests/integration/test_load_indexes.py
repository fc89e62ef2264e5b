"""A big load sets the organizations' secondary indexes and foreign keys aside and makes them
again in its own transaction: they come back as they were, valid, whether the load commits or
not, and a load that cannot lock the tables at once writes into them as they are."""

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from services.registry import bulk_load, load_indexes, tree
from tests.integration.test_bulk_load import ACTOR, GOOD, to_csv


def indexes(session) -> dict[str, tuple[str, bool]]:
    """The indexes and constraints of the organizations and their versions, as defined."""
    found = session.execute(text("""
        SELECT c.relname, pg_get_indexdef(i.indexrelid), i.indisvalid
        FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
        WHERE i.indrelid IN ('registry.organization'::regclass,
                             'registry.organization_version'::regclass)
        UNION ALL
        SELECT conname, pg_get_constraintdef(oid), convalidated FROM pg_constraint
        WHERE conrelid IN ('registry.organization'::regclass,
                           'registry.organization_version'::regclass)
    """)).all()
    return {name: (definition, valid) for name, definition, valid in found}


@pytest.fixture
def set_aside(monkeypatch) -> list[list[str]]:
    """The test's seven rows count as a big load; what each load set aside is kept."""
    monkeypatch.setattr(load_indexes, "BIG_LOAD", 3)
    monkeypatch.setattr(load_indexes, "LOCK_WAIT", "200ms")
    calls: list[list[str]] = []
    real = load_indexes.set_aside
    monkeypatch.setattr(load_indexes, "set_aside",
                        lambda session: calls.append(real(session)) or calls[-1])
    return calls


def test_big_load_builds_the_indexes_again(session, set_aside):
    before = indexes(session)
    assert "organization_name_trgm" in before
    result = bulk_load.load(session, ACTOR, to_csv(GOOD), "tree.csv")
    assert result["rows_loaded"] == len(GOOD)
    [definitions] = set_aside
    assert any("gin_trgm_ops" in d for d in definitions)  # the trigram index was set aside
    assert not any("UNIQUE" in d for d in definitions)   # the keys stay
    assert any("FOREIGN KEY (org_id)" in d for d in definitions)
    assert session.execute(text("SHOW lock_timeout")).scalar_one() == "0"  # as it was
    session.commit()
    assert indexes(session) == before
    found = tree.search(session, "Кунгурская")
    assert [o["registry_number"] for o in found] == ["59-Т-1"]


def test_a_load_rolled_back_leaves_the_indexes(session, set_aside):
    before = indexes(session)
    bulk_load.load(session, ACTOR, to_csv(GOOD), "tree.csv")
    assert set_aside[0]
    session.rollback()
    assert indexes(session) == before


def test_a_reader_holding_the_table_keeps_the_indexes(session, engine, set_aside):
    before = indexes(session)
    with Session(engine) as reader, reader.begin():
        reader.execute(text("SELECT count(*) FROM registry.organization"))  # holds its lock
        result = bulk_load.load(session, ACTOR, to_csv(GOOD), "tree.csv")
        assert result["rows_loaded"] == len(GOOD)
        # the reader was waited for no longer than LOCK_WAIT, and nothing was dropped
        assert set_aside == [[]]
        assert indexes(session) == before
    session.commit()


def test_a_small_load_into_a_bigger_registry_keeps_the_indexes(session, set_aside):
    bulk_load.load(session, ACTOR, to_csv(GOOD), "tree.csv")
    session.commit()
    assert not load_indexes.worth_rebuilding(session, len(GOOD) - 1)
    assert load_indexes.worth_rebuilding(session, len(GOOD))
    assert not load_indexes.worth_rebuilding(session, 2)  # under BIG_LOAD
