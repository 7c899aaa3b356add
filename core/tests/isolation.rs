//! Batched equals alone: a transaction's outcome (each statement's result or error, and the
//! database afterwards) is what it would be if it ran alone, on a fresh connection opened
//! with the committer's settings, right after every transaction committed before it.
//!
//! The reference here is exactly that: a plain rusqlite connection, opened afresh for every
//! transaction, on a second database that receives the same committed transactions in the
//! same order.

mod common;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::*;
use litecommit::{
    Committer, Config, Error, Event, FlushTrigger, Pending, Rows, SharedList, StatementResult,
    Transaction, TransactionResult, Value,
};
use rusqlite::Connection;

/// What a transaction did, as far as the reference defines it: every statement's result, or
/// the failing statement and SQLite's extended code.
#[derive(Debug, PartialEq)]
enum Seen {
    /// Every statement's result.
    Committed(TransactionResult),
    /// It failed.
    Failed {
        /// SQLite's extended result code.
        extended_code: i32,
        /// The failing statement, if one failed.
        statement_index: Option<usize>,
    },
}

fn seen(outcome: litecommit::Result<TransactionResult>) -> Seen {
    match outcome {
        Ok(result) => Seen::Committed(result),
        Err(Error::Sqlite {
            extended_code,
            statement_index,
            ..
        }) => Seen::Failed {
            extended_code,
            statement_index,
        },
        Err(other) => panic!("expected an outcome from SQLite, got {other:?}"),
    }
}

/// The reference database.
struct Reference {
    /// Removed when the test ends.
    _dir: tempfile::TempDir,
    /// The reference database file.
    path: PathBuf,
}

impl Reference {
    fn new() -> Reference {
        let (dir, path) = temp_db();
        let conn = Connection::open(&path).unwrap();
        let mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        Reference { _dir: dir, path }
    }

    /// A fresh connection with the committer's default settings.
    fn connect(&self) -> Connection {
        let conn = Connection::open(&self.path).unwrap();
        let defaults = Config::default();
        conn.execute_batch(&format!(
            "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA wal_autocheckpoint=0; \
             PRAGMA cache_size=-{}; PRAGMA mmap_size={}; PRAGMA journal_size_limit={};",
            defaults.cache_size_kib,
            defaults.mmap_size,
            defaults.journal_size_limit.unwrap()
        ))
        .unwrap();
        conn.busy_timeout(std::time::Duration::from_millis(defaults.busy_timeout_ms))
            .unwrap();
        conn
    }

    /// Runs `statements` as one transaction, alone on a fresh connection.
    fn run(&self, statements: &[&str]) -> Seen {
        let conn = self.connect();
        conn.execute_batch("BEGIN IMMEDIATE").unwrap();
        let mut results = Vec::new();
        for (index, sql) in statements.iter().enumerate() {
            match run_alone(&conn, sql) {
                Ok(result) => results.push(result),
                Err(extended_code) => {
                    if !conn.is_autocommit() {
                        conn.execute_batch("ROLLBACK").unwrap();
                    }
                    return Seen::Failed {
                        extended_code,
                        statement_index: Some(index),
                    };
                }
            }
        }
        if let Err(e) = conn.execute_batch("COMMIT") {
            conn.execute_batch("ROLLBACK").unwrap();
            return Seen::Failed {
                extended_code: code(e),
                statement_index: None,
            };
        }
        Seen::Committed(TransactionResult {
            statements: results.into(),
        })
    }

    fn setup(&self, schema: &[&str]) {
        let conn = self.connect();
        for sql in schema {
            conn.execute_batch(sql).unwrap();
        }
    }
}

/// One statement on the reference connection; `Err` holds SQLite's extended code.
fn run_alone(conn: &Connection, sql: &str) -> Result<StatementResult, i32> {
    let mut stmt = conn.prepare(sql).map_err(code)?;
    let before = conn.total_changes();
    let names = |s: &rusqlite::Statement<'_>| -> (SharedList<String>, SharedList<Option<String>>) {
        (
            s.column_names().map(String::from).collect(),
            s.columns()
                .map(|c| c.decl_type().map(String::from))
                .collect(),
        )
    };
    let mut columns = None;
    let mut rows = Vec::new();
    {
        let mut cursor = stmt.raw_query();
        while let Some(row) = cursor.next().map_err(code)? {
            let (columns, _) = columns.get_or_insert_with(|| names(row.as_ref()));
            rows.push(
                (0..columns.len())
                    .map(|i| value(row.get_ref(i).unwrap()))
                    .collect(),
            );
        }
    }
    let (columns, decl_types) = columns.unwrap_or_else(|| names(&stmt));
    let changes = if !stmt.readonly() && conn.total_changes() != before {
        conn.changes()
    } else {
        0
    };
    Ok(StatementResult {
        changes,
        last_insert_rowid: conn.last_insert_rowid(),
        rows: Rows {
            columns,
            rows,
            decl_types,
        },
    })
}

