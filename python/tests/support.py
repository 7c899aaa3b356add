"""Helpers shared by the tests: child interpreters, a lock held by another process, waiting
on observable state."""

import os
import signal
import subprocess
import sys
import textwrap
import time

# Generous: only there so that a hang fails the test instead of blocking the suite.
HANG = 120


def run_python(code, *args):
    """Runs `code` in a fresh interpreter; returns the finished process (exit status 0).
    On a hang, the interpreter and every process it forked are killed."""
    with subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as proc:
        try:
            stdout, stderr = proc.communicate(timeout=HANG)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            stdout, stderr = proc.communicate()
            raise AssertionError(f"hung; stdout: {stdout}; stderr: {stderr}") from None
    assert proc.returncode == 0, stderr
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def wait_until(condition, what):
    """Polls `condition` until it is true; fails the test if it is not within HANG."""
    deadline = time.monotonic() + HANG
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for: {what}"
        time.sleep(0.001)


HOLDER = """
import sqlite3, sys
con = sqlite3.connect(sys.argv[1], isolation_level=None)
for sql in sys.argv[2:]:
    con.execute(sql)
print("locked", flush=True)
sys.stdin.readline()
con.execute("COMMIT")
"""


def hold_lock(path, *statements):
    """Another process runs `statements` (one of them a BEGIN) and keeps its transaction
    open until `release`: a committer's writer is stuck on its batch meanwhile."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, path, *statements],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "locked"
    return holder


def release(holder):
    holder.stdin.write("go\n")
    holder.stdin.flush()


def stop(holder):
    holder.kill()
    holder.wait()
