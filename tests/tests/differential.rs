//! Batched equals alone: transactions submitted concurrently to a committer give, each, the
//! outcome they give when they run alone on a fresh connection in the committed order (see
//! `litecommit_tests::oracle`), and both databases end up identical.
//!
//! `batched_equals_alone` runs random workloads with random configurations (a bounded slice,
//! or with `LITECOMMIT_SOAK=1` at least a million transactions; `LITECOMMIT_DIFF_TOTAL`
//! overrides that total). Every run prints its seed and the environment that replays it
//! alone (same transactions, threads and configuration; batch boundaries depend on timing).
//! The other tests force chosen transactions into one batch.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use litecommit::{Committer, Config, Durability, Error, Event, FlushPolicy, Params, Value};
use litecommit_tests::oracle::{self, Observed, Oracle, Settings};
use litecommit_tests::rng::{soak, Rng};
use litecommit_tests::workload::{self, GenTransaction, Refusal};

/// Upper bound of every wait (a hang guard, never a performance claim).
const PATIENCE: Duration = Duration::from_secs(60);

/// What the writer thread records, in the order it runs transactions.
#[derive(Debug)]
enum Entry {
    /// A transaction's outcome (from its completion callback).
    Tx { id: usize, outcome: Observed },
    /// The end of a batch (from the event listener, after the batch's callbacks).
    Batch { failed: bool },
}

/// State shared between the submitting threads, the callbacks and the event listener.
#[derive(Default)]
struct Shared {
    log: Mutex<Vec<Entry>>,
    /// Completions per submitting thread.
    done: Mutex<Vec<usize>>,
    changed: Condvar,
    checkpoints: AtomicU64,
}

impl Shared {
    fn new(threads: usize) -> Arc<Shared> {
        Arc::new(Shared {
            done: Mutex::new(vec![0; threads]),
            ..Shared::default()
        })
    }