/// SQLite's extended code of an error.
fn code(e: rusqlite::Error) -> i32 {
    match e {
        rusqlite::Error::SqliteFailure(e, _) => e.extended_code,
        rusqlite::Error::SqlInputError { error, .. } => error.extended_code,
        other => panic!("not an SQLite error: {other:?}"),
    }
}

fn value(v: rusqlite::types::ValueRef<'_>) -> Value {
    use rusqlite::types::ValueRef;
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Integer(i),
        ValueRef::Real(f) => Value::Real(f),
        ValueRef::Text(t) => Value::Text(String::from_utf8(t.to_vec()).unwrap()),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    }
}

fn transaction(statements: &[&str]) -> Transaction {
    statements
        .iter()
        .fold(Transaction::new(), |tx, sql| tx.push(sql.to_string(), ()))
}

/// A committer and its reference, with the same schema.
struct Pair {
    /// The committer under test.
    db: Committer,
    /// Its event listener, which can hold the writer.
    gate: Arc<Gate>,
    /// Runs the same transactions one by one.
    reference: Reference,
    /// Removed when the test ends.
    dir: tempfile::TempDir,
}

impl Pair {
    fn new(schema: &[&str]) -> Pair {
        let (dir, path) = temp_db();
        let gate = Gate::new();
        let db = open(&path, gate.config(Config::default()));
        let reference = Reference::new();
        for sql in schema {
            exec(&db, sql, ());
        }
        reference.setup(schema);
        Pair {
            db,
            gate,
            reference,
            dir,
        }
    }

    /// Runs the transactions in one batch (held until all are queued) and checks each
    /// outcome against the reference. Returns the outcomes.
    fn batch(&self, transactions: &[&[&str]]) -> Vec<Seen> {
        let mark = self.gate.hold_writer(&self.db);
        let pending: Vec<Pending> = transactions
            .iter()
            .map(|tx| self.db.submit(transaction(tx)).unwrap())
            .collect();
        self.gate.release();
        let outcomes: Vec<Seen> = pending.iter().map(|p| seen(outcome(p))).collect();
        assert_eq!(
            self.gate.wait_batches(mark + 1)[mark],
            Batch::Committed {
                size: transactions.len(),
                trigger: FlushTrigger::Adaptive
            },
            "the transactions did not share one batch"
        );
        for (tx, got) in transactions.iter().zip(&outcomes) {
            assert_eq!(got, &self.reference.run(tx), "{tx:?}");
        }
        outcomes
    }

    /// Runs one transaction in a batch of its own and checks it against the reference.
    fn alone(&self, tx: &[&str]) -> Seen {
        let got = seen(self.db.transaction(transaction(tx)));
        assert_eq!(got, self.reference.run(tx), "{tx:?}");
        got
    }

    /// Runs `sql` on both databases through a connection of their own, outside the
    /// committer.
    fn outside(&self, sql: &str) {
        let conn = Connection::open(self.dir.path().join("test.db")).unwrap();
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .unwrap();
        conn.execute_batch(sql).unwrap();
        self.reference.setup(&[sql]);
    }

    /// The committer's database and the reference hold the same rows, and both pass
    /// `integrity_check`.
    fn assert_same_database(&self) {
        self.db.flush().unwrap();
        let conn = self.reference.connect();
        let tables: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let committed_tables = query(
            &self.db,
            "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name",
            (),
        );
        let names: Vec<Vec<Value>> = tables
            .iter()
            .map(|t| vec![Value::Text(t.clone())])
            .collect();
        assert_eq!(committed_tables.rows, names);
        for table in &tables {
            let sql = format!("SELECT * FROM \"{table}\" ORDER BY rowid");
            let expected = run_alone(&conn, &sql).unwrap().rows.rows;
            assert_eq!(query(&self.db, &sql, ()).rows, expected, "{table}");
        }
        let ok = vec![vec![Value::Text("ok".into())]];
        assert_eq!(query(&self.db, "PRAGMA integrity_check", ()).rows, ok);
        assert_eq!(
            run_alone(&conn, "PRAGMA integrity_check")
                .unwrap()
                .rows
                .rows,
            ok
        );
    }
}

