//! Random transactions over a small schema for the differential test.
//!
//! The schema is small (a few rows per table) so that constraints conflict often: UNIQUE,
//! CHECK, NOT NULL, STRICT types, immediate and deferred foreign keys, a table whose
//! constraints say `ON CONFLICT ROLLBACK`, triggers that `RAISE` every kind of error and
//! read the connection functions (`changes()`, `total_changes()`, `last_insert_rowid()`).
//! Each generated statement knows whether the committer must refuse it.

use litecommit::{Params, Statement, Transaction, Value};

use crate::rng::Rng;

/// The schema, created once before the workload (through the committer and in the oracle).
pub const SCHEMA: &[&str] = &[
    "CREATE TABLE parent (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        score INTEGER NOT NULL DEFAULT 0 CHECK (score BETWEEN -1000 AND 1000),
        note BLOB
    )",
    "CREATE TABLE child (
        id INTEGER PRIMARY KEY,
        parent_id INTEGER REFERENCES parent(id) ON DELETE CASCADE,
        owner_id INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED,
        qty INTEGER CHECK (qty >= 0),
        label TEXT,
        UNIQUE (parent_id, label)
    )",
    "CREATE INDEX child_owner ON child(owner_id)",
    "CREATE TABLE kv (k TEXT PRIMARY KEY, v ANY, n INTEGER) STRICT, WITHOUT ROWID",
    "CREATE TABLE rb (
        id INTEGER PRIMARY KEY ON CONFLICT ROLLBACK,
        code INTEGER UNIQUE ON CONFLICT ROLLBACK,
        val TEXT NOT NULL ON CONFLICT ROLLBACK CHECK (length(val) <= 3)
    )",
    "CREATE TABLE audit (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        what TEXT NOT NULL,
        ref,
        info
    )",
    "CREATE TABLE extra (a, b)",
    // Every RAISE kind, chosen by the inserted row.
    "CREATE TRIGGER audit_raise BEFORE INSERT ON audit
     WHEN NEW.what IN ('abort', 'fail', 'rollback', 'ignore')
     BEGIN
        SELECT CASE NEW.what
            WHEN 'abort' THEN RAISE(ABORT, 'audit: abort')
            WHEN 'fail' THEN RAISE(FAIL, 'audit: fail')
            WHEN 'rollback' THEN RAISE(ROLLBACK, 'audit: rollback')
            ELSE RAISE(IGNORE)
        END;
     END",
    // Changes other tables (may break parent's CHECK) and records the connection functions
    // as a trigger sees them.
    "CREATE TRIGGER child_ai AFTER INSERT ON child
     BEGIN
        UPDATE parent SET score = score + NEW.qty WHERE id = NEW.parent_id;
        INSERT INTO audit (what, ref, info)
            VALUES ('child', NEW.id,
                    printf('%d/%d/%d', last_insert_rowid(), changes(), total_changes()));
     END",
    "CREATE TRIGGER parent_ad AFTER DELETE ON parent
     BEGIN
        INSERT INTO audit (what, ref, info) VALUES ('parent-deleted', OLD.id, changes());
     END",
    "CREATE TRIGGER parent_bu BEFORE UPDATE ON parent
     BEGIN
        SELECT CASE
            WHEN NEW.name = 'frozen' AND OLD.name <> 'frozen' THEN RAISE(ABORT, 'parent: frozen')
            WHEN NEW.score = 777 THEN RAISE(ROLLBACK, 'parent: 777')
            WHEN NEW.score = 555 THEN RAISE(FAIL, 'parent: 555')
            WHEN NEW.score = 333 THEN RAISE(IGNORE)
        END;
     END",
    "CREATE TRIGGER kv_au AFTER UPDATE ON kv
     BEGIN
        INSERT INTO audit (what, ref, info) VALUES ('kv', NEW.n, total_changes());
     END",
];

/// How the committer must treat a generated statement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// It runs, and succeeds or fails as it would alone.
    No,
    /// It must be refused at submit: it would break the batch or change the connection.
    AtSubmit,
    /// It must be refused, at submit or when it runs (an SQL text that is empty or holds
    /// more than one statement).
    AtSubmitOrRun,
}

/// One generated statement.
#[derive(Clone, Debug)]
pub struct GenStatement {
    /// Its SQL text.
    pub sql: String,
    /// Its parameters.
    pub params: Params,
    /// Whether the committer must refuse it.
    pub refusal: Refusal,
}

/// One generated transaction, with an id unique within its run.
#[derive(Clone, Debug)]
pub struct GenTransaction {
    /// Its id (its index in the generated list).
    pub id: usize,
    /// Its statements, in order.
    pub statements: Vec<GenStatement>,
}

