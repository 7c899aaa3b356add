"""DB-API compatibility: the exceptions are the stdlib ``sqlite3`` ones, ``executemany``,
rows readable by index and by name, and futures inherited by a forked child fail there
instead of hanging."""

import asyncio
import copy
import json
import pickle
import sqlite3
from pathlib import Path

import pytest
from support import HANG, hold_lock, release, run_python, stop

import litecommit

# Longer than HANG: a writer waiting on another process's lock waits until it is released.
BUSY_FOREVER_MS = 2**31 - 1

TESTS = str(Path(__file__).resolve().parent)

# Each litecommit class, the sqlite3 class it must also be.
SQLITE3_CLASS = {
    litecommit.Error: sqlite3.Error,
    litecommit.InterfaceError: sqlite3.InterfaceError,
    litecommit.ConfigError: sqlite3.InterfaceError,
    litecommit.DatabaseError: sqlite3.DatabaseError,
    litecommit.SqliteError: sqlite3.DatabaseError,
    litecommit.IntegrityError: sqlite3.IntegrityError,
    litecommit.OperationalError: sqlite3.OperationalError,
    litecommit.DataError: sqlite3.DataError,
    litecommit.ProgrammingError: sqlite3.ProgrammingError,
    litecommit.ClosedError: sqlite3.ProgrammingError,
    litecommit.ForkedError: sqlite3.ProgrammingError,
    litecommit.QueueFullError: sqlite3.OperationalError,
    litecommit.InternalError: sqlite3.InternalError,
    litecommit.NotSupportedError: sqlite3.NotSupportedError,
}


@pytest.mark.parametrize("cls, stdlib", SQLITE3_CLASS.items(), ids=lambda c: c.__name__)
def test_each_exception_is_the_matching_sqlite3_exception(cls, stdlib):
    assert issubclass(cls, stdlib)
    assert issubclass(cls, litecommit.Error)
    assert cls.__module__ == "litecommit"
    assert cls.__name__ in litecommit.__all__


def test_exception_hierarchy():
    for cls in (litecommit.IntegrityError, litecommit.OperationalError, litecommit.DataError):
        assert issubclass(cls, litecommit.SqliteError)
    for cls in (
        litecommit.SqliteError,
        litecommit.ProgrammingError,
        litecommit.QueueFullError,
        litecommit.InternalError,
        litecommit.NotSupportedError,
    ):
        assert issubclass(cls, litecommit.DatabaseError)
    assert issubclass(litecommit.ClosedError, litecommit.ProgrammingError)
    assert issubclass(litecommit.ForkedError, litecommit.ProgrammingError)
    assert issubclass(litecommit.ConfigError, litecommit.InterfaceError)
    assert issubclass(litecommit.ConfigError, ValueError)
    assert not issubclass(litecommit.InterfaceError, sqlite3.DatabaseError)
    # No SQLite code, so not a SqliteError.
    assert not issubclass(litecommit.QueueFullError, litecommit.SqliteError)


def test_sqlite3_handlers_catch_litecommit_errors(db, path):
    db.execute("INSERT INTO t (k) VALUES ('a')")
    with pytest.raises(sqlite3.IntegrityError) as info:
        db.execute("INSERT INTO t (k) VALUES ('a')")
    e = info.value
    assert type(e) is litecommit.IntegrityError
    assert (e.code, e.extended_code, e.statement_index) == (19, 2067, 0)
    assert e.code_name == "SQLITE_CONSTRAINT_UNIQUE"
    assert "UNIQUE constraint failed" in e.message
    # The attributes the stdlib sets on its own errors (Python 3.11 and later).
    assert (e.sqlite_errorcode, e.sqlite_errorname) == (2067, "SQLITE_CONSTRAINT_UNIQUE")

    with pytest.raises(sqlite3.OperationalError) as info:
        db.execute("INSERT INTO missing VALUES (1)")
    assert type(info.value) is litecommit.OperationalError
    assert info.value.sqlite_errorname == "SQLITE_ERROR"

    with pytest.raises(sqlite3.ProgrammingError) as info:
        db.execute("BEGIN")
    assert type(info.value) is litecommit.ProgrammingError

    with pytest.raises(sqlite3.DataError) as info:
        db.execute("INSERT INTO t (v) VALUES (zeroblob(2000000000))")
    assert type(info.value) is litecommit.DataError
    assert info.value.code_name == "SQLITE_TOOBIG"

    with pytest.raises(sqlite3.InterfaceError) as info:
        litecommit.Committer(path, max_batch_size=0)
    assert type(info.value) is litecommit.ConfigError

    with pytest.raises(sqlite3.DatabaseError):  # every SQLite failure
        db.execute("THIS IS NOT SQL")

    db.close()
    with pytest.raises(sqlite3.ProgrammingError) as info:
        db.execute("SELECT 1")
    assert type(info.value) is litecommit.ClosedError
    with pytest.raises(sqlite3.Error):
        db.query("SELECT 1")