/// `sql` must be refused at submit, with a reason that contains `rule`, in every position of
/// a transaction and through `query`.
fn assert_refused(db: &Committer, sql: &str, rule: &str) {
    let check = |result: litecommit::Result<Pending>, index: usize| match result {
        Err(Error::Refused {
            reason,
            statement_index,
        }) => {
            assert_eq!(statement_index, index, "{sql}");
            assert!(
                reason.contains(rule),
                "{sql}: {reason:?} does not say {rule:?}"
            );
        }
        Err(other) => panic!("{sql}: expected a refusal, got {other:?}"),
        Ok(_) => panic!("{sql} was accepted"),
    };
    check(db.submit(Transaction::single(sql.to_string(), ())), 0);
    check(
        db.submit(
            Transaction::new()
                .push("SELECT 1", ())
                .push(sql.to_string(), ()),
        ),
        1,
    );
    assert!(
        matches!(db.query(sql, ()), Err(Error::Refused { .. })),
        "{sql} was accepted by query"
    );
}

fn rows(seen: &Seen) -> Vec<Vec<Vec<Value>>> {
    match seen {
        Seen::Committed(r) => r.statements.iter().map(|s| s.rows.rows.clone()).collect(),
        Seen::Failed { .. } => panic!("the transaction failed: {seen:?}"),
    }
}

fn ints(values: &[i64]) -> Vec<Value> {
    values.iter().map(|i| Value::Integer(*i)).collect()
}

#[test]
fn query_only_is_refused_and_the_next_batches_commit() {
    let pair = Pair::new(&["CREATE TABLE t (v)"]);
    for sql in [
        "PRAGMA query_only=1",
        "PRAGMA query_only(1)",
        "pragma QUERY_ONLY = true",
        "/* one */ PRAGMA main.\"query_only\" = 1 -- two",
        "EXPLAIN PRAGMA query_only=1",
        "EXPLAIN QUERY PLAN PRAGMA query_only=1",
        "PRAGMA query_only=0",
    ] {
        assert_refused(&pair.db, sql, "PRAGMA query_only cannot be set");
    }
    let outcomes = pair.batch(&[
        &["INSERT INTO t VALUES (1)"],
        &["PRAGMA query_only"],
        &["INSERT INTO t VALUES (2)", "INSERT INTO t VALUES (3)"],
    ]);
    assert_eq!(rows(&outcomes[1]), vec![vec![ints(&[0])]]);
    pair.alone(&["INSERT INTO t VALUES (4)"]);
    assert_eq!(query_int(&pair.db, "SELECT count(*) FROM t", ()), 4);
    pair.assert_same_database();
}

#[test]
fn a_second_statement_in_one_text_is_refused_before_sqlite_compiles_it() {
    let pair = Pair::new(&["CREATE TABLE t (v)"]);
    for sql in [
        "INSERT INTO t VALUES (9); PRAGMA query_only=1",
        "SELECT 1; PRAGMA recursive_triggers=1",
        "SELECT 1 ; /* c */ BEGIN",
        "SELECT $a(x') ;PRAGMA query_only=1;--'",
    ] {
        assert_refused(&pair.db, sql, "more than one statement");
    }
    assert_refused(&pair.db, "\u{feff}PRAGMA query_only=1", "only user_version");
    assert_refused(
        &pair.db,
        "DELETE FROM sqlite_litecommit_changes_reset",
        "reserves on its writer connection",
    );
    pair.alone(
        &["CREATE TRIGGER two AFTER INSERT ON t WHEN new.v = 1 BEGIN \
           INSERT INTO t VALUES (2); INSERT INTO t VALUES (3); END;"],
    );
    pair.alone(&["INSERT INTO t VALUES (1);;"]);
    assert_eq!(query_int(&pair.db, "SELECT count(*) FROM t", ()), 3);
    pair.assert_same_database();
}