    fn listener(self: &Arc<Shared>) -> litecommit::EventListener {
        let shared = Arc::clone(self);
        Arc::new(move |event: &Event| match event {
            Event::BatchCommitted { .. } => shared.push(Entry::Batch { failed: false }),
            Event::BatchFailed { .. } => shared.push(Entry::Batch { failed: true }),
            Event::CheckpointFinished { .. } => {
                shared.checkpoints.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        })
    }

    fn push(&self, entry: Entry) {
        self.log.lock().unwrap().push(entry);
    }

    /// Submits `tx` for thread `thread`; its callback logs the outcome.
    fn submit(self: &Arc<Shared>, db: &Committer, tx: &GenTransaction, thread: usize) -> Submitted {
        let shared = Arc::clone(self);
        let id = tx.id;
        let result = db.submit_with_callback(tx.transaction(), move |outcome| {
            shared.push(Entry::Tx {
                id,
                outcome: oracle::observe(&outcome),
            });
            shared.done.lock().unwrap()[thread] += 1;
            shared.changed.notify_all();
        });
        match result {
            Ok(()) => Submitted::Accepted,
            Err(Error::Refused {
                statement_index, ..
            }) => Submitted::Refused(statement_index),
            Err(e) => Submitted::Failed(e),
        }
    }

    /// Waits until thread `thread` has `count` completions.
    fn wait_done(&self, thread: usize, count: usize) {
        let done = self.done.lock().unwrap();
        let (done, _) = self
            .changed
            .wait_timeout_while(done, PATIENCE, |d| d[thread] < count)
            .unwrap();
        assert!(done[thread] >= count, "no completion within {PATIENCE:?}");
    }
}

/// What `submit_with_callback` answered.
#[derive(Debug)]
enum Submitted {
    Accepted,
    Refused(usize),
    Failed(Error),
}

/// The batches of a log: for each transaction id, its batch number and position.
struct Batches {
    /// Transaction ids of each batch, in order.
    members: Vec<Vec<usize>>,
    failed: Vec<bool>,
    /// id -> batch number.
    of: HashMap<usize, usize>,
}

impl Batches {
    fn of_log(log: &[Entry]) -> Batches {
        let mut batches = Batches {
            members: Vec::new(),
            failed: Vec::new(),
            of: HashMap::new(),
        };
        let mut current = Vec::new();
        for entry in log {
            match entry {
                Entry::Tx { id, .. } => current.push(*id),
                Entry::Batch { failed } => {
                    if !current.is_empty() {
                        for id in &current {
                            batches.of.insert(*id, batches.members.len());
                        }
                        batches.members.push(std::mem::take(&mut current));
                        batches.failed.push(*failed);
                    }
                }
            }
        }
        if !current.is_empty() {
            batches.members.push(current);
            batches.failed.push(false);
        }
        batches
    }
}

/// A committer configuration drawn at random, with small checkpoint thresholds so that
/// checkpoints run during the workload.
fn random_config(rng: &mut Rng) -> Config {
    let mut c = Config {
        durability: *rng.pick(&[
            Durability::Off,
            Durability::Off,
            Durability::Normal,
            Durability::Normal,
            Durability::Full,
        ]),
        flush_policy: if rng.chance(30) {
            FlushPolicy::Ticker
        } else {
            FlushPolicy::Adaptive
        },
        max_wait_ms: *rng.pick(&[1, 2, 3, 20]),
        linger_ms: rng.below(3),
        max_batch_size: if rng.chance(80) {
            1 + rng.below(64) as usize
        } else {
            *rng.pick(&[128, 256, 1000])
        },
        dynamic_batch_size: rng.chance(50),
        queue_capacity: *rng.pick(&[1, 2, 4, 16, 64, 256, 10_000]),
        read_connections: 1,
        checkpoint: rng.chance(75),
        passive_threshold_mb: *rng.pick(&[0.02, 0.05, 0.2]),
        checkpoint_busy_timeout_ms: *rng.pick(&[1, 10, 100]),
        truncate_when_idle: rng.chance(20),
        idle_ms: 1 + rng.below(20),
        statement_cache_capacity: *rng.pick(&[1, 4, 256]),
        journal_size_limit: *rng.pick(&[None, Some(0), Some(64 * 1024)]),
        ..Config::default()
    };
    c.restart_threshold_mb = c.passive_threshold_mb * *rng.pick(&[1.0, 2.0, 4.0]);
    c
}

fn describe(config: &Config) -> String {
    format!(
        "durability={:?} flush_policy={:?} max_batch_size={} max_wait_ms={} linger_ms={} \
         dynamic_batch_size={} queue_capacity={} checkpoint={} passive_mb={} restart_mb={} \
         truncate_when_idle={} statement_cache={} journal_size_limit={:?}",
        config.durability,
        config.flush_policy,
        config.max_batch_size,
        config.max_wait_ms,
        config.linger_ms,
        config.dynamic_batch_size,
        config.queue_capacity,
        config.checkpoint,
        config.passive_threshold_mb,
        config.restart_threshold_mb,
        config.truncate_when_idle,
        config.statement_cache_capacity,
        config.journal_size_limit,
    )
}

/// The result of one run: transactions checked and the differences found (a run stops
/// comparing outcomes at its first difference, since the databases diverge from there).
#[derive(Default)]
struct RunReport {
    checked: usize,
    differences: Vec<String>,
    batches: usize,
    multi_batches: usize,
    largest_batch: usize,
    checkpoints: u64,
    /// Time spent committing through the committer, and replaying alone.
    committing: Duration,
    replaying: Duration,
    /// How many transactions ended how (committed, each error code, refused, ...).
    outcomes: BTreeMap<String, usize>,
}

/// The kind of an outcome, for the coverage summary.
fn kind(outcome: &Observed) -> String {
    match outcome {
        Ok(_) => "committed".into(),
        Err(oracle::Failure::Sqlite {
            extended_code,
            statement_index,
            ..
        }) => format!(
            "{} {}",
            litecommit::code_name(*extended_code),
            if statement_index.is_some() {
                "in a statement"
            } else {
                "at commit"
            }
        ),
        Err(oracle::Failure::Parameter { .. }) => "parameter error".into(),
        Err(oracle::Failure::Refused { .. }) => "refused when run".into(),
        Err(oracle::Failure::Other(_)) => "other error".into(),
    }
}

/// Creates the schema through the committer (one statement per transaction).
fn create_schema(db: &Committer) {
    let pending: Vec<_> = workload::SCHEMA
        .iter()
        .map(|sql| {
            db.submit(litecommit::Transaction::single(sql.to_string(), ()))
                .unwrap_or_else(|e| panic!("schema submit: {e}"))
        })
        .collect();
    db.flush().expect("flush schema");
    for (p, sql) in pending.into_iter().zip(workload::SCHEMA) {
        if let Err(e) = p.wait_timeout(PATIENCE) {
            panic!("schema: {sql}: {e}");
        }
    }
}

/// How many transactions the run with `seed` submits: 500, or in a soak run 2,000 to 8,000.
fn run_size(seed: u64, soak: bool) -> usize {
    if soak {
        2_000 + Rng::new(seed ^ 0x5EED).below(6_000) as usize
    } else {
        500
    }
}

/// The environment that replays the run with `seed` as the first run of
/// `batched_equals_alone`, and only that run.
fn replay(seed: u64, soak: bool) -> String {
    let soak = if soak { "LITECOMMIT_SOAK=1 " } else { "" };
    format!("{soak}LITECOMMIT_SEED={seed} LITECOMMIT_DIFF_TOTAL=1")
}

/// One random run: `count` transactions from `threads` threads on a committer with a
/// random configuration, then the replay alone and the final comparison.
fn run_once(seed: u64, count: usize, soak: bool) -> RunReport {
    let mut rng = Rng::new(seed);
    let threads = 2 + rng.below(7) as usize;
    let mut config = random_config(&mut rng);
    let txs = workload::transactions(&mut rng, count);
    let mut per_thread: Vec<Vec<usize>> = vec![Vec::new(); threads];
    for tx in &txs {
        per_thread[rng.below(threads as u64) as usize].push(tx.id);
    }
    let thread_seeds: Vec<u64> = (0..threads).map(|_| rng.next_u64()).collect();
    println!(
        "run seed {seed} (replay: {}): {count} transactions, {threads} threads, {}",
        replay(seed, soak),
        describe(&config)
    );

    let started = Instant::now();
    let dir = tempfile::tempdir().expect("temporary directory");
    let shared = Shared::new(threads);
    config.event_listener = Some(shared.listener());
    let settings = Settings::of(&config);
    let db = Committer::open(dir.path().join("batched.db"), config).expect("open committer");
    create_schema(&db);

    let submitted: Vec<(usize, Submitted)> = std::thread::scope(|s| {
        let handles: Vec<_> = per_thread
            .iter()
            .zip(&thread_seeds)
            .enumerate()
            .map(|(t, (ids, seed))| {
                let (db, txs, shared) = (&db, &txs, &shared);
                s.spawn(move || submit_all(db, shared, t, ids, txs, *seed))
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("submitting thread"))
            .collect()
    });
    db.flush().expect("final flush");
    db.close().expect("close");
    let checkpoints = shared.checkpoints.load(Ordering::Relaxed);
    drop(db);

    let log = std::mem::take(&mut *shared.log.lock().unwrap());
    let batches = Batches::of_log(&log);
    let mut report = RunReport {
        batches: batches.members.len(),
        multi_batches: batches.members.iter().filter(|b| b.len() > 1).count(),
        largest_batch: batches.members.iter().map(Vec::len).max().unwrap_or(0),
        checkpoints,
        committing: started.elapsed(),
        ..RunReport::default()
    };
    let header = format!("seed {seed} (replay: {})", replay(seed, soak));

    // Refusals at submit: exactly the statements that must be refused.
    let mut accepted = HashSet::new();
    for (id, result) in &submitted {
        let tx = &txs[*id];
        match result {
            Submitted::Accepted => {
                accepted.insert(*id);
                if let Some(i) = tx.must_refuse_at() {
                    report.differences.push(format!(
                        "DIFFERENCE {header}: statement {i} was accepted, it must be refused at \
                         submit\n{tx}"
                    ));
                }
            }
            Submitted::Refused(i) => {
                report.checked += 1;
                *report
                    .outcomes
                    .entry("refused at submit".into())
                    .or_default() += 1;
                if !tx.may_refuse_at(*i) {
                    report.differences.push(format!(
                        "DIFFERENCE {header}: statement {i} was refused at submit; alone it runs \
                         (first statement that must be refused: {:?})\n{tx}",
                        tx.must_refuse_at()
                    ));
                }
            }
            Submitted::Failed(e) => report
                .differences
                .push(format!("DIFFERENCE {header}: submit failed: {e}\n{tx}")),
        }
    }

    // Every accepted transaction completed exactly once, each thread's in submission order.
    let mut position = HashMap::new();
    let ids = log.iter().filter_map(|e| match e {
        Entry::Tx { id, .. } => Some(*id),
        Entry::Batch { .. } => None,
    });
    for (pos, id) in ids.enumerate() {
        assert!(
            position.insert(id, pos).is_none(),
            "{header}: transaction {id} completed twice"
        );
    }
    for id in &accepted {
        assert!(
            position.contains_key(id),
            "{header}: transaction {id} was accepted but never completed"
        );
    }
    assert_eq!(position.len(), accepted.len(), "{header}: completions");
    for ids in &per_thread {
        let order: Vec<usize> = ids
            .iter()
            .filter_map(|id| position.get(id).copied())
            .collect();
        assert!(
            order.windows(2).all(|w| w[0] < w[1]),
            "{header}: a thread's transactions committed out of submission order"
        );
    }

    // Replay alone, in the committed order.
    let started = Instant::now();
    let oracle = Oracle::create(&dir.path().join("alone.db"), settings, workload::SCHEMA);
    let mut replay_ok = true;
    for entry in &log {
        let Entry::Tx { id, outcome } = entry else {
            continue;
        };
        let alone = oracle.run(&txs[*id].transaction());
        report.checked += 1;
        *report.outcomes.entry(kind(outcome)).or_default() += 1;
        if !oracle::same(outcome, &alone) {
            report.differences.push(format!(
                "DIFFERENCE {header}: transaction {id} (committed position {})\n{}batched: {}\nalone:   {}\n{}",
                position[id],
                txs[*id],
                show(outcome),
                show(&alone),
                neighbours(&batches, &log, &txs, *id)
            ));
            replay_ok = false;
            break;
        }
    }
    report.replaying = started.elapsed();

    // The whole database, and its health.
    if replay_ok {
        let batched = oracle::dump(&dir.path().join("batched.db"));
        let alone = oracle::dump(oracle.path());
        if batched != alone {
            report.differences.push(format!(
                "DIFFERENCE {header}: final databases differ\n{}",
                dump_difference(&batched, &alone)
            ));
        }
    }
    let (integrity, foreign) = oracle::health(&dir.path().join("batched.db"));
    if integrity != vec![vec![Value::Text("ok".into())]] || !foreign.is_empty() {
        report.differences.push(format!(
            "DIFFERENCE {header}: batched database unhealthy: integrity_check {integrity:?}, \
             foreign_key_check {foreign:?}"
        ));
    }
    report
}

/// Submits thread `thread`'s transactions in order, with random pauses (yields, spins,
/// flush barriers, waits for its own outstanding transactions) so that batch boundaries vary.
fn submit_all(
    db: &Committer,
    shared: &Arc<Shared>,
    thread: usize,
    ids: &[usize],
    txs: &[GenTransaction],
    seed: u64,
) -> Vec<(usize, Submitted)> {
    let mut rng = Rng::new(seed);
    let mut accepted = 0;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        match rng.below(100) {
            0..=54 => {}
            55..=74 => std::thread::yield_now(),
            75..=86 => {
                for _ in 0..rng.below(5000) {
                    std::hint::spin_loop();
                }
            }
            87..=90 => db.flush().expect("flush"),
            _ => shared.wait_done(thread, accepted),
        }
        let result = shared.submit(db, &txs[*id], thread);
        if matches!(result, Submitted::Accepted) {
            accepted += 1;
        }
        out.push((*id, result));
    }
    out
}

fn show(outcome: &Observed) -> String {
    match outcome {
        Ok(r) => {
            let parts: Vec<String> = r
                .statements
                .iter()
                .map(|s| {
                    format!(
                        "{{changes {}, rowid {}, columns {:?}, rows {:?}}}",
                        s.changes, s.last_insert_rowid, s.rows.columns, s.rows.rows
                    )
                })
                .collect();
            format!("Ok [{}]", parts.join(", "))
        }
        Err(f) => format!("Err {f:?}"),
    }
}

/// The batch of transaction `id` as far as it is known: its neighbours and their outcomes.
fn neighbours(batches: &Batches, log: &[Entry], txs: &[GenTransaction], id: usize) -> String {
    let Some(&b) = batches.of.get(&id) else {
        return "batch: unknown\n".into();
    };
    let members = &batches.members[b];
    let at = members.iter().position(|m| *m == id).unwrap_or(0);
    let outcomes: HashMap<usize, &Observed> = log
        .iter()
        .filter_map(|e| match e {
            Entry::Tx { id, outcome } => Some((*id, outcome)),
            Entry::Batch { .. } => None,
        })
        .collect();
    let mut out =
        format!(
        "batch {b}: {} transactions{}, this one at position {at}; neighbours before it (up to 8) \
         and after it (up to 3):\n",
        members.len(),
        if batches.failed[b] { " (batch failed)" } else { "" }
    );
    let from = at.saturating_sub(8);
    let to = (at + 4).min(members.len());
    for m in &members[from..to] {
        if *m == id {
            out.push_str("  >>> this transaction <<<\n");
            continue;
        }
        out.push_str(&format!("{}  -> {}\n", txs[*m], show(outcomes[m])));
    }
    out
}

fn dump_difference(batched: &oracle::Dump, alone: &oracle::Dump) -> String {
    let mut out = String::new();
    if batched.user_version != alone.user_version {
        out.push_str(&format!(
            "user_version: batched {} alone {}\n",
            batched.user_version, alone.user_version
        ));
    }
    if batched.application_id != alone.application_id {
        out.push_str(&format!(
            "application_id: batched {} alone {}\n",
            batched.application_id, alone.application_id
        ));
    }
    if batched.schema != alone.schema {
        out.push_str(&format!(
            "schema:\n  batched {:?}\n  alone   {:?}\n",
            batched.schema, alone.schema
        ));
    }
    for (name, rows) in &batched.tables {
        let other = alone.tables.iter().find(|(n, _)| n == name).map(|(_, r)| r);
        if other != Some(rows) {
            out.push_str(&format!(
                "table {name}:\n  batched {rows:?}\n  alone   {other:?}\n"
            ));
        }
    }
    out
}

/// Runs random workloads: a bounded slice by default, a million transactions or more in a
/// soak run. Fails if any transaction's outcome, or the final database, differs.
#[test]
fn batched_equals_alone() {
    let seed = Rng::seed_from_env();
    let soak = soak();
    let total: usize = std::env::var("LITECOMMIT_DIFF_TOTAL")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if soak { 1_000_000 } else { 3_000 });
    let soak_env = if soak { "LITECOMMIT_SOAK=1 " } else { "" };
    println!(
        "differential: seed {seed} (replay: {soak_env}LITECOMMIT_SEED={seed}), at least {total} \
         transactions"
    );
    let started = Instant::now();
    let (mut generated, mut checked, mut runs, mut failed_runs) = (0usize, 0usize, 0u64, 0usize);
    let mut differences = Vec::new();
    let (mut batches, mut multi, mut largest, mut checkpoints) = (0, 0, 0, 0);
    let (mut committing, mut replaying) = (Duration::ZERO, Duration::ZERO);
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    while generated < total {
        let run_seed = seed.wrapping_add(runs);
        let count = run_size(run_seed, soak);
        let report = run_once(run_seed, count, soak);
        runs += 1;
        generated += count;
        checked += report.checked;
        batches += report.batches;
        multi += report.multi_batches;
        largest = largest.max(report.largest_batch);
        checkpoints += report.checkpoints;
        committing += report.committing;
        replaying += report.replaying;
        for (k, n) in &report.outcomes {
            *outcomes.entry(k.clone()).or_default() += n;
        }
        if !report.differences.is_empty() {
            failed_runs += 1;
            for d in &report.differences {
                println!("{d}");
            }
            differences.extend(report.differences);
        }
        if soak {
            println!(
                "differential: run {runs}: {checked} transactions checked, {} differences in \
                 {failed_runs} runs, {:.0} s ({:.0} s committing, {:.0} s replaying alone)",
                differences.len(),
                started.elapsed().as_secs_f64(),
                committing.as_secs_f64(),
                replaying.as_secs_f64()
            );
        }
    }
    println!(
        "differential: seed {seed}: {runs} runs, {checked} transactions checked, {batches} \
         batches ({multi} with more than one transaction, largest {largest}), {checkpoints} \
         checkpoints, {} differences in {failed_runs} runs",
        differences.len()
    );
    let coverage: Vec<String> = outcomes.iter().map(|(k, n)| format!("{k}: {n}")).collect();
    println!("differential: outcomes: {}", coverage.join(", "));
    assert!(
        differences.is_empty(),
        "{} differences between batched and alone in {failed_runs} of {runs} runs (seed {seed}); \
         first:\n{}",
        differences.len(),
        differences[0]
    );
}

