"""AsyncCommitter: awaitables, batching per event loop, many loops, cancellation."""

import asyncio
import contextvars
import sys
import threading

import pytest
from support import HANG, hold_lock, release, stop

import litecommit
from litecommit._litecommit import LoopFuture, LoopInbox

# Longer than the tests wait: a writer waiting on another process's lock waits until it is
# released.
BUSY_FOREVER_MS = 2**31 - 1


def run(coro):
    return asyncio.run(coro)


def test_basic_api(path):
    async def main():
        async with litecommit.AsyncCommitter(path) as db:
            await db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT UNIQUE)")
            r = await db.execute("INSERT INTO t (k) VALUES (?)", ("a",))
            assert isinstance(r, litecommit.Result)
            assert (r.rowcount, r.lastrowid) == (1, 1)
            rs = await db.transaction(
                [
                    ("INSERT INTO t (k) VALUES (?)", ("b",)),
                    ("UPDATE t SET k = k || '!' RETURNING k", ()),
                ]
            )
            assert sorted(rs[1].rows) == [("a!",), ("b!",)]
            assert await db.query("SELECT count(*) FROM t") == [(2,)]
            f = db.submit("INSERT INTO t (k) VALUES (?)", ("c",))
            assert isinstance(f, asyncio.Future)
            assert (await f).rowcount == 1
            f = db.submit_transaction([("DELETE FROM t WHERE k = ?", ("c",))])
            assert [r.rowcount for r in await f] == [1]
            await db.flush()
            assert (await db.checkpoint("truncate")).mode == "truncate"
            assert (await db.checkpoint()).mode == "passive"
            assert "\n# TYPE litecommit_batch_size histogram\n" in db.metrics_text()
            assert db.stats()["transactions_committed"] == 5
            with pytest.raises(litecommit.IntegrityError) as info:
                await db.execute("INSERT INTO t (k) VALUES ('a!')")
            assert info.value.code_name == "SQLITE_CONSTRAINT_UNIQUE"
            with pytest.raises(TypeError, match="parameter 1"):
                await db.execute("INSERT INTO t (k) VALUES (?)", (object(),))
        assert db.closed

    run(main())


def test_use_after_close(path):
    async def main():
        db = litecommit.AsyncCommitter(path)
        await db.close()
        await db.close()
        for call in (
            lambda: db.execute("SELECT 1"),
            lambda: db.transaction([("SELECT 1", ())]),
            lambda: db.query("SELECT 1"),
            db.flush,
            db.checkpoint,
        ):
            with pytest.raises(litecommit.ClosedError):
                await call()
        with pytest.raises(litecommit.ClosedError):
            db.submit("SELECT 1")
        with pytest.raises(litecommit.ClosedError):
            db.metrics_text()

    run(main())


def test_10000_concurrent_tasks_every_row_exactly_once(path):
    n = 10_000

    async def main():
        async with litecommit.AsyncCommitter(path) as db:
            await db.execute("CREATE TABLE r (id INTEGER PRIMARY KEY, v TEXT)")
            results = await asyncio.gather(
                *(db.execute("INSERT INTO r (id, v) VALUES (?, ?)", (i, f"v{i}")) for i in range(n))
            )
            assert all(r.rowcount == 1 for r in results)
            assert sorted(r.lastrowid for r in results) == list(range(n))
            rows = await db.query("SELECT id, v FROM r ORDER BY id")
            assert rows == [(i, f"v{i}") for i in range(n)]

    run(main())


class CountingLoop(asyncio.SelectorEventLoop):
    """Counts the threadsafe calls litecommit makes to resolve its futures."""

    def __init__(self):
        super().__init__()
        self.resolver_calls = 0
        self.resolved = 0

    def call_soon_threadsafe(self, callback, *args, **kwargs):
        if isinstance(callback, LoopInbox):
            self.resolver_calls += 1
            inbox = callback

            def callback():
                self.resolved += len(inbox)
                inbox()

        return super().call_soon_threadsafe(callback, *args, **kwargs)


def test_one_threadsafe_call_per_loop_per_batch(path):
    n = 2000
    loop = CountingLoop()

    async def main(db):
        await asyncio.gather(*(db.execute("INSERT INTO r VALUES (?)", (i,)) for i in range(n)))

    try:
        with litecommit.Committer(path) as setup:
            setup.execute("CREATE TABLE r (id INTEGER PRIMARY KEY)")
        db = litecommit.AsyncCommitter(path)
        before = db.stats()["batches"]
        loop.run_until_complete(main(db))
        batches = db.stats()["batches"] - before
        loop.run_until_complete(db.close())
    finally:
        loop.close()
    assert loop.resolved == n
    assert 1 <= loop.resolver_calls <= batches


