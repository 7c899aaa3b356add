"""Side-by-side benchmark of the Python binding, durability full everywhere.

1. 8 threads: stdlib sqlite3 (one connection per thread, WAL, synchronous=FULL, one commit
   per insert) vs litecommit.Committer vs the Rust core alone with 8 threads of blocking
   `execute`.
2. 64 threads: litecommit.Committer vs the Rust core alone with 64 threads of blocking
   `execute`.
3. 1,000 concurrent asyncio tasks (--tasks): aiosqlite vs litecommit.AsyncCommitter vs the
   Rust core alone with as many in flight, and the same tasks awaiting plain asyncio futures
   with no database at all: what asyncio and the task code alone cost, the ceiling of
   AsyncCommitter on the machine.
4. Bulk from one thread (and one event loop): a loop of `submit` vs one `submit_many`, one
   transaction per row either way, vs the Rust core alone queueing them all from one thread.

Each run inserts single-row transactions into a fresh database in a temporary directory, each
row's id taken in turn from one counter (ids in submission order, as the core alone inserts
them: the same pages are written), and
reports throughput, p50/p99 latency and the ratios the targets are stated in, each with its
verdict (met or MISSED). Each scenario runs --repeat times; the run with the median
throughput is reported. A binding's run and the core's run that it is compared with
alternate --pairs times; the pair with the median ratio is reported. A MISSED target makes
the run exit with status 1 unless --no-fail.

    python python/bench/bench.py [--scale 1.0] [--repeat 3] [--pairs 9] [--only bulk]
        [--tasks 1000] [--json out.json] [--no-fail]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import sqlite3
import sys
import tempfile
import threading
import time

import litecommit

try:
    from litecommit._litecommit import bench_core as core_alone
except ImportError:
    core_alone = None

PAYLOAD = "x" * 100
CREATE = "CREATE TABLE IF NOT EXISTS bench (id INTEGER PRIMARY KEY, payload TEXT)"
INSERT = "INSERT INTO bench (id, payload) VALUES (?, ?)"


def summary(name, n, elapsed, latencies_ms):
    lat = sorted(latencies_ms)

    def pct(p):
        return lat[min(len(lat) - 1, int(p * len(lat)))] if lat else float("nan")

    return {
        "name": name,
        "transactions": n,
        "seconds": elapsed,
        "tps": n / elapsed,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
    }


def count_rows(path):
    con = sqlite3.connect(path)
    try:
        return con.execute("SELECT count(*) FROM bench").fetchone()[0]
    finally:
        con.close()


def run_threads(threads, per_thread, make_worker):
    """Runs `threads` workers doing `per_thread` inserts each, the row ids taken from one
    counter; returns (elapsed, latencies)."""
    latencies = [[] for _ in range(threads)]
    start = threading.Barrier(threads + 1)
    ids = itertools.count()
    workers = [
        threading.Thread(target=make_worker(ids, per_thread, latencies[t], start))
        for t in range(threads)
    ]
    for w in workers:
        w.start()
    start.wait()
    began = time.perf_counter()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - began
    return elapsed, [x for lat in latencies for x in lat]


def bench_stdlib_threads(path, threads, per_thread):
    setup = sqlite3.connect(path)
    setup.execute("PRAGMA journal_mode=WAL")
    setup.execute(CREATE)
    setup.commit()
    setup.close()

    def make_worker(ids, n, lat, start):
        def work():
            con = sqlite3.connect(path, isolation_level=None, timeout=60)
            con.execute("PRAGMA synchronous=FULL")
            start.wait()
            for _ in range(n):
                t0 = time.perf_counter()
                con.execute("BEGIN IMMEDIATE")
                con.execute(INSERT, (next(ids), PAYLOAD))
                con.execute("COMMIT")
                lat.append((time.perf_counter() - t0) * 1000)
            con.close()

        return work

    elapsed, lat = run_threads(threads, per_thread, make_worker)
    assert count_rows(path) == threads * per_thread
    return summary(f"stdlib sqlite3, {threads} threads", threads * per_thread, elapsed, lat)


def bench_committer_threads(path, threads, per_thread):
    db = litecommit.Committer(path, durability="full")
    db.execute(CREATE)

    def make_worker(ids, n, lat, start):
        def work():
            start.wait()
            for _ in range(n):
                t0 = time.perf_counter()
                db.execute(INSERT, (next(ids), PAYLOAD))
                lat.append((time.perf_counter() - t0) * 1000)

        return work

    elapsed, lat = run_threads(threads, per_thread, make_worker)
    stats = db.stats()
    db.close()
    assert count_rows(path) == threads * per_thread
    result = summary(f"litecommit.Committer, {threads} threads", threads * per_thread, elapsed, lat)
    result["mean_batch"] = stats["mean_batch_size"]
    return result


def bench_rust(path, n, in_flight, shape="pipelined"):
    """The Rust core alone: `in_flight` queued from one thread (`pipelined`), or that many
    threads of blocking `execute` (`threads`)."""
    measured = core_alone(path, n, in_flight, payload=PAYLOAD, durability="full", shape=shape)
    assert count_rows(path) == n
    if shape == "threads":
        name = f"Rust core alone, {in_flight} threads"
    elif in_flight >= n:
        name = "Rust core alone, all queued from 1 thread"
    else:
        name = f"Rust core alone, {in_flight} in flight"
    result = summary(name, n, measured["seconds"], measured["latencies_ms"])
    result["mean_batch"] = measured["mean_batch"]
    return result


async def run_tasks(tasks, per_task, one):
    """Runs `tasks` tasks doing `per_task` inserts each, the row ids taken from one counter;
    returns (elapsed, latencies)."""
    latencies = []
    ids = itertools.count()

    async def worker():
        for _ in range(per_task):
            t0 = time.perf_counter()
            await one(next(ids))
            latencies.append((time.perf_counter() - t0) * 1000)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(tasks)))
    return time.perf_counter() - began, latencies


def bench_aiosqlite(path, tasks, per_task, isolated):
    import aiosqlite

    async def main():
        async with aiosqlite.connect(path, isolation_level=None) as con:
            await con.execute("PRAGMA journal_mode=WAL")
            await con.execute("PRAGMA synchronous=FULL")
            await con.execute(CREATE)
            lock = asyncio.Lock()

            async def one_isolated(i):
                # One transaction per task: the connection is shared, so take turns.
                async with lock:
                    await con.execute("BEGIN IMMEDIATE")
                    await con.execute(INSERT, (i, PAYLOAD))
                    await con.execute("COMMIT")

            async def one_shared(i):
                # What many apps do: insert + commit without a lock. Inserts of other tasks
                # slip into the same transaction, so a task's "commit" may commit (or fail
                # with) another task's work.
                await con.execute(INSERT, (i, PAYLOAD))
                await con.commit()

            return await run_tasks(tasks, per_task, one_isolated if isolated else one_shared)

    elapsed, lat = asyncio.run(main())
    assert count_rows(path) == tasks * per_task
    kind = "one transaction per task" if isolated else "shared transaction, no lock"
    return summary(f"aiosqlite, {tasks} tasks ({kind})", tasks * per_task, elapsed, lat)


def bench_asyncio_alone(_path, tasks, per_task):
    """The tasks of `bench_async_committer` with no database: each transaction is a plain
    asyncio future, and one callback per loop iteration resolves every future made since
    (the binding resolves one batch per callback too)."""

    async def main():
        loop = asyncio.get_running_loop()
        waiting = []

        def resolve_all():
            resolved = waiting[:]
            waiting.clear()
            for future in resolved:
                future.set_result(None)

        async def one(i):
            future = loop.create_future()
            if not waiting:
                loop.call_soon(resolve_all)
            waiting.append(future)
            await future

        return await run_tasks(tasks, per_task, one)

    elapsed, lat = asyncio.run(main())
    return summary(f"asyncio alone, {tasks} tasks (no database)", tasks * per_task, elapsed, lat)


def bench_async_committer(path, tasks, per_task):
    async def main():
        async with litecommit.AsyncCommitter(path, durability="full") as db:
            await db.execute(CREATE)

            async def one(i):
                await db.execute(INSERT, (i, PAYLOAD))

            out = await run_tasks(tasks, per_task, one)
            return out, db.stats()["mean_batch_size"]

    (elapsed, lat), mean_batch = asyncio.run(main())
    assert count_rows(path) == tasks * per_task
    result = summary(f"litecommit.AsyncCommitter, {tasks} tasks", tasks * per_task, elapsed, lat)
    result["mean_batch"] = mean_batch
    return result


def bulk_submit(db, n, many):
    """Queues `n` single-row transactions on `db` with a loop of `submit` or one
    `submit_many`; returns the futures and when each was submitted."""
    if many:
        submitted_at = [time.perf_counter()] * n
        return db.submit_many(INSERT, [(i, PAYLOAD) for i in range(n)]), submitted_at
    futures, submitted_at = [], []
    for i in range(n):
        submitted_at.append(time.perf_counter())
        futures.append(db.submit(INSERT, (i, PAYLOAD)))
    return futures, submitted_at


def bench_bulk(path, n, many):
    """One thread queues `n` single-row transactions: a loop of `submit`, or `submit_many`.
    A transaction's latency runs from its submission to when the thread, taking the results
    in order, sees it resolved."""
    db = litecommit.Committer(path, durability="full")
    db.execute(CREATE)
    began = time.perf_counter()
    futures, submitted_at = bulk_submit(db, n, many)
    lat = []
    for f, submitted in zip(futures, submitted_at, strict=True):
        f.result()
        lat.append((time.perf_counter() - submitted) * 1000)
    elapsed = time.perf_counter() - began
    mean_batch = db.stats()["mean_batch_size"]
    db.close()
    assert count_rows(path) == n
    name = "Committer.submit_many" if many else "Committer, loop of submit"
    result = summary(f"{name}, 1 thread", n, elapsed, lat)
    result["mean_batch"] = mean_batch
    return result


def bench_bulk_async(path, n, many):
    """One event loop queues `n` single-row transactions: a loop of `submit`, or
    `submit_many`. Latency as in `bench_bulk`."""

    async def main():
        async with litecommit.AsyncCommitter(path, durability="full") as db:
            await db.execute(CREATE)
            began = time.perf_counter()
            futures, submitted_at = bulk_submit(db, n, many)
            lat = []
            for f, submitted in zip(futures, submitted_at, strict=True):
                await f
                lat.append((time.perf_counter() - submitted) * 1000)
            return time.perf_counter() - began, lat, db.stats()["mean_batch_size"]

    elapsed, lat, mean_batch = asyncio.run(main())
    assert count_rows(path) == n
    name = "AsyncCommitter.submit_many" if many else "AsyncCommitter, loop of submit"
    result = summary(f"{name}, 1 loop", n, elapsed, lat)
    result["mean_batch"] = mean_batch
    return result


def show(results):
    print(f"{'run':<58} {'tx':>7} {'tx/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'batch':>7}")
    for r in results:
        batch = f"{r['mean_batch']:>7.1f}" if "mean_batch" in r else f"{'':>7}"
        print(
            f"{r['name']:<58} {r['transactions']:>7} {r['tps']:>10.0f} "
            f"{r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} {batch}"
        )


def ratio_line(label, num, den, target=None, pairs=None):
    """Prints `num`'s throughput over `den`'s, both figures, the verdict on `target` and,
    for runs made in pairs, the ratio of every pair in the order they ran."""
    value = num["tps"] / den["tps"]
    verdict = None
    if target is None:
        judged = "no target"
    else:
        verdict = "met" if value >= target else "MISSED"
        judged = f"target >= {target}x: {verdict}"
    each = f" [pairs: {', '.join(f'{r:.2f}' for r in pairs)}]" if pairs else ""
    print(
        f"  {label:<52} {num['tps']:>9.0f} / {den['tps']:>9.0f} tx/s = {value:>6.2f}x  "
        f"({judged}){each}"
    )
    return {"label": label, "ratio": value, "target": target, "verdict": verdict, "pairs": pairs}


GROUPS = ["threads", "threads64", "async", "bulk"]

# (label, binding run, baseline run, target or None): what the figures are judged on;
# "{tasks}" stands for --tasks.
RATIOS = [
    ("Committer / stdlib sqlite3 (8 threads)", "committer", "stdlib", 5),
    ("Committer / Rust core (8 threads)", "committer", "core8t", None),
    ("Committer / Rust core (64 threads)", "committer64", "core64t", 0.5),
    ("AsyncCommitter / aiosqlite ({tasks} tasks)", "acommitter", "aio", 4),
    ("AsyncCommitter / aiosqlite shared, no lock", "acommitter", "aio_shared", None),
    ("AsyncCommitter / Rust core ({tasks} in flight)", "acommitter", "core_tasks", 0.4),
    ("asyncio alone, no database / Rust core", "asyncio_alone", "core_tasks", None),
    ("AsyncCommitter / asyncio alone, no database", "acommitter", "asyncio_alone", None),
    ("Committer.submit_many / Rust core (all queued)", "submit_many", "core_bulk", None),
    ("AsyncCommitter.submit_many / Rust core (all queued)", "asubmit_many", "core_bulk_a", None),
    ("Committer.submit_many / loop of submit", "submit_many", "submit_loop", None),
    ("AsyncCommitter.submit_many / loop of submit", "asubmit_many", "asubmit_loop", None),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every count")
    parser.add_argument("--repeat", type=int, default=3, help="runs per scenario (median shown)")
    parser.add_argument(
        "--pairs",
        type=int,
        default=9,
        help="alternating pairs per comparison with the core (the pair of median ratio shown)",
    )
    parser.add_argument(
        "--only",
        choices=GROUPS,
        action="append",
        help="run only these groups: 8 threads, 64 threads, 1,000 tasks, bulk (repeatable)",
    )
    parser.add_argument(
        "--tasks", type=int, default=1000, help="concurrent asyncio tasks of the async group"
    )
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument(
        "--no-fail", action="store_true", help="exit with status 0 even if a target is MISSED"
    )
    args = parser.parse_args()
    if args.repeat < 1 or args.pairs < 1 or args.tasks < 1:
        parser.error("--repeat, --pairs and --tasks must be at least 1")

    def scaled(n):
        return max(1, int(n * args.scale))

    groups = set(args.only or GROUPS)
    if core_alone is None:
        sys.exit(
            "bench.py needs the extension built with its bench feature: run `make bench-python`"
        )
    threads, many_threads, tasks = 8, 64, args.tasks
    print(
        f"litecommit Python benchmark: durability full, SQLite {litecommit.sqlite_version()}, "
        f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    with tempfile.TemporaryDirectory(prefix="litecommit-pybench-") as tmp:

        def db(name):
            return os.path.join(tmp, f"{name}.db")

        def median(run, name, *params, **options):
            # Each repetition on a fresh file; the run with the median throughput is shown.
            runs = [run(db(f"{name}-{k}"), *params, **options) for k in range(args.repeat)]
            return sorted(runs, key=lambda r: r["tps"])[len(runs) // 2]

        def paired(key, run, base_key, base):
            # The binding's run and its baseline's alternate, so that both see the same
            # machine load; the pair with the median ratio is shown.
            pairs = [
                (run(db(f"{key}-{k}")), base(db(f"{base_key}-{k}"))) for k in range(args.pairs)
            ]
            pair_ratios[key, base_key] = [a["tps"] / b["tps"] for a, b in pairs]
            pairs.sort(key=lambda p: p[0]["tps"] / p[1]["tps"])
            runs[key], runs[base_key] = pairs[len(pairs) // 2]

        def threads_vs_core(key, base_key, count, per_thread):
            # Committer.execute from `count` threads vs the core's blocking execute from as
            # many threads.
            paired(
                key,
                lambda path: bench_committer_threads(path, count, per_thread),
                base_key,
                lambda path: bench_rust(path, count * per_thread, count, shape="threads"),
            )

        runs = {}
        pair_ratios = {}
        if "threads" in groups:
            runs["stdlib"] = median(bench_stdlib_threads, "stdlib", threads, scaled(250))
            threads_vs_core("committer", "core8t", threads, scaled(1000))
        if "threads64" in groups:
            threads_vs_core("committer64", "core64t", many_threads, scaled(200))
        if "async" in groups:
            runs["aio"] = median(bench_aiosqlite, "aiosqlite", tasks, scaled(2), isolated=True)
            runs["aio_shared"] = median(
                bench_aiosqlite, "aiosqlite-shared", tasks, scaled(10), isolated=False
            )
            n = scaled(40)
            runs["asyncio_alone"] = median(bench_asyncio_alone, "asyncio-alone", tasks, n)
            paired(
                "acommitter",
                lambda path: bench_async_committer(path, tasks, n),
                "core_tasks",
                lambda path: bench_rust(path, tasks * n, tasks),
            )
        if "bulk" in groups:
            n = scaled(40000)
            runs["submit_loop"] = median(bench_bulk, "submit-loop", n, many=False)
            runs["asubmit_loop"] = median(bench_bulk_async, "asubmit-loop", n, many=False)
            paired(
                "submit_many",
                lambda path: bench_bulk(path, n, many=True),
                "core_bulk",
                lambda path: bench_rust(path, n, n),
            )
            paired(
                "asubmit_many",
                lambda path: bench_bulk_async(path, n, many=True),
                "core_bulk_a",
                lambda path: bench_rust(path, n, n),
            )

    results = list(runs.values())
    print()
    show(results)
    print()
    ratios = []
    for label, num, den, target in RATIOS:
        if num in runs and den in runs:
            pairs = pair_ratios.get((num, den))
            label = label.format(tasks=f"{args.tasks:,}")
            ratios.append(ratio_line(label, runs[num], runs[den], target, pairs))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"results": results, "ratios": ratios}, f, indent=2)
    missed = [r["label"] for r in ratios if r["verdict"] == "MISSED"]
    if missed and not args.no_fail:
        sys.exit(
            f"{len(missed)} target(s) MISSED: {'; '.join(missed)} "
            "(pass --no-fail, or BENCH_NO_FAIL=1 to make, to report without failing)"
        )


if __name__ == "__main__":
    main()
