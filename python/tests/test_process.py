"""A committer belongs to the process that opened it: forked children fail at once with
ForkedError and the parent is unaffected. A process killed with SIGKILL loses nothing it
acknowledged."""

import asyncio
import json
import multiprocessing
import os
import pickle
import random
import signal
import sqlite3
import subprocess
import sys
import threading

import pytest
from support import HANG, run_python

import litecommit

FORKED = """
import asyncio, gc, json, os, sys, threading
import litecommit

db = litecommit.Committer(sys.argv[1])
db.execute("CREATE TABLE r (i INTEGER PRIMARY KEY)")
adb = litecommit.AsyncCommitter(sys.argv[2])
asyncio.run(adb.execute("CREATE TABLE r (i INTEGER PRIMARY KEY)"))

# The parent keeps writing while it forks, so the child inherits a committer in the middle
# of its work (queue, writer, delivery thread and their locks).
stop = threading.Event()
futures = []

def write():
    i = 0
    while not stop.is_set():
        futures.append(db.submit("INSERT INTO r VALUES (?)", (i,)))
        i += 1

writer = threading.Thread(target=write)
writer.start()
while len(futures) < 1000:
    pass


def in_child():
    async def submit():
        return adb.submit("INSERT INTO r VALUES (-1)")

    async def submit_transaction():
        return adb.submit_transaction([("INSERT INTO r VALUES (-1)", ())])

    calls = {
        "execute": lambda: db.execute("INSERT INTO r VALUES (-1)"),
        "transaction": lambda: db.transaction([("INSERT INTO r VALUES (-1)", ())]),
        "submit": lambda: db.submit("INSERT INTO r VALUES (-1)"),
        "submit no wait": lambda: db.submit("INSERT INTO r VALUES (-1)", block=False),
        "submit_transaction": lambda: db.submit_transaction([("INSERT INTO r VALUES (-1)", ())]),
        "query": lambda: db.query("SELECT count(*) FROM r"),
        "flush": db.flush,
        "checkpoint": db.checkpoint,
        "metrics_text": db.metrics_text,
        "stats": db.stats,
        "close": db.close,
        "close again": db.close,
        "async execute": lambda: asyncio.run(adb.execute("INSERT INTO r VALUES (-1)")),
        "async transaction": lambda: asyncio.run(adb.transaction([("SELECT 1", ())])),
        "async submit": lambda: asyncio.run(submit()),
        "async submit_transaction": lambda: asyncio.run(submit_transaction()),
        "async query": lambda: asyncio.run(adb.query("SELECT 1")),
        "async flush": lambda: asyncio.run(adb.flush()),
        "async checkpoint": lambda: asyncio.run(adb.checkpoint()),
        "async metrics_text": adb.metrics_text,
        "async stats": adb.stats,
        "async close": lambda: asyncio.run(adb.close()),
    }
    outcome = {}
    for name, call in calls.items():
        try:
            call()
            outcome[name] = "returned"
        except litecommit.ForkedError as e:
            clear = e.opened_by == os.getppid() and "forked child" in str(e)
            outcome[name] = "ForkedError" if clear else f"unclear: {e.opened_by} {e}"
        except BaseException as e:
            outcome[name] = repr(e)
    outcome["closed"] = db.closed and adb.closed
    print(json.dumps(outcome), flush=True)


def fork(child):
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        child()
        sys.exit(0)  # a normal exit: atexit hooks, then finalization frees the committers
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def drop_and_collect():
    global db, adb
    db.cycle = db
    del db, adb
    gc.collect()


exits = [fork(in_child), fork(drop_and_collect), fork(lambda: None)]
stop.set()
writer.join()
assert all(f.result(timeout=60).rowcount == 1 for f in futures)
db.execute("INSERT INTO r VALUES (-1)")
db.flush()
rows = db.query("SELECT count(*) FROM r")[0][0]
asyncio.run(adb.execute("INSERT INTO r VALUES (-1)"))
db.close()
asyncio.run(adb.close())
print(json.dumps({"exits": exits, "submitted": len(futures), "rows": rows}))
"""