def test_flush_resolves_the_futures_of_its_loop(path):
    async def main():
        async with litecommit.AsyncCommitter(path) as db:
            await db.execute("CREATE TABLE r (i INTEGER)")
            futures = [db.submit("INSERT INTO r VALUES (?)", (i,)) for i in range(500)]
            await db.flush()
            assert all(f.done() for f in futures)
            futures = [db.submit("INSERT INTO r VALUES (?)", (i,)) for i in range(500)]
        assert all(f.done() for f in futures)  # close() resolved them

    run(main())


def test_several_event_loops_in_several_threads(path):
    loops, per_loop = 4, 500
    with litecommit.Committer(path) as setup:
        setup.execute("CREATE TABLE r (loop INTEGER, i INTEGER, PRIMARY KEY (loop, i))")
    db = litecommit.AsyncCommitter(path)
    errors = []
    start = threading.Barrier(loops)

    def worker(n):
        async def main():
            await asyncio.gather(
                *(db.execute("INSERT INTO r VALUES (?, ?)", (n, i)) for i in range(per_loop))
            )
            assert await db.query("SELECT count(*) FROM r WHERE loop = ?", (n,)) == [(per_loop,)]

        try:
            start.wait()
            asyncio.run(main())
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(loops)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    run(db.close())
    with litecommit.Committer(path) as check:
        assert check.query("SELECT count(*), count(DISTINCT loop) FROM r") == [
            (loops * per_loop, loops)
        ]


def test_each_transaction_resolves_on_the_loop_running_where_it_was_awaited(path):
    # Loop `a` runs here, then on another thread while this one runs loop `b`: a loop found
    # running here before must not be taken for this thread's loop once it runs elsewhere.
    db = litecommit.AsyncCommitter(path)
    a = asyncio.new_event_loop()
    a.run_until_complete(db.execute("CREATE TABLE t (loop TEXT)"))
    a_runs = threading.Event()
    a.call_soon(a_runs.set)
    elsewhere = threading.Thread(target=a.run_forever)
    elsewhere.start()
    try:
        assert a_runs.wait(HANG)

        async def insert(name):
            await db.execute("INSERT INTO t VALUES (?)", (name,))
            return asyncio.get_running_loop()

        b_loop = run(insert("b"))
        assert b_loop is not a
        on_a = asyncio.run_coroutine_threadsafe(insert("a"), a)
        assert on_a.result(HANG) is a
        assert run(insert("c")) is not a
    finally:
        a.call_soon_threadsafe(a.stop)
        elsewhere.join()
        a.close()
    run(db.close())
    with litecommit.Committer(path) as check:
        assert check.query("SELECT loop FROM t ORDER BY rowid") == [("b",), ("a",), ("c",)]


@pytest.mark.parametrize("full_queue", [False, True])
def test_cancelling_awaiting_tasks_corrupts_nothing(path, full_queue):
    n = 2000
    config = {"queue_capacity": 2, "max_batch_size": 4} if full_queue else {}

    async def main():
        async with litecommit.AsyncCommitter(path, **config) as db:
            await db.execute("CREATE TABLE r (id INTEGER PRIMARY KEY, k TEXT UNIQUE)")
            await db.execute("INSERT INTO r (k) VALUES ('taken')")
            tasks = []
            for i in range(n):
                # Every tenth transaction fails, so cancelled tasks also drop errors.
                k = "taken" if i % 10 == 0 else f"k{i}"
                tasks.append(
                    asyncio.ensure_future(db.execute("INSERT INTO r (k) VALUES (?)", (k,)))
                )
            await asyncio.sleep(0)  # let every task submit
            for t in tasks[::2]:
                t.cancel()
            outcomes = await asyncio.gather(*tasks, return_exceptions=True)
            await db.flush()
            for i, (task, outcome) in enumerate(zip(tasks, outcomes, strict=True)):
                if i % 2 == 0:
                    assert task.cancelled() or isinstance(
                        outcome, (litecommit.Result, litecommit.IntegrityError)
                    )
                elif i % 10 == 0:
                    assert isinstance(outcome, litecommit.IntegrityError)
                else:
                    assert outcome.rowcount == 1
            # Cancelled or not, each queued transaction committed exactly once. With a full
            # queue, a cancelled task may be withdrawn before its transaction was queued.
            keys = [k for (k,) in await db.query("SELECT k FROM r")]
            kept = {"taken"} | {f"k{i}" for i in range(n) if i % 2}
            cancelled = {f"k{i}" for i in range(n) if i % 2 == 0 and i % 10}
            assert len(keys) == len(set(keys))
            if full_queue:
                assert kept <= set(keys) <= kept | cancelled
            else:
                assert set(keys) == kept | cancelled
            # And the committer still works.
            assert (await db.execute("INSERT INTO r (k) VALUES ('after')")).rowcount == 1

    run(main())