#[test]
fn connection_settings_cannot_be_changed_by_a_transaction() {
    let pair = Pair::new(&[
        "CREATE TABLE t (v CHECK (v > 0))",
        "CREATE TABLE n (id INTEGER PRIMARY KEY, parent INTEGER REFERENCES n(id))",
        "CREATE TRIGGER again AFTER INSERT ON n WHEN new.id < 3
           BEGIN INSERT INTO n (id) VALUES (new.id + 1); END",
    ]);
    for (sql, name) in [
        (
            "PRAGMA ignore_check_constraints=1",
            "ignore_check_constraints",
        ),
        ("PRAGMA max_page_count = 2", "max_page_count"),
        ("PRAGMA busy_timeout = 1", "busy_timeout"),
        ("PRAGMA recursive_triggers = ON", "recursive_triggers"),
        ("PRAGMA writable_schema = 1", "writable_schema"),
        ("PRAGMA case_sensitive_like = 1", "case_sensitive_like"),
        ("PRAGMA cache_size = 10", "cache_size"),
        ("PRAGMA journal_size_limit = 0", "journal_size_limit"),
        ("PRAGMA hard_heap_limit = 100000", "hard_heap_limit"),
        ("PRAGMA soft_heap_limit = 100000", "soft_heap_limit"),
        ("PRAGMA defer_foreign_keys = ON", "defer_foreign_keys"),
        ("PRAGMA foreign_keys = OFF", "foreign_keys"),
        ("PRAGMA temp_store = MEMORY", "temp_store"),
        (
            "PRAGMA reverse_unordered_selects = 1",
            "reverse_unordered_selects",
        ),
        ("PRAGMA automatic_index = 0", "automatic_index"),
        ("PRAGMA trusted_schema = 0", "trusted_schema"),
        ("PRAGMA read_uncommitted = 1", "read_uncommitted"),
        ("PRAGMA cell_size_check = 1", "cell_size_check"),
        ("PRAGMA secure_delete = 1", "secure_delete"),
        ("PRAGMA threads = 4", "threads"),
        ("PRAGMA analysis_limit = 10", "analysis_limit"),
        ("PRAGMA schema_version = 1", "schema_version"),
        ("PRAGMA page_size = 512", "page_size"),
        ("PRAGMA auto_vacuum = INCREMENTAL", "auto_vacuum"),
        ("PRAGMA encoding = 'UTF-16'", "encoding"),
        ("PRAGMA wal_checkpoint(TRUNCATE)", "Committer::checkpoint"),
        ("PRAGMA wal_checkpoint", "Committer::checkpoint"),
        ("PRAGMA shrink_memory", "shrink_memory"),
    ] {
        assert_refused(&pair.db, sql, name);
    }

    // Every setting reads as on a fresh connection, and behaves so: CHECK holds, LIKE
    // ignores case, triggers do not recurse, immediate foreign keys fail at once.
    let reads: Vec<&[&str]> = vec![
        &["PRAGMA ignore_check_constraints"],
        &["PRAGMA max_page_count"],
        &["PRAGMA busy_timeout"],
        &["PRAGMA recursive_triggers"],
        &["PRAGMA writable_schema"],
        &["PRAGMA cache_size"],
        &["PRAGMA journal_size_limit"],
        &["PRAGMA hard_heap_limit"],
        &["PRAGMA defer_foreign_keys"],
        &["PRAGMA foreign_keys"],
        &["PRAGMA query_only"],
        &["PRAGMA temp_store"],
        &["SELECT 'a' LIKE 'A'"],
        &["INSERT INTO t VALUES (-1)"],
        &["INSERT INTO t VALUES (1)"],
        &["INSERT INTO n (id) VALUES (1)", "SELECT count(*) FROM n"],
        &["INSERT INTO n (id, parent) VALUES (10, 99)"],
    ];
    let outcomes = pair.batch(&reads);
    assert_eq!(rows(&outcomes[0]), vec![vec![ints(&[0])]]);
    assert_eq!(rows(&outcomes[2]), vec![vec![ints(&[5000])]]);
    assert_eq!(rows(&outcomes[12]), vec![vec![ints(&[1])]]);
    assert_eq!(
        outcomes[13],
        Seen::Failed {
            extended_code: 275, // SQLITE_CONSTRAINT_CHECK
            statement_index: Some(0)
        }
    );
    assert_eq!(rows(&outcomes[15])[1], vec![ints(&[2])]);
    assert_eq!(
        outcomes[16],
        Seen::Failed {
            extended_code: 787, // SQLITE_CONSTRAINT_FOREIGNKEY
            statement_index: Some(0)
        }
    );
    pair.assert_same_database();
}