def test_forked_child_fails_at_once_and_the_parent_is_unaffected(tmp_path):
    proc = run_python(FORKED, str(tmp_path / "a.db"), str(tmp_path / "b.db"))
    child, parent = (json.loads(line) for line in proc.stdout.splitlines())
    assert child.pop("closed") is True
    assert child == dict.fromkeys(child, "ForkedError")
    assert len(child) == 22
    # Each child (every call, a garbage-collected committer, a bare exit) exits cleanly.
    assert parent["exits"] == [0, 0, 0]
    assert parent["rows"] == parent["submitted"] + 1
    assert "panic" not in proc.stderr.lower()
    assert "Traceback" not in proc.stderr
    with litecommit.Committer(str(tmp_path / "b.db")) as check:
        assert check.query("SELECT count(*) FROM r") == [(1,)]


def _calls_in_child(db, results):
    for name, call in (
        ("execute", lambda: db.execute("INSERT INTO t (k) VALUES ('child')")),
        ("submit", lambda: db.submit("INSERT INTO t (k) VALUES ('child')")),
        ("query", lambda: db.query("SELECT 1")),
        ("flush", db.flush),
        ("stats", db.stats),
        ("close", db.close),
    ):
        try:
            call()
            results.put((name, "returned"))
        except litecommit.ForkedError as e:
            results.put((name, f"ForkedError {e.opened_by}"))
        except BaseException as e:  # noqa: BLE001 - reported to the parent
            results.put((name, repr(e)))
    results.put(None)


def _run_child(target, *args):
    """Runs `target(*args, results)` in a forked child; returns what it reported."""
    ctx = multiprocessing.get_context("fork")
    results = ctx.Queue()
    child = ctx.Process(target=target, args=(*args, results))
    child.start()
    try:
        outcomes = {}
        for name, outcome in iter(lambda: results.get(timeout=HANG), None):
            outcomes[name] = outcome
        child.join(HANG)
        assert child.exitcode == 0
        return outcomes
    finally:
        if child.is_alive():
            child.kill()
            child.join()


def test_multiprocessing_fork_child(db):
    db.execute("INSERT INTO t (k) VALUES ('parent')")
    outcomes = _run_child(_calls_in_child, db)
    assert outcomes == dict.fromkeys(
        ["execute", "submit", "query", "flush", "stats", "close"], f"ForkedError {os.getpid()}"
    )
    assert db.execute("INSERT INTO t (k) VALUES ('after')").rowcount == 1
    assert db.query("SELECT k FROM t ORDER BY id") == [("parent",), ("after",)]


_inherited = {}


def _execute_inherited():
    return _inherited["db"].execute("INSERT INTO t (k) VALUES ('worker')").rowcount


def test_multiprocessing_pool_reports_the_error_to_the_parent(db):
    _inherited["db"] = db
    try:
        with multiprocessing.get_context("fork").Pool(1) as pool:
            with pytest.raises(litecommit.ForkedError) as info:
                pool.apply_async(_execute_inherited).get(timeout=HANG)
    finally:
        _inherited.clear()
    assert info.value.opened_by == os.getpid()
    assert "forked child" in str(info.value)
    assert db.execute("INSERT INTO t (k) VALUES ('parent')").rowcount == 1
    assert db.query("SELECT k FROM t") == [("parent",)]


def test_async_committer_in_a_forked_child(path):
    async def main():
        async with litecommit.AsyncCommitter(path) as db:
            await db.execute("CREATE TABLE t (x)")
            # Forked from inside the running loop; the child runs loops of its own.
            outcomes = _run_child(_async_calls_in_child, db)
            assert outcomes == dict.fromkeys(["execute", "query", "flush", "close"], "ForkedError")
            assert (await db.execute("INSERT INTO t VALUES (1)")).rowcount == 1

    asyncio.run(main())