impl GenTransaction {
    /// The transaction to submit.
    pub fn transaction(&self) -> Transaction {
        Transaction::from(
            self.statements
                .iter()
                .map(|s| Statement::new(s.sql.clone(), s.params.clone()))
                .collect::<Vec<_>>(),
        )
    }

    /// Whether a refusal at submit of statement `index` is right: that statement may be
    /// refused and no earlier one must be.
    pub fn may_refuse_at(&self, index: usize) -> bool {
        index < self.statements.len()
            && self.statements[index].refusal != Refusal::No
            && self.statements[..index]
                .iter()
                .all(|s| s.refusal != Refusal::AtSubmit)
    }

    /// The first statement that must be refused at submit, if any.
    pub fn must_refuse_at(&self) -> Option<usize> {
        self.statements
            .iter()
            .position(|s| s.refusal == Refusal::AtSubmit)
    }
}

impl std::fmt::Display for GenTransaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "transaction {}:", self.id)?;
        for (i, s) in self.statements.iter().enumerate() {
            let sql = s.sql.split_whitespace().collect::<Vec<_>>().join(" ");
            writeln!(f, "  [{i}] {sql:?}  params {:?}", s.params)?;
        }
        Ok(())
    }
}

/// Generates `count` transactions with ids `0..count`.
pub fn transactions(rng: &mut Rng, count: usize) -> Vec<GenTransaction> {
    (0..count).map(|id| transaction(rng, id)).collect()
}

/// One transaction of 1 to 5 statements (rarely none).
pub fn transaction(rng: &mut Rng, id: usize) -> GenTransaction {
    if rng.chance(1) {
        return GenTransaction {
            id,
            statements: Vec::new(),
        };
    }
    let len = *rng.pick(&[1, 1, 1, 1, 2, 2, 2, 3, 3, 4, 5]);
    let mut statements = Vec::with_capacity(len);
    // A transaction that starts by reading the connection functions sees what a fresh
    // connection would report, whatever ran before it in the batch.
    if rng.chance(10) {
        statements.push(connection_functions(rng));
    }
    while statements.len() < len {
        statements.push(statement(rng));
    }
    GenTransaction { id, statements }
}

/// A transaction built by hand (for fixed cases), with the refusal of each statement.
pub fn fixed(id: usize, statements: &[(&str, Params, Refusal)]) -> GenTransaction {
    GenTransaction {
        id,
        statements: statements
            .iter()
            .map(|(sql, params, refusal)| GenStatement {
                sql: (*sql).to_owned(),
                params: params.clone(),
                refusal: *refusal,
            })
            .collect(),
    }
}

fn statement(rng: &mut Rng) -> GenStatement {
    match rng.below(100) {
        0..=14 => parent_write(rng),
        15..=26 => child_write(rng),
        27..=34 => kv_write(rng),
        35..=41 => rb_write(rng),
        42..=49 => audit_write(rng),
        50..=56 => connection_functions(rng),
        57..=63 => read(rng),
        64..=67 => pragma_read(rng),
        68..=69 => pragma_write_allowed(rng),
        70..=75 => ddl(rng),
        76..=80 => value_roundtrip(rng),
        81..=84 => bad_parameters(rng),
        85..=88 => error(rng),
        89..=91 => refused(rng),
        92 => not_one_statement(rng),
        _ => must_not_refuse(rng),
    }
}

fn ok(sql: impl Into<String>, params: Params) -> GenStatement {
    GenStatement {
        sql: sql.into(),
        params,
        refusal: Refusal::No,
    }
}

fn no_params(sql: &str) -> GenStatement {
    ok(sql, Params::None)
}

fn positional(values: Vec<Value>) -> Params {
    Params::Positional(values)
}

/// `" OR <mode>"` or nothing.
fn conflict_mode(rng: &mut Rng) -> &'static str {
    rng.pick::<&str>(&[
        "",
        "",
        " OR ABORT",
        " OR FAIL",
        " OR IGNORE",
        " OR REPLACE",
        " OR ROLLBACK",
    ])
}

/// `n` groups of `width` placeholders: `(?, ?), (?, ?)`.
fn value_rows(n: usize, width: usize) -> String {
    let row = format!("({})", vec!["?"; width].join(", "));
    vec![row; n].join(", ")
}

fn rows_count(rng: &mut Rng) -> usize {
    *rng.pick(&[1, 1, 1, 2, 2, 3])
}

fn small(rng: &mut Rng, lo: i64, hi: i64) -> i64 {
    lo + rng.below((hi - lo + 1) as u64) as i64
}

