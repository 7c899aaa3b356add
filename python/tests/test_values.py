"""Parameter and row conversion, and every error class."""

import pickle
import random
import types
from decimal import Decimal

import pytest
from support import hold_lock, run_python, stop

import litecommit

I64_MAX = 2**63 - 1
I64_MIN = -(2**63)


@pytest.fixture
def vdb(path):
    with litecommit.Committer(path) as db:
        db.execute("CREATE TABLE v (id INTEGER PRIMARY KEY, x)")
        yield db


def roundtrip(db, value):
    rowid = db.execute("INSERT INTO v (x) VALUES (?)", (value,)).lastrowid
    [(x,)] = db.query("SELECT x FROM v WHERE id = ?", (rowid,))
    returned = db.execute("UPDATE v SET x = x WHERE id = ? RETURNING x", (rowid,)).rows
    assert returned == [(x,)]
    return x


@pytest.mark.parametrize(
    "value",
    [None, 0, 1, -1, I64_MAX, I64_MIN, 0.0, -2.5, 1e300, "", "text", "żółw 🐢", b"", b"\x00\xff"],
)
def test_roundtrip_keeps_value_and_type(vdb, value):
    out = roundtrip(vdb, value)
    assert out == value
    assert type(out) is type(value)


def test_bytes_like_come_back_as_bytes(vdb):
    assert roundtrip(vdb, bytearray(b"abc")) == b"abc"
    assert roundtrip(vdb, memoryview(b"xyz")) == b"xyz"
    assert type(roundtrip(vdb, memoryview(bytearray(b"q")))) is bytes


def test_bool_binds_as_integer(vdb):
    assert roundtrip(vdb, True) == 1
    assert roundtrip(vdb, False) == 0


def test_int_beyond_64_bits_raises_overflow(vdb):
    for value in (I64_MAX + 1, I64_MIN - 1, 2**100):
        with pytest.raises(OverflowError, match="parameter 1"):
            vdb.execute("INSERT INTO v (x) VALUES (?)", (value,))
    with pytest.raises(OverflowError, match="parameter 'x'"):
        vdb.execute("INSERT INTO v (x) VALUES (:x)", {"x": 2**64})
    assert vdb.query("SELECT count(*) FROM v") == [(0,)]


def test_str_with_lone_surrogate_names_the_parameter(vdb):
    with pytest.raises(UnicodeEncodeError, match="parameter 1: surrogates not allowed"):
        vdb.execute("INSERT INTO v (x) VALUES (?)", ("\udc80",))
    with pytest.raises(UnicodeEncodeError, match="parameter 'x': surrogates not allowed"):
        vdb.execute("INSERT INTO v (x) VALUES (:x)", {"x": "a\ud800"})
    assert vdb.query("SELECT count(*) FROM v") == [(0,)]


@pytest.mark.parametrize("value", [object(), [1], {"a": 1}, Decimal("1.5"), 1j, {1}])
def test_unsupported_type_names_the_parameter(vdb, value):
    with pytest.raises(TypeError, match=r"parameter 2: unsupported type"):
        vdb.execute("INSERT INTO v (id, x) VALUES (?, ?)", (None, value))
    with pytest.raises(TypeError, match=r"parameter 'x': unsupported type"):
        vdb.execute("INSERT INTO v (x) VALUES (:x)", {"x": value})
    with pytest.raises(TypeError, match=r"statement 1, parameter 1: unsupported type"):
        vdb.transaction([("SELECT 1", ()), ("INSERT INTO v (x) VALUES (?)", [value])])


def test_parameter_containers(vdb):
    assert vdb.execute("INSERT INTO v (x) VALUES (?)", [1]).rowcount == 1
    assert vdb.execute("INSERT INTO v (x) VALUES (?)", (2,)).rowcount == 1
    assert vdb.execute("INSERT INTO v (x) VALUES (?)", range(3, 4)).rowcount == 1
    assert vdb.execute("INSERT INTO v (x) VALUES (:x)", {"x": 4}).rowcount == 1
    assert vdb.execute("INSERT INTO v (x) VALUES (:x)", {":x": 5}).rowcount == 1
    assert (
        vdb.execute("INSERT INTO v (x) VALUES (@x)", types.MappingProxyType({"x": 6})).rowcount == 1
    )
    assert vdb.execute("INSERT INTO v (x) VALUES ($x)", {"x": 7}).rowcount == 1
    assert vdb.execute("INSERT INTO v (x) VALUES (?2)", (None, 8)).rowcount == 1
    assert [x for (x,) in vdb.query("SELECT x FROM v ORDER BY id")] == [1, 2, 3, 4, 5, 6, 7, 8]


