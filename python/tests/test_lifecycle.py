"""Committers garbage-collected or left open at exit drain their queue without hanging,
blocking calls release the GIL, and a full queue refuses or waits. Each exit scenario runs
in its own interpreter."""

import threading

import pytest
from support import HANG, hold_lock, release, run_python, stop, wait_until

import litecommit

# The largest busy timeout allowed: longer than HANG, so a writer waiting on another
# process's lock keeps waiting until the test releases it.
BUSY_FOREVER_MS = 2**31 - 1


def count(path):
    with litecommit.Committer(path) as db:
        return db.query("SELECT count(*), count(DISTINCT i) FROM r")[0]


def test_garbage_collected_without_close(path):
    proc = run_python(
        """
        import concurrent.futures, gc, sys, weakref
        import litecommit
        db = litecommit.Committer(sys.argv[1])
        db.execute("CREATE TABLE r (i INTEGER PRIMARY KEY)")
        futures = [db.submit("INSERT INTO r VALUES (?)", (i,)) for i in range(2000)]
        ref = weakref.ref(db)
        db.cycle = db  # only the cycle collector can free it
        del db
        # As if the collector ran inside futures[-1].result(), which holds that future's
        # lock: resolving it must not be waited for there.
        with futures[-1]._condition:
            gc.collect()
        assert ref() is None, "the committer was not collected"
        _, not_done = concurrent.futures.wait(futures, timeout=60)
        assert not not_done and all(f.exception() is None for f in futures)
        print("collected")
        """,
        path,
    )
    assert "collected" in proc.stdout
    assert count(path) == (2000, 2000)


def test_left_open_at_interpreter_exit(path):
    run_python(
        """
        import sys
        import litecommit
        db = litecommit.Committer(sys.argv[1])
        db.execute("CREATE TABLE r (i INTEGER PRIMARY KEY)")
        for i in range(2000):
            db.submit("INSERT INTO r VALUES (?)", (i,))
        """,
        path,
    )
    assert count(path) == (2000, 2000)


def test_async_committer_left_open_at_exit(path):
    run_python(
        """
        import asyncio, sys
        import litecommit
        db = litecommit.AsyncCommitter(sys.argv[1])

        async def main():
            await db.execute("CREATE TABLE r (i INTEGER PRIMARY KEY)")
            # Queued, never awaited; the loop is closed before they resolve.
            for i in range(2000):
                db.submit("INSERT INTO r VALUES (?)", (i,))

        asyncio.run(main())
        """,
        path,
    )
    assert count(path) == (2000, 2000)


def test_open_committer_in_a_reference_cycle_at_exit(path):
    run_python(
        """
        import sys
        import litecommit
        db = litecommit.Committer(sys.argv[1])
        db.cycle = db
        db.execute("CREATE TABLE r (i INTEGER PRIMARY KEY)")
        futures = [db.submit("INSERT INTO r VALUES (?)", (i,)) for i in range(500)]
        futures[-1].add_done_callback(lambda f: None)
        del db
        """,
        path,
    )
    assert count(path) == (500, 500)


def hold_write_lock(path):
    """Another process holds the write lock (and has inserted -1) until `release`."""
    return hold_lock(path, "BEGIN IMMEDIATE", "INSERT INTO r VALUES (-1)")


def test_full_queue(path):
    """The writer is stuck on a batch of one (another process holds the write lock), so a
    queue of capacity 3 holds exactly the next 3: a fifth submission is refused, or waits
    until there is room."""
    with litecommit.Committer(path) as setup:
        setup.execute("CREATE TABLE r (i INTEGER)")
    holder = hold_write_lock(path)
    try:
        config = {"queue_capacity": 3, "max_batch_size": 1, "dynamic_batch_size": False}
        with litecommit.Committer(path, busy_timeout_ms=BUSY_FOREVER_MS, **config) as db:
            # A blocking submit returns once its transaction is in the queue. The fourth
            # finds room only after the writer has taken the first as its batch of one;
            # the writer then waits for the lock with three transactions queued.
            accepted = [db.submit("INSERT INTO r VALUES (?)", (i,)) for i in range(4)]
            with pytest.raises(litecommit.QueueFullError):
                db.submit("INSERT INTO r VALUES (100)", block=False)
            with pytest.raises(litecommit.QueueFullError):
                db.submit_transaction([("INSERT INTO r VALUES (101)", ())], block=False)
            # A blocking submit waits for room (with the GIL released).
            waited = []
            t = threading.Thread(
                target=lambda: waited.append(db.submit("INSERT INTO r VALUES (4)"))
            )
            t.start()
            wait_until(lambda: db._native._waiting == 1, "the blocking submit waiting")
            assert waited == [] and t.is_alive()
            assert not any(f.done() for f in accepted)
            release(holder)
            t.join(HANG)
            accepted += waited
            assert [f.result(timeout=HANG).rowcount for f in accepted] == [1] * 5
            # One batch each, and the refused submissions left nothing behind.
            stats = db.stats()
            assert (stats["batches"], stats["max_batch_size"]) == (5, 1)
            assert sorted(db.query("SELECT i FROM r")) == [(i,) for i in range(-1, 5)]
    finally:
        stop(holder)


def test_waiting_releases_the_gil(path):
    """A thread waits in execute() while another process holds the write lock. This
    thread sees that call waiting (the committer counts the calls that wait with the GIL
    released) and only then lets the lock go. Were the GIL held while execute() waits,
    this thread could not run until the busy timeout failed the call."""
    with litecommit.Committer(path) as setup:
        setup.execute("CREATE TABLE r (i INTEGER)")
    holder = hold_write_lock(path)
    try:
        with litecommit.Committer(path, busy_timeout_ms=BUSY_FOREVER_MS) as db:
            outcome = []
            t = threading.Thread(
                target=lambda: outcome.append(db.execute("INSERT INTO r VALUES (1)").rowcount)
            )
            t.start()
            wait_until(lambda: db._native._waiting == 1, "execute() waiting")
            assert outcome == [] and t.is_alive()
            release(holder)
            t.join(HANG)
            assert outcome == [1]
            assert db._native._waiting == 0
            assert sorted(db.query("SELECT i FROM r")) == [(-1,), (1,)]
    finally:
        stop(holder)


def test_second_close_waits_for_the_first(path):
    """close() is idempotent, and returns only once everything is committed even when
    another thread's close() is still at work (stuck here behind another process's lock)."""
    with litecommit.Committer(path) as setup:
        setup.execute("CREATE TABLE r (i INTEGER)")
    holder = hold_write_lock(path)
    try:
        db = litecommit.Committer(path, busy_timeout_ms=BUSY_FOREVER_MS)
        futures = [db.submit("INSERT INTO r VALUES (?)", (i,)) for i in range(100)]
        first = threading.Thread(target=db.close)
        first.start()
        wait_until(lambda: db._native._waiting == 1, "the first close() at work")
        seen = []
        second = threading.Thread(
            target=lambda: (db.close(), seen.append(sum(f.done() for f in futures)))
        )
        second.start()
        # Both calls are in close() at once: the first cannot finish while the lock is held.
        wait_until(lambda: db._native._waiting == 2, "the second close() at work")
        assert not any(f.done() for f in futures)
        assert first.is_alive() and second.is_alive()
        release(holder)
        first.join(HANG)
        second.join(HANG)
        assert seen == [len(futures)]
        assert all(f.exception() is None for f in futures)
    finally:
        stop(holder)