const INT_EDGES: &[i64] = &[
    0,
    1,
    -1,
    2,
    42,
    -42,
    i64::MAX,
    i64::MIN,
    i64::MAX - 1,
    i64::MIN + 1,
    1 << 31,
    -(1 << 31),
    1 << 53,
    (1 << 53) + 1,
    -(1 << 53) - 1,
];

const REALS: &[f64] = &[
    0.0,
    -0.0,
    0.5,
    -1.25,
    3.0,
    1e300,
    -1e-300,
    f64::MAX,
    f64::MIN_POSITIVE,
    f64::INFINITY,
    f64::NEG_INFINITY,
    f64::NAN,
    9.223_372_036_854_776e18,
];

const TEXTS: &[&str] = &[
    "",
    "a",
    "b",
    "frozen",
    "é",
    "x'y",
    "12",
    " 7",
    "1e3",
    "\u{1F600}",
    "a\0b",
    "NULL",
    "BEGIN",
];

/// Any value: NULL, integer (edges included), real, text or blob.
pub fn any_value(rng: &mut Rng) -> Value {
    match rng.below(10) {
        0 => Value::Null,
        1..=3 => Value::Integer(*rng.pick(INT_EDGES)),
        4 => Value::Integer(small(rng, -5, 5)),
        5 | 6 => Value::Real(*rng.pick(REALS)),
        7 | 8 => Value::Text((*rng.pick(TEXTS)).to_owned()),
        _ => {
            let len = rng.below(6) as usize;
            Value::Blob((0..len).map(|_| rng.below(256) as u8).collect())
        }
    }
}

fn parent_id(rng: &mut Rng) -> Value {
    match rng.below(100) {
        0..=79 => Value::Integer(small(rng, 1, 6)),
        80..=86 => Value::Integer(small(rng, 7, 8)),
        87..=90 => Value::Null,
        91..=93 => Value::Text("3".into()),
        94..=96 => Value::Real(2.0),
        97 => Value::Real(2.5),
        _ => Value::Text("x".into()),
    }
}

fn name(rng: &mut Rng) -> Value {
    match rng.below(100) {
        0..=91 => Value::Text((*rng.pick(&["a", "b", "c", "d", "e", "f", "frozen"])).into()),
        92..=95 => Value::Null,
        _ => Value::Integer(1),
    }
}

fn score(rng: &mut Rng) -> Value {
    match rng.below(100) {
        0..=74 => Value::Integer(small(rng, -3, 3)),
        75..=89 => Value::Integer(*rng.pick(&[333, 555, 777, 999, 1000, 1001, -1001, 600])),
        90..=93 => Value::Null,
        94..=96 => Value::Text("x".into()),
        _ => Value::Integer(*rng.pick(&[i64::MAX, i64::MIN])),
    }
}

fn child_id(rng: &mut Rng) -> Value {
    if rng.chance(8) {
        Value::Null
    } else {
        Value::Integer(small(rng, 1, 10))
    }
}

fn fk_ref(rng: &mut Rng) -> Value {
    match rng.below(100) {
        0..=84 => Value::Integer(small(rng, 1, 8)),
        85..=94 => Value::Null,
        _ => Value::Text("2".into()),
    }
}

fn qty(rng: &mut Rng) -> Value {
    match rng.below(100) {
        0..=89 => Value::Integer(small(rng, -1, 4)),
        90..=94 => Value::Integer(*rng.pick(&[400, 1000, i64::MAX])),
        _ => Value::Null,
    }
}

fn label(rng: &mut Rng) -> Value {
    if rng.chance(15) {
        Value::Null
    } else {
        Value::Text((*rng.pick(&["x", "y", "z"])).into())
    }
}

fn kv_key(rng: &mut Rng) -> Value {
    if rng.chance(4) {
        Value::Null
    } else {
        Value::Text(format!("k{}", rng.below(6)))
    }
}

fn kv_n(rng: &mut Rng) -> Value {
    match rng.below(100) {
        0..=69 => Value::Integer(small(rng, 0, 9)),
        70..=79 => Value::Null,
        80..=84 => Value::Text("12".into()),
        85..=89 => Value::Text("abc".into()),
        90..=94 => Value::Real(2.0),
        _ => Value::Integer(*rng.pick(INT_EDGES)),
    }
}

fn rb_val(rng: &mut Rng) -> Value {
    match rng.below(100) {
        0..=84 => Value::Text((*rng.pick(&["a", "bb", "ccc"])).into()),
        85..=92 => Value::Text("dddd".into()),
        _ => Value::Null,
    }
}

