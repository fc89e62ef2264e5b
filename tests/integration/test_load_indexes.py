"""A big load sets the organizations' secondary indexes and foreign keys aside and makes them
again in its own transaction: they come back as they were, valid, whether the load commits or
not, and a load that cannot lock the tables at once writes into them as they are."""

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from services.registry import bulk_load, bulk_write, load_indexes, tree
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


def scratch(session) -> bool:
    """Are there staged versions in the scratch table?"""
    return session.execute(text(f"SELECT EXISTS (SELECT FROM {bulk_write.SCRATCH})")).scalar_one()


@pytest.fixture
def set_aside(monkeypatch) -> list[load_indexes.SetAside | None]:
    """The test's seven rows count as a big load; what each load set aside is kept."""
    monkeypatch.setattr(load_indexes, "BIG_LOAD", 3)
    monkeypatch.setattr(load_indexes, "LOCK_WAIT", "200ms")
    calls: list[load_indexes.SetAside | None] = []
    real = load_indexes.set_aside
    monkeypatch.setattr(load_indexes, "set_aside",
                        lambda session: calls.append(real(session)) or calls[-1])
    return calls


def test_big_load_builds_the_indexes_again(session, set_aside):
    before = indexes(session)
    assert "organization_name_key_trgm" in before
    result = bulk_load.load(session, ACTOR, to_csv(GOOD), "tree.csv")
    assert result["rows_loaded"] == len(GOOD)
    [dropped] = set_aside
    assert any("gin_trgm_ops" in d for d in dropped.organizations)  # the trigram index
    assert any("organization_version_asof" in d for d in dropped.rest)
    assert any("FOREIGN KEY (org_id)" in d for d in dropped.rest)
    assert not any("UNIQUE" in d for d in dropped.organizations + dropped.rest)  # keys stay
    assert session.execute(text("SHOW lock_timeout")).scalar_one() == "0"  # as it was
    session.commit()
    assert indexes(session) == before
    found = tree.search(session, "Кунгурская")
    assert [o["registry_number"] for o in found] == ["59-Т-1"]
    # the versions were staged on a second connection and moved over: one each, no scratch
    versions = session.execute(text(
        "SELECT count(*), count(DISTINCT org_id), min(passport ->> 'registry_number') "
        "FROM registry.organization_version")).one()
    assert versions[:2] == (len(GOOD), len(GOOD))
    assert versions[2] is not None
    assert not scratch(session)


def test_a_load_failing_midway_empties_its_staged_versions(session, set_aside, monkeypatch):
    before = indexes(session)

    def broken(session):
        raise RuntimeError("the index build failed")
    monkeypatch.setattr(load_indexes, "rebuild_organizations", broken)  # while staging
    with pytest.raises(RuntimeError):
        bulk_load.load(session, ACTOR, to_csv(GOOD), "tree.csv")
    session.rollback()
    assert indexes(session) == before
    assert not scratch(session)
    assert session.execute(text("SELECT count(*) FROM registry.organization")).scalar_one() == 0


def test_the_next_big_load_empties_what_a_dead_one_staged(session, set_aside):
    with session.get_bind().begin() as conn:  # as a load killed after staging leaves it
        conn.execute(text(f"INSERT INTO {bulk_write.SCRATCH} VALUES "
                          "(999, 1, now(), '{}', 'imported', 'ghost')"))
    bulk_load.load(session, ACTOR, to_csv(GOOD), "tree.csv")
    session.commit()
    assert not scratch(session)
    changed_by = session.execute(text(
        "SELECT DISTINCT changed_by FROM registry.organization_version")).scalars().all()
    assert changed_by == [ACTOR]


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
        assert set_aside == [None]
        assert indexes(session) == before
    session.commit()


def test_a_small_load_into_a_bigger_registry_keeps_the_indexes(session, set_aside):
    bulk_load.load(session, ACTOR, to_csv(GOOD), "tree.csv")
    session.commit()
    assert not load_indexes.worth_rebuilding(session, len(GOOD) - 1)
    assert load_indexes.worth_rebuilding(session, len(GOOD))
    assert not load_indexes.worth_rebuilding(session, 2)  # under BIG_LOAD
