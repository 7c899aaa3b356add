//! Running one statement on a connection: refusing what would break the batch, binding
//! parameters, collecting rows.

use std::sync::Arc;

use rusqlite::Connection;

use crate::error::{Error, Result};
use crate::transaction::{Rows, Statement, StatementResult};
use crate::value::{Params, Value};

/// Refuses statements that would end, nest or detach the batch's transaction, or change
/// settings the committer owns.
pub(crate) fn check_allowed(sql: &str, statement_index: usize) -> Result<()> {
    if sql.contains('\0') {
        // SQLite would stop reading at the NUL and silently run only what comes before.
        return Err(Error::Refused {
            reason: "the SQL text contains a NUL character".into(),
            statement_index,
        });
    }
    let mut words = Tokens { rest: sql };
    // SQLite skips empty statements (bare semicolons) before the first keyword.
    let Some(first) = words.find(|w| *w != ";") else {
        return Ok(());
    };
    let first = first.to_ascii_uppercase();
    let refuse = |reason: String| {
        Err(Error::Refused {
            reason,
            statement_index,
        })
    };
    match first.as_str() {
        "BEGIN" | "COMMIT" | "END" | "ROLLBACK" | "SAVEPOINT" | "RELEASE" => refuse(format!(
            "{first} is not allowed: litecommit runs each transaction in its own savepoint \
             inside a shared batch transaction"
        )),
        "VACUUM" | "ATTACH" | "DETACH" => refuse(format!(
            "{first} is not allowed inside a batch: it cannot run within a transaction \
             or would change the batch's databases"
        )),
        "PRAGMA" => {
            let mut name = unquoted_word(&mut words);
            let mut next = words.next();
            if next == Some(".") {
                name = unquoted_word(&mut words);
                next = words.next();
            }
            let assigns = matches!(next, Some("=") | Some("("));
            let owned = [
                "journal_mode",
                "synchronous",
                "wal_autocheckpoint",
                "locking_mode",
            ];
            if assigns && owned.contains(&name.as_str()) {
                refuse(format!(
                    "PRAGMA {name} cannot be changed through a batch: litecommit configures it \
                     (see its configuration options)"
                ))
            } else {
                Ok(())
            }
        }
        _ => Ok(()),
    }
}

/// The next word in lower case, without the quotes SQLite accepts around a name
/// (`"x"`, `[x]`, `` `x` ``, `'x'`).
fn unquoted_word(words: &mut Tokens<'_>) -> String {
    let word = words.next().unwrap_or_default();
    if !matches!(word, "\"" | "[" | "`" | "'") {
        return word.to_ascii_lowercase();
    }
    let name = words.next().unwrap_or_default().to_ascii_lowercase();
    words.next(); // the closing quote
    name
}

/// Splits SQL into words and single punctuation characters, skipping whitespace and comments.
struct Tokens<'a> {
    rest: &'a str,
}

impl<'a> Iterator for Tokens<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        loop {
            self.rest = self.rest.trim_start();
            if let Some(after) = self.rest.strip_prefix("--") {
                self.rest = after.find('\n').map_or("", |i| &after[i..]);
            } else if let Some(after) = self.rest.strip_prefix("/*") {
                self.rest = after.find("*/").map_or("", |i| &after[i + 2..]);
            } else {
                break;
            }
        }
        let first = self.rest.chars().next()?;
        let len = if first.is_alphanumeric() || first == '_' {
            self.rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(self.rest.len())
        } else {
            first.len_utf8()
        };
        let (token, rest) = self.rest.split_at(len);
        self.rest = rest;
        Some(token)
    }
}

/// The shared empty column list of statements that return no rows (no allocation per call).
fn no_columns() -> Arc<[String]> {
    static EMPTY: std::sync::OnceLock<Arc<[String]>> = std::sync::OnceLock::new();
    Arc::clone(EMPTY.get_or_init(|| Arc::from(Vec::new())))
}