fn audit_what(rng: &mut Rng) -> Value {
    match rng.below(100) {
        0..=54 => Value::Text("note".into()),
        55..=64 => Value::Text("abort".into()),
        65..=74 => Value::Text("fail".into()),
        75..=84 => Value::Text("rollback".into()),
        85..=94 => Value::Text("ignore".into()),
        _ => Value::Null,
    }
}

/// Named parameters `names` as the SQL spells them (`:a`, `@a`, `$a`) and as passed
/// (with or without the prefix).
fn named(rng: &mut Rng, names: &[&str], values: Vec<Value>) -> (Vec<String>, Params) {
    let prefix = *rng.pick(&[":", ":", "@", "$"]);
    let in_sql: Vec<String> = names.iter().map(|n| format!("{prefix}{n}")).collect();
    let given = names
        .iter()
        .zip(values)
        .map(|(n, v)| {
            let key = if rng.chance(50) {
                format!("{prefix}{n}")
            } else {
                (*n).to_owned()
            };
            (key, v)
        })
        .collect();
    (in_sql, Params::Named(given))
}

fn parent_write(rng: &mut Rng) -> GenStatement {
    let returning = *rng.pick(&["", "", " RETURNING id, name, score", " RETURNING *"]);
    match rng.below(11) {
        0 | 1 => {
            let n = rows_count(rng);
            let mut values = Vec::new();
            for _ in 0..n {
                values.extend([parent_id(rng), name(rng), score(rng), any_value(rng)]);
            }
            ok(
                format!(
                    "INSERT{} INTO parent (id, name, score, note) VALUES {}{returning}",
                    conflict_mode(rng),
                    value_rows(n, 4)
                ),
                positional(values),
            )
        }
        2 => {
            let values = vec![parent_id(rng), name(rng), score(rng)];
            let (p, params) = named(rng, &["id", "name", "score"], values);
            ok(
                format!(
                    "INSERT INTO parent (id, name, score) VALUES ({}, {}, {}) \
                     ON CONFLICT (id) DO UPDATE SET score = score + excluded.score, \
                     name = excluded.name{}{returning}",
                    p[0],
                    p[1],
                    p[2],
                    rng.pick(&["", " WHERE excluded.score > 0"])
                ),
                params,
            )
        }
        3 => ok(
            format!(
                "INSERT INTO parent (id, name, score) VALUES (?, ?, ?) ON CONFLICT {} DO NOTHING{returning}",
                rng.pick(&["(name)", "(id)", ""])
            ),
            positional(vec![parent_id(rng), name(rng), score(rng)]),
        ),
        4 => ok(
            format!(
                "UPDATE{} parent SET score = score + ? WHERE id = ?{returning}",
                conflict_mode(rng)
            ),
            positional(vec![score(rng), parent_id(rng)]),
        ),
        5 => ok(
            format!(
                "UPDATE{} parent SET score = score + ? WHERE id BETWEEN ? AND ?{returning}",
                conflict_mode(rng)
            ),
            positional(vec![score(rng), parent_id(rng), parent_id(rng)]),
        ),
        6 => ok(
            format!("UPDATE{} parent SET name = ? WHERE id = ?{returning}", conflict_mode(rng)),
            positional(vec![name(rng), parent_id(rng)]),
        ),
        7 => ok(
            format!("UPDATE{} parent SET score = ? WHERE id >= ?{returning}", conflict_mode(rng)),
            positional(vec![score(rng), parent_id(rng)]),
        ),
        8 => ok(
            format!("REPLACE INTO parent (id, name, score) VALUES (?, ?, ?){returning}"),
            positional(vec![parent_id(rng), name(rng), score(rng)]),
        ),
        _ => ok(
            format!(
                "DELETE FROM parent WHERE id {}{}",
                rng.pick(&["= ?", "= ?", ">= ?"]),
                rng.pick(&["", " RETURNING id, name"])
            ),
            positional(vec![parent_id(rng)]),
        ),
    }
}