// ---------------------------------------------------------------------------------------
// Chosen transactions forced into one batch: the ticker policy with a long period never
// flushes on its own, so everything submitted before `flush()` commits as one batch.

/// Submits `txs` so that all accepted ones share one batch, checks the refusals, replays
/// them alone and compares outcomes and the final database. Returns the differences.
fn one_batch(txs: &[GenTransaction]) -> Vec<String> {
    let dir = tempfile::tempdir().expect("temporary directory");
    let shared = Shared::new(1);
    let config = Config {
        flush_policy: FlushPolicy::Ticker,
        max_wait_ms: 600_000,
        durability: Durability::Off,
        event_listener: Some(shared.listener()),
        ..Config::default()
    };
    let settings = Settings::of(&config);
    let db = Committer::open(dir.path().join("batched.db"), config).expect("open committer");
    create_schema(&db);
    let schema_batches = shared.log.lock().unwrap().len();
    let mut differences = Vec::new();
    let mut accepted = 0;
    for tx in txs {
        match shared.submit(&db, tx, 0) {
            Submitted::Accepted => {
                accepted += 1;
                if let Some(i) = tx.must_refuse_at() {
                    differences.push(format!(
                        "statement {i} was accepted, it must be refused at submit\n{tx}"
                    ));
                }
            }
            Submitted::Refused(i) if tx.may_refuse_at(i) => {}
            other => differences.push(format!("submit answered {other:?}\n{tx}")),
        }
    }
    db.flush().expect("flush");
    shared.wait_done(0, accepted);
    db.close().expect("close");
    drop(db);
    let log = std::mem::take(&mut *shared.log.lock().unwrap());
    let log = &log[schema_batches..];
    assert!(
        matches!(log.last(), Some(Entry::Batch { .. }))
            && log[..log.len() - 1]
                .iter()
                .all(|e| matches!(e, Entry::Tx { .. })),
        "the transactions did not share one batch: {log:?}"
    );
    let oracle = Oracle::create(&dir.path().join("alone.db"), settings, workload::SCHEMA);
    let by_id: HashMap<usize, &GenTransaction> = txs.iter().map(|t| (t.id, t)).collect();
    for entry in log {
        if let Entry::Tx { id, outcome } = entry {
            let tx = by_id[id];
            let alone = oracle.run(&tx.transaction());
            if !oracle::same(outcome, &alone) {
                differences.push(format!(
                    "{tx}batched: {}\nalone:   {}",
                    show(outcome),
                    show(&alone)
                ));
            }
        }
    }
    let batched = oracle::dump(&dir.path().join("batched.db"));
    let alone = oracle::dump(oracle.path());
    if batched != alone {
        differences.push(format!(
            "final databases differ\n{}",
            dump_difference(&batched, &alone)
        ));
    }
    differences
}

