//! Conversions into `Value` and the types `params!` accepts: each goes through an INSERT
//! and comes back from a query as the SQLite value it stands for.

mod common;

use common::{open, query, query_int, temp_db};
use litecommit::{params, Committer, Config, Error, Params, Transaction, Value};

fn open_values() -> (tempfile::TempDir, Committer) {
    let (dir, path) = temp_db();
    let db = open(&path, Config::default());
    // No declared type: values are stored exactly as bound.
    db.execute("CREATE TABLE v (id INTEGER PRIMARY KEY, x)", ())
        .unwrap();
    (dir, db)
}

/// Inserts `params` (one value) and reads it back with its storage class.
fn round_trip(db: &Committer, params: Params) -> (Value, String) {
    let r = db
        .execute("INSERT INTO v (x) VALUES (?)", params)
        .unwrap_or_else(|e| panic!("insert: {e}"));
    let id = r.last().unwrap().last_insert_rowid;
    let rows = query(db, "SELECT x, typeof(x) FROM v WHERE id = ?", params![id]);
    let [x, kind] = &rows.rows[0][..] else {
        panic!("{rows:?}");
    };
    let Value::Text(kind) = kind else {
        panic!("{kind:?}");
    };
    (x.clone(), kind.clone())
}

#[test]
fn every_params_type_round_trips_through_an_insert() {
    let (_dir, db) = open_values();
    let text = String::from("owned text");
    let bytes = vec![0u8, 1, 0xfe, 0xff];
    let cases: Vec<(Params, Value, &str)> = vec![
        (params![u8::MAX], Value::Integer(255), "integer"),
        (params![u16::MAX], Value::Integer(65_535), "integer"),
        (params![u32::MAX], Value::Integer(4_294_967_295), "integer"),
        (
            params![i64::MAX as u64],
            Value::Integer(i64::MAX),
            "integer",
        ),
        (params![0u64], Value::Integer(0), "integer"),
        (params![12_345usize], Value::Integer(12_345), "integer"),
        (params![i8::MIN], Value::Integer(-128), "integer"),
        (params![i16::MIN], Value::Integer(-32_768), "integer"),
        (
            params![i32::MIN],
            Value::Integer(i64::from(i32::MIN)),
            "integer",
        ),
        (params![i64::MIN], Value::Integer(i64::MIN), "integer"),
        (params![1.5f32], Value::Real(1.5), "real"),
        (params![-0.25f64], Value::Real(-0.25), "real"),
        (params![true], Value::Integer(1), "integer"),
        (params![false], Value::Integer(0), "integer"),
        (
            params!["borrowed text"],
            Value::Text("borrowed text".into()),
            "text",
        ),
        (params![text.clone()], Value::Text(text.clone()), "text"),
        (params![&text], Value::Text(text.clone()), "text"),
        (params![&bytes[..]], Value::Blob(bytes.clone()), "blob"),
        (params![bytes.clone()], Value::Blob(bytes.clone()), "blob"),
        (params![b"xy"], Value::Blob(b"xy".to_vec()), "blob"),
        (params![Vec::<u8>::new()], Value::Blob(Vec::new()), "blob"),
        (params![Some(7u64)], Value::Integer(7), "integer"),
        (params![Some("s")], Value::Text("s".into()), "text"),
        (params![None::<u64>], Value::Null, "null"),
        (params![None::<usize>], Value::Null, "null"),
        (params![None::<&str>], Value::Null, "null"),
        (params![None::<Vec<u8>>], Value::Null, "null"),
        (params![Value::Real(2.0)], Value::Real(2.0), "real"),
        (
            params![rusqlite::types::Value::Integer(-9)],
            Value::Integer(-9),
            "integer",
        ),
        (
            params![rusqlite::types::Value::Blob(vec![1])],
            Value::Blob(vec![1]),
            "blob",
        ),
    ];
    for (params, expected, kind) in cases {
        let shown = format!("{params:?}");
        let (got, got_kind) = round_trip(&db, params);
        assert_eq!(got, expected, "{shown}");
        assert_eq!(got_kind, kind, "{shown}");
    }
    db.close().unwrap();
}