fn child_write(rng: &mut Rng) -> GenStatement {
    match rng.below(8) {
        0..=2 => {
            let n = rows_count(rng);
            let mut values = Vec::new();
            for _ in 0..n {
                values.extend([child_id(rng), fk_ref(rng), fk_ref(rng), qty(rng), label(rng)]);
            }
            ok(
                format!(
                    "INSERT{} INTO child (id, parent_id, owner_id, qty, label) VALUES {}{}",
                    conflict_mode(rng),
                    value_rows(n, 5),
                    rng.pick(&["", " RETURNING id, parent_id, owner_id"])
                ),
                positional(values),
            )
        }
        3 => ok(
            format!(
                "INSERT{} INTO child (parent_id, owner_id, qty, label) \
                 SELECT id, id, 1, name FROM parent WHERE score >= ? ORDER BY id",
                conflict_mode(rng)
            ),
            positional(vec![score(rng)]),
        ),
        4 => ok(
            format!("UPDATE{} child SET owner_id = ? WHERE id = ?", conflict_mode(rng)),
            positional(vec![fk_ref(rng), child_id(rng)]),
        ),
        5 => ok(
            format!(
                "UPDATE{} child SET label = ?, qty = ? WHERE parent_id = ? RETURNING id, label, qty",
                conflict_mode(rng)
            ),
            positional(vec![label(rng), qty(rng), fk_ref(rng)]),
        ),
        6 => ok(
            format!(
                "DELETE FROM child WHERE {} = ?{}",
                rng.pick(&["id", "owner_id", "parent_id"]),
                rng.pick(&["", " RETURNING id"])
            ),
            positional(vec![fk_ref(rng)]),
        ),
        _ => ok(
            format!("UPDATE{} child SET parent_id = ? WHERE id = ?", conflict_mode(rng)),
            positional(vec![fk_ref(rng), child_id(rng)]),
        ),
    }
}

fn kv_write(rng: &mut Rng) -> GenStatement {
    match rng.below(6) {
        0 | 1 => {
            let values = vec![kv_key(rng), any_value(rng), kv_n(rng)];
            let (p, params) = named(rng, &["k", "v", "n"], values);
            ok(
                format!(
                    "INSERT INTO kv (k, v, n) VALUES ({}, {}, {}) ON CONFLICT (k) DO UPDATE \
                     SET v = excluded.v, n = coalesce(kv.n, 0) + 1 RETURNING k, v, n",
                    p[0], p[1], p[2]
                ),
                params,
            )
        }
        2 => ok(
            format!("INSERT{} INTO kv VALUES (?, ?, ?)", conflict_mode(rng)),
            positional(vec![kv_key(rng), any_value(rng), kv_n(rng)]),
        ),
        3 => ok(
            format!("UPDATE{} kv SET n = n + ? WHERE k = ?", conflict_mode(rng)),
            positional(vec![kv_n(rng), kv_key(rng)]),
        ),
        4 => ok(
            "DELETE FROM kv WHERE k = ? RETURNING *",
            positional(vec![kv_key(rng)]),
        ),
        _ => ok(
            "INSERT INTO kv (k, v, n) VALUES (?, ?, ?) ON CONFLICT DO NOTHING RETURNING k",
            positional(vec![kv_key(rng), any_value(rng), kv_n(rng)]),
        ),
    }
}

fn rb_write(rng: &mut Rng) -> GenStatement {
    // The table's own constraints roll back the whole transaction unless the statement
    // names another conflict mode.
    match rng.below(4) {
        0 | 1 => {
            let n = *rng.pick(&[1, 1, 2]);
            let mut values = Vec::new();
            for _ in 0..n {
                values.extend([
                    Value::Integer(small(rng, 1, 4)),
                    Value::Integer(small(rng, 1, 4)),
                    rb_val(rng),
                ]);
            }
            ok(
                format!(
                    "INSERT{} INTO rb (id, code, val) VALUES {}",
                    rng.pick(&[
                        "",
                        "",
                        "",
                        " OR ABORT",
                        " OR FAIL",
                        " OR IGNORE",
                        " OR REPLACE"
                    ]),
                    value_rows(n, 3)
                ),
                positional(values),
            )
        }
        2 => ok(
            format!("UPDATE{} rb SET code = ? WHERE id = ?", conflict_mode(rng)),
            positional(vec![
                Value::Integer(small(rng, 1, 4)),
                Value::Integer(small(rng, 1, 4)),
            ]),
        ),
        _ => ok(
            "DELETE FROM rb WHERE code = ?",
            positional(vec![Value::Integer(small(rng, 1, 4))]),
        ),
    }
}

fn audit_write(rng: &mut Rng) -> GenStatement {
    if rng.chance(15) {
        return no_params("DELETE FROM audit WHERE seq <= (SELECT max(seq) - 8 FROM audit)");
    }
    let n = rows_count(rng);
    let mut values = Vec::new();
    for _ in 0..n {
        values.extend([audit_what(rng), any_value(rng), any_value(rng)]);
    }
    ok(
        format!(
            "INSERT{} INTO audit (what, ref, info) VALUES {}{}",
            conflict_mode(rng),
            value_rows(n, 3),
            rng.pick(&["", " RETURNING seq, what"])
        ),
        positional(values),
    )
}

