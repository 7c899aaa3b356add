//! The async API: `submit_async`, `transaction_async` and `execute_async` under tokio and
//! under a minimal executor, waiting for room in a full queue, dropped futures, close.
//!
//! Nothing sleeps to synchronise: tests hold the writer in an event listener (`Gate`) to
//! make the queue full, and wait on the committer's stats and on wakers being called.

mod common;

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;

use common::{int, open, query_int, temp_db, wait_until, Batch, Gate, PATIENCE};
use litecommit::{params, Committer, Config, Error, FlushPolicy, FlushTrigger, Transaction, Value};

/// Runs `f` on another thread; fails the test if it does not finish within `PATIENCE` (a
/// lost wake-up then fails the test instead of hanging it).
fn within_patience<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || drop(tx.send(f())));
    rx.recv_timeout(PATIENCE)
        .unwrap_or_else(|_| panic!("{what} did not finish"))
}

/// Wakes a parked thread.
struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// A minimal executor: polls `fut` on this thread, parking between wakes.
fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::park();
    }
}

/// A waker that counts its wakes, for polling futures by hand.
#[derive(Default)]
struct Counter(AtomicUsize);

impl Wake for Counter {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl Counter {
    fn wakes(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// A runtime of two worker threads.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap()
}

/// Spawns `tasks` tasks on `runtime`, task `i` inserting `i` into `t (task)`.
fn spawn_inserts(
    runtime: &tokio::runtime::Runtime,
    db: &Arc<Committer>,
    tasks: usize,
) -> Vec<tokio::task::JoinHandle<litecommit::Result<litecommit::TransactionResult>>> {
    (0..tasks)
        .map(|task| {
            let db = Arc::clone(db);
            runtime.spawn(async move {
                db.execute_async("INSERT INTO t (task) VALUES (?)", params![task])
                    .await
            })
        })
        .collect()
}

/// Runs `tasks` to their end on `runtime` (failing the test after `PATIENCE`) and returns
/// what each gave.
fn join_all<T: Send + 'static>(
    runtime: tokio::runtime::Runtime,
    tasks: Vec<tokio::task::JoinHandle<T>>,
) -> Vec<T> {
    within_patience("the tasks", move || {
        runtime.block_on(async {
            let mut results = Vec::new();
            for task in tasks {
                results.push(task.await.unwrap());
            }
            results
        })
    })
}

/// Polls `fut` once with `counter` as its waker.
fn poll_once<F: Future + Unpin>(fut: &mut F, counter: &Arc<Counter>) -> Poll<F::Output> {
    let waker = Waker::from(Arc::clone(counter));
    std::pin::Pin::new(fut).poll(&mut Context::from_waker(&waker))
}

fn open_with(path: &std::path::Path, gate: &Arc<Gate>, queue_capacity: usize) -> Committer {
    let db = open(
        path,
        gate.config(Config {
            queue_capacity,
            ..Config::default()
        }),
    );
    db.execute(
        "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, task INTEGER, seq INTEGER)",
        (),
    )
    .unwrap();
    db
}

fn insert(task: i64, seq: i64) -> Transaction {
    Transaction::single(
        "INSERT INTO t (task, seq) VALUES (?, ?)",
        params![task, seq],
    )
}

#[test]
fn many_tokio_tasks_wait_for_room_in_a_small_queue_and_all_commit() {
    const CAPACITY: usize = 4;
    const TASKS: usize = 64;
    let (_dir, path) = temp_db();
    let gate = Gate::new();
    let db = Arc::new(open_with(&path, &gate, CAPACITY));
    let runtime = runtime();
    // With the writer held, the first CAPACITY tasks fill the queue and the others wait.
    gate.hold_writer(&db);
    let tasks = spawn_inserts(&runtime, &db, TASKS);
    wait_until("every task queued or waiting for room", || {
        let stats = db.stats();
        stats.queue_length == CAPACITY as u64 && stats.submitting == (TASKS - CAPACITY) as u64
    });
    gate.release();
    let results = join_all(runtime, tasks);
    for result in results {
        assert_eq!(result.unwrap().last().unwrap().changes, 1);
    }
    assert_eq!(
        query_int(&db, "SELECT count(DISTINCT task) FROM t", ()),
        TASKS as i64
    );
    assert_eq!(db.stats().submitting, 0);
    db.close().unwrap();
}

#[test]
fn tasks_waiting_for_room_are_woken_while_the_writer_waits_for_its_timer() {
    const CAPACITY: usize = 2;
    const TASKS: usize = 12;
    let (_dir, path) = temp_db();
    open(&path, Config::default())
        .execute("CREATE TABLE t (task INTEGER)", ())
        .unwrap();
    let gate = Gate::new();
    // A batch closes at TASKS transactions; its timer would not fire within the test.
    let db = Arc::new(open(
        &path,
        gate.config(Config {
            queue_capacity: CAPACITY,
            flush_policy: FlushPolicy::Ticker,
            max_batch_size: TASKS,
            max_wait_ms: 3_600_000,
            ..Config::default()
        }),
    ));
    let runtime = runtime();
    let tasks = spawn_inserts(&runtime, &db, TASKS);
    // The writer takes what is queued, then waits for more: the tasks waiting for room must
    // be woken by then, or the batch would only close at its timer.
    for result in join_all(runtime, tasks) {
        result.unwrap();
    }
    // The batch's event comes after its outcomes.
    assert_eq!(
        gate.wait_batches(1),
        [Batch::Committed {
            size: TASKS,
            trigger: FlushTrigger::Size
        }]
    );
    db.close().unwrap();
}

#[test]
fn tokio_tasks_keep_their_order_through_a_queue_of_one() {
    const TASKS: i64 = 16;
    const PER_TASK: i64 = 50;
    let (_dir, path) = temp_db();
    let db = Arc::new(open_with(&path, &Gate::new(), 1));
    let runtime = runtime();
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let db = Arc::clone(&db);
            runtime.spawn(async move {
                // Queued one after another, awaited at the end: they commit in this order.
                let mut pending = Vec::new();
                for seq in 0..PER_TASK {
                    pending.push(db.submit_async(insert(task, seq)).await?);
                }
                for p in pending {
                    p.await?;
                }
                Ok::<_, Error>(())
            })
        })
        .collect();
    for result in join_all(runtime, tasks) {
        result.unwrap();
    }
    assert_eq!(
        query_int(&db, "SELECT count(*) FROM t", ()),
        TASKS * PER_TASK
    );
    // Per task, ids (commit order) grow with seq (submission order).
    let out_of_order = query_int(
        &db,
        "SELECT count(*) FROM t a JOIN t b ON a.task = b.task AND a.seq < b.seq WHERE a.id > b.id",
        (),
    );
    assert_eq!(out_of_order, 0);
    db.close().unwrap();
}