#[test]
fn mixed_params_bind_in_order() {
    let (_dir, db) = open_values();
    db.execute("CREATE TABLE m (a, b, c, d, e)", ()).unwrap();
    db.execute(
        "INSERT INTO m VALUES (?, ?, ?, ?, ?)",
        params![3u8, "x", None::<i64>, 2.5f32, vec![9u8]],
    )
    .unwrap();
    let rows = query(&db, "SELECT * FROM m", ());
    assert_eq!(
        rows.rows[0],
        vec![
            Value::Integer(3),
            Value::Text("x".into()),
            Value::Null,
            Value::Real(2.5),
            Value::Blob(vec![9]),
        ]
    );
    db.close().unwrap();
}

#[test]
fn unsigned_values_above_i64_max_fail_at_submit_and_never_wrap() {
    let (_dir, db) = open_values();
    let too_big = i64::MAX as u64 + 1;
    for (params, shown) in [
        (params![too_big], too_big.to_string()),
        (params![u64::MAX], u64::MAX.to_string()),
        (params![1, Some(u64::MAX)], u64::MAX.to_string()),
        (params![usize::MAX], usize::MAX.to_string()),
    ] {
        assert!(matches!(params, Params::Invalid(_)), "{params:?}");
        let check = |err: Error| match err {
            Error::Parameter {
                message,
                statement_index,
            } => {
                assert!(message.contains(&shown), "{message}");
                assert!(message.contains("64-bit signed integer"), "{message}");
                statement_index
            }
            other => panic!("expected a parameter error, got {other:?}"),
        };
        let sql = "INSERT INTO v (x) VALUES (?)";
        assert_eq!(check(db.execute(sql, params.clone()).unwrap_err()), 0);
        // Refused by the submit itself, before anything is queued.
        let tx = Transaction::single(sql, params![1]).push(sql, params.clone());
        assert_eq!(check(db.submit(tx).unwrap_err()), 1);
        assert_eq!(check(db.query("SELECT ?", params.clone()).unwrap_err()), 0);
    }
    assert_eq!(query_int(&db, "SELECT count(*) FROM v", ()), 0);
    db.close().unwrap();
}

#[test]
fn conversions_from_rusqlite_and_try_from_unsigned() {
    use rusqlite::types::{ToSqlOutput, Value as Sql, ValueRef};

    assert_eq!(Value::from(Sql::Null), Value::Null);
    assert_eq!(Value::from(Sql::Real(0.5)), Value::Real(0.5));
    assert_eq!(Value::from(Sql::Text("t".into())), Value::Text("t".into()));
    assert_eq!(
        Value::from(ValueRef::Blob(b"b")),
        Value::Blob(b"b".to_vec())
    );
    for v in [
        Value::Null,
        Value::Integer(-1),
        Value::Real(1.25),
        Value::Text("t".into()),
        Value::Blob(vec![0]),
    ] {
        assert_eq!(Value::from(Sql::from(v.clone())), v);
    }

    assert_eq!(Value::from_to_sql(&42i64).unwrap(), Value::Integer(42));
    assert_eq!(
        Value::from_to_sql("str").unwrap(),
        Value::Text("str".into())
    );
    assert_eq!(
        Value::from_to_sql(&rusqlite::types::Null).unwrap(),
        Value::Null
    );
    assert_eq!(
        Value::try_from(ToSqlOutput::Owned(Sql::Integer(3))).unwrap(),
        Value::Integer(3)
    );

    assert_eq!(Value::try_from(7u64), Ok(Value::Integer(7)));
    assert_eq!(
        Value::try_from(i64::MAX as u64),
        Ok(Value::Integer(i64::MAX))
    );
    assert!(Value::try_from(i64::MAX as u64 + 1).is_err());
    assert!(Value::try_from(usize::MAX).is_err());
}