def _async_calls_in_child(db, results):
    for name, call in (
        ("execute", lambda: db.execute("INSERT INTO t VALUES (2)")),
        ("query", lambda: db.query("SELECT 1")),
        ("flush", db.flush),
        ("close", db.close),
    ):
        try:
            asyncio.run(call())
            results.put((name, "returned"))
        except litecommit.ForkedError:
            results.put((name, "ForkedError"))
        except BaseException as e:  # noqa: BLE001 - reported to the parent
            results.put((name, repr(e)))
    results.put(None)


def test_forked_error():
    e = litecommit.ForkedError("opened by process 7", 7)
    assert isinstance(e, litecommit.Error)
    assert (e.message, e.opened_by, str(e)) == ("opened by process 7", 7, "opened by process 7")
    back = pickle.loads(pickle.dumps(e))
    assert type(back) is litecommit.ForkedError
    assert (back.message, back.opened_by) == (e.message, 7)
    assert type(e).__module__ == "litecommit"


WRITER = """
import sys, threading
import litecommit

path, round_, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
# Small checkpoint thresholds: the kill may also land in the middle of a checkpoint.
db = litecommit.Committer(
    path, durability="full", passive_threshold_mb=0.25, restart_threshold_mb=0.5
)
db.execute("CREATE TABLE IF NOT EXISTS a (id INTEGER PRIMARY KEY)")
db.execute("CREATE TABLE IF NOT EXISTS b (id INTEGER PRIMARY KEY, payload BLOB)")
out = threading.Lock()


def work(t):
    n = 0
    while True:
        i = (round_ * 100 + t) * 10**6 + n
        tx = [
            ("INSERT INTO a VALUES (?)", (i,)),
            ("INSERT INTO b VALUES (?, randomblob(300))", (i,)),
        ]
        if n % 2:
            db.transaction(tx)
        else:
            db.submit_transaction(tx).result()
        with out:  # acknowledged: its transaction is durable
            sys.stdout.write(f"{i}\\n")
            sys.stdout.flush()
        n += 1


for t in range(threads):
    threading.Thread(target=work, args=(t,), daemon=True).start()
threading.Event().wait()
"""


def test_kill_9_loses_nothing_acknowledged(tmp_path):
    """A process writing from 8 threads is killed with SIGKILL at a random moment, 3
    times on one database: every transaction it acknowledged is there, whole."""
    path = str(tmp_path / "crash.db")
    # Every failure prints the seed; LITECOMMIT_SEED=<seed> draws the same kill points again.
    seed = int(os.environ.get("LITECOMMIT_SEED") or random.randrange(2**32))
    replay = f"LITECOMMIT_SEED={seed}"
    rng = random.Random(seed)
    acked = set()
    for round_ in range(3):
        child = subprocess.Popen(
            [sys.executable, "-c", WRITER, path, str(round_), "8"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        watchdog = threading.Timer(HANG, child.kill)
        watchdog.start()
        try:
            wanted = rng.randint(1, 1000)
            for _ in range(wanted):
                line = child.stdout.readline()
                assert line.endswith("\n"), f"replay {replay}: writer ended: {child.stderr.read()}"
                acked.add(int(line))
            child.send_signal(signal.SIGKILL)
            # Lines written before the kill were acknowledged too; a cut-off line was not.
            *complete, _partial = child.stdout.read().split("\n")
            acked.update(int(line) for line in complete)
            child.wait()
        finally:
            watchdog.cancel()
            child.stdout.close()
            child.stderr.close()
        assert child.returncode == -signal.SIGKILL, f"replay {replay}"
        # Read with the stdlib module: this process has no litecommit on that file.
        con = sqlite3.connect(path)
        try:
            assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)], f"replay {replay}"
            a = {i for (i,) in con.execute("SELECT id FROM a")}
            b = {i for (i,) in con.execute("SELECT id FROM b")}
        finally:
            con.close()
        assert a == b, f"replay {replay}: a transaction was half applied"
        assert acked <= a, f"replay {replay}: lost {len(acked - a)} acknowledged transactions"