#[test]
fn a_minimal_executor_runs_every_async_call() {
    let (_dir, path) = temp_db();
    let db = open_with(&path, &Gate::new(), 8);
    block_on(async {
        let r = db
            .execute_async(
                "INSERT INTO t (task, seq) VALUES (?, ?) RETURNING id",
                params![1, 1],
            )
            .await
            .unwrap();
        assert_eq!(r.statements[0].rows.rows, vec![vec![Value::Integer(1)]]);

        let r = db
            .transaction_async(
                Transaction::new()
                    .push("INSERT INTO t (task, seq) VALUES (2, 1)", ())
                    .push(
                        "UPDATE t SET seq = seq + 10 WHERE task = ? RETURNING seq",
                        params![2],
                    ),
            )
            .await
            .unwrap();
        assert_eq!(r.statements[1].rows.rows, vec![vec![Value::Integer(11)]]);

        let pending = db.submit_async(insert(3, 1)).await.unwrap();
        assert_eq!(pending.await.unwrap().last().unwrap().last_insert_rowid, 3);

        // Errors are the blocking calls' errors.
        let err = db
            .execute_async("INSERT INTO t (id) VALUES (1)", ())
            .await
            .unwrap_err();
        assert_eq!(err.code_name(), "SQLITE_CONSTRAINT_PRIMARYKEY", "{err:?}");
        let err = db.execute_async("VACUUM", ()).await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::Refused {
                    statement_index: 0,
                    ..
                }
            ),
            "{err:?}"
        );
        let err = db
            .submit_async(insert(4, 1).push("BEGIN", ()))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::Refused {
                    statement_index: 1,
                    ..
                }
            ),
            "{err:?}"
        );
    });
    assert_eq!(query_int(&db, "SELECT count(*) FROM t", ()), 3);
    db.close().unwrap();
}

#[test]
fn a_future_dropped_after_its_transaction_was_queued_still_commits() {
    let (_dir, path) = temp_db();
    let gate = Gate::new();
    let db = open_with(&path, &gate, 8);
    gate.hold_writer(&db);
    let counter = Arc::new(Counter::default());
    let mut tx_future = db.execute_async("INSERT INTO t (task, seq) VALUES (1, 0)", ());
    assert!(poll_once(&mut tx_future, &counter).is_pending());
    let mut submit = db.submit_async(insert(2, 0));
    let Poll::Ready(Ok(pending)) = poll_once(&mut submit, &counter) else {
        panic!("the queue had room");
    };
    // Both are queued, behind the held writer; nobody will await their outcome.
    assert_eq!(db.stats().queue_length, 2);
    drop(tx_future);
    drop(pending);
    gate.release();
    db.flush().unwrap();
    assert_eq!(query_int(&db, "SELECT count(*) FROM t", ()), 2);
    db.close().unwrap();
}