def test_full_queue_awaits_instead_of_failing(path):
    n = 500

    async def main():
        async with litecommit.AsyncCommitter(path, queue_capacity=1, max_batch_size=4) as db:
            await db.execute("CREATE TABLE r (id INTEGER PRIMARY KEY)")
            insert = "INSERT INTO r VALUES (?)"
            results = await asyncio.gather(
                *(
                    db.execute(insert, (i,)) if i % 2 else db.transaction([(insert, (i,))])
                    for i in range(n)
                )
            )
            assert [type(r) for r in results[:2]] == [list, litecommit.Result]
            assert await db.query("SELECT count(*) FROM r") == [(n,)]
            # Submissions met the full queue and waited for room off the loop.
            assert asyncio.get_running_loop() in db._overflow

    run(main())


def test_close_resolves_pending_futures(path):
    async def main():
        db = litecommit.AsyncCommitter(path)
        await db.execute("CREATE TABLE r (x)")
        futures = [db.submit("INSERT INTO r VALUES (?)", (i,)) for i in range(500)]
        await db.close()
        results = await asyncio.gather(*futures)
        assert all(r.rowcount == 1 for r in results)

    run(main())


def test_full_queue_keeps_the_loops_submission_order(path):
    n = 2000

    async def main():
        async with litecommit.AsyncCommitter(path, queue_capacity=2, max_batch_size=4) as db:
            await db.execute("CREATE TABLE r (id INTEGER PRIMARY KEY, i INTEGER)")
            futures = [db.submit("INSERT INTO r (i) VALUES (?)", (i,)) for i in range(n)]
            ids = [r.lastrowid for r in await asyncio.gather(*futures)]
            assert ids == sorted(ids)
            assert asyncio.get_running_loop() in db._overflow  # the queue was full
            rows = await db.query("SELECT i FROM r ORDER BY id")
            assert rows == [(i,) for i in range(n)]

    run(main())


@pytest.mark.parametrize("barrier", ["flush", "close"])
def test_flush_and_close_wait_for_submissions_waiting_for_room(path, barrier):
    n = 1000

    async def main():
        db = litecommit.AsyncCommitter(path, queue_capacity=2, max_batch_size=4)
        await db.execute("CREATE TABLE r (id INTEGER PRIMARY KEY)")
        futures = [db.submit("INSERT INTO r VALUES (?)", (i,)) for i in range(n)]
        await getattr(db, barrier)()
        assert asyncio.get_running_loop() in db._overflow  # some waited for room
        assert all(f.done() for f in futures)
        assert all(r.rowcount == 1 for r in await asyncio.gather(*futures))
        await db.close()

    run(main())
    with litecommit.Committer(path) as check:
        assert check.query("SELECT count(*) FROM r") == [(n,)]


def test_execute_resumes_its_task_in_the_tasks_own_context(path):
    """`execute` and `transaction` wake their task without a `call_soon` per transaction;
    the task still resumes as itself, in its own context, with its own result."""
    request = contextvars.ContextVar("request")

    async def one(db, i):
        request.set(i)
        me = asyncio.current_task()
        r = await db.execute("INSERT INTO r (k) VALUES (?)", (f"k{i}",))
        assert (request.get(), asyncio.current_task()) == (i, me)
        (rs,) = await db.transaction([("INSERT INTO r (k) VALUES (?)", (f"t{i}",))])
        assert (request.get(), asyncio.current_task()) == (i, me)
        return r.lastrowid, rs.lastrowid

    async def main():
        async with litecommit.AsyncCommitter(path) as db:
            await db.execute("CREATE TABLE r (id INTEGER PRIMARY KEY, k TEXT)")
            coro = db.execute("SELECT 1")
            assert asyncio.iscoroutine(coro)
            assert (await asyncio.create_task(coro)).rows == [(1,)]
            ids = await asyncio.gather(*(one(db, i) for i in range(200)))
            rows = dict(await db.query("SELECT k, id FROM r"))
            assert ids == [(rows[f"k{i}"], rows[f"t{i}"]) for i in range(200)]

    run(main())