def test_a_full_queue_is_an_operational_error(path):
    with litecommit.Committer(path) as setup:
        setup.execute("CREATE TABLE r (i)")
    holder = hold_lock(path, "BEGIN IMMEDIATE", "INSERT INTO r VALUES (-1)")
    try:
        config = {"queue_capacity": 1, "max_batch_size": 1, "dynamic_batch_size": False}
        with litecommit.Committer(path, busy_timeout_ms=BUSY_FOREVER_MS, **config) as db:
            # The writer holds one (waiting for the lock) and the queue one more: the
            # accepted submissions are bounded, and a later one finds the queue full.
            accepted = []
            with pytest.raises(sqlite3.OperationalError) as info:
                for i in range(1000):
                    accepted.append(db.submit("INSERT INTO r VALUES (?)", (i,), block=False))
            assert type(info.value) is litecommit.QueueFullError
            assert len(accepted) <= 2
            release(holder)
            assert all(f.result(timeout=HANG).rowcount == 1 for f in accepted)
    finally:
        stop(holder)


@pytest.mark.parametrize(
    "error",
    [
        litecommit.IntegrityError(19, 2067, "UNIQUE constraint failed: t.k", 3),
        litecommit.DataError(18, 18, "string or blob too big", None),
        litecommit.ProgrammingError("cannot start a transaction", 1),
        litecommit.ClosedError("committer is closed"),
        litecommit.ForkedError("opened by process 7", 7),
        litecommit.QueueFullError("queue is full"),
        litecommit.ConfigError("max_batch_size: must be at least 1"),
        litecommit.InternalError("internal error: panic"),
        litecommit.InterfaceError("misuse"),
        litecommit.NotSupportedError("not supported"),
        litecommit.DatabaseError("database"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_exceptions_pickle_with_their_attributes(error):
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is type(error)
    assert back.args == error.args
    assert str(back) == str(error)
    assert vars(back) == vars(error)


def test_closed_error_keeps_the_attributes_of_a_programming_error(db):
    db.close()
    with pytest.raises(litecommit.ClosedError) as info:
        db.execute("SELECT 1")
    e = info.value
    assert (e.message, e.statement_index, str(e)) == (str(e), None, "committer is closed")
    assert e.args == ("committer is closed",)


def test_executemany_is_one_atomic_transaction(db):
    results = db.executemany("INSERT INTO t (k, v) VALUES (?, ?)", [("a", 1), ("b", 2)])
    assert [(r.rowcount, r.lastrowid) for r in results] == [(1, 1), (1, 2)]
    # Named parameters, and any iterable (a generator here).
    results = db.executemany(
        "INSERT INTO t (k, v) VALUES (:k, :v) RETURNING id",
        ({"k": k, "v": i} for i, k in enumerate("cd")),
    )
    assert [r.rows for r in results] == [[(3,)], [(4,)]]
    # One failing parameter set rolls back all of them.
    before = db.stats()["batches"]
    with pytest.raises(litecommit.IntegrityError) as info:
        db.executemany("INSERT INTO t (k) VALUES (?)", [("x",), ("y",), ("a",), ("z",)])
    assert info.value.statement_index == 2
    assert db.query("SELECT k FROM t ORDER BY id") == [("a",), ("b",), ("c",), ("d",)]
    assert db.executemany("INSERT INTO t (k) VALUES (?)", []) == []
    # A thousand parameter sets are one transaction: at most a batch or two, not a thousand.
    db.executemany("INSERT INTO t (v) VALUES (?)", [(i,) for i in range(1000)])
    assert db.stats()["batches"] - before <= 4
    assert db.query("SELECT count(*) FROM t") == [(1004,)]


def test_executemany_rejects_bad_parameters_naming_them(db):
    with pytest.raises(TypeError, match="statement 1, parameter 1"):
        db.executemany("INSERT INTO t (v) VALUES (?)", [(1,), ([2],)])
    with pytest.raises(TypeError, match="statement 0"):
        db.executemany("INSERT INTO t (v) VALUES (?)", ["not parameters"])
    assert db.query("SELECT count(*) FROM t") == [(0,)]


def test_async_executemany(path):
    asyncio.run(async_executemany(path))


async def async_executemany(path):
    async with litecommit.AsyncCommitter(path) as db:
        await db.execute("CREATE TABLE t (k TEXT UNIQUE)")
        results = await db.executemany("INSERT INTO t VALUES (?)", [("a",), ("b",)])
        assert [r.lastrowid for r in results] == [1, 2]
        with pytest.raises(sqlite3.IntegrityError):
            await db.executemany("INSERT INTO t VALUES (?)", [("c",), ("a",)])
        rows = await db.query("SELECT k FROM t ORDER BY k")
        assert rows == [("a",), ("b",)]
        assert rows[1]["k"] == "b" and rows[1].keys() == ["k"]


def test_rows_read_by_index_and_by_name(db):
    db.executemany("INSERT INTO t (k, v) VALUES (?, ?)", [("a", 1.5), ("b", b"\x00")])
    rows = db.query("SELECT id, k, v AS Value FROM t ORDER BY id")
    # Still a list of tuples, equal to plain tuples.
    assert rows == [(1, "a", 1.5), (2, "b", b"\x00")]
    row = rows[0]
    assert isinstance(row, tuple) and isinstance(row, litecommit.Row)
    assert hash(row) == hash((1, "a", 1.5))
    assert (row[0], row[-1], row[1:]) == (1, 1.5, ("a", 1.5))
    id_, k, v = row
    assert (id_, k, v) == (1, "a", 1.5)
    assert (row["id"], row["k"], row["Value"]) == (1, "a", 1.5)
    # Names are matched case-insensitively when there is no exact match, as in SQL.
    assert (row["ID"], row["value"]) == (1, 1.5)
    assert row.keys() == ["id", "k", "Value"]
    assert dict(row) == {"id": 1, "k": "a", "Value": 1.5}
    assert repr(row) == "(1, 'a', 1.5)"
    with pytest.raises(IndexError, match="no column named 'missing'"):
        row["missing"]
    with pytest.raises(KeyError):
        row["missing"]
    with pytest.raises(IndexError):
        row[3]
    # The rows of one result share one class, which holds the column index.
    assert type(rows[0]) is type(rows[1])


def test_duplicate_column_names_read_the_first(db):
    (row,) = db.query("SELECT 1 AS x, 2 AS x, 3 AS X")
    assert row == (1, 2, 3)
    assert (row["x"], row["X"]) == (1, 3)
    assert row.keys() == ["x", "x", "X"]


def test_returning_rows_read_by_name(db):
    r = db.execute("INSERT INTO t (k, v) VALUES ('a', 7) RETURNING id, k AS key, v")
    assert r.rows == [(1, "a", 7)]
    assert r.columns == ("id", "key", "v")
    (row,) = r.rows
    assert isinstance(row, litecommit.Row)
    assert (row["key"], row["v"], row.keys()) == ("a", 7, ["id", "key", "v"])
    (result,) = db.transaction([("UPDATE t SET v = v + 1 RETURNING v", ())])
    assert result.rows[0]["v"] == 8
    assert db.execute("INSERT INTO t (k) VALUES ('b')").rows == []


def test_rows_pickle_and_copy(db):
    db.execute("INSERT INTO t (k, v) VALUES ('a', NULL)")
    (row,) = db.query("SELECT k, v FROM t")
    for back in (pickle.loads(pickle.dumps(row)), copy.copy(row), copy.deepcopy(row)):
        assert back == ("a", None)
        assert isinstance(back, litecommit.Row)
        assert (back["k"], back.keys()) == ("a", ["k", "v"])


def test_a_row_built_without_columns_is_a_tuple():
    row = litecommit.Row((1, 2))
    assert row == (1, 2) and row[1] == 2 and row.keys() == []
    with pytest.raises(IndexError):
        row["a"]


FORKED_WITH_PENDING = """
import asyncio, json, os, sys
sys.path.insert(0, sys.argv[2])
from support import HANG, hold_lock, release, stop, wait_until
import litecommit

path = sys.argv[1]
forever = 2**31 - 1
db = litecommit.Committer(path, busy_timeout_ms=forever)
db.execute("CREATE TABLE r (i)")
adb = litecommit.AsyncCommitter(
    path, busy_timeout_ms=forever, queue_capacity=1, max_batch_size=1, dynamic_batch_size=False
)
holder = hold_lock(path, "BEGIN IMMEDIATE", "INSERT INTO r VALUES (0)")


def forked(e):
    return isinstance(e, litecommit.ForkedError) and e.opened_by == os.getppid()


async def in_child(threads, loops):
    # Failed at the fork: done at once, with a ForkedError naming the parent.
    checks = {f"{name} done": f.done() for name, f in {**threads, **loops}.items()}
    if all(checks.values()):
        for name, f in threads.items():
            try:
                f.result(timeout=HANG)
                checks[f"{name} raises"] = False
            except BaseException as e:
                checks[f"{name} raises"] = forked(e)
        for name, f in loops.items():
            try:
                await f
                checks[f"{name} raises"] = False
            except BaseException as e:
                checks[f"{name} raises"] = forked(e)
    failed = [name for name, ok in checks.items() if not ok]
    if failed:
        sys.stderr.write(f"child failed: {failed}\\n")
        sys.stderr.flush()
    os._exit(1 if failed else 0)


async def main():
    threads = {
        "submit": db.submit("INSERT INTO r VALUES (1)"),
        "submit_transaction": db.submit_transaction([("INSERT INTO r VALUES (2)", ())]),
    }
    # The async committer's writer takes the first as its batch of one, its queue holds
    # the second; of the rest, one waits for room on the overflow worker thread (blocked in
    # the native submit) and the others wait behind it.
    loops = {"async 0": adb.submit("INSERT INTO r VALUES (10)")}
    wait_until(lambda: adb.stats()["queue_length"] == 0, "the writer taking its batch")
    for i in range(1, 5):
        loops[f"async {i}"] = adb.submit("INSERT INTO r VALUES (?)", (10 + i,))
    wait_until(lambda: adb._native._waiting == 1, "the overflow worker waiting for room")
    assert not any(f.done() for f in {**threads, **loops}.values())
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        await in_child(threads, loops)
    _, status = os.waitpid(pid, 0)
    # The parent is unaffected: everything commits once the lock is released.
    release(holder)
    committed = [threads["submit"].result(timeout=HANG).rowcount]
    committed += [r.rowcount for r in threads["submit_transaction"].result(timeout=HANG)]
    committed += [(await f).rowcount for f in loops.values()]
    rows = (await adb.query("SELECT count(*) FROM r"))[0][0]
    await adb.close()
    status = os.waitstatus_to_exitcode(status)
    print(json.dumps({"child": status, "committed": committed, "rows": rows}))


try:
    asyncio.run(main())
finally:
    stop(holder)
db.close()
"""


def test_futures_pending_at_a_fork_fail_in_the_child(tmp_path):
    """The child has none of the parent's threads, so nothing would ever resolve the futures
    it inherited: they fail with ForkedError at the fork, plain and asyncio ones (of the
    forking thread's loop, including submissions that waited for room), and the parent's
    own futures all commit."""
    proc = run_python(FORKED_WITH_PENDING, str(tmp_path / "f.db"), TESTS)
    report = json.loads(proc.stdout)
    assert report["child"] == 0, proc.stderr
    assert report["committed"] == [1] * 7
    assert report["rows"] == 8


def test_the_fork_hook_leaves_the_parent_futures_alone(db):
    """In the process that opened the committer nothing is inherited: the hook's query
    returns nothing and its futures keep going."""
    future = db.submit("INSERT INTO t (k) VALUES ('a')")
    assert db._native.take_inherited_futures() == []
    assert future.result(timeout=HANG).rowcount == 1
