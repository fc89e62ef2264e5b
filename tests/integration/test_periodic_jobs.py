"""Replicas of a service each run its timers: a job that must run once at a time goes to one
of them (services.common.db.Db.alone), and is free again when that one is done or dies."""

from sqlalchemy import text

from services.common.db import Db, make_engine
from tests.support.waiting import wait_until


def test_one_replica_takes_a_periodic_job_at_a_time(database):
    first, second = Db(make_engine(database, 2)), Db(make_engine(database, 2))
    try:
        with first.alone("cards.batches") as mine:
            assert mine
            with second.alone("cards.batches") as theirs:
                assert not theirs           # the other replica skips this turn
            with second.alone("reports.quality") as other_job:
                assert other_job            # another job is not held up
        with second.alone("cards.batches") as theirs:
            assert theirs                   # released when the first is done
    finally:
        first.engine.dispose()
        second.engine.dispose()


def test_a_dead_replica_does_not_hold_the_job(database):
    dying, replica = make_engine(database, 2), Db(make_engine(database, 2))
    try:
        conn = dying.connect()
        conn.execute(text("SELECT pg_advisory_lock(hashtext('cards.batches'))"))
        with replica.alone("cards.batches") as theirs:
            assert not theirs
        conn.invalidate()  # the replica that held it dies: its connection closes
        assert wait_until(lambda: _takes(replica), 10)
    finally:
        dying.dispose()
        replica.engine.dispose()


def _takes(db: Db) -> bool:
    with db.alone("cards.batches") as mine:
        return mine
