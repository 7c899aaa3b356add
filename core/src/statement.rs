//! Checking a statement before it runs: refusing what would break the batch, or leave state
//! on the shared connection that later transactions would see.

use std::borrow::Cow;
use std::cell::RefCell;

use crate::connection::RESERVED_NAME;
use crate::error::{Error, Result};
use crate::recent::Recent;

/// Pragmas that change the database rather than the connection: the only ones that may be
/// set from a transaction.
const SETTABLE_PRAGMAS: &[&str] = &[
    "user_version",
    "application_id",
    "optimize",
    "incremental_vacuum",
];

/// Pragmas whose argument is what they look at, not a new setting (`table_info(t)`).
const QUERY_PRAGMAS: &[&str] = &[
    "table_info",
    "table_xinfo",
    "table_list",
    "index_info",
    "index_xinfo",
    "index_list",
    "foreign_key_list",
    "foreign_key_check",
    "integrity_check",
    "quick_check",
];

/// Pragmas refused even without an argument: they act on, or report on, the connection
/// they run on, which every transaction shares.
const UNSHARED_PRAGMAS: &[(&str, &str)] = &[
    (
        "wal_checkpoint",
        "checkpoints run on litecommit's own connection, off the commit path; use \
         Committer::checkpoint",
    ),
    (
        "shrink_memory",
        "it frees memory of the shared writer connection, not of the database",
    ),
    (
        "data_version",
        "its value describes the connection it runs on, which litecommit shares",
    ),
];

/// Pragmas litecommit sets itself, with the configuration option that controls each.
const OWNED_PRAGMAS: &[(&str, &str)] = &[
    ("journal_mode", "WAL, always"),
    ("locking_mode", "NORMAL, always"),
    (
        "wal_autocheckpoint",
        "0: the checkpoint scheduler does the checkpoints",
    ),
    ("synchronous", "the `durability` option"),
    ("foreign_keys", "the `foreign_keys` option"),
    ("busy_timeout", "the `busy_timeout_ms` option"),
    ("cache_size", "the `cache_size_kib` option"),
    ("mmap_size", "the `mmap_size` option"),
    ("journal_size_limit", "the `journal_size_limit` option"),
];

/// Refuses statements that would end, nest or detach the batch's transaction, or leave
/// state on the shared connection that would change what later transactions see: each
/// transaction must get exactly the outcome it would get alone on a fresh connection.
pub(crate) fn check_allowed(sql: &str, statement_index: usize) -> Result<()> {
    // `try_with`: while a thread exits (a process exit runs its handlers there), its
    // thread-locals may be gone; the text is then checked without them.
    if ALLOWED.try_with(|allowed| allowed.borrow().get(sql).is_some()) == Ok(true) {
        return Ok(());
    }
    check_uncached(sql, statement_index)?;
    let _ = ALLOWED.try_with(|allowed| allowed.borrow_mut().insert(sql, ()));
    Ok(())
}

thread_local! {
    /// SQL texts this thread found allowed lately.
    static ALLOWED: RefCell<Recent<()>> = RefCell::new(Recent::default());
}

/// Whether `sql` contains `word`, in any case and anywhere (inside a longer word or a string
/// literal too: callers use it as an over-approximation).
pub(crate) fn mentions_word(sql: &str, word: &str) -> bool {
    sql.as_bytes()
        .windows(word.len())
        .any(|w| w.eq_ignore_ascii_case(word.as_bytes()))
}

/// [`check_allowed`] without the per-thread memory of allowed texts.
fn check_uncached(sql: &str, statement_index: usize) -> Result<()> {
    if sql.contains('\0') {
        // SQLite would stop reading at the NUL and silently run only what comes before.
        return Err(Error::Refused {
            reason: "the SQL text contains a NUL character".into(),
            statement_index,
        });
    }
    let mut tokens = Tokens { rest: sql };
    // SQLite skips empty statements (bare semicolons) before the first keyword.
    while tokens.peek() == Some(Token::Punct(';')) {
        tokens.next();
    }
    let refuse = |reason| Error::Refused {
        reason,
        statement_index,
    };
    check_one_statement(&sql[sql.len() - tokens.rest.len()..]).map_err(refuse)?;
    check_statement(&mut tokens).map_err(refuse)
}