#[test]
fn database_pragmas_and_pragma_queries_are_allowed() {
    let pair = Pair::new(&[
        "CREATE TABLE p (id INTEGER PRIMARY KEY)",
        "CREATE TABLE c (pid INTEGER REFERENCES p(id), v TEXT)",
        "CREATE INDEX c_v ON c(v)",
    ]);
    pair.batch(&[
        &["PRAGMA user_version = 7", "PRAGMA user_version"],
        &["PRAGMA main.application_id(42)", "PRAGMA application_id"],
        &["PRAGMA table_info(c)"],
        &["PRAGMA main.table_xinfo = c"],
        &["PRAGMA index_list('c')"],
        &["PRAGMA index_info(c_v)"],
        &["PRAGMA foreign_key_list(c)"],
        &["PRAGMA foreign_key_check(c)"],
        &["PRAGMA integrity_check(5)"],
        &["PRAGMA quick_check"],
        &["PRAGMA table_list(c)"],
        &["PRAGMA incremental_vacuum(1)"],
        &["PRAGMA journal_mode"],
        &["PRAGMA synchronous"],
        &["PRAGMA wal_autocheckpoint"],
        &["EXPLAIN QUERY PLAN SELECT * FROM c WHERE v = 'x'"],
    ]);
    // A rolled-back transaction takes its user_version with it.
    pair.alone(&["PRAGMA user_version = 9", "INSERT INTO c VALUES (99, 'x')"]);
    pair.alone(&["PRAGMA user_version"]);
    assert_eq!(query_int(&pair.db, "PRAGMA user_version", ()), 7);
    assert_refused(&pair.db, "PRAGMA temp.user_version = 1", "temp schema");
    assert_refused(&pair.db, "PRAGMA data_version", "data_version");
    pair.assert_same_database();
}

#[test]
fn a_neighbour_cannot_defer_foreign_keys_for_another_transaction() {
    let pair = Pair::new(&[
        "CREATE TABLE parent (id INTEGER PRIMARY KEY)",
        "CREATE TABLE child (pid INTEGER REFERENCES parent(id))",
        "CREATE TABLE other (v)",
    ]);
    let orphan_first: &[&str] = &[
        "INSERT INTO child VALUES (7)",
        "INSERT INTO parent VALUES (7)",
    ];
    let fails_at_once = Seen::Failed {
        extended_code: 787, // SQLITE_CONSTRAINT_FOREIGNKEY
        statement_index: Some(0),
    };
    // Alone, the orphan fails at its first statement.
    assert_eq!(pair.alone(orphan_first), fails_at_once);

    // The neighbour that would defer foreign keys for the whole batch is refused...
    for sql in [
        "PRAGMA defer_foreign_keys=ON",
        "PRAGMA defer_foreign_keys(1)",
        "pragma main.defer_foreign_keys = true",
        "EXPLAIN PRAGMA defer_foreign_keys = 1",
    ] {
        assert_refused(&pair.db, sql, "defer_foreign_keys");
        let neighbour = Transaction::new()
            .push("INSERT INTO other VALUES (1)", ())
            .push(sql, ());
        assert!(matches!(
            pair.db.submit(neighbour),
            Err(Error::Refused {
                statement_index: 1,
                ..
            })
        ));
    }
    // ...and batched after neighbours that did run, the orphan fails exactly as alone.
    let outcomes = pair.batch(&[
        &["INSERT INTO other VALUES (1)", "PRAGMA defer_foreign_keys"],
        orphan_first,
        &[
            "INSERT INTO parent VALUES (8)",
            "INSERT INTO child VALUES (8)",
        ],
        orphan_first,
    ]);
    assert_eq!(outcomes[1], fails_at_once);
    assert_eq!(outcomes[3], fails_at_once);
    assert_eq!(query_int(&pair.db, "SELECT count(*) FROM child", ()), 1);
    pair.assert_same_database();
}

