//! Every option and every stats figure of the core reaches every binding: the C header, the
//! Go structs, the Python `Options` type, the TypeScript types and the README table. The core
//! describes both schemas once (`Config::OPTIONS`, `Stats::FIELDS`); this test fails when a
//! hand-written surface misses a name.

use std::collections::BTreeSet;
use std::path::Path;

use litecommit::{Config, Stats};

fn read(relative: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The text between the line that contains `start` and the next line that starts with `end`.
fn block<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text
        .find(start)
        .unwrap_or_else(|| panic!("{start:?} not found"));
    let body = &text[from..];
    let body = &body[body.find('\n').map_or(body.len(), |i| i + 1)..];
    let to = body
        .lines()
        .scan(0, |offset, line| {
            let at = *offset;
            *offset += line.len() + 1;
            Some((at, line))
        })
        .find(|(_, line)| line.starts_with(end))
        .map_or(body.len(), |(at, _)| at);
    &body[..to]
}

/// The identifier that starts each line (after indentation) and is followed at once by one
/// of the `after` characters: the field names of a struct, interface or class body.
fn names(text: &str, after: &[char]) -> BTreeSet<String> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim_start();
            let end = line.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))?;
            (end > 0 && line[end..].starts_with(after)).then(|| line[..end].to_string())
        })
        .collect()
}

/// The last word before the `;` of each C struct member line (without a pointer's `*`).
fn c_members(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|l| l.trim().strip_suffix(';'))
        .filter_map(|l| l.split_whitespace().last())
        .map(|name| name.trim_start_matches('*').to_string())
        .collect()
}

fn camel(snake: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn pascal(snake: &str) -> String {
    let c = camel(snake);
    let mut chars = c.chars();
    chars.next().map_or(String::new(), |first| {
        first.to_ascii_uppercase().to_string() + chars.as_str()
    })
}

/// Fails with every name of `expected` (converted by `spell`) that `found` lacks. A figure
/// that counts by label (`flushes`) may be spread over one field per label (`flushes_size`).
fn assert_covers(
    surface: &str,
    expected: &[&str],
    spell: fn(&str) -> String,
    found: &BTreeSet<String>,
) {
    let missing: Vec<String> = expected
        .iter()
        .map(|n| spell(n))
        .filter(|n| {
            let per_label = format!("{n}_");
            !found.contains(n) && !found.iter().any(|f| f.starts_with(&per_label))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "{surface} misses {missing:?} (it has {found:?})"
    );
}

fn options() -> Vec<&'static str> {
    Config::OPTIONS.iter().map(|o| o.name).collect()
}

fn figures() -> Vec<&'static str> {
    Stats::FIELDS.iter().map(|f| f.name).collect()
}

fn same(name: &str) -> String {
    name.to_string()
}

#[test]
fn the_readme_table_lists_every_option() {
    let readme = read("README.md");
    let table = block(&readme, "### Configuration", "### ");
    let found: BTreeSet<String> = table
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .map(String::from)
        .collect();
    assert_covers("README configuration table", &options(), same, &found);
}

#[test]
fn the_c_header_has_every_option_and_figure() {
    let header = read("include/litecommit.h");
    let opts = c_members(block(&header, "typedef struct litecommit_options {", "}"));
    assert_covers("litecommit_options", &options(), same, &opts);
    let stats = c_members(block(&header, "typedef struct litecommit_stats {", "}"));
    assert_covers("litecommit_stats", &figures(), same, &stats);
}

#[test]
fn the_go_structs_have_every_option_and_figure() {
    let go = read("bindings/go/litecommit.go");
    let opts = names(block(&go, "type Options struct {", "}"), &[' ', '\t']);
    assert_covers("Go Options", &options(), pascal, &opts);
    let stats = names(block(&go, "type Stats struct {", "}"), &[' ', '\t']);
    assert_covers("Go Stats", &figures(), pascal, &stats);
}

#[test]
fn the_typescript_types_have_every_option_and_figure() {
    let dts = read("node/index.d.ts");
    let opts = names(block(&dts, "export interface Options {", "}"), &['?', ':']);
    assert_covers("TypeScript Options", &options(), camel, &opts);
    let stats = names(block(&dts, "export interface Stats {", "}"), &['?', ':']);
    assert_covers("TypeScript Stats", &figures(), camel, &stats);
}

#[test]
fn the_python_options_type_has_every_option() {
    let types = read("python/litecommit/_types.py");
    let body = block(&types, "class Options(", "class ");
    let found = names(body, &[':']);
    assert_covers("Python Options", &options(), same, &found);
}

#[test]
fn the_checks_see_a_missing_name() {
    let found: BTreeSet<String> = ["max_batch_size".to_string()].into();
    let caught = std::panic::catch_unwind(|| {
        assert_covers("sample", &["max_batch_size", "linger_ms"], same, &found)
    });
    assert!(caught.is_err());
    assert_eq!(
        camel("checkpoint_busy_timeout_ms"),
        "checkpointBusyTimeoutMs"
    );
    assert_eq!(pascal("cache_size_kib"), "CacheSizeKib");
}