fn assert_one_batch_equals_alone(txs: &[GenTransaction]) {
    let differences = one_batch(txs);
    assert!(
        differences.is_empty(),
        "{} differences between batched and alone:\n{}",
        differences.len(),
        differences.join("\n")
    );
}

/// Shorthand for the statement lists of the fixed cases.
fn txs(list: &[&[(&str, Params, Refusal)]]) -> Vec<GenTransaction> {
    list.iter()
        .enumerate()
        .map(|(id, statements)| workload::fixed(id, statements))
        .collect()
}

fn run(sql: &str) -> (&str, Params, Refusal) {
    (sql, Params::None, Refusal::No)
}

fn refuse(sql: &str) -> (&str, Params, Refusal) {
    (sql, Params::None, Refusal::AtSubmit)
}

#[test]
fn connection_functions_answer_as_alone_inside_a_batch() {
    assert_one_batch_equals_alone(&txs(&[
        &[run("INSERT INTO audit (what) VALUES ('note'), ('note')")],
        &[run(
            "SELECT changes(), total_changes(), last_insert_rowid()",
        )],
        &[
            run("INSERT INTO parent (id, name) VALUES (1, 'a')"),
            run("SELECT changes(), total_changes(), last_insert_rowid()"),
        ],
        &[run(
            "INSERT INTO audit (what, ref, info) VALUES ('conn', last_insert_rowid(), \
             total_changes()) RETURNING ref, info",
        )],
        &[run(
            "INSERT INTO child (id, parent_id, owner_id, qty, label) VALUES (1, 1, 1, 1, 'x')",
        )],
        &[run(
            "UPDATE parent SET score = changes() WHERE id = 1 RETURNING score",
        )],
        &[run("DELETE FROM parent WHERE id = 1")],
        &[run("SELECT last_insert_rowid() AS rowid, changes() AS c")],
    ]));
}

