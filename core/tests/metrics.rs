//! The Prometheus exposition follows Prometheus conventions: `litecommit_` names in base
//! units, counters ending in `_total`, every known label value exported (at 0) from the
//! start, and a constant `db` label with which several committers share one registry.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{exec, open, temp_db};
use litecommit::Config;
use prometheus::{Encoder, Registry, TextEncoder};

/// One sample line: its metric name, labels and value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// One metric family: its `# HELP` and `# TYPE` lines and its samples.
#[derive(Debug, Default)]
struct Family {
    help: String,
    kind: String,
    samples: Vec<Sample>,
}

/// Each label of a family with every value it takes.
type Labels = &'static [(&'static str, &'static [&'static str])];

/// Every family of the committers' metrics: its name, type and labels.
const FAMILIES: &[(&str, &str, Labels)] = &[
    (
        "litecommit_flushes_total",
        "counter",
        &[("trigger", &["adaptive", "size", "timer", "flush", "close"])],
    ),
    ("litecommit_batch_size", "histogram", &[]),
    ("litecommit_flush_duration_seconds", "histogram", &[]),
    (
        "litecommit_checkpoints_total",
        "counter",
        &[("mode", &["passive", "full", "restart", "truncate"])],
    ),
    (
        "litecommit_checkpoint_duration_seconds",
        "histogram",
        &[("mode", &["passive", "full", "restart", "truncate"])],
    ),
    ("litecommit_checkpoint_wal_size_bytes", "histogram", &[]),
    ("litecommit_checkpoint_log_frames", "histogram", &[]),
    (
        "litecommit_checkpoint_checkpointed_frames",
        "histogram",
        &[],
    ),
    (
        "litecommit_checkpoint_busy_total",
        "counter",
        &[("busy", &["false", "true"])],
    ),
    ("litecommit_checkpoint_efficiency_ratio", "histogram", &[]),
    ("litecommit_commit_latency_seconds", "histogram", &[]),
    ("litecommit_queue_depth", "gauge", &[]),
    (
        "litecommit_transactions_total",
        "counter",
        &[("outcome", &["committed", "failed", "aborted"])],
    ),
    ("litecommit_wal_size_bytes", "gauge", &[]),
    ("litecommit_wal_backlog_frames", "gauge", &[]),
];

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn is_label_name(s: &str) -> bool {
    is_name(s) && !s.contains(':')
}

/// Reads `{name="value",...}` (the braces already removed), unescaping the values.
fn parse_labels(text: &str, line: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (name, after) = rest
            .split_once("=\"")
            .unwrap_or_else(|| panic!("label without =\" in {line:?}"));
        assert!(is_label_name(name), "label name {name:?} in {line:?}");
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c @ ('\\' | '"'))) => value.push(c),
                    other => panic!("bad escape {other:?} in {line:?}"),
                },
                Some((i, '"')) => break i,
                Some((_, c)) => value.push(c),
                None => panic!("unterminated label value in {line:?}"),
            }
        };
        assert!(
            labels.insert(name.to_string(), value).is_none(),
            "label {name} twice in {line:?}"
        );
        rest = &after[end + 1..];
        rest = rest.strip_prefix(',').unwrap_or_else(|| {
            assert!(rest.is_empty(), "junk after a label value in {line:?}");
            rest
        });
    }
    labels
}

/// Parses the text exposition format, failing on any line that is not well-formed: a
/// `# HELP` then a `# TYPE` line per family (once each), then its samples.
fn parse(text: &str) -> BTreeMap<String, Family> {
    let mut families: BTreeMap<String, Family> = BTreeMap::new();
    let mut current: Option<String> = None;
    let body = text
        .strip_suffix('\n')
        .unwrap_or_else(|| panic!("no final newline:\n{text}"));
    for line in body.split('\n') {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest
                .split_once(' ')
                .unwrap_or_else(|| panic!("HELP without text: {line:?}"));
            assert!(is_name(name), "{line:?}");
            assert!(!help.is_empty(), "{line:?}");
            assert!(
                !families.contains_key(name),
                "family {name} described twice"
            );
            families.insert(
                name.to_string(),
                Family {
                    help: help.to_string(),
                    ..Family::default()
                },
            );
            current = Some(name.to_string());
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest
                .split_once(' ')
                .unwrap_or_else(|| panic!("TYPE without a type: {line:?}"));
            assert_eq!(Some(name), current.as_deref(), "TYPE before its HELP");
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                "{line:?}"
            );
            let family = families.get_mut(name).unwrap_or_else(|| panic!("{line:?}"));
            assert!(family.kind.is_empty(), "{name} typed twice");
            family.kind = kind.to_string();
        } else {
            assert!(!line.starts_with('#') && !line.is_empty(), "{line:?}");
            let (series, value) = line
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("sample without a value: {line:?}"));
            let value: f64 = match value {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                v => v.parse().unwrap_or_else(|_| panic!("value in {line:?}")),
            };
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => {
                    let inner = rest
                        .strip_suffix('}')
                        .unwrap_or_else(|| panic!("unclosed labels in {line:?}"));
                    (name, parse_labels(inner, line))
                }
                None => (series, BTreeMap::new()),
            };
            assert!(is_name(name), "{line:?}");
            let family_name = current
                .as_deref()
                .unwrap_or_else(|| panic!("sample before any family: {line:?}"));
            let family = families
                .get_mut(family_name)
                .unwrap_or_else(|| panic!("{line:?}"));
            let suffix = name
                .strip_prefix(family_name)
                .unwrap_or_else(|| panic!("sample {name} inside family {family_name}"));
            let allowed: &[&str] = if family.kind == "histogram" {
                &["_bucket", "_sum", "_count"]
            } else {
                &[""]
            };
            assert!(allowed.contains(&suffix), "{name} in {family_name}");
            family.samples.push(Sample {
                name: name.to_string(),
                labels,
                value,
            });
        }
    }
    families
}