/// Runs one statement with its parameters and collects its rows. The caller has checked it
/// with [`check_allowed`] (the committer does so at submit).
pub(crate) fn run(conn: &Connection, stmt: &Statement, index: usize) -> Result<StatementResult> {
    let mut prepared = conn
        .prepare_cached(&stmt.sql)
        .map_err(|e| prepare_error(e, index))?;
    bind(&mut prepared, &stmt.params, index)?;
    let columns: Arc<[String]> = if prepared.column_count() == 0 {
        no_columns()
    } else {
        prepared.column_names().map(String::from).collect()
    };
    let readonly = prepared.readonly();
    let before = conn.total_changes();
    let mut rows = Vec::new();
    {
        let mut cursor = prepared.raw_query();
        while let Some(row) = cursor
            .next()
            .map_err(|e| Error::from_sqlite(e, Some(index)))?
        {
            let mut values = Vec::with_capacity(columns.len());
            for i in 0..columns.len() {
                let value = row
                    .get_ref(i)
                    .map_err(|e| Error::from_sqlite(e, Some(index)))?;
                values.push(Value::from_ref(value));
            }
            rows.push(values);
        }
    }
    let changes = if !readonly && conn.total_changes() != before {
        conn.changes()
    } else {
        0
    };
    Ok(StatementResult {
        changes,
        last_insert_rowid: conn.last_insert_rowid(),
        rows: Rows { columns, rows },
    })
}

fn prepare_error(err: rusqlite::Error, statement_index: usize) -> Error {
    match err {
        rusqlite::Error::MultipleStatement => Error::Refused {
            reason: "more than one statement in one SQL text; pass each statement separately"
                .into(),
            statement_index,
        },
        rusqlite::Error::Empty => Error::Refused {
            reason: "empty statement".into(),
            statement_index,
        },
        other => Error::from_sqlite(other, Some(statement_index)),
    }
}

fn bind(prepared: &mut rusqlite::Statement<'_>, params: &Params, index: usize) -> Result<()> {
    let expected = prepared.parameter_count();
    let param_error = |message: String| Error::Parameter {
        message,
        statement_index: index,
    };
    let bind_error = |e: rusqlite::Error| param_error(e.to_string());
    match params {
        Params::None if expected == 0 => Ok(()),
        Params::None => Err(param_error(format!(
            "statement expects {expected} parameter(s), none given"
        ))),
        Params::Positional(values) => {
            if values.len() != expected {
                return Err(param_error(format!(
                    "statement expects {expected} parameter(s), {} given",
                    values.len()
                )));
            }
            for (i, value) in values.iter().enumerate() {
                prepared
                    .raw_bind_parameter(i + 1, value)
                    .map_err(bind_error)?;
            }
            Ok(())
        }
        Params::Named(values) => {
            let mut bound = vec![false; expected];
            for (name, value) in values {
                let position = find_parameter(prepared, name)
                    .map_err(bind_error)?
                    .ok_or_else(|| {
                        param_error(format!("statement has no parameter named {name:?}"))
                    })?;
                if std::mem::replace(&mut bound[position - 1], true) {
                    return Err(param_error(format!("parameter {name:?} given twice")));
                }
                prepared
                    .raw_bind_parameter(position, value)
                    .map_err(bind_error)?;
            }
            if let Some(missing) = bound.iter().position(|b| !b) {
                let name = prepared
                    .parameter_name(missing + 1)
                    .map_or_else(|| format!("?{}", missing + 1), String::from);
                return Err(param_error(format!("no value given for parameter {name}")));
            }
            Ok(())
        }
    }
}

fn find_parameter(
    prepared: &rusqlite::Statement<'_>,
    name: &str,
) -> rusqlite::Result<Option<usize>> {
    if name.starts_with([':', '@', '$']) {
        return prepared.parameter_index(name);
    }
    for prefix in [":", "@", "$"] {
        if let Some(i) = prepared.parameter_index(&format!("{prefix}{name}"))? {
            return Ok(Some(i));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_transaction_control_and_owned_pragmas() {
        for sql in [
            "BEGIN",
            "  begin immediate",
            "/* c */ COMMIT",
            "-- x\nrollback to a",
            "SAVEPOINT s",
            "release s",
            "END",
            "VACUUM",
            "ATTACH 'x' AS y",
            "DETACH y",
            "PRAGMA journal_mode=DELETE",
            "pragma main.synchronous = OFF",
            "PRAGMA wal_autocheckpoint(10)",
            "SELECT 1\0; DROP TABLE t",
        ] {
            assert!(
                matches!(
                    check_allowed(sql, 3),
                    Err(Error::Refused {
                        statement_index: 3,
                        ..
                    })
                ),
                "{sql} was not refused"
            );
        }
        for sql in [
            "INSERT INTO t VALUES (1)",
            "PRAGMA journal_mode",
            "PRAGMA user_version = 3",
            "SELECT 'BEGIN'",
            "CREATE TABLE begin_x (a)",
            "",
        ] {
            assert!(check_allowed(sql, 0).is_ok(), "{sql} was refused");
        }
    }
}
