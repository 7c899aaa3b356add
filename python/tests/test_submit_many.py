"""submit_many: one independent transaction per parameter set, all queued by one call."""

import asyncio
import concurrent.futures
import threading

import pytest
from support import HANG, hold_lock, release, stop, wait_until

import litecommit

BUSY_FOREVER_MS = 2**31 - 1
INSERT = "INSERT INTO r VALUES (?)"
# The writer takes one transaction per batch, so a full queue stays full while another
# process holds the write lock.
ONE_PER_BATCH = {"max_batch_size": 1, "dynamic_batch_size": False}


def test_one_future_per_set_each_its_own_transaction(db):
    futures = db.submit_many(
        "INSERT INTO t (k, v) VALUES (?, ?)", [("a", 1), ("b", 2), ("a", 3), ("c", 4)]
    )
    assert len(futures) == 4
    assert all(isinstance(f, concurrent.futures.Future) for f in futures)
    concurrent.futures.wait(futures, timeout=HANG)
    assert [futures[i].result().lastrowid for i in (0, 1, 3)] == [1, 2, 3]
    with pytest.raises(litecommit.IntegrityError) as info:
        futures[2].result()
    assert info.value.statement_index == 0
    # The failing set took nothing else with it.
    assert db.query("SELECT k, v FROM t ORDER BY id") == [("a", 1), ("b", 2), ("c", 4)]
    assert not futures[0].cancel()  # in flight from the start, as with submit


def test_any_iterable_named_parameters_and_returning(db):
    sets = ({"k": f"k{i}", "v": i} for i in range(300))
    futures = db.submit_many("INSERT INTO t (k, v) VALUES (:k, :v) RETURNING id, v", sets)
    assert [f.result(timeout=HANG).rows for f in futures] == [[(i + 1, i)] for i in range(300)]
    assert db.submit_many("DELETE FROM t", []) == []


def test_errors_of_the_whole_call_raise_and_queue_nothing(db):
    # Every set is converted before any is queued.
    with pytest.raises(TypeError, match="statement 2, parameter 1: unsupported type 'list'"):
        db.submit_many("INSERT INTO t (k) VALUES (?)", [("a",), ("b",), ([],)])
    with pytest.raises(litecommit.ProgrammingError, match="COMMIT"):
        db.submit_many("COMMIT", [(), ()])
    db.flush()
    assert db.query("SELECT count(*) FROM t") == [(0,)]
    db.close()
    with pytest.raises(litecommit.ClosedError):
        db.submit_many("INSERT INTO t (k) VALUES (?)", [("c",)])


@pytest.fixture
def locked(path):
    """Table `r`, and another process holding the write lock (having inserted -1)."""
    with litecommit.Committer(path) as setup:
        setup.execute("CREATE TABLE r (i INTEGER)")
    holder = hold_lock(path, "BEGIN IMMEDIATE", "INSERT INTO r VALUES (-1)")
    try:
        yield holder
    finally:
        stop(holder)


def stuck_committer(path, capacity):
    """A committer whose writer holds transaction 0 as its batch, waiting for the lock, with
    `capacity` free slots in its queue."""
    db = litecommit.Committer(
        path, busy_timeout_ms=BUSY_FOREVER_MS, queue_capacity=capacity, **ONE_PER_BATCH
    )
    db.submit(INSERT, (0,))
    wait_until(lambda: db.stats()["queue_length"] == 0, "the writer taking its batch")
    return db


def test_waits_for_room_then_queues_the_rest_in_order(path, locked):
    with stuck_committer(path, 3) as db:
        out = []
        t = threading.Thread(
            target=lambda: out.append(db.submit_many(INSERT, [(i,) for i in range(1, 11)]))
        )
        t.start()
        wait_until(lambda: db._native._waiting == 1, "submit_many waiting for room")
        assert db.stats()["queue_length"] == 3
        assert out == [] and t.is_alive()
        release(locked)
        t.join(HANG)
        assert [f.result(timeout=HANG).rowcount for f in out[0]] == [1] * 10
        assert db.query("SELECT i FROM r ORDER BY rowid") == [(i,) for i in range(-1, 11)]


def test_without_blocking_the_sets_that_do_not_fit_fail(path, locked):
    with stuck_committer(path, 3) as db:
        futures = db.submit_many(INSERT, [(i,) for i in range(1, 6)], block=False)
        # Three fit; the others have failed by the time the call returns.
        assert [f.done() for f in futures] == [False] * 3 + [True] * 2
        for f in futures[3:]:
            assert isinstance(f.exception(), litecommit.QueueFullError)
        # Nothing fits any more: the call raises, as submit does.
        with pytest.raises(litecommit.QueueFullError):
            db.submit_many(INSERT, [(9,)], block=False)
        release(locked)
        assert [f.result(timeout=HANG).rowcount for f in futures[:3]] == [1] * 3
        assert db.query("SELECT i FROM r ORDER BY rowid") == [(i,) for i in range(-1, 4)]


def test_async_futures_fail_independently(path):
    async def main():
        async with litecommit.AsyncCommitter(path) as db:
            await db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT UNIQUE)")
            futures = db.submit_many("INSERT INTO t (k) VALUES (?)", [("a",), ("b",), ("a",)])
            assert all(isinstance(f, asyncio.Future) for f in futures)
            results = await asyncio.gather(*futures, return_exceptions=True)
            assert [r.lastrowid for r in results[:2]] == [1, 2]
            assert isinstance(results[2], litecommit.IntegrityError)
            with pytest.raises(TypeError, match="statement 1, parameter 1"):
                db.submit_many("INSERT INTO t (k) VALUES (?)", [("c",), (object(),)])
            assert await db.query("SELECT k FROM t ORDER BY id") == [("a",), ("b",)]

    asyncio.run(main())


def test_async_rest_waits_for_room_off_the_loop_in_order(path, locked):
    async def main():
        db = litecommit.AsyncCommitter(
            path, busy_timeout_ms=BUSY_FOREVER_MS, queue_capacity=2, **ONE_PER_BATCH
        )
        first = db.submit(INSERT, (0,))
        wait_until(lambda: db.stats()["queue_length"] == 0, "the writer taking its batch")
        futures = db.submit_many(INSERT, [(i,) for i in range(1, 51)])
        later = db.submit(INSERT, (51,))  # queued behind the whole batch
        # Two fitted; the overflow worker waits for room for the rest, off the loop.
        wait_until(lambda: db._native._waiting == 1, "the overflow worker waiting for room")
        assert db.stats()["queue_length"] == 2
        release(locked)
        await db.flush()  # waits for the rest to be queued and committed
        assert all(f.done() for f in [first, *futures, later])
        assert (await later).rowcount == 1
        assert await db.query("SELECT i FROM r ORDER BY rowid") == [(i,) for i in range(-1, 52)]
        await db.close()

    asyncio.run(main())