#[test]
fn temp_objects_are_refused_and_later_inserts_commit() {
    let pair = Pair::new(&["CREATE TABLE t (v)"]);
    let blocker = "BEFORE INSERT ON t BEGIN SELECT RAISE(ABORT, 'blocked'); END";
    for sql in [
        format!("CREATE TEMP TRIGGER block {blocker}"),
        format!("create temporary trigger if not exists block {blocker}"),
        format!("CREATE TRIGGER temp.block {blocker}"),
        format!("CREATE TRIGGER \"temp\".\"block\" {blocker}"),
        format!("/* x */ CREATE /* y */ TEMP TRIGGER block {blocker}"),
        format!("EXPLAIN CREATE TEMP TRIGGER block {blocker}"),
        "CREATE TEMP TABLE scratch (a)".into(),
        "CREATE TABLE IF NOT EXISTS [temp].scratch (a)".into(),
        "CREATE TEMP VIEW v AS SELECT 1".into(),
        "CREATE VIEW TEMP.v AS SELECT 1".into(),
        "CREATE INDEX temp.i ON t(v)".into(),
        "CREATE VIRTUAL TABLE temp.s USING dbstat".into(),
    ] {
        assert_refused(&pair.db, &sql, "temp");
    }
    pair.batch(&[
        &["INSERT INTO t VALUES (1)"],
        &["SELECT count(*) FROM temp.sqlite_schema"],
        &["INSERT INTO t VALUES (2)", "INSERT INTO t VALUES (3)"],
    ]);
    pair.alone(&["INSERT INTO t VALUES (4)"]);
    // Names that only look like the temp schema are fine.
    pair.alone(&["CREATE TABLE temp (a)", "INSERT INTO temp VALUES (1)"]);
    pair.alone(&["CREATE TABLE \"temp.x\" (a)"]);
    assert_eq!(query_int(&pair.db, "SELECT count(*) FROM t", ()), 4);
    pair.assert_same_database();
}

#[test]
fn changes_reached_through_the_schema_answers_as_if_the_transaction_ran_alone() {
    // Nothing in the schema mentions changes() when the first batch begins.
    let pair = Pair::new(&["CREATE TABLE t (id INTEGER PRIMARY KEY, v)"]);
    let defaults = "SELECT id, c FROM d ORDER BY id";
    let outcomes = pair.batch(&[
        &["INSERT INTO t (v) VALUES (1), (2), (3)"],
        // Schema changed within the batch: a DEFAULT and a view that read changes().
        &["CREATE TABLE d (id INTEGER PRIMARY KEY, c DEFAULT (changes()))"],
        &["CREATE VIEW vc AS SELECT changes() AS c"],
        &["INSERT INTO t (v) VALUES (4), (5)"],
        &["INSERT INTO d (id) VALUES (1)"],
        &["INSERT INTO t (v) VALUES (6), (7), (8)"],
        &["SELECT c FROM vc"],
    ]);
    assert_eq!(rows(&outcomes[6]), vec![vec![ints(&[0])]]);
    // The next batch finds them in the schema.
    let outcomes = pair.batch(&[
        &["INSERT INTO t (v) VALUES (9), (10)"],
        &["INSERT INTO d (id) VALUES (2)", defaults],
        &["INSERT INTO t (v) VALUES (11)"],
        &["SELECT c FROM vc"],
    ]);
    assert_eq!(rows(&outcomes[1])[1], vec![ints(&[1, 0]), ints(&[2, 0])]);
    assert_eq!(rows(&outcomes[3]), vec![vec![ints(&[0])]]);
    pair.assert_same_database();
}

#[test]
fn changes_reached_through_a_schema_another_connection_changed_answers_as_alone() {
    let pair = Pair::new(&["CREATE TABLE t (id INTEGER PRIMARY KEY, v)"]);
    // Batches that find nothing in the schema mentioning changes().
    pair.alone(&["INSERT INTO t (v) VALUES (1)"]);
    pair.alone(&["INSERT INTO t (v) VALUES (2)"]);
    pair.outside("CREATE TABLE d (id INTEGER PRIMARY KEY, c DEFAULT (changes()))");
    let outcomes = pair.batch(&[
        &["INSERT INTO t (v) VALUES (3), (4), (5)"],
        &["INSERT INTO d (id) VALUES (1)", "SELECT id, c FROM d"],
    ]);
    assert_eq!(rows(&outcomes[1])[1], vec![ints(&[1, 0])]);
    pair.assert_same_database();
}