@pytest.mark.parametrize("params", ["ab", b"ab", bytearray(b"ab"), 5, object()])
def test_parameters_must_be_a_sequence_or_a_dict(vdb, params):
    with pytest.raises(TypeError, match="sequence .* or a dict"):
        vdb.execute("INSERT INTO v (x) VALUES (?)", params)


def test_parameter_names_must_be_str(vdb):
    with pytest.raises(TypeError, match="names must be str"):
        vdb.execute("INSERT INTO v (x) VALUES (:x)", {1: 2})


def test_wrong_parameter_count_or_name(vdb):
    with pytest.raises(litecommit.ProgrammingError, match="expects 1 parameter"):
        vdb.execute("INSERT INTO v (x) VALUES (?)", (1, 2))
    with pytest.raises(litecommit.ProgrammingError, match="expects 1 parameter"):
        vdb.execute("INSERT INTO v (x) VALUES (?)")
    with pytest.raises(litecommit.ProgrammingError, match="no parameter named"):
        vdb.execute("INSERT INTO v (x) VALUES (:x)", {"y": 1})
    with pytest.raises(litecommit.ProgrammingError) as info:
        vdb.transaction([("SELECT 1", ()), ("INSERT INTO v (x) VALUES (:x)", {})])
    assert info.value.statement_index == 1


def test_transaction_shape_errors(vdb):
    with pytest.raises(TypeError, match="not a str"):
        vdb.transaction("INSERT INTO v (x) VALUES (1)")
    with pytest.raises(TypeError, match=r"statement 0: expected an \(sql, params\) pair"):
        vdb.transaction([42])
    with pytest.raises(TypeError, match=r"statement 1: expected an \(sql, params\) pair"):
        vdb.transaction([("SELECT 1",), ("SELECT ?", (1,), "extra")])
    with pytest.raises(TypeError, match="statement 0: SQL must be a str"):
        vdb.transaction([(b"SELECT 1", ())])
    with pytest.raises(TypeError):
        vdb.transaction(5)


@pytest.mark.parametrize(
    "sql",
    [
        "BEGIN",
        "COMMIT",
        "ROLLBACK",
        "SAVEPOINT s",
        "RELEASE s",
        "VACUUM",
        "PRAGMA journal_mode=DELETE",
        "PRAGMA synchronous=OFF",
        "ATTACH 'x.db' AS x",
    ],
)
def test_statements_that_would_break_the_batch_are_refused(vdb, sql):
    ok = vdb.submit("INSERT INTO v (x) VALUES (1)")
    with pytest.raises(litecommit.ProgrammingError) as info:
        vdb.execute(sql)
    assert info.value.statement_index == 0
    assert ok.result().rowcount == 1


def test_integrity_error(vdb):
    vdb.execute("CREATE TABLE u (k TEXT UNIQUE NOT NULL)")
    vdb.execute("INSERT INTO u VALUES ('a')")
    with pytest.raises(litecommit.IntegrityError) as info:
        vdb.execute("INSERT INTO u VALUES ('a')")
    e = info.value
    assert isinstance(e, litecommit.SqliteError)
    assert isinstance(e, litecommit.Error)
    assert (e.code, e.extended_code, e.statement_index) == (19, 2067, 0)
    assert e.code_name == "SQLITE_CONSTRAINT_UNIQUE"
    assert "UNIQUE constraint failed" in e.message
    assert str(e) == f"{e.message} (statement 0)"
    with pytest.raises(litecommit.IntegrityError) as info:
        vdb.execute("INSERT INTO u VALUES (NULL)")
    assert info.value.code_name == "SQLITE_CONSTRAINT_NOTNULL"


def test_operational_error(vdb):
    with pytest.raises(litecommit.OperationalError) as info:
        vdb.execute("INSERT INTO missing VALUES (1)")
    assert info.value.code == 1
    assert "no such table" in info.value.message
    with pytest.raises(litecommit.OperationalError):
        vdb.execute("THIS IS NOT SQL")


def test_exceptions_pickle():
    e = litecommit.IntegrityError(19, 2067, "UNIQUE constraint failed: u.k", 3)
    back = pickle.loads(pickle.dumps(e))
    assert type(back) is litecommit.IntegrityError
    assert (back.code, back.extended_code, back.message, back.statement_index) == (
        19,
        2067,
        e.message,
        3,
    )
    assert repr(e).startswith("IntegrityError(")
    assert type(e).__module__ == "litecommit"