fn connection_functions(rng: &mut Rng) -> GenStatement {
    match rng.below(7) {
        0 | 1 => no_params("SELECT changes(), total_changes(), last_insert_rowid()"),
        2 => no_params("SELECT last_insert_rowid() AS rowid, changes() AS c"),
        3 => no_params(
            "INSERT INTO audit (what, ref, info) VALUES ('conn', last_insert_rowid(), \
             total_changes()) RETURNING ref, info",
        ),
        4 => ok(
            "UPDATE parent SET score = changes() WHERE id = ? RETURNING id, score",
            positional(vec![parent_id(rng)]),
        ),
        5 => no_params(
            "INSERT INTO kv (k, v, n) VALUES ('conn', last_insert_rowid(), changes()) \
             ON CONFLICT (k) DO UPDATE SET v = excluded.v, n = excluded.n",
        ),
        _ => no_params("SELECT total_changes() - changes() AS before_last"),
    }
}

fn read(rng: &mut Rng) -> GenStatement {
    match rng.below(12) {
        0 => no_params("SELECT id, name, score, note FROM parent ORDER BY id"),
        1 => no_params(
            "SELECT count(*), total(qty), group_concat(label, ',' ORDER BY id) FROM child",
        ),
        2 => no_params("SELECT * FROM kv ORDER BY k"),
        3 => no_params("SELECT * FROM audit ORDER BY seq DESC LIMIT 3"),
        4 => no_params("SELECT * FROM rb ORDER BY id"),
        5 => {
            let values = vec![parent_id(rng)];
            let (p, params) = named(rng, &["id"], values);
            ok(
                format!("SELECT name, score FROM parent WHERE id = {}", p[0]),
                params,
            )
        }
        6 => no_params("SELECT count(*) FROM sqlite_temp_master"),
        7 => no_params("SELECT * FROM extra ORDER BY rowid"),
        8 => no_params("SELECT * FROM extra_v"),
        // Answers that a leaked case_sensitive_like or reverse_unordered_selects would change.
        9 => no_params("SELECT count(*) FROM parent WHERE name LIKE 'A%' OR name LIKE 'Fro%'"),
        10 => no_params("SELECT group_concat(name) FROM parent"),
        _ => no_params("SELECT name, seq FROM sqlite_sequence ORDER BY name"),
    }
}

fn pragma_read(rng: &mut Rng) -> GenStatement {
    no_params(rng.pick::<&str>(&[
        "PRAGMA user_version",
        "PRAGMA main.user_version",
        "PRAGMA application_id",
        "PRAGMA foreign_keys",
        "PRAGMA defer_foreign_keys",
        "PRAGMA recursive_triggers",
        "PRAGMA query_only",
        "PRAGMA ignore_check_constraints",
        "PRAGMA temp.user_version",
        "PRAGMA busy_timeout",
        "PRAGMA cache_size",
        "PRAGMA journal_mode",
        "PRAGMA reverse_unordered_selects",
        "PRAGMA legacy_alter_table",
        "PRAGMA automatic_index",
        "PRAGMA max_page_count",
        "PRAGMA foreign_key_check",
        "PRAGMA table_info(extra)",
        "PRAGMA index_list('child')",
        "PRAGMA foreign_key_list(child)",
        "PRAGMA synchronous",
        "PRAGMA journal_size_limit",
        "SELECT * FROM pragma_table_info('parent')",
        "SELECT * FROM pragma_foreign_keys",
    ]))
}

fn pragma_write_allowed(rng: &mut Rng) -> GenStatement {
    let n = small(rng, -3, 50);
    ok(
        match rng.below(6) {
            0 | 1 => format!("PRAGMA user_version = {n}"),
            2 => format!("PRAGMA main.user_version = {n}"),
            3 => format!("PRAGMA user_version({n})"),
            4 => format!("PRAGMA application_id = {n}"),
            _ => "PRAGMA incremental_vacuum".to_owned(),
        },
        Params::None,
    )
}

fn ddl(rng: &mut Rng) -> GenStatement {
    let c = rng.below(3);
    match rng.below(13) {
        0 => no_params("CREATE TABLE IF NOT EXISTS extra (a, b)"),
        1 => no_params("DROP TABLE IF EXISTS extra"),
        2 | 3 => no_params(&format!("ALTER TABLE extra ADD COLUMN c{c}")),
        4 => no_params(&format!("ALTER TABLE extra DROP COLUMN c{c}")),
        5 | 6 => ok(
            "INSERT INTO extra (a, b) VALUES (?, ?)",
            positional(vec![any_value(rng), any_value(rng)]),
        ),
        7 => ok(
            "INSERT INTO extra VALUES (?, ?)",
            positional(vec![any_value(rng), any_value(rng)]),
        ),
        8 => no_params("CREATE INDEX IF NOT EXISTS extra_a ON extra (a)"),
        9 => no_params("DROP INDEX IF EXISTS extra_a"),
        10 => no_params(
            "CREATE TRIGGER IF NOT EXISTS extra_ai AFTER INSERT ON extra \
             BEGIN INSERT INTO audit (what, ref) VALUES ('extra', NEW.rowid); END",
        ),
        11 => no_params("DROP TRIGGER IF EXISTS extra_ai"),
        _ => no_params(rng.pick::<&str>(&[
            "CREATE VIEW IF NOT EXISTS extra_v AS SELECT * FROM extra",
            "DROP VIEW IF EXISTS extra_v",
        ])),
    }
}