/// The writer's idle work reads the database between batches: another connection's schema
/// change it reads first must still be found by the next batch.
#[test]
fn a_schema_change_that_idle_work_read_first_is_found_by_the_next_batch() {
    let (_dir, path) = temp_db();
    Connection::open(&path)
        .unwrap()
        .execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA auto_vacuum=INCREMENTAL;
             CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB);",
        )
        .unwrap();
    // Armed, the listener has another connection add a column default that reads changes()
    // right after the next batch, before the writer's idle vacuum.
    let armed = Arc::new(AtomicBool::new(false));
    let (vacuumed_tx, vacuumed) = crossbeam_channel::unbounded();
    let listener: litecommit::EventListener = {
        let (armed, path) = (Arc::clone(&armed), path.clone());
        Arc::new(move |event: &Event| match event {
            Event::BatchCommitted { .. } if armed.swap(false, Ordering::SeqCst) => {
                let conn = Connection::open(&path).unwrap();
                conn.busy_timeout(std::time::Duration::from_secs(5))
                    .unwrap();
                conn.execute_batch(
                    "CREATE TABLE d (id INTEGER PRIMARY KEY, c DEFAULT (changes()))",
                )
                .unwrap();
            }
            Event::IdleVacuum { .. } => drop(vacuumed_tx.send(())),
            _ => {}
        })
    };
    let db = open(
        &path,
        Config {
            idle_vacuum_pages: 100_000,
            idle_vacuum_budget_ms: 60_000,
            idle_ms: 1,
            event_listener: Some(listener),
            ..Config::default()
        },
    );
    let through_the_writer = |sql: &str| {
        db.submit(Transaction::single(sql.to_owned(), ()))
            .unwrap()
            .wait()
            .unwrap()
    };
    through_the_writer(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100) \
         INSERT INTO t (b) SELECT randomblob(4000) FROM n",
    );
    armed.store(true, Ordering::SeqCst);
    // Leaves free pages for the idle vacuum.
    through_the_writer("DELETE FROM t");
    vacuumed
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("no idle vacuum");
    through_the_writer("INSERT INTO t (b) VALUES (1), (2), (3)");
    through_the_writer("INSERT INTO d (id) VALUES (1)");
    // As on a fresh connection: no row changed before it.
    assert_eq!(query_int(&db, "SELECT c FROM d", ()), 0);
    db.close().unwrap();
}

#[test]
fn connection_functions_answer_as_if_the_transaction_ran_alone() {
    let pair = Pair::new(&[
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v)",
        "CREATE TABLE a (id INTEGER PRIMARY KEY, x)",
        "CREATE TABLE log (id INTEGER PRIMARY KEY, what, c, tc, r)",
        "CREATE TRIGGER a_log AFTER INSERT ON a BEGIN
           INSERT INTO log (what, c, tc, r)
             VALUES ('a' || new.x, changes(), total_changes(), last_insert_rowid());
         END",
        "CREATE TABLE p (id INTEGER PRIMARY KEY)",
        "CREATE TABLE ch (pid INTEGER REFERENCES p(id) ON DELETE CASCADE)",
    ]);
    let functions = "SELECT changes(), total_changes(), last_insert_rowid()";
    // Each transaction under test follows a neighbour that changed rows in the same batch.
    let outcomes = pair.batch(&[
        &["INSERT INTO t (v) VALUES (1), (2), (3)"],
        &[functions],
        &["INSERT INTO t (v) VALUES (4), (5)"],
        &["INSERT INTO a (x) VALUES (10)", functions],
        &["INSERT INTO t (v) VALUES (6), (7), (8), (9)"],
        &["UPDATE t SET v = 0 WHERE 0", functions],
        &["INSERT INTO t (v) VALUES (10), (11), (12)"],
        &["INSERT INTO a (x) SELECT changes() FROM (VALUES (1), (2), (3))"],
        &["INSERT INTO t (v) VALUES (13)"],
        &[
            "INSERT INTO p VALUES (1), (2)",
            "INSERT INTO ch VALUES (1), (1), (2)",
        ],
        &["INSERT INTO t (v) VALUES (14), (15), (16), (17), (18)"],
        &["DELETE FROM p RETURNING id, changes(), total_changes()"],
        &["DELETE FROM t WHERE id > 16"],
        &[functions, "INSERT INTO t (v) VALUES (19)", functions],
    ]);
    // First in a transaction, right after a neighbour's inserts: nothing yet.
    assert_eq!(rows(&outcomes[1]), vec![vec![ints(&[0, 0, 0])]]);
    // After a DML that matched no row.
    assert_eq!(rows(&outcomes[5])[1], vec![ints(&[0, 0, 0])]);
    // After an insert whose trigger logged a row.
    assert_eq!(rows(&outcomes[3])[1], vec![ints(&[1, 2, 1])]);
    // Read after a foreign-key action ran (SQLite restores changes() from before it).
    assert_eq!(
        rows(&outcomes[11])[0],
        vec![ints(&[1, 0, 2]), ints(&[2, 0, 3])]
    );
    assert_eq!(
        rows(&outcomes[13]),
        vec![vec![ints(&[0, 0, 0])], vec![], vec![ints(&[1, 1, 17])]]
    );
    // Inside triggers, as logged by them.
    let log = query(&pair.db, "SELECT what, c, tc, r FROM log ORDER BY id", ());
    let text = |s: &str| Value::Text(s.into());
    let entry = |what: &str, c: i64, tc: i64, r: i64| {
        vec![
            text(what),
            Value::Integer(c),
            Value::Integer(tc),
            Value::Integer(r),
        ]
    };
    assert_eq!(
        log.rows,
        vec![
            entry("a10", 0, 0, 1),
            entry("a0", 0, 0, 2),
            entry("a0", 0, 1, 3),
            entry("a0", 0, 2, 4),
        ]
    );
    pair.assert_same_database();
}