def test_error_hierarchy():
    for cls in (litecommit.IntegrityError, litecommit.OperationalError):
        assert issubclass(cls, litecommit.SqliteError)
    for cls in (
        litecommit.SqliteError,
        litecommit.ClosedError,
        litecommit.QueueFullError,
        litecommit.ProgrammingError,
        litecommit.ConfigError,
        litecommit.ForkedError,
    ):
        assert issubclass(cls, litecommit.Error)
    assert issubclass(litecommit.ConfigError, ValueError)


def test_config_kwargs(path):
    with litecommit.Committer(
        path,
        durability="normal",
        flush_policy="ticker",
        max_batch_size=10,
        max_wait_ms=2,
        queue_capacity=100,
        busy_timeout_ms=1000,
        read_connections=2,
        checkpoint=False,
        passive_threshold_mb=1,
        restart_threshold_mb=2.5,
        dynamic_batch_size=False,
        truncate_when_idle=True,
        cache_size_kib=1024,
        mmap_size=0,
        journal_size_limit=None,
    ) as db:
        db.execute("CREATE TABLE x (a)")
        futures = [db.submit("INSERT INTO x VALUES (?)", (i,)) for i in range(50)]
        assert all(f.result().rowcount == 1 for f in futures)
        assert db.stats()["max_batch_size"] <= 10
        assert db.execute("PRAGMA synchronous").rows == [(1,)]  # durability="normal"
        assert db.execute("PRAGMA foreign_keys").rows == [(1,)]


@pytest.mark.parametrize(
    "config, message",
    [
        ({"max_batch_size": 0}, "max_batch_size"),
        ({"durability": "sometimes"}, "durability"),
        ({"flush_policy": "never"}, "flush_policy"),
        ({"passive_threshold_mb": 8, "restart_threshold_mb": 4}, "restart_threshold_mb"),
        ({"queue_capacity": -1}, "queue_capacity"),
        ({"no_such_option": 1}, "no_such_option"),
        ({"checkpoint": "maybe"}, "checkpoint"),
    ],
)
def test_invalid_config_is_rejected_at_open(path, config, message):
    with pytest.raises(litecommit.ConfigError, match=message):
        litecommit.Committer(path, **config)


@pytest.mark.parametrize(
    "config, option",
    [
        ({"busy_timeout_ms": 2**31}, "busy_timeout_ms"),
        ({"checkpoint_busy_timeout_ms": 2**31}, "checkpoint_busy_timeout_ms"),
        ({"busy_timeout_ms": -1}, "busy_timeout_ms"),
        ({"max_batch_size": -5}, "max_batch_size"),
        ({"max_batch_size": 2**64}, "max_batch_size"),
        ({"max_batch_size": 2**200}, "max_batch_size"),
        ({"max_batch_size": 2.0}, "max_batch_size"),
        ({"queue_capacity": 1.5}, "queue_capacity"),
        ({"max_batch_size": True}, "max_batch_size"),
        ({"read_connections": 0}, "read_connections"),
        ({"flush_policy": "ticker", "max_wait_ms": 2**63}, "max_wait_ms"),
        ({"linger_ms": 2**63}, "linger_ms"),
        ({"idle_ms": 2**100, "truncate_when_idle": True}, "idle_ms"),
        ({"cache_size_kib": 2**63}, "cache_size_kib"),
        ({"statement_cache_capacity": 10**12}, "statement_cache_capacity"),
        ({"passive_threshold_mb": float("nan")}, "passive_threshold_mb"),
        ({"restart_threshold_mb": float("inf")}, "restart_threshold_mb"),
        ({"passive_threshold_mb": -1.0}, "passive_threshold_mb"),
        ({"passive_threshold_mb": 0}, "passive_threshold_mb"),
        ({"mmap_size": "lots"}, "mmap_size"),
    ],
)
def test_out_of_range_option_is_a_config_error(path, config, option):
    with pytest.raises(litecommit.ConfigError, match=option):
        litecommit.Committer(path, **config)
    with pytest.raises(ValueError, match=option):
        litecommit.AsyncCommitter(path, **config)