#[test]
fn a_future_dropped_while_it_waits_for_room_queues_nothing() {
    let (_dir, path) = temp_db();
    let gate = Gate::new();
    let db = open_with(&path, &gate, 1);
    gate.hold_writer(&db);
    let queued = db.try_submit(insert(1, 0)).unwrap();
    let counter = Arc::new(Counter::default());
    let mut waiting = db.execute_async("INSERT INTO t (task, seq) VALUES (2, 0)", ());
    assert!(poll_once(&mut waiting, &counter).is_pending());
    assert_eq!(db.stats().submitting, 1);
    drop(waiting);
    assert_eq!(db.stats().submitting, 0);
    gate.release();
    queued.wait().unwrap();
    db.flush().unwrap();
    assert_eq!(query_int(&db, "SELECT count(*) FROM t", ()), 1);
    assert_eq!(counter.wakes(), 0);
    db.close().unwrap();
}

#[test]
fn a_future_waiting_for_room_is_woken_when_the_writer_drains() {
    let (_dir, path) = temp_db();
    let gate = Gate::new();
    let db = open_with(&path, &gate, 1);
    gate.hold_writer(&db);
    let queued = db.try_submit(insert(1, 0)).unwrap();
    let (first, second) = (Arc::new(Counter::default()), Arc::new(Counter::default()));
    let mut a = db.submit_async(insert(2, 0));
    let mut b = db.submit_async(insert(3, 0));
    assert!(poll_once(&mut a, &first).is_pending());
    assert!(poll_once(&mut b, &second).is_pending());
    assert_eq!(db.stats().submitting, 2);
    gate.release();
    // The writer took the one queued message: it wakes the waiter that waited longest.
    wait_until("the first waiter is woken", || first.wakes() > 0);
    queued.wait().unwrap();
    assert_eq!(second.wakes(), 0, "one slot freed, two waiters woken");
    // Dropped without taking the room it was woken for, `a` passes the wake on to `b`.
    drop(a);
    wait_until("the second waiter is woken", || second.wakes() > 0);
    let Poll::Ready(Ok(pending)) = poll_once(&mut b, &second) else {
        panic!("the woken waiter did not get the room");
    };
    block_on(pending).unwrap();
    let rows = db.query("SELECT task FROM t ORDER BY id", ()).unwrap();
    let tasks: Vec<i64> = rows.rows.iter().map(|r| int(&r[0])).collect();
    assert_eq!(tasks, vec![1, 3]);
    db.close().unwrap();
}

#[test]
fn async_calls_fail_with_closed_after_close_and_when_closing_starts_while_they_wait() {
    let (_dir, path) = temp_db();
    let gate = Gate::new();
    let db = Arc::new(open_with(&path, &gate, 1));
    gate.hold_writer(&db);
    let queued = db.try_submit(insert(1, 0)).unwrap();
    let counter = Arc::new(Counter::default());
    let mut waiting = db.execute_async("INSERT INTO t (task, seq) VALUES (2, 0)", ());
    assert!(poll_once(&mut waiting, &counter).is_pending());
    let closing = {
        let db = Arc::clone(&db);
        std::thread::spawn(move || db.close())
    };
    wait_until("closing wakes the waiter", || counter.wakes() > 0);
    assert!(matches!(
        poll_once(&mut waiting, &counter),
        Poll::Ready(Err(Error::Closed))
    ));
    gate.release();
    closing.join().unwrap().unwrap();
    // What was queued before close commits.
    queued.wait().unwrap();
    block_on(async {
        assert_eq!(
            db.execute_async("SELECT 1", ()).await.unwrap_err(),
            Error::Closed
        );
        assert_eq!(
            db.submit_async(insert(3, 0)).await.unwrap_err(),
            Error::Closed
        );
        assert_eq!(
            db.transaction_async(insert(3, 0)).await.unwrap_err(),
            Error::Closed
        );
    });
}

#[test]
fn pending_future_try_get_and_a_second_poll() {
    let (_dir, path) = temp_db();
    let db = open_with(&path, &Gate::new(), 8);
    let mut pending = block_on(db.submit_async(insert(1, 0))).unwrap();
    db.flush().unwrap();
    let outcome = pending.try_get().expect("flushed: the outcome is known");
    assert_eq!(outcome.unwrap().last().unwrap().changes, 1);
    // Taken: a second look is an error, never a panic.
    assert!(matches!(pending.try_get(), Some(Err(Error::Internal(_)))));
    let counter = Arc::new(Counter::default());
    assert!(matches!(
        poll_once(&mut pending, &counter),
        Poll::Ready(Err(Error::Internal(_)))
    ));
    db.close().unwrap();
}