/// Refuses a text that holds more than one statement, before SQLite sees it: preparing the
/// first statement can compile the next one too (to tell whether the rest is empty), and a
/// pragma acts when it is compiled. Also refuses the name litecommit reserves on the writer.
///
/// A `;` ends the statement, except inside a CREATE TRIGGER, which only `; END ;` ends
/// (the rule of SQLite's own `sqlite3_complete`; `CASE ... END;` in a body does not).
fn check_one_statement(sql: &str) -> std::result::Result<(), String> {
    let mut tokens = Tokens { rest: sql };
    let trigger = creates_trigger(tokens.clone());
    // In a trigger: whether the last tokens were `;` and then `; END`.
    let (mut after_semicolon, mut after_semicolon_end) = (false, false);
    while let Some(token) = tokens.next() {
        let semicolon = token == Token::Punct(';');
        if semicolon && (!trigger || after_semicolon_end) {
            if tokens.all(|t| t == Token::Punct(';')) {
                return Ok(());
            }
            return Err(
                "more than one statement in one SQL text; pass each statement separately".into(),
            );
        }
        let end = matches!(token, Token::Word(w) if w.eq_ignore_ascii_case("END"));
        after_semicolon_end = after_semicolon && end;
        after_semicolon = semicolon;
        if token.name().as_deref() == Some(RESERVED_NAME) {
            return Err(format!(
                "{RESERVED_NAME} is a name litecommit reserves on its writer connection"
            ));
        }
    }
    Ok(())
}

/// Whether the statement starting at `tokens` is a CREATE \[TEMP\] TRIGGER (explained or not).
fn creates_trigger(mut tokens: Tokens<'_>) -> bool {
    let mut keyword = tokens.next_keyword();
    if keyword.as_deref() == Some("EXPLAIN") {
        keyword = tokens.next_keyword();
        if keyword.as_deref() == Some("QUERY") {
            tokens.next_keyword(); // PLAN
            keyword = tokens.next_keyword();
        }
    }
    if keyword.as_deref() != Some("CREATE") {
        return false;
    }
    let mut kind = tokens.next_keyword();
    if matches!(kind.as_deref(), Some("TEMP" | "TEMPORARY")) {
        kind = tokens.next_keyword();
    }
    kind.as_deref() == Some("TRIGGER")
}

/// Checks one statement; `Err` holds the reason for refusing it.
fn check_statement(tokens: &mut Tokens<'_>) -> std::result::Result<(), String> {
    let Some(Token::Word(first)) = tokens.next() else {
        return Ok(());
    };
    let keyword = first.to_ascii_uppercase();
    match keyword.as_str() {
        // Preparing a statement is enough for some of them to act (a pragma takes effect
        // when it is compiled), so an explained statement follows the same rules.
        "EXPLAIN" => {
            if tokens.peek_keyword("QUERY") {
                tokens.next();
                if tokens.peek_keyword("PLAN") {
                    tokens.next();
                }
            }
            check_statement(tokens)
        }
        "BEGIN" | "COMMIT" | "END" | "ROLLBACK" | "SAVEPOINT" | "RELEASE" => Err(format!(
            "{keyword} is not allowed: litecommit runs each transaction in its own savepoint \
             inside a shared batch transaction"
        )),
        "VACUUM" | "ATTACH" | "DETACH" => Err(format!(
            "{keyword} is not allowed inside a batch: it cannot run within a transaction \
             or would change the batch's databases"
        )),
        "PRAGMA" => check_pragma(tokens),
        "CREATE" => check_create(tokens),
        _ => Ok(()),
    }
}