/// The value of the sample `name` whose labels include every pair of `labels`.
fn value(families: &BTreeMap<String, Family>, name: &str, labels: &[(&str, &str)]) -> f64 {
    let matches: Vec<f64> = families
        .values()
        .flat_map(|f| &f.samples)
        .filter(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
        .collect();
    assert_eq!(matches.len(), 1, "{name} {labels:?}: {matches:?}");
    matches[0]
}

/// A registry's metrics in the text exposition format.
fn encode(registry: &Registry) -> String {
    let mut buf = Vec::new();
    TextEncoder::new()
        .encode(&registry.gather(), &mut buf)
        .expect("text encoding");
    String::from_utf8(buf).expect("UTF-8 exposition")
}

/// Every family of `families` follows the conventions and carries `db` on every sample.
fn assert_conventions(families: &BTreeMap<String, Family>, dbs: &[&str]) {
    let names: BTreeSet<&str> = families.keys().map(String::as_str).collect();
    let expected: BTreeSet<&str> = FAMILIES.iter().map(|(name, _, _)| *name).collect();
    assert_eq!(names, expected);
    for (name, kind, _) in FAMILIES {
        let family = &families[*name];
        assert_eq!(family.kind, *kind, "{name}");
        assert!(name.starts_with("litecommit_"), "{name}");
        assert_eq!(*kind == "counter", name.ends_with("_total"), "{name}");
        for unit in ["_ms", "_mb", "_milliseconds", "_megabytes"] {
            assert!(!name.contains(unit), "{name}: not a base unit");
        }
        assert!(!family.help.is_empty(), "{name}");
        let seen: BTreeSet<&str> = family
            .samples
            .iter()
            .map(|s| {
                s.labels
                    .get("db")
                    .unwrap_or_else(|| panic!("{} {:?} has no db label", s.name, s.labels))
                    .as_str()
            })
            .collect();
        assert_eq!(seen, dbs.iter().copied().collect(), "{name}");
        // Each histogram's +Inf bucket holds its count.
        for count in family.samples.iter().filter(|s| s.name.ends_with("_count")) {
            let mut labels: Vec<(&str, &str)> = count
                .labels
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            labels.push(("le", "+Inf"));
            let inf = value(families, &format!("{name}_bucket"), &labels);
            assert_eq!(inf, count.value, "{name} {labels:?}");
        }
    }
}

/// The sample of every label value of every labelled family of `db` (a counter's, or a
/// histogram's `_count`), failing when one is missing: (sample, label, label value, value).
fn label_values(
    families: &BTreeMap<String, Family>,
    db: &str,
) -> Vec<(String, String, String, f64)> {
    let mut out = Vec::new();
    for (name, kind, labels) in FAMILIES {
        for (label, values) in *labels {
            for v in *values {
                let sample = if *kind == "histogram" {
                    format!("{name}_count")
                } else {
                    name.to_string()
                };
                let x = value(families, &sample, &[("db", db), (label, v)]);
                out.push((sample, label.to_string(), v.to_string(), x));
            }
        }
    }
    out
}

fn config(label: &str) -> Config {
    Config {
        checkpoint: false,
        metrics_label: label.to_string(),
        ..Config::default()
    }
}

#[test]
fn every_line_is_well_formed_and_every_label_value_is_there_at_zero_after_open() {
    let (_dir, path) = temp_db();
    let db = open(&path, config(""));
    let families = parse(&db.metrics_text());
    assert_conventions(&families, &["test.db"]);
    let all = label_values(&families, "test.db");
    assert_eq!(all.len(), 5 + 4 + 4 + 2 + 3);
    for (sample, label, v, x) in all {
        assert_eq!(x, 0.0, "{sample}{{{label}=\"{v}\"}}");
    }
    for family in families.values() {
        for s in &family.samples {
            if !s.name.starts_with("litecommit_wal_size_bytes") {
                assert_eq!(s.value, 0.0, "{} {:?}", s.name, s.labels);
            }
        }
    }
    db.close().unwrap();
}

#[test]
fn the_figures_move_under_their_new_names() {
    let (_dir, path) = temp_db();
    let db = open(&path, config("orders"));
    exec(&db, "CREATE TABLE t (v INTEGER PRIMARY KEY)", ());
    exec(&db, "INSERT INTO t VALUES (1)", ());
    assert!(db.execute("INSERT INTO t VALUES (1)", ()).is_err());
    db.checkpoint(litecommit::CheckpointMode::Full).unwrap();
    let families = parse(&db.metrics_text());
    assert_conventions(&families, &["orders"]);
    let v = |name: &str, labels: &[(&str, &str)]| {
        let mut all = vec![("db", "orders")];
        all.extend_from_slice(labels);
        value(&families, name, &all)
    };
    assert_eq!(
        v("litecommit_transactions_total", &[("outcome", "committed")]),
        2.0
    );
    assert_eq!(
        v("litecommit_transactions_total", &[("outcome", "failed")]),
        1.0
    );
    assert_eq!(v("litecommit_commit_latency_seconds_count", &[]), 3.0);
    assert_eq!(v("litecommit_batch_size_sum", &[]), 3.0);
    assert_eq!(v("litecommit_checkpoints_total", &[("mode", "full")]), 1.0);
    assert_eq!(
        v(
            "litecommit_checkpoint_duration_seconds_count",
            &[("mode", "full")]
        ),
        1.0
    );
    let stats = db.stats();
    assert_eq!(
        v("litecommit_flush_duration_seconds_sum", &[]) / stats.batches as f64 * 1000.0,
        stats.mean_flush_ms
    );
    assert_eq!(
        v("litecommit_wal_size_bytes", &[]),
        stats.wal_file_bytes as f64
    );
    db.close().unwrap();
}

#[test]
fn committers_share_one_registry_told_apart_by_their_db_label() {
    let (_dir_a, path_a) = temp_db();
    let dir_b = tempfile::tempdir().unwrap();
    let path_b = dir_b.path().join("other.db");
    let a = open(&path_a, config(""));
    let b = open(&path_b, config(""));
    exec(&a, "CREATE TABLE t (v)", ());
    let shared = Registry::new();
    shared.register(a.collector()).unwrap();
    shared.register(b.collector()).unwrap();
    // The application's own metrics sit next to them.
    let app = prometheus::IntCounter::new("app_requests_total", "Requests").unwrap();
    shared.register(Box::new(app.clone())).unwrap();
    app.inc();

    let text = encode(&shared);
    let mut families = parse(&text);
    assert_eq!(
        families.remove("app_requests_total").unwrap().samples[0].value,
        1.0
    );
    assert_conventions(&families, &["other.db", "test.db"]);
    label_values(&families, "test.db");
    label_values(&families, "other.db");
    let committed = |db| {
        value(
            &families,
            "litecommit_transactions_total",
            &[("db", db), ("outcome", "committed")],
        )
    };
    assert_eq!(committed("test.db"), 1.0);
    assert_eq!(committed("other.db"), 0.0);

    // A third committer whose file has the same name needs its own label.
    let dir_c = tempfile::tempdir().unwrap();
    let path_c = dir_c.path().join("test.db");
    let same_name = open(&path_c, config(""));
    assert!(shared.register(same_name.collector()).is_err());
    let labelled = open(&path_c.with_file_name("x.db"), config("replica"));
    shared.register(labelled.collector()).unwrap();
    let families = parse(&encode(&shared));
    assert_eq!(
        value(&families, "litecommit_queue_depth", &[("db", "replica")]),
        0.0
    );
    for db in [&a, &b, &same_name, &labelled] {
        db.close().unwrap();
    }
}

#[test]
fn the_parser_rejects_malformed_lines() {
    let good = "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\"} 2\n";
    assert_eq!(parse(good)["a_total"].samples[0].value, 2.0);
    for bad in [
        "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1} 2\n",
        "# HELP a_total A.\n# TYPE a_total counter\na_total{x=1} 2\n",
        "# HELP a_total A.\n# TYPE a_total counter\na_total two\n",
        "# HELP a_total A.\n# TYPE a_total counter\nb_total 2\n",
        "# HELP a_total A.\n# TYPE a_total counter\na_total 2",
        "# TYPE a_total counter\na_total 2\n",
    ] {
        let caught = std::panic::catch_unwind(|| parse(bad));
        assert!(caught.is_err(), "accepted {bad:?}");
    }
}
