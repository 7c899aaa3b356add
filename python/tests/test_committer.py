"""The blocking Committer: every method, results, futures, close."""

import concurrent.futures
import os
import threading

import pytest
from support import HANG

import litecommit


def test_execute_returns_result(db):
    r = db.execute("INSERT INTO t (k, v) VALUES (?, ?)", ("a", 1))
    assert isinstance(r, litecommit.Result)
    assert (r.rowcount, r.lastrowid, r.rows) == (1, 1, [])
    r = db.execute("UPDATE t SET v = v + 1 WHERE k = ? RETURNING id, v", ["a"])
    assert r.rowcount == 1
    assert r.rows == [(1, 2)]
    assert r.columns == ("id", "v")
    assert "rowcount=1" in repr(r)


def test_execute_without_params(db):
    assert db.execute("DELETE FROM t").rowcount == 0
    assert db.execute("DELETE FROM t", None).rowcount == 0


def test_transaction_returns_one_result_per_statement(db):
    rs = db.transaction(
        [
            ("INSERT INTO t (k, v) VALUES (?, ?)", ("a", 1)),
            ("INSERT INTO t (k, v) VALUES (:k, :v)", {"k": "b", "v": 2}),
            "INSERT INTO t (k, v) VALUES ('c', 3)",
            ("UPDATE t SET v = v * 10 RETURNING k, v",),
        ]
    )
    assert [r.rowcount for r in rs] == [1, 1, 1, 3]
    assert [r.lastrowid for r in rs[:3]] == [1, 2, 3]
    assert sorted(rs[3].rows) == [("a", 10), ("b", 20), ("c", 30)]


def test_transaction_is_atomic(db):
    db.execute("INSERT INTO t (k, v) VALUES ('taken', 0)")
    with pytest.raises(litecommit.IntegrityError) as info:
        db.transaction(
            [
                ("INSERT INTO t (k, v) VALUES (?, ?)", ("new", 1)),
                ("INSERT INTO t (k, v) VALUES (?, ?)", ("taken", 2)),
            ]
        )
    assert info.value.statement_index == 1
    assert db.query("SELECT k FROM t ORDER BY k") == [("taken",)]


def test_failing_transaction_leaves_the_rest_of_its_batch(path):
    n = 101
    with litecommit.Committer(path) as setup:
        setup.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT UNIQUE, v)")
        setup.execute("INSERT INTO t (k, v) VALUES ('taken', 0)")
    # The ticker flushes once n transactions are queued (its timer is far off), so the
    # failing transaction and the 100 others are one batch.
    config = {"max_batch_size": n, "max_wait_ms": HANG * 1000, "dynamic_batch_size": False}
    with litecommit.Committer(path, flush_policy="ticker", **config) as db:
        futures = [db.submit("INSERT INTO t (k, v) VALUES (?, ?)", (f"k{i}", i)) for i in range(50)]
        bad = db.submit("INSERT INTO t (k, v) VALUES ('taken', 1)")
        futures += [
            db.submit("INSERT INTO t (k, v) VALUES (?, ?)", (f"m{i}", i)) for i in range(50)
        ]
        assert all(f.result(timeout=HANG).rowcount == 1 for f in futures)
        assert isinstance(bad.exception(timeout=HANG), litecommit.IntegrityError)
        stats = db.stats()
        assert (stats["batches"], stats["max_batch_size"], stats["flushes"]["size"]) == (1, n, 1)
        assert stats["transactions_committed"] == 100
        assert db.query("SELECT count(*) FROM t") == [(101,)]


def test_submit_returns_concurrent_future(db):
    f = db.submit("INSERT INTO t (k, v) VALUES (?, ?)", ("a", 1))
    assert isinstance(f, concurrent.futures.Future)
    assert f.result(timeout=60).lastrowid == 1
    assert not f.cancel()  # it was in flight, it could not be withdrawn
    f = db.submit_transaction(
        [("INSERT INTO t (k) VALUES (?)", ("b",)), ("DELETE FROM t WHERE k = 'a'",)]
    )
    assert [r.rowcount for r in f.result(timeout=60)] == [1, 1]
    f = db.submit("INSERT INTO t (k) VALUES (?)", ("b",))
    assert isinstance(f.exception(timeout=60), litecommit.IntegrityError)