#[test]
fn refused_statements_are_refused_and_change_nothing() {
    let mut list: Vec<Vec<(&str, Params, Refusal)>> = Vec::new();
    for sql in workload::REFUSED {
        list.push(vec![
            run("INSERT INTO audit (what) VALUES ('before')"),
            refuse(sql),
        ]);
        list.push(vec![run("INSERT INTO audit (what) VALUES ('between')")]);
    }
    // Reads that would show leaked connection state.
    for sql in [
        "PRAGMA query_only",
        "PRAGMA defer_foreign_keys",
        "PRAGMA recursive_triggers",
        "PRAGMA ignore_check_constraints",
        "PRAGMA foreign_keys",
        "PRAGMA temp.user_version",
        "PRAGMA busy_timeout",
        "PRAGMA cache_size",
        "SELECT count(*) FROM sqlite_temp_master",
        "INSERT INTO audit (what) VALUES ('after') RETURNING seq",
    ] {
        list.push(vec![run(sql)]);
    }
    let refs: Vec<&[(&str, Params, Refusal)]> = list.iter().map(Vec::as_slice).collect();
    assert_one_batch_equals_alone(&txs(&refs));
}

#[test]
fn a_neighbour_cannot_defer_foreign_keys() {
    assert_one_batch_equals_alone(&txs(&[
        &[refuse("PRAGMA defer_foreign_keys=ON")],
        &[
            run("INSERT INTO child (id, parent_id) VALUES (7, 7)"),
            run("INSERT INTO parent (id, name) VALUES (7, 'g')"),
        ],
        // Deferred: fails at the end of its transaction only.
        &[run("INSERT INTO child (id, owner_id) VALUES (8, 8)")],
        &[
            run("INSERT INTO child (id, owner_id) VALUES (8, 8)"),
            run("INSERT INTO parent (id, name) VALUES (8, 'h')"),
        ],
        &[run("DELETE FROM parent WHERE id = 8")],
        &[run("PRAGMA defer_foreign_keys")],
    ]));
}

