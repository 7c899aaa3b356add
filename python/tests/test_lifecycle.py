"""Committers garbage-collected or left open at exit drain their queue without hanging,
and blocking calls release the GIL. Each scenario runs in its own interpreter."""

import subprocess
import sys
import textwrap
import threading
import time

import pytest

import litecommit

# Generous: only there so that a hang fails the test instead of blocking the suite.
HANG = 120


def run_python(code, *args):
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=HANG,
    )
    assert proc.returncode == 0, proc.stderr
    return proc


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
    """Another process takes the write lock and keeps it until `release`: the writer is stuck."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, path],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "locked"
    return holder


HOLDER = """
import sqlite3, sys
con = sqlite3.connect(sys.argv[1], isolation_level=None)
con.execute("BEGIN IMMEDIATE")
con.execute("INSERT INTO r VALUES (-1)")
print("locked", flush=True)
sys.stdin.readline()
con.execute("COMMIT")
"""


def release(holder):
    holder.stdin.write("go\n")
    holder.stdin.flush()


def test_full_queue(path):
    with litecommit.Committer(path) as setup:
        setup.execute("CREATE TABLE r (i INTEGER)")
    holder = hold_write_lock(path)
    try:
        with litecommit.Committer(path, queue_capacity=2, busy_timeout_ms=60_000) as db:
            accepted = []
            with pytest.raises(litecommit.QueueFullError):
                # The writer gets stuck on its first batch, so the queue fills up.
                for i in range(100):
                    accepted.append(db.submit("INSERT INTO r VALUES (?)", (i,), block=False))
            assert 2 <= len(accepted) < 100
            # The writer may still have been taking a few into its batch when the queue
            # first filled; once it waits for the lock, the queue stays full.
            more = []
            with pytest.raises(litecommit.QueueFullError):
                for _ in range(100):
                    tx = [("INSERT INTO r VALUES (0)", ())]
                    more.append(db.submit_transaction(tx, block=False))
            assert len(more) < 100
            release(holder)
            assert all(f.result(timeout=HANG).rowcount == 1 for f in accepted)
            assert all(f.result(timeout=HANG)[0].rowcount == 1 for f in more)
            accepted += more
            # The refused submissions left nothing behind.
            assert db.query("SELECT count(*) FROM r") == [(len(accepted) + 1,)]
    finally:
        holder.kill()
        holder.wait()


def test_waiting_releases_the_gil(path):
    """A separate process holds the write lock, so the commit below cannot finish until
    this (main) thread runs Python again and tells it to let go: that only works if the
    thread waiting in execute() released the GIL."""
    with litecommit.Committer(path) as setup:
        setup.execute("CREATE TABLE r (i INTEGER)")
    holder = hold_write_lock(path)
    try:
        with litecommit.Committer(path, busy_timeout_ms=60_000) as db:
            outcome = []
            about_to_wait = threading.Event()

            def writer():
                about_to_wait.set()
                outcome.append(db.execute("INSERT INTO r VALUES (1)").rowcount)

            t = threading.Thread(target=writer)
            t.start()
            assert about_to_wait.wait(HANG)
            release(holder)
            t.join(HANG)
            assert outcome == [1]
            assert sorted(db.query("SELECT i FROM r")) == [(-1,), (1,)]
    finally:
        holder.kill()
        holder.wait()


def test_second_close_waits_for_the_first(path):
    """close() is idempotent, and returns only once everything is committed even when
    another thread's close() is still at work (stuck here behind another process's lock)."""
    with litecommit.Committer(path) as setup:
        setup.execute("CREATE TABLE r (i INTEGER)")
    holder = hold_write_lock(path)
    try:
        db = litecommit.Committer(path, busy_timeout_ms=60_000)
        futures = [db.submit("INSERT INTO r VALUES (?)", (i,)) for i in range(100)]
        first = threading.Thread(target=db.close)
        first.start()
        deadline = time.monotonic() + HANG
        while not db.closed:  # the first close() has begun
            assert time.monotonic() < deadline
            time.sleep(0.001)
        seen = []
        second = threading.Thread(
            target=lambda: (db.close(), seen.append(sum(f.done() for f in futures)))
        )
        second.start()
        release(holder)
        first.join(HANG)
        second.join(HANG)
        assert seen == [len(futures)]
        assert all(f.exception() is None for f in futures)
    finally:
        holder.kill()
        holder.wait()