fn value_roundtrip(rng: &mut Rng) -> GenStatement {
    match rng.below(5) {
        0 | 1 => ok(
            "SELECT ?1, typeof(?1), quote(?1), length(?1)",
            positional(vec![any_value(rng)]),
        ),
        2 => ok(
            "SELECT ?2, ?1",
            positional(vec![any_value(rng), any_value(rng)]),
        ),
        3 => {
            let values = vec![any_value(rng), any_value(rng)];
            let (p, params) = named(rng, &["a", "b"], values);
            ok(format!("SELECT {} AS a, {} + 1 AS b", p[0], p[1]), params)
        }
        _ => ok(
            "SELECT ?1 + 1, ?1 * 2, -?1",
            positional(vec![Value::Integer(*rng.pick(INT_EDGES))]),
        ),
    }
}

fn bad_parameters(rng: &mut Rng) -> GenStatement {
    match rng.below(7) {
        0 => ok("SELECT ?, ?", positional(vec![Value::Integer(1)])),
        1 => ok(
            "INSERT INTO audit (what) VALUES (?)",
            positional(vec![Value::Text("note".into()), Value::Integer(2)]),
        ),
        2 => ok(
            "SELECT :a",
            Params::Named(vec![("b".into(), Value::Integer(1))]),
        ),
        3 => ok(
            "SELECT :a, :b",
            Params::Named(vec![(":a".into(), Value::Integer(1))]),
        ),
        4 => ok(
            "SELECT :a",
            Params::Named(vec![
                ("a".into(), Value::Integer(1)),
                (":a".into(), Value::Integer(2)),
            ]),
        ),
        5 => no_params("DELETE FROM kv WHERE k = ?"),
        _ => ok("SELECT 1", positional(vec![Value::Integer(1)])),
    }
}

fn error(rng: &mut Rng) -> GenStatement {
    match rng.below(9) {
        0 => no_params("SELEC 1"),
        1 => no_params("INSERT INTO parent VALUES ("),
        2 => no_params("SELECT * FROM no_such_table"),
        3 => no_params("SELECT abs(-9223372036854775808)"),
        4 => no_params("SELECT json('{')"),
        5 => no_params("INSERT INTO parent (nope) VALUES (1)"),
        6 => ok(
            "UPDATE parent SET score = 'x' || score WHERE id = ?",
            positional(vec![parent_id(rng)]),
        ),
        7 => no_params("INSERT INTO kv VALUES ('typed', 1, 'not a number')"),
        _ => no_params("SELECT 1 FROM parent WHERE"),
    }
}