fn check_pragma(tokens: &mut Tokens<'_>) -> std::result::Result<(), String> {
    let Some(mut name) = tokens.next().and_then(Token::name) else {
        return Ok(());
    };
    let mut schema = None;
    let mut next = tokens.next();
    if next == Some(Token::Punct('.')) {
        schema = Some(name);
        let Some(after) = tokens.next().and_then(Token::name) else {
            return Ok(());
        };
        name = after;
        next = tokens.next();
    }
    let sets = matches!(next, Some(Token::Punct('=' | '(')));
    if let Some((_, why)) = UNSHARED_PRAGMAS.iter().find(|(n, _)| *n == name) {
        return Err(format!("PRAGMA {name} is not allowed: {why}"));
    }
    if !sets || QUERY_PRAGMAS.contains(&name.as_str()) {
        return Ok(());
    }
    if let Some((_, option)) = OWNED_PRAGMAS.iter().find(|(n, _)| *n == name) {
        return Err(format!(
            "PRAGMA {name} cannot be changed through a transaction: litecommit sets it \
             ({option})"
        ));
    }
    if !SETTABLE_PRAGMAS.contains(&name.as_str()) {
        return Err(format!(
            "PRAGMA {name} cannot be set: it changes the connection, which every transaction \
             shares, not the database; only {} may be set",
            SETTABLE_PRAGMAS.join(", ")
        ));
    }
    if schema.as_deref() == Some("temp") {
        return Err(format!(
            "PRAGMA temp.{name} cannot be set: the temp schema belongs to the shared writer \
             connection, not to the database"
        ));
    }
    Ok(())
}

fn check_create(tokens: &mut Tokens<'_>) -> std::result::Result<(), String> {
    const TEMP_OBJECTS: &str = "temporary objects belong to the shared writer connection, \
                                not to the database, and would change every later \
                                transaction";
    let mut kind = tokens.next_keyword();
    if matches!(kind.as_deref(), Some("TEMP" | "TEMPORARY")) {
        return Err(format!("CREATE TEMP is not allowed: {TEMP_OBJECTS}"));
    }
    if kind.as_deref() == Some("UNIQUE") {
        kind = tokens.next_keyword();
    }
    match kind.as_deref() {
        Some("TABLE" | "VIEW" | "TRIGGER" | "INDEX") => {}
        Some("VIRTUAL") if tokens.next_keyword().as_deref() == Some("TABLE") => {}
        _ => return Ok(()),
    }
    if tokens.peek_keyword("IF") {
        tokens.next(); // IF
        tokens.next(); // NOT
        tokens.next(); // EXISTS
    }
    let Some(name) = tokens.next().and_then(Token::name) else {
        return Ok(());
    };
    if name == "temp" && tokens.next() == Some(Token::Punct('.')) {
        return Err(format!(
            "creating objects in the temp schema is not allowed: {TEMP_OBJECTS}"
        ));
    }
    Ok(())
}

/// One token of SQL text, as far as [`check_allowed`] needs to tell them apart.
#[derive(Clone, Debug, PartialEq)]
enum Token<'a> {
    /// A keyword, an unquoted name or a number.
    Word(&'a str),
    /// A quoted name (`"x"`, `[x]`, `` `x` ``) or a string literal (which SQLite also
    /// accepts as a name in places), without its quotes.
    Quoted(Cow<'a, str>),
    /// Any other single character.
    Punct(char),
}

impl Token<'_> {
    /// The name this token spells, in lower case (SQLite's names ignore ASCII case).
    fn name(self) -> Option<String> {
        match self {
            Token::Word(w) => Some(w.to_ascii_lowercase()),
            Token::Quoted(q) => Some(q.to_ascii_lowercase()),
            Token::Punct(_) => None,
        }
    }
}

/// Splits SQL into tokens, skipping whitespace and comments.
#[derive(Clone)]
struct Tokens<'a> {
    /// The SQL not tokenized yet.
    rest: &'a str,
}

impl<'a> Tokens<'a> {
    fn peek(&self) -> Option<Token<'a>> {
        self.clone().next()
    }

    /// Whether the next token is the bare word `keyword` (any case).
    fn peek_keyword(&self, keyword: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(keyword))
    }

    /// The next token in upper case if it is a bare word.
    fn next_keyword(&mut self) -> Option<String> {
        match self.next() {
            Some(Token::Word(w)) => Some(w.to_ascii_uppercase()),
            _ => None,
        }
    }

    /// Reads a quoted token whose opening quote was consumed; `close` ends it, and twice
    /// `close` (when `doubled`) stands for one.
    fn quoted(&mut self, close: char, doubled: bool) -> Token<'a> {
        let mut text = String::new();
        let mut chars = self.rest.char_indices();
        while let Some((i, c)) = chars.next() {
            if c != close {
                text.push(c);
                continue;
            }
            let after = &self.rest[i + c.len_utf8()..];
            if doubled && after.starts_with(close) {
                text.push(close);
                chars.next();
                continue;
            }
            self.rest = after;
            return Token::Quoted(Cow::Owned(text));
        }
        // Unterminated: SQLite will report the syntax error.
        self.rest = "";
        Token::Quoted(Cow::Owned(text))
    }
}