def test_submit_converts_parameters_before_returning(db):
    with pytest.raises(TypeError):
        db.submit("INSERT INTO t (k) VALUES (?)", (object(),))
    with pytest.raises(TypeError):
        db.submit_transaction([("INSERT INTO t (k) VALUES (?)", (object(),))])


def test_query(db):
    db.transaction([("INSERT INTO t (k, v) VALUES (?, ?)", (f"k{i}", i)) for i in range(5)])
    assert db.query("SELECT k, v FROM t WHERE v >= ? ORDER BY v", (3,)) == [("k3", 3), ("k4", 4)]
    assert db.query("SELECT count(*) FROM t WHERE v < :n", {"n": 2}) == [(2,)]
    assert db.query("SELECT 1 WHERE 0") == []
    with pytest.raises(litecommit.OperationalError):
        db.query("SELECT * FROM missing")


def test_query_sees_resolved_writes(db):
    for i in range(20):
        db.submit("INSERT INTO t (k, v) VALUES (?, ?)", (f"k{i}", i)).result()
        assert db.query("SELECT count(*) FROM t") == [(i + 1,)]


def test_flush_is_a_barrier(db):
    futures = [db.submit("INSERT INTO t (k) VALUES (?)", (f"k{i}",)) for i in range(200)]
    db.flush()
    assert all(f.done() for f in futures)
    assert db.query("SELECT count(*) FROM t") == [(200,)]


@pytest.mark.parametrize("mode", ["passive", "full", "restart", "truncate"])
def test_checkpoint(path, mode):
    # No background checkpoints: the WAL holds everything written until this one.
    with litecommit.Committer(path, checkpoint=False) as db:
        db.execute("CREATE TABLE t (x)")
        db.transaction([("INSERT INTO t VALUES (randomblob(1000))", ())] * 50)
        before = db.stats()
        assert before["wal_backlog_frames"] > 0
        main_file = os.path.getsize(path)
        r = db.checkpoint(mode)
        assert isinstance(r, litecommit.CheckpointResult)
        assert r.mode == mode
        assert r.busy is False
        # Every frame of the WAL was copied into the database file.
        if mode == "truncate":
            # SQLite reports the WAL as it is afterwards: emptied.
            assert (r.log_frames, r.checkpointed_frames) == (0, 0)
            assert os.path.getsize(path + "-wal") == 0
        else:
            assert r.log_frames >= before["wal_backlog_frames"]
            assert r.checkpointed_frames == r.log_frames
        assert os.path.getsize(path) >= main_file + 50 * 1000
        after = db.stats()
        assert after["wal_backlog_frames"] == 0
        assert after["checkpoints"][mode] == before["checkpoints"].get(mode, 0) + 1
        # Nothing is left to copy.
        again = db.checkpoint()
        assert again.mode == "passive"
        assert again.checkpointed_frames == again.log_frames
        assert db.query("SELECT count(*) FROM t") == [(50,)]


@pytest.mark.parametrize("durability, synchronous", [("full", 2), ("normal", 1), ("off", 0)])
def test_durability_sets_the_writers_synchronous_mode(path, durability, synchronous):
    # PRAGMA reads run on the writer connection, like every transaction.
    with litecommit.Committer(path, durability=durability) as db:
        assert db.execute("PRAGMA synchronous").rows == [(synchronous,)]
        db.execute("CREATE TABLE t (x)")
        rs = db.transaction([("INSERT INTO t VALUES (1)", ()), ("PRAGMA synchronous", ())])
        assert rs[1].rows == [(synchronous,)]
    with litecommit.Committer(path, durability=durability) as db:
        assert db.query("SELECT x FROM t") == [(1,)]


def test_durability_defaults_to_full(db):
    assert db.execute("PRAGMA synchronous").rows == [(2,)]