def test_option_that_would_allocate_without_bound_is_refused(path):
    """Refused before anything is allocated: run under an address-space limit, so that a
    committer allocating a billion queue slots or connections fails this test instead of
    exhausting the machine."""
    proc = run_python(
        """
        import resource, sys
        import litecommit
        resource.setrlimit(resource.RLIMIT_AS, (2 * 2**30, 2 * 2**30))
        path = sys.argv[1]
        for option in ("queue_capacity", "read_connections", "max_batch_size"):
            try:
                litecommit.Committer(path, **{option: 10**9}).close()
                print(option, "accepted")
            except litecommit.ConfigError as e:
                print(option, "refused" if option in str(e) else e)
        """,
        path,
    )
    assert proc.stdout.split("\n")[:-1] == [
        "queue_capacity refused",
        "read_connections refused",
        "max_batch_size refused",
    ]


def test_config_value_of_wrong_type(path):
    with pytest.raises(TypeError, match="max_batch_size"):
        litecommit.Committer(path, max_batch_size=[1])
    with pytest.raises(TypeError, match="queue_capacity"):
        litecommit.Committer(path, queue_capacity=None)


def test_a_value_of_the_wrong_type_is_reported_before_one_out_of_range(path):
    with pytest.raises(TypeError, match="queue_capacity"):
        litecommit.Committer(path, max_batch_size=0, queue_capacity=[1])


def test_none_is_taken_only_by_an_option_that_may_have_no_value(path):
    with litecommit.Committer(path, journal_size_limit=None) as db:
        assert db.execute("PRAGMA journal_size_limit").rows == [(-1,)]
    for name in ("mmap_size", "durability", "checkpoint"):
        with pytest.raises(TypeError, match=f"{name}: expected bool, int, float or str"):
            litecommit.Committer(path, **{name: None})


# Options that take any text: the core accepts "not a value" as their value.
ANY_TEXT = {"metrics_label"}


@pytest.mark.parametrize("name", sorted(litecommit.Options.__annotations__))
def test_every_typed_option_is_an_option_of_the_core(path, name):
    if name in ANY_TEXT:
        with litecommit.Committer(path, **{name: "not a value"}) as db:
            assert '{db="not a value"}' in db.metrics_text()
        return
    with pytest.raises(litecommit.ConfigError, match=name) as info:
        litecommit.Committer(path, **{name: "not a value"})
    assert "unknown configuration option" not in str(info.value)


def test_open_failure(tmp_path):
    with pytest.raises(litecommit.OperationalError, match="cannot open") as info:
        litecommit.Committer(str(tmp_path / "missing-dir" / "x.db"))
    assert (info.value.code, info.value.code_name) == (14, "SQLITE_CANTOPEN")


def test_open_a_file_that_is_not_a_database(tmp_path):
    path = tmp_path / "noise.db"
    noise = random.Random(7).randbytes(8192)
    path.write_bytes(noise)
    with pytest.raises(litecommit.SqliteError) as info:
        litecommit.Committer(str(path))
    e = info.value
    # SQLite's own code, as the stdlib sqlite3 module reports it (its DatabaseError).
    assert (e.code, e.extended_code, e.code_name) == (26, 26, "SQLITE_NOTADB")
    assert type(e) is litecommit.SqliteError
    assert e.statement_index is None
    assert "cannot open database" in e.message and "not a database" in e.message
    assert path.read_bytes() == noise


def test_open_a_database_another_process_holds_locked(tmp_path):
    path = str(tmp_path / "locked.db")
    holder = hold_lock(
        path,
        "PRAGMA journal_mode=DELETE",
        "CREATE TABLE r (i)",
        "BEGIN EXCLUSIVE",
        "INSERT INTO r VALUES (1)",
    )
    try:
        with pytest.raises(litecommit.OperationalError) as info:
            litecommit.Committer(path, busy_timeout_ms=0)
        assert (info.value.code, info.value.code_name) == (5, "SQLITE_BUSY")
        assert "cannot open database" in info.value.message
    finally:
        stop(holder)


@pytest.mark.parametrize("name, message", [(":memory:", "WAL"), ("nul\0byte.db", "nul")])
def test_open_failure_that_does_not_come_from_sqlite(tmp_path, name, message):
    path = name if name.startswith(":") else str(tmp_path / name)
    with pytest.raises(litecommit.OperationalError, match=message) as info:
        litecommit.Committer(path)
    assert (info.value.code, info.value.code_name) == (14, "SQLITE_CANTOPEN")
    assert "cannot open database" in str(info.value)


def test_sqlite_version():
    major, minor, patch = (int(p) for p in litecommit.sqlite_version().split(".")[:3])
    assert (major, minor, patch) >= (3, 51, 3)