fn is_word_char(c: char) -> bool {
    // SQLite treats every non-ASCII character as part of a name.
    c.is_ascii_alphanumeric() || c == '_' || c == '$' || !c.is_ascii()
}

/// SQLite's whitespace (`sqlite3Isspace`): ASCII only, unlike Rust's `char::is_whitespace`.
fn is_sqlite_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

/// What SQLite skips before a token: its whitespace and, at a token's start only, a
/// byte-order mark.
fn is_space_before_token(c: char) -> bool {
    is_sqlite_space(c) || c == '\u{feff}'
}

/// The length of a parameter token (`:name`, `@name`, `$name`, `#name`) at the start of
/// `text`, as SQLite's tokenizer reads it: a name, optionally followed by a Tcl-style
/// `(...)` suffix that runs to the first whitespace or `)` whatever it holds (quotes and
/// `;` included), or `::` and more name. `None` when no name follows the sigil.
fn parameter_len(text: &str) -> Option<usize> {
    let mut name_chars = 0;
    let mut chars = text.char_indices().skip(1).peekable();
    while let Some((i, c)) = chars.next() {
        if is_word_char(c) {
            name_chars += 1;
        } else if c == '(' && name_chars > 0 {
            let close = text[i..]
                .find(|c: char| is_sqlite_space(c) || c == ')')
                .map_or(text.len(), |j| i + j);
            let end = if text[close..].starts_with(')') {
                close + 1
            } else {
                close
            };
            return Some(end);
        } else if c == ':' && matches!(chars.peek(), Some((_, ':'))) {
            chars.next();
        } else {
            return (name_chars > 0).then_some(i);
        }
    }
    (name_chars > 0).then_some(text.len())
}

impl<'a> Iterator for Tokens<'a> {
    type Item = Token<'a>;