def test_linger_gathers_a_batch(path):
    n = 50
    with litecommit.Committer(path) as setup:
        setup.execute("CREATE TABLE t (x)")
    # With room for one queued transaction, each submission after the first is accepted
    # only once the writer has taken the one before: without the linger, the writer would
    # commit what it holds instead of waiting for the rest.
    config = {"queue_capacity": 1, "max_batch_size": n, "dynamic_batch_size": False}
    with litecommit.Committer(path, linger_ms=HANG * 1000, **config) as db:
        futures = [db.submit("INSERT INTO t VALUES (?)", (i,)) for i in range(n)]
        assert all(f.result(timeout=HANG).rowcount == 1 for f in futures)
        stats = db.stats()
        assert (stats["batches"], stats["max_batch_size"], stats["flushes"]["size"]) == (1, n, 1)


@pytest.mark.parametrize("barrier", ["flush", "close"])
def test_flush_and_close_do_not_wait_for_the_linger(path, barrier):
    with litecommit.Committer(path) as setup:
        setup.execute("CREATE TABLE t (x)")
    # The linger outlasts the wait below: only the barrier can end the batch in time.
    db = litecommit.Committer(path, linger_ms=2 * HANG * 1000)
    future = db.submit("INSERT INTO t VALUES (1)")
    t = threading.Thread(target=getattr(db, barrier))
    t.start()
    t.join(HANG)
    assert not t.is_alive()
    assert future.done() and future.result().rowcount == 1
    db.close()
    with litecommit.Committer(path) as check:
        assert check.query("SELECT x FROM t") == [(1,)]


def test_lone_transaction_commits_once_the_linger_ends(path):
    with litecommit.Committer(path, linger_ms=1) as db:
        db.execute("CREATE TABLE t (x)")
        assert db.execute("INSERT INTO t VALUES (1)").rowcount == 1
        assert db.stats()["flushes"]["adaptive"] == 2


def test_checkpoint_rejects_unknown_mode(db):
    with pytest.raises(ValueError, match="checkpoint mode"):
        db.checkpoint("sometimes")


def test_metrics_and_stats(db):
    for i in range(10):
        db.execute("INSERT INTO t (k) VALUES (?)", (f"k{i}",))
    text = db.metrics_text()
    for name in [
        "litecommit_flushes_total",
        "litecommit_batch_size",
        "litecommit_flush_duration_seconds",
        "litecommit_commit_latency_seconds",
        "litecommit_queue_depth",
        "litecommit_transactions_total",
    ]:
        assert f"\n# TYPE {name} " in text
    assert '\nlitecommit_transactions_total{db="test.db",outcome="committed"} 11\n' in text
    stats = db.stats()
    assert stats["transactions_committed"] == 11
    assert stats["batches"] >= 1
    assert isinstance(stats["flushes"], dict)
    assert isinstance(stats["checkpoints"], dict)


def test_stats_has_every_figure_with_its_type(db):
    stats = db.stats()
    expected = {
        "transactions_committed": int,
        "transactions_failed": int,
        "transactions_aborted": int,
        "batches": int,
        "flushes": dict,
        "max_batch_size": int,
        "mean_batch_size": float,
        "mean_flush_ms": float,
        "mean_commit_latency_ms": float,
        "checkpoints": dict,
        "checkpoints_busy": int,
        "checkpoint_running": bool,
        "wal_frames": int,
        "wal_backlog_frames": int,
        "wal_file_bytes": int,
        "queue_depth": int,
        "max_writer_stall_ms": float,
    }
    for name, kind in expected.items():
        assert type(stats[name]) is kind, name
    assert stats["flushes"] and all(type(n) is int for n in stats["flushes"].values())


def test_context_manager_closes(path):
    with litecommit.Committer(path) as db:
        db.execute("CREATE TABLE x (a)")
        assert not db.closed
    assert db.closed
    assert "closed" in repr(db)