#[test]
fn rollbacks_of_one_transaction_leave_its_neighbours_alone() {
    assert_one_batch_equals_alone(&txs(&[
        &[run("INSERT INTO parent (id, name) VALUES (1, 'a')")],
        &[run(
            "INSERT OR ROLLBACK INTO parent (id, name) VALUES (1, 'b')",
        )],
        &[run("INSERT INTO audit (what) VALUES ('note')")],
        &[
            run("INSERT INTO audit (what) VALUES ('note')"),
            run("INSERT INTO audit (what) VALUES ('rollback')"),
        ],
        &[run("INSERT INTO rb (id, code, val) VALUES (1, 1, 'a')")],
        &[run("INSERT INTO rb (id, code, val) VALUES (2, 1, 'b')")],
        &[run(
            "SELECT changes(), total_changes(), last_insert_rowid()",
        )],
        &[run("UPDATE parent SET score = 777 WHERE id = 1")],
        &[run("INSERT INTO rb (id, code, val) VALUES (3, 3, NULL)")],
        &[run(
            "INSERT INTO audit (what) VALUES ('note') RETURNING seq",
        )],
    ]));
}

#[test]
fn or_fail_and_raise_fail_leave_no_partial_rows() {
    assert_one_batch_equals_alone(&txs(&[
        &[run(
            "INSERT OR FAIL INTO audit (what, ref) VALUES ('note', 1), ('fail', 2), ('note', 3)",
        )],
        &[
            run("INSERT INTO parent (id, name) VALUES (1, 'a'), (2, 'b')"),
            run("INSERT OR FAIL INTO parent (id, name) VALUES (3, 'c'), (4, 'a')"),
        ],
        &[run(
            "INSERT INTO parent (id, name) VALUES (1, 'a'), (2, 'b')",
        )],
        &[run("UPDATE parent SET score = 555 WHERE id >= 1")],
        &[run("SELECT * FROM audit ORDER BY seq")],
        &[run("SELECT id, score FROM parent ORDER BY id")],
    ]));
}