/// Statements that must be refused at submit: they would end or nest the batch's
/// transaction, or leave connection state behind for the next transactions.
pub const REFUSED: &[&str] = &[
    "BEGIN",
    "begin immediate",
    "BEGIN EXCLUSIVE TRANSACTION",
    "COMMIT",
    "END",
    "  end transaction",
    "ROLLBACK",
    "ROLLBACK TO litecommit_tx",
    "SAVEPOINT s1",
    "RELEASE s1",
    "release savepoint litecommit_tx",
    "/* comment */ BEGIN",
    "-- comment\nCOMMIT",
    "VACUUM",
    "ATTACH ':memory:' AS other",
    "DETACH other",
    "PRAGMA query_only=1",
    "PRAGMA query_only = ON",
    "pragma QUERY_ONLY(true)",
    "PRAGMA query_only = 0",
    "PRAGMA \"query_only\" = 1",
    "PRAGMA defer_foreign_keys=ON",
    "PRAGMA [defer_foreign_keys] = 1",
    "PRAGMA ignore_check_constraints=1",
    "PRAGMA recursive_triggers=1",
    "PRAGMA recursive_triggers = on",
    "PRAGMA foreign_keys=OFF",
    "PRAGMA foreign_keys = ON",
    "PRAGMA busy_timeout=1",
    "PRAGMA max_page_count=2",
    "PRAGMA main.max_page_count = 3",
    "PRAGMA cache_size=10",
    "PRAGMA case_sensitive_like=1",
    "PRAGMA writable_schema=ON",
    "PRAGMA journal_size_limit=0",
    // Process-wide limits, set high enough to change nothing if they ever ran.
    "PRAGMA hard_heap_limit=1000000000000",
    "PRAGMA soft_heap_limit=1000000000000",
    "PRAGMA temp_store=MEMORY",
    "PRAGMA reverse_unordered_selects=1",
    "PRAGMA count_changes=1",
    "PRAGMA legacy_alter_table=ON",
    "PRAGMA automatic_index=OFF",
    "PRAGMA journal_mode=DELETE",
    "PRAGMA synchronous=OFF",
    "PRAGMA wal_autocheckpoint=1",
    "PRAGMA locking_mode=EXCLUSIVE",
    "PRAGMA temp.user_version = 5",
    "CREATE TEMP TABLE tt (a)",
    "CREATE TEMPORARY TABLE IF NOT EXISTS tt (a)",
    "create temp view tv AS SELECT 1",
    "CREATE TEMP TRIGGER tt_block BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'temp'); END",
    "CREATE TABLE temp.tt2 (a)",
    "CREATE TABLE \"temp\".tt3 (a)",
    "CREATE VIEW temp.tv2 AS SELECT 1",
    "CREATE TRIGGER temp.tt_count AFTER INSERT ON parent BEGIN DELETE FROM kv; END",
    // Compiling a statement is enough for a pragma to act.
    "EXPLAIN PRAGMA query_only=1",
    "EXPLAIN QUERY PLAN PRAGMA defer_foreign_keys=1",
    "EXPLAIN BEGIN",
    // SQLite skips a byte-order mark before a token; a Tcl-style parameter hides a quote.
    "\u{feff}COMMIT",
    "\u{feff}PRAGMA recursive_triggers=1",
    "SELECT $a(x') ;PRAGMA query_only=1;--'",
    // The name of the writer's internal table that resets changes().
    "DELETE FROM sqlite_litecommit_changes_reset",
    "SELECT * FROM \"SQLITE_LITECOMMIT_CHANGES_RESET\"",
];

fn refused(rng: &mut Rng) -> GenStatement {
    GenStatement {
        sql: (*rng.pick(REFUSED)).to_owned(),
        params: Params::None,
        refusal: Refusal::AtSubmit,
    }
}

/// SQL texts that are not exactly one statement: refused at submit or when they run.
fn not_one_statement(rng: &mut Rng) -> GenStatement {
    GenStatement {
        sql: (*rng.pick(&[
            "SELECT 1; SELECT 2",
            // SQLite applies these pragmas when it prepares them.
            "INSERT INTO audit (what) VALUES ('two'); PRAGMA query_only=1",
            "SELECT 1; PRAGMA defer_foreign_keys=ON",
            "SELECT 1; PRAGMA recursive_triggers=1",
            "SELECT 1; PRAGMA ignore_check_constraints=1",
            "SELECT 1; PRAGMA case_sensitive_like=1",
            "SELECT 1; PRAGMA count_changes=1",
            "SELECT 1; BEGIN",
            "",
            " ; ",
            "-- only a comment",
        ]))
        .to_owned(),
        params: Params::None,
        refusal: Refusal::AtSubmitOrRun,
    }
}

/// Statements that look like refused ones but are fine and must run.
fn must_not_refuse(rng: &mut Rng) -> GenStatement {
    no_params(rng.pick::<&str>(&[
        "SELECT 'BEGIN'",
        "SELECT 1 AS \"begin\"",
        "INSERT INTO audit (what, info) VALUES ('note', 'PRAGMA query_only=1')",
        "  -- a comment\n  SELECT 'COMMIT' AS c",
        "WITH n (x) AS (VALUES (1), (2)) INSERT INTO audit (what, ref) SELECT 'note', x FROM n",
        "CREATE TABLE IF NOT EXISTS temp_notes (a)",
        "INSERT INTO temp_notes VALUES ('temp')",
        "SELECT * FROM temp_notes ORDER BY rowid",
        "PRAGMA table_info(parent)",
        "PRAGMA integrity_check",
        "PRAGMA quick_check",
        "EXPLAIN QUERY PLAN SELECT * FROM child WHERE owner_id = 1",
        // Names the committer might use for itself are the application's to use.
        "CREATE TABLE IF NOT EXISTS litecommit_changes_reset (a)",
        "INSERT INTO litecommit_changes_reset VALUES (1)",
        "SELECT count(*) FROM litecommit_changes_reset",
    ]))
}