def test_close_drains_the_queue(path):
    db = litecommit.Committer(path)
    db.execute("CREATE TABLE x (a)")
    futures = [db.submit("INSERT INTO x VALUES (?)", (i,)) for i in range(1000)]
    db.close()
    assert all(f.done() and f.exception() is None for f in futures)
    with litecommit.Committer(path) as again:
        assert again.query("SELECT count(*) FROM x") == [(1000,)]


def test_use_after_close(path):
    db = litecommit.Committer(path)
    db.close()
    db.close()  # idempotent
    calls = [
        lambda: db.execute("SELECT 1"),
        lambda: db.transaction([("SELECT 1", ())]),
        lambda: db.submit("SELECT 1"),
        lambda: db.submit_transaction([("SELECT 1", ())]),
        lambda: db.query("SELECT 1"),
        db.flush,
        db.checkpoint,
        db.metrics_text,
        db.stats,
    ]
    for call in calls:
        with pytest.raises(litecommit.ClosedError):
            call()


def test_path(path, db):
    assert db.path == path


def test_done_callback_exception_never_reaches_the_writer(db):
    seen = []

    def bad_callback(future):
        seen.append(future.result().rowcount)
        raise RuntimeError("callback failure")

    futures = []
    for i in range(20):
        f = db.submit("INSERT INTO t (k) VALUES (?)", (f"k{i}",))
        f.add_done_callback(bad_callback)
        futures.append(f)
    assert all(f.result(timeout=60).rowcount == 1 for f in futures)
    db.flush()
    assert seen == [1] * 20
    assert db.execute("INSERT INTO t (k) VALUES ('after')").rowcount == 1


def test_done_callback_may_use_the_committer(db):
    outcome = {}
    done = threading.Event()

    def callback(future):
        # Callbacks run on the delivery thread, not the writer: blocking calls work.
        outcome["executed"] = db.execute("INSERT INTO t (k) VALUES ('nested')").rowcount
        outcome["submitted"] = db.submit("INSERT INTO t (k) VALUES ('from-callback')")
        db.flush()
        done.set()

    db.submit("INSERT INTO t (k) VALUES ('first')").add_done_callback(callback)
    assert done.wait(60)
    assert outcome["executed"] == 1
    assert outcome["submitted"].result(timeout=60).rowcount == 1
    assert db.query("SELECT k FROM t ORDER BY k") == [("first",), ("from-callback",), ("nested",)]


def test_closing_from_a_done_callback(path):
    db = litecommit.Committer(path)
    db.execute("CREATE TABLE t (x)")
    closed = threading.Event()

    def callback(future):
        db.close()
        closed.set()

    futures = [db.submit("INSERT INTO t VALUES (?)", (i,)) for i in range(100)]
    futures[0].add_done_callback(callback)
    assert closed.wait(60)
    assert db.closed
    # Everything queued before the close committed; later futures still resolve.
    assert all(f.result(timeout=60).rowcount == 1 for f in futures)
    with litecommit.Committer(path) as again:
        assert again.query("SELECT count(*) FROM t") == [(100,)]


def test_200_threads_every_row_exactly_once(path):
    threads, per_thread = 200, 10
    with litecommit.Committer(path) as db:
        db.execute("CREATE TABLE r (thread INTEGER, seq INTEGER, PRIMARY KEY (thread, seq))")
        errors = []
        start = threading.Barrier(threads)

        def work(n):
            try:
                start.wait()
                for i in range(per_thread):
                    if i % 2:
                        db.execute("INSERT INTO r VALUES (?, ?)", (n, i))
                    else:
                        db.submit("INSERT INTO r VALUES (?, ?)", (n, i)).result()
            except BaseException as e:  # noqa: BLE001 - reported below
                errors.append(e)

        pool = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        assert errors == []
        rows = db.query("SELECT thread, seq FROM r")
        assert len(rows) == threads * per_thread
        assert set(rows) == {(n, i) for n in range(threads) for i in range(per_thread)}


def test_submissions_from_one_thread_commit_in_order(db):
    futures = [db.submit("INSERT INTO t (k, v) VALUES (?, ?)", (f"k{i}", i)) for i in range(300)]
    ids = [f.result().lastrowid for f in futures]
    assert ids == sorted(ids)