def test_a_timed_out_execute_stops_waiting_at_once_and_still_commits(path):
    with litecommit.Committer(path) as db:
        db.execute("CREATE TABLE r (i INTEGER)")
    holder = hold_lock(path, "BEGIN IMMEDIATE", "INSERT INTO r VALUES (0)")

    async def main():
        async with litecommit.AsyncCommitter(path, busy_timeout_ms=BUSY_FOREVER_MS) as db:
            # The writer waits for the other process's lock: no commit can resolve this.
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(db.execute("INSERT INTO r VALUES (1)"), 0.01)
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(db.transaction([("INSERT INTO r VALUES (2)", ())]), 0.01)
            release(holder)
            await db.flush()
            return await db.query("SELECT i FROM r ORDER BY i")

    try:
        assert run(main()) == [(0,), (1,), (2,)]
    finally:
        stop(holder)


def test_an_exit_raised_by_a_woken_task_stops_the_loop(path):
    """A task woken by a commit runs inside the loop's inbox callback; SystemExit and
    KeyboardInterrupt still leave the loop, as they would from any callback."""

    async def main():
        async with litecommit.AsyncCommitter(path) as db:
            await db.execute("CREATE TABLE r (i INTEGER)")

            async def one(i):
                await db.execute("INSERT INTO r VALUES (?)", (i,))
                if i == 3:
                    raise SystemExit(7)

            await asyncio.gather(*(one(i) for i in range(10)))

    with pytest.raises(SystemExit) as info:
        run(main())
    assert info.value.code == 7
    with litecommit.Committer(path) as db:
        assert db.query("SELECT count(*) FROM r") == [(10,)]


def test_what_execute_returns_is_a_coroutine_until_awaited_then_a_future(path):
    """What `execute` returns: a coroutine until first awaited (nothing is queued), then a
    future of the loop that speaks asyncio's future protocol."""
    errors = []

    async def main():
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(lambda _loop, context: errors.append(context))
        async with litecommit.AsyncCommitter(path, busy_timeout_ms=BUSY_FOREVER_MS) as db:
            await db.execute("CREATE TABLE r (i INTEGER PRIMARY KEY)")
            never = db.execute("INSERT INTO r VALUES (7)")
            assert isinstance(never, LoopFuture) and asyncio.iscoroutine(never)
            assert not asyncio.isfuture(never) and not never.done()
            with pytest.raises(asyncio.InvalidStateError):
                never.get_loop()
            never.close()
            assert never.cancelled()

            # Another process's lock keeps the writer from resolving it while it is looked at.
            holder = hold_lock(path, "BEGIN IMMEDIATE")
            try:
                f = db.execute("INSERT INTO r VALUES (1)")
                task = asyncio.ensure_future(f)  # a task of its own steps it: queued
                assert task is not f
                await asyncio.sleep(0)
                assert asyncio.isfuture(f)
                assert (f.get_loop(), f.done(), f.cancelled()) == (loop, False, False)
                with pytest.raises(asyncio.InvalidStateError):
                    f.result()
                seen = []
                f.add_done_callback(seen.append)
                f.add_done_callback(lambda _f: 1 / 0)
                # A task's own method other than its wake-up is handed the future itself too.
                idle = asyncio.ensure_future(asyncio.sleep(HANG))
                f.add_done_callback(idle.cancel)
                assert f.remove_done_callback(print) == 0
            finally:
                release(holder)
                holder.wait(timeout=HANG)
            assert (await task).rowcount == 1
            assert (f.result().rowcount, f.exception(), seen) == (1, None, [f])
            assert (await f).rowcount == 1  # awaited again: the same value
            with pytest.raises(asyncio.CancelledError) as cancelled:
                await idle
            if sys.version_info >= (3, 11):  # before, a task's cancel message stays inside it
                assert cancelled.value.args == (f,)
            assert [type(c["exception"]) for c in errors] == [ZeroDivisionError]
            assert not f.cancel()
            with pytest.raises(asyncio.InvalidStateError):
                f.set_result(None)
            late = loop.create_future()
            f.add_done_callback(late.set_result)  # scheduled: f is done
            assert await late is f

            failed = db.execute("INSERT INTO r VALUES (1)")
            with pytest.raises(litecommit.IntegrityError):
                await failed
            assert isinstance(failed.exception(), litecommit.IntegrityError)

            # Cancelled, or failed by Python code (as a forked child does), it wakes its
            # awaiting task through the loop; its transaction may still commit. Another
            # process's lock keeps the writer from resolving either first.
            holder = hold_lock(path, "BEGIN IMMEDIATE")
            try:
                for end in ("cancel", "set_exception"):
                    f = db.execute("INSERT INTO r VALUES (NULL)")
                    task = asyncio.ensure_future(_await(f))
                    await asyncio.sleep(0)
                    if end == "cancel":
                        assert f.cancel("stop")
                        with pytest.raises(asyncio.CancelledError):
                            await task
                        assert f.cancelled()
                    else:
                        f.set_exception(RuntimeError("failed by hand"))
                        with pytest.raises(RuntimeError, match="failed by hand"):
                            await task
            finally:
                release(holder)
                holder.wait(timeout=HANG)
            await db.flush()
            assert await db.query("SELECT count(*) FROM r") == [(3,)]

    run(main())