#[test]
fn schema_changes_show_in_the_next_transaction_of_the_batch() {
    assert_one_batch_equals_alone(&txs(&[
        &[run("INSERT INTO extra VALUES (1, 2)")],
        &[run("SELECT * FROM extra ORDER BY rowid")],
        &[run("ALTER TABLE extra ADD COLUMN c0")],
        &[run("SELECT * FROM extra ORDER BY rowid")],
        &[run("INSERT INTO extra VALUES (1, 2)")],
        &[run("ALTER TABLE extra DROP COLUMN c0")],
        &[run("SELECT * FROM extra ORDER BY rowid")],
        &[run("INSERT INTO extra VALUES (1, 2)")],
    ]));
}

#[test]
fn temp_objects_and_connection_pragmas_do_not_leak() {
    assert_one_batch_equals_alone(&txs(&[
        &[refuse(
            "CREATE TEMP TRIGGER tt_block BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'temp'); END",
        )],
        &[run("INSERT INTO audit (what) VALUES ('note')")],
        &[refuse("PRAGMA query_only=1")],
        &[run("INSERT INTO audit (what) VALUES ('note')")],
        &[refuse("PRAGMA ignore_check_constraints=1")],
        &[run("INSERT INTO parent (id, name, score) VALUES (1, 'a', 5000)")],
        &[refuse("PRAGMA recursive_triggers=1")],
        &[run("REPLACE INTO parent (id, name) VALUES (2, 'b')")],
        &[refuse("PRAGMA temp.user_version = 5")],
        &[run("PRAGMA temp.user_version")],
        &[run("SELECT count(*) FROM sqlite_temp_master")],
        &[run("PRAGMA query_only")],
    ]));
}