#[test]
fn total_changes_counts_from_its_own_transaction_after_neighbours_that_never_mention_it() {
    // Nothing in the schema mentions changes(): only the transactions that do reset it.
    let pair = Pair::new(&["CREATE TABLE t (id INTEGER PRIMARY KEY, v)"]);
    let outcomes = pair.batch(&[
        &["INSERT INTO t (v) VALUES (1), (2), (3)"],
        &["SELECT total_changes()"],
        &["INSERT INTO t (v) VALUES (4), (5)"],
        &["INSERT INTO t (v) VALUES (6)", "SELECT total_changes()"],
    ]);
    assert_eq!(rows(&outcomes[1]), vec![vec![ints(&[0])]]);
    assert_eq!(rows(&outcomes[3])[1], vec![ints(&[1])]);
    pair.assert_same_database();
}

#[test]
fn a_schema_change_shows_in_the_next_run_of_a_cached_statement() {
    let (_dir, path) = temp_db();
    let config = Config {
        read_connections: 1,
        ..Config::default()
    };
    let db = open(&path, config);
    exec(&db, "CREATE TABLE t (a)", ());
    let insert = "INSERT INTO t (a) VALUES (?) RETURNING *";
    let select = "SELECT * FROM t ORDER BY rowid";
    let returned = |i: i64| exec(&db, insert, litecommit::params![i]).statements[0].clone();
    let names = |columns: &[String]| columns.to_vec();

    let first = returned(1);
    assert_eq!(names(&first.rows.columns), ["a"]);
    assert_eq!(names(&query(&db, select, ()).columns), ["a"]);

    exec(&db, "ALTER TABLE t ADD COLUMN b DEFAULT 5", ());
    let added = returned(2);
    assert_eq!(names(&added.rows.columns), ["a", "b"]);
    assert_eq!(added.rows.rows, vec![ints(&[2, 5])]);
    let all = query(&db, select, ());
    assert_eq!(names(&all.columns), ["a", "b"]);
    assert_eq!(all.rows, vec![ints(&[1, 5]), ints(&[2, 5])]);

    exec(&db, "ALTER TABLE t DROP COLUMN b", ());
    let dropped = returned(3);
    assert_eq!(names(&dropped.rows.columns), ["a"]);
    assert_eq!(dropped.rows.rows, vec![ints(&[3])]);
    let all = query(&db, select, ());
    assert_eq!(names(&all.columns), ["a"]);
    assert_eq!(all.rows, vec![ints(&[1]), ints(&[2]), ints(&[3])]);

    // A query that returns no row reports the columns as they are now, too.
    exec(&db, "ALTER TABLE t ADD COLUMN c", ());
    let empty = "SELECT * FROM t WHERE a < 0";
    assert_eq!(names(&query(&db, empty, ()).columns), ["a", "c"]);
    exec(&db, "ALTER TABLE t DROP COLUMN c", ());
    assert_eq!(names(&query(&db, empty, ()).columns), ["a"]);
    db.close().unwrap();
}