def test_execute_goes_wherever_asyncio_takes_a_coroutine(path):
    """`asyncio.run`, `create_task`, `gather` and `wait_for` take what `execute` and
    `transaction` return; one dropped without being awaited queues nothing."""
    db = litecommit.AsyncCommitter(path, busy_timeout_ms=BUSY_FOREVER_MS)
    assert run(db.execute("CREATE TABLE r (i INTEGER PRIMARY KEY)")).rowcount == 0

    async def main():
        with pytest.warns(RuntimeWarning, match=r"execute\(\) was never awaited"):
            db.execute("INSERT INTO r VALUES (100)")  # dropped at once
        # Dropped while an exception propagates: the warning leaves the exception alone.
        with pytest.warns(RuntimeWarning, match="never awaited"):
            with pytest.raises(ZeroDivisionError):
                [db.execute("INSERT INTO r VALUES (101)"), 1 / 0]
        task = asyncio.create_task(db.execute("INSERT INTO r VALUES (1)"))
        both = await asyncio.gather(
            db.execute("INSERT INTO r VALUES (2) RETURNING i"),
            db.transaction([("INSERT INTO r VALUES (3)", ()), ("INSERT INTO r VALUES (4)", ())]),
        )
        assert [both[0].rows, len(both[1])] == [[(2,)], 2]
        assert (await task).rowcount == 1
        assert (await asyncio.wait_for(db.execute("INSERT INTO r VALUES (5)"), HANG)).rowcount
        with pytest.raises(litecommit.IntegrityError):
            await asyncio.create_task(db.execute("INSERT INTO r VALUES (5)"))

        # A task cancelled while its transaction is queued: the transaction still commits.
        holder = hold_lock(path, "BEGIN IMMEDIATE")
        try:
            task = asyncio.create_task(db.execute("INSERT INTO r VALUES (6)"))
            await asyncio.sleep(0)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        finally:
            release(holder)
            holder.wait(timeout=HANG)
        await db.flush()
        return await db.query("SELECT i FROM r ORDER BY i")

    assert run(main()) == [(1,), (2,), (3,), (4,), (5,), (6,)]
    run(db.close())


@pytest.mark.parametrize("full_queue", [False, True])
def test_asyncios_pure_python_task_drives_execute_too(path, full_queue):
    """asyncio's pure-Python task steps a coroutine with `send` and reads futures through
    their methods; `execute` and `transaction` run under it as under the C task, also when
    they wait for room."""
    config = {"queue_capacity": 1, "max_batch_size": 4} if full_queue else {}

    def python_task(loop, coro, **options):
        return asyncio.tasks._PyTask(coro, loop=loop, **options)

    async def main():
        loop = asyncio.get_running_loop()
        loop.set_task_factory(python_task)
        async with litecommit.AsyncCommitter(path, **config) as db:
            await db.execute("CREATE TABLE r (i INTEGER PRIMARY KEY)")
            insert = "INSERT INTO r VALUES (?) RETURNING i"
            tasks = [asyncio.create_task(db.execute(insert, (i,))) for i in range(200)]
            assert {type(t) for t in tasks} == {asyncio.tasks._PyTask}
            results = await asyncio.gather(*tasks)
            assert [r.rows for r in results] == [[(i,)] for i in range(200)]
            with pytest.raises(litecommit.IntegrityError):
                await asyncio.create_task(db.transaction([(insert, (0,))]))
            assert (loop in db._overflow) == full_queue

    run(main())


async def _await(future):
    return await future