#[test]
fn statements_that_only_look_refused_run() {
    let list = [
        "SELECT 'BEGIN'",
        "SELECT 1 AS \"begin\"",
        "  -- a comment\n  SELECT 'COMMIT' AS c",
        "CREATE TABLE IF NOT EXISTS temp_notes (a)",
        "INSERT INTO temp_notes VALUES ('temp')",
        "PRAGMA table_info(parent)",
        "PRAGMA user_version = 7",
        "PRAGMA user_version(8)",
        "PRAGMA main.user_version = 9",
        "PRAGMA application_id = 11",
        "PRAGMA incremental_vacuum",
        "CREATE TRIGGER IF NOT EXISTS extra_ai AFTER INSERT ON extra \
         BEGIN INSERT INTO audit (what, ref) VALUES ('extra', NEW.rowid); END",
        "INSERT INTO extra VALUES (1, 2)",
        "PRAGMA user_version",
    ];
    let statements: Vec<Vec<(&str, Params, Refusal)>> =
        list.iter().map(|sql| vec![run(sql)]).collect();
    let refs: Vec<&[(&str, Params, Refusal)]> = statements.iter().map(Vec::as_slice).collect();
    assert_one_batch_equals_alone(&txs(&refs));
}

#[test]
fn a_second_statement_in_one_text_never_runs() {
    // SQLite applies a pragma while it compiles it, so even preparing the rest of the text
    // to find out that it holds a second statement must not touch the shared connection.
    let text = |sql| (sql, Params::None, Refusal::AtSubmitOrRun);
    assert_one_batch_equals_alone(&txs(&[
        &[text("SELECT 1; PRAGMA query_only=1")],
        &[run("INSERT INTO audit (what) VALUES ('note')")],
        &[text("SELECT 1; PRAGMA defer_foreign_keys=ON")],
        &[
            run("INSERT INTO child (id, parent_id) VALUES (7, 7)"),
            run("INSERT INTO parent (id, name) VALUES (7, 'g')"),
        ],
        &[text("SELECT 1; PRAGMA ignore_check_constraints=1")],
        &[run(
            "INSERT INTO parent (id, name, score) VALUES (1, 'a', 5000)",
        )],
        &[text("SELECT 1; PRAGMA recursive_triggers=1")],
        &[run("PRAGMA recursive_triggers")],
        &[run("PRAGMA query_only")],
    ]));
}

#[test]
fn tables_of_any_name_belong_to_the_application() {
    // A table may have any name, including one the committer uses for itself: the
    // committer's own work between transactions must never touch it.
    assert_one_batch_equals_alone(&txs(&[
        &[run("CREATE TABLE litecommit_changes_reset (a)")],
        &[run("INSERT INTO litecommit_changes_reset VALUES (1), (2)")],
        &[run("INSERT INTO audit (what) VALUES ('note')")],
        &[run("SELECT count(*) FROM litecommit_changes_reset")],
        &[run("UPDATE litecommit_changes_reset SET a = a + 1")],
        &[run("SELECT * FROM litecommit_changes_reset ORDER BY rowid")],
    ]));
}

#[test]
fn views_of_any_name_belong_to_the_application() {
    assert_one_batch_equals_alone(&txs(&[
        &[run("CREATE VIEW litecommit_changes_reset AS SELECT 1 AS a")],
        &[run("INSERT INTO audit (what) VALUES ('note')")],
        &[run("INSERT INTO audit (what) VALUES ('note')")],
        &[run("SELECT * FROM litecommit_changes_reset")],
    ]));
}
