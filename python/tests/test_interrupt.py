"""Ctrl-C (SIGINT) ends a blocked call with KeyboardInterrupt while the wait goes on.

Each test runs a child interpreter whose committer is stuck behind a write lock that another
process holds until the test releases it. The child blocks in one call and says so; the test
sends SIGINT and must read "interrupted" while the lock is still held, so before the call
could have returned on its own. Then it releases the lock: the child exits on the
KeyboardInterrupt, and its exit commits what was queued.
"""

import os
import queue
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from support import HANG, hold_lock, release, stop

import litecommit

CHILD = """
import signal
import sys
# Started in the background (`make test &` in a script), a process inherits SIGINT ignored
# and Python then keeps it ignored; Ctrl-C must reach this one.
signal.signal(signal.SIGINT, signal.default_int_handler)
sys.path.insert(0, sys.argv[2])
from support import wait_until
import litecommit

forever = 2**31 - 1
db = litecommit.Committer(
    sys.argv[1],
    busy_timeout_ms=forever,
    checkpoint_busy_timeout_ms=forever,
    queue_capacity=1,
    max_batch_size=1,
    dynamic_batch_size=False,
)
# The writer takes this one as its batch of one and waits for the lock.
first = db.submit("INSERT INTO r VALUES (1)")
first.add_done_callback(lambda f: print("committed", flush=True))
wait_until(lambda: db.stats()["queue_length"] == 0, "the writer taking its batch")
if sys.argv[3] == "fill":
    db.submit("INSERT INTO r VALUES (2)")  # the queue's one slot

import threading
def announce():
    wait_until(lambda: db._native._waiting == 1, "the call waiting")
    print("waiting", flush=True)
threading.Thread(target=announce, daemon=True).start()
try:
    {call}
except KeyboardInterrupt:
    print("interrupted", flush=True)
    raise
print("returned", flush=True)
"""

TESTS = str(Path(__file__).resolve().parent)

# (call, whether the queue is full first, the rows committed in the end). A call waiting
# for its outcome leaves its transaction queued, so it commits at exit; a submit waiting for
# room in a full queue never queues its transaction.
CALLS = {
    "execute": ('db.execute("INSERT INTO r VALUES (3)")', "", [-1, 1, 3]),
    "transaction": ('db.transaction([("INSERT INTO r VALUES (3)", ())])', "", [-1, 1, 3]),
    "executemany": ('db.executemany("INSERT INTO r VALUES (?)", [(3,), (4,)])', "", [-1, 1, 3, 4]),
    "flush": ("db.flush()", "", [-1, 1]),
    "checkpoint": ('db.checkpoint("full")', "", [-1, 1]),
    "submit waiting for room": ('db.submit("INSERT INTO r VALUES (3)")', "fill", [-1, 1, 2]),
    "submit_transaction waiting for room": (
        'db.submit_transaction([("INSERT INTO r VALUES (3)", ())])',
        "fill",
        [-1, 1, 2],
    ),
    "submit_many waiting for room": (
        'db.submit_many("INSERT INTO r VALUES (?)", [(3,), (4,)])',
        "fill",
        [-1, 1, 2],
    ),
}


def lines_of(stream):
    """The lines `stream` yields, read on a thread into a queue."""
    lines = queue.Queue()

    def read():
        for line in stream:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    return lines


@pytest.mark.skipif(os.name != "posix", reason="POSIX signals")
@pytest.mark.parametrize("name", CALLS)
def test_ctrl_c_interrupts_a_blocked_call(path, name):
    call, fill, committed = CALLS[name]
    with litecommit.Committer(path) as setup:
        setup.execute("CREATE TABLE r (i INTEGER)")
    holder = hold_lock(path, "BEGIN IMMEDIATE", "INSERT INTO r VALUES (-1)")
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(CHILD).format(call=call), path, TESTS, fill],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out = lines_of(child.stdout)
        assert out.get(timeout=HANG) == "waiting"
        child.send_signal(signal.SIGINT)
        # Read while the lock is held: the call cannot have returned on its own yet.
        assert out.get(timeout=HANG) == "interrupted"
        release(holder)
        # Exit commits the queue; the first transaction's callback runs only then.
        assert out.get(timeout=HANG) == "committed"
        assert out.get(timeout=HANG) is None
        assert child.wait(timeout=HANG) == -signal.SIGINT
        stderr = child.stderr.read()
        assert stderr.rstrip().endswith("KeyboardInterrupt"), stderr
    finally:
        child.kill()
        child.wait()
        child.stdout.close()
        child.stderr.close()
        stop(holder)
    with litecommit.Committer(path) as db:
        assert db.query("SELECT i FROM r ORDER BY rowid") == [(i,) for i in committed]