    fn next(&mut self) -> Option<Token<'a>> {
        loop {
            self.rest = self.rest.trim_start_matches(is_space_before_token);
            if let Some(after) = self.rest.strip_prefix("--") {
                self.rest = after.find('\n').map_or("", |i| &after[i..]);
            } else if let Some(after) = self.rest.strip_prefix("/*") {
                self.rest = after.find("*/").map_or("", |i| &after[i + 2..]);
            } else {
                break;
            }
        }
        let first = self.rest.chars().next()?;
        let after_first = &self.rest[first.len_utf8()..];
        match first {
            '"' | '\'' | '`' => {
                self.rest = after_first;
                Some(self.quoted(first, true))
            }
            '[' => {
                self.rest = after_first;
                Some(self.quoted(']', false))
            }
            ':' | '@' | '$' | '#' if parameter_len(self.rest).is_some() => {
                let len = parameter_len(self.rest).unwrap_or(first.len_utf8());
                let (word, rest) = self.rest.split_at(len);
                self.rest = rest;
                Some(Token::Word(word))
            }
            c if is_word_char(c) => {
                let len = self
                    .rest
                    .find(|c: char| !is_word_char(c))
                    .unwrap_or(self.rest.len());
                let (word, rest) = self.rest.split_at(len);
                self.rest = rest;
                Some(Token::Word(word))
            }
            c => {
                self.rest = after_first;
                Some(Token::Punct(c))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(sql: &str) -> Option<String> {
        match check_allowed(sql, 3) {
            Ok(()) => None,
            Err(Error::Refused {
                reason,
                statement_index: 3,
            }) => Some(reason),
            Err(other) => panic!("{sql}: unexpected {other:?}"),
        }
    }

    #[test]
    fn refuses_what_would_break_the_batch_or_leak_into_other_transactions() {
        for (sql, rule) in [
            ("BEGIN", "savepoint"),
            ("  begin immediate", "savepoint"),
            ("/* c */ COMMIT", "savepoint"),
            ("-- x\nrollback to a", "savepoint"),
            ("SAVEPOINT s", "savepoint"),
            ("release s", "savepoint"),
            ("END", "savepoint"),
            ("; ;END", "savepoint"),
            ("VACUUM", "VACUUM"),
            ("ATTACH 'x' AS y", "ATTACH"),
            ("DETACH y", "DETACH"),
            ("PRAGMA journal_mode=DELETE", "litecommit sets it"),
            ("pragma main.synchronous = OFF", "durability"),
            ("PRAGMA wal_autocheckpoint(10)", "litecommit sets it"),
            (
                "PRAGMA \"main\".'journal_mode' = TRUNCATE",
                "litecommit sets it",
            ),
            ("PRAGMA [busy_timeout] = 1", "busy_timeout_ms"),
            ("PRAGMA cache_size = -4000", "cache_size_kib"),
            ("PRAGMA query_only=1", "only user_version"),
            ("PRAGMA QUERY_ONLY(true)", "only user_version"),
            ("pragma /* x */ main . query_only = 1", "only user_version"),
            ("PRAGMA defer_foreign_keys=ON", "only user_version"),
            ("PRAGMA ignore_check_constraints = 1", "only user_version"),
            ("PRAGMA \"recursive_triggers\" = 1", "only user_version"),
            ("PRAGMA `writable_schema`=1", "only user_version"),
            ("PRAGMA temp_store = MEMORY", "only user_version"),
            ("PRAGMA auto_vacuum = 2", "only user_version"),
            ("PRAGMA no_such_pragma = 1", "only user_version"),
            ("EXPLAIN PRAGMA query_only=1", "only user_version"),
            (
                "explain query plan pragma query_only=1",
                "only user_version",
            ),
            ("EXPLAIN BEGIN", "savepoint"),
            ("PRAGMA temp.user_version = 1", "temp schema"),
            ("PRAGMA \"TEMP\".application_id(5)", "temp schema"),
            ("PRAGMA wal_checkpoint", "Committer::checkpoint"),
            (
                "PRAGMA main.wal_checkpoint(TRUNCATE)",
                "Committer::checkpoint",
            ),
            ("PRAGMA shrink_memory", "shrink_memory"),
            ("PRAGMA data_version", "data_version"),
            ("CREATE TEMP TABLE x (a)", "CREATE TEMP"),
            ("create temporary view v as select 1", "CREATE TEMP"),
            (
                "CREATE TEMP TRIGGER t BEFORE INSERT ON x BEGIN SELECT 1; END",
                "CREATE TEMP",
            ),
            ("CREATE TABLE temp.x (a)", "temp schema"),
            ("CREATE TABLE IF NOT EXISTS \"temp\".x (a)", "temp schema"),
            ("CREATE UNIQUE INDEX [Temp].i ON x(a)", "temp schema"),
            ("CREATE VIRTUAL TABLE temp.v USING fts5(a)", "temp schema"),
            (
                "CREATE TRIGGER temp.t AFTER INSERT ON x BEGIN SELECT 1; END",
                "temp schema",
            ),
            ("CREATE VIEW 'temp'.v AS SELECT 1", "temp schema"),
            ("EXPLAIN CREATE TEMP TABLE x (a)", "CREATE TEMP"),
            ("SELECT 1\0; DROP TABLE t", "NUL"),
            // SQLite skips a byte-order mark before any token.
            ("\u{feff}COMMIT", "savepoint"),
            (
                "\u{feff}PRAGMA ignore_check_constraints=1",
                "only user_version",
            ),
            ("CREATE \u{feff}TEMP TABLE x (a)", "CREATE TEMP"),
            ("\u{feff} \u{feff}BEGIN", "savepoint"),
            // A Tcl-style parameter suffix runs to whitespace or `)`, quotes included.
            (
                "SELECT $a(x') ;PRAGMA query_only=1;--'",
                "more than one statement",
            ),
            ("SELECT :a(') ;BEGIN;--'", "more than one statement"),
            (
                "CREATE TRIGGER t AFTER INSERT ON x BEGIN SELECT 1; END; PRAGMA query_only=1",
                "more than one statement",
            ),
        ] {
            let reason = reason(sql).unwrap_or_else(|| panic!("{sql:?} was not refused"));
            assert!(
                reason.contains(rule),
                "{sql:?}: {reason:?} does not name {rule:?}"
            );
        }
    }

    #[test]
    fn allows_reads_database_pragmas_and_lookalikes() {
        for sql in [
            "SELECT $a(;)",
            "CREATE TRIGGER t AFTER INSERT ON x BEGIN SELECT ';'; DELETE FROM y; END;;",
            "SELECT @b(x;y)",
            "SELECT :c::d",
            "\u{feff}SELECT 1",
            "INSERT INTO t VALUES (1)",
            "PRAGMA journal_mode",
            "PRAGMA query_only",
            "PRAGMA defer_foreign_keys",
            "PRAGMA cache_size",
            "PRAGMA user_version = 3",
            "PRAGMA main.user_version = 3",
            "pragma APPLICATION_ID(7)",
            "PRAGMA optimize",
            "PRAGMA optimize(0xfffe)",
            "PRAGMA incremental_vacuum(10)",
            "PRAGMA table_info(t)",
            "PRAGMA table_info = t",
            "PRAGMA main.table_xinfo('t')",
            "PRAGMA index_list(t)",
            "PRAGMA index_info(i)",
            "PRAGMA index_xinfo(i)",
            "PRAGMA foreign_key_list(t)",
            "PRAGMA foreign_key_check(t)",
            "PRAGMA integrity_check(10)",
            "PRAGMA quick_check(t)",
            "PRAGMA table_list(t)",
            "PRAGMA temp.table_list",
            "EXPLAIN QUERY PLAN SELECT * FROM t",
            "EXPLAIN SELECT 1",
            "SELECT 'BEGIN'",
            "SELECT 1 -- PRAGMA query_only=1",
            "/* PRAGMA query_only=1 */ SELECT 1",
            "CREATE TABLE begin_x (a)",
            "CREATE TABLE temp (a)",
            "CREATE TABLE \"temp\" (a)",
            "CREATE TABLE temp_x (a)",
            "CREATE TABLE \"temp.x\" (a)",
            "CREATE INDEX temp_i ON t(a)",
            "CREATE TRIGGER tr AFTER INSERT ON t BEGIN INSERT INTO temp_log VALUES (1); END",
            "CREATE VIEW v AS SELECT * FROM temp",
            "WITH temp AS (SELECT 1) SELECT * FROM temp",
            "",
            ";",
            "-- only a comment",
        ] {
            assert_eq!(reason(sql), None, "{sql:?} was refused");
        }
    }

    #[test]
    fn tokens_understand_quotes_and_comments() {
        let tokens: Vec<Token<'_>> = Tokens {
            rest: "a /* b */ \"c\"\"d\" [e f] `g``h` 'i''j' -- k\n l.m(",
        }
        .collect();
        assert_eq!(
            tokens,
            vec![
                Token::Word("a"),
                Token::Quoted("c\"d".into()),
                Token::Quoted("e f".into()),
                Token::Quoted("g`h".into()),
                Token::Quoted("i'j".into()),
                Token::Word("l"),
                Token::Punct('.'),
                Token::Word("m"),
                Token::Punct('('),
            ]
        );
        // Unterminated quotes and comments end the text without a panic.
        for sql in [
            "\"abc",
            "[abc",
            "/* abc",
            "'",
            "PRAGMA \"",
            "CREATE TABLE \"",
        ] {
            assert!(Tokens { rest: sql }.count() <= 3, "{sql}");
            assert!(check_allowed(sql, 0).is_ok(), "{sql}");
        }
    }

    #[test]
    fn words_are_mentioned_in_any_case_anywhere() {
        assert!(mentions_word("PRAGMA synchronous", "synchronous"));
        assert!(mentions_word(
            "select * from pragma_SYNCHRONOUS",
            "synchronous"
        ));
        assert!(!mentions_word(
            "INSERT INTO t VALUES ('synchron')",
            "synchronous"
        ));
        assert!(!mentions_word("", "changes"));
    }

    #[test]
    fn allowed_texts_are_remembered_per_thread_and_refused_ones_never_are() {
        check_allowed("INSERT INTO t VALUES (1)", 0).unwrap();
        ALLOWED.with(|a| assert!(a.borrow().get("INSERT INTO t VALUES (1)").is_some()));
        for _ in 0..2 {
            match check_allowed("BEGIN", 2) {
                Err(Error::Refused {
                    statement_index, ..
                }) => assert_eq!(statement_index, 2),
                other => panic!("BEGIN was not refused: {other:?}"),
            }
        }
        ALLOWED.with(|a| assert!(a.borrow().get("BEGIN").is_none()));
    }
}
