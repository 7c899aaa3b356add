/* C tests of the litecommit ABI, run under valgrind by `make test-ffi`. */
#define _GNU_SOURCE /* pthread_getname_np */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "litecommit.h"

static int passed, failed;

#include "check.h"

static char dir[256];

static void db_path(char *out, size_t n, const char *name) {
    snprintf(out, n, "%s/%s.db", dir, name);
}

static litecommit_committer *open_db(const char *name) {
    char path[512];
    db_path(path, sizeof path, name);
    litecommit_options opts;
    litecommit_options_default(&opts, sizeof opts);
    litecommit_committer *db = NULL;
    OK(litecommit_open(path, &opts, &db));
    return db;
}

static int64_t count_rows(litecommit_committer *db, const char *sql) {
    litecommit_statement s = {.sql = sql};
    litecommit_rows *rows = NULL;
    int64_t n = -1;
    if (litecommit_query(db, &s, &rows) == LITECOMMIT_OK) {
        litecommit_value v;
        if (litecommit_rows_value(rows, 0, 0, &v) == LITECOMMIT_OK && v.type == LITECOMMIT_TYPE_INTEGER)
            n = v.i;
    }
    litecommit_rows_free(&rows);
    return n;
}

static litecommit_value int_value(int64_t i) {
    litecommit_value v = {.type = LITECOMMIT_TYPE_INTEGER, .i = i};
    return v;
}

static litecommit_value text_value(const char *s) {
    litecommit_value v = {.type = LITECOMMIT_TYPE_TEXT, .ptr = s, .len = strlen(s)};
    return v;
}

/* Generous bound for waits on events that must happen; only a stuck library reaches it. */
#define PATIENCE_S 60

static struct timespec deadline_in_ms(long ms) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

/* Waits on `cv` until *flag is non-zero or `ms` passed; returns *flag. `mu` is held. */
static int wait_flag(pthread_mutex_t *mu, pthread_cond_t *cv, const int *flag, long ms) {
    struct timespec until = deadline_in_ms(ms);
    while (!*flag)
        if (pthread_cond_timedwait(cv, mu, &until) == ETIMEDOUT) break;
    return *flag;
}

static void test_options(void) {
    char path[512];
    db_path(path, sizeof path, "options");
    litecommit_options opts;
    litecommit_committer *db = (litecommit_committer *)&opts; /* must be reset to NULL */
    OK(litecommit_options_default(&opts, sizeof opts));
    CHECK(opts.struct_size == sizeof opts);
    CHECK(opts.max_batch_size == 10000 && opts.queue_capacity == 10000 && opts.checkpoint == 1);
    CHECK(opts.busy_timeout_ms == 5000 && opts.idle_vacuum_budget_ms == 50);

    opts.max_batch_size = 0;
    CHECK(litecommit_open(path, &opts, &db) == LITECOMMIT_INVALID_CONFIG);
    CHECK(db == NULL);
    litecommit_error_info e;
    OK(litecommit_last_error(&e));
    CHECK(e.status == LITECOMMIT_INVALID_CONFIG && strstr(e.message, "max_batch_size") != NULL);

    litecommit_options_default(&opts, sizeof opts);
    opts.restart_threshold_mb = 1;
    opts.passive_threshold_mb = 2;
    CHECK(litecommit_open(path, &opts, &db) == LITECOMMIT_INVALID_CONFIG);

    litecommit_options_default(&opts, sizeof opts);
    opts.durability = 42;
    CHECK(litecommit_open(path, &opts, &db) == LITECOMMIT_INVALID_CONFIG);

    litecommit_options_default(&opts, sizeof opts);
    opts.struct_size = 3;
    CHECK(litecommit_open(path, &opts, &db) == LITECOMMIT_INVALID_ARGUMENT);

    litecommit_options_default(&opts, sizeof opts);
    CHECK(opts.metrics_label == NULL);
    opts.metrics_label = "\xff";
    CHECK(litecommit_open(path, &opts, &db) == LITECOMMIT_INVALID_CONFIG);
    OK(litecommit_last_error(&e));
    CHECK(strstr(e.message, "metrics_label") != NULL);
    opts.metrics_label = "orders";
    OK(litecommit_open(path, &opts, &db));
    char *metrics = NULL;
    OK(litecommit_metrics_text(db, &metrics));
    CHECK(metrics && strstr(metrics, "\nlitecommit_queue_depth{db=\"orders\"} 0\n"));
    litecommit_string_free(&metrics);
    litecommit_committer_free(&db);

    /* A caller compiled against the first published layout (it ends after `checkpoint`),
     * its struct at the start of a larger buffer filled with a canary: the library writes
     * only the caller's bytes, and open reads only those (past them, max_batch_size would be
     * invalid and metrics_label a wild pointer), using defaults for the rest. */
    const size_t first_layout = offsetof(litecommit_options, checkpoint) + sizeof opts.checkpoint;
    union {
        litecommit_options opts;
        unsigned char bytes[sizeof(litecommit_options) + 64];
    } old;
    memset(old.bytes, 0xA5, sizeof old.bytes);
    OK(litecommit_options_default(&old.opts, first_layout));
    CHECK(old.opts.struct_size == first_layout && old.opts.checkpoint == 1);
    CHECK(old.opts.durability == LITECOMMIT_DURABILITY_FULL);
    CHECK(old.opts.flush_policy == LITECOMMIT_FLUSH_ADAPTIVE);
    size_t intact = first_layout;
    while (intact < sizeof old.bytes && old.bytes[intact] == 0xA5) intact++;
    CHECK(intact == sizeof old.bytes);
    old.opts.durability = LITECOMMIT_DURABILITY_NORMAL;
    OK(litecommit_open(path, &old.opts, &db));
    litecommit_committer_free(&db);
    CHECK(db == NULL);
    /* A size short of the first layout is refused and writes nothing. */
    memset(old.bytes, 0xA5, sizeof old.bytes);
    CHECK(litecommit_options_default(&old.opts, first_layout - 1) == LITECOMMIT_INVALID_ARGUMENT);
    intact = 0;
    while (intact < sizeof old.bytes && old.bytes[intact] == 0xA5) intact++;
    CHECK(intact == sizeof old.bytes);

    CHECK(litecommit_open(NULL, NULL, &db) == LITECOMMIT_INVALID_ARGUMENT);
    CHECK(litecommit_open(path, NULL, NULL) == LITECOMMIT_INVALID_ARGUMENT);
    CHECK(litecommit_open("\xff\xfe.db", NULL, &db) == LITECOMMIT_INVALID_ARGUMENT);
    CHECK(litecommit_options_default(NULL, sizeof opts) == LITECOMMIT_INVALID_ARGUMENT);
    CHECK(litecommit_open("/nonexistent-dir/x/y.db", NULL, &db) != LITECOMMIT_OK);
    CHECK(db == NULL);
    /* A file that is not a database: SQLite's own code, SQLITE_NOTADB (26). */
    char junk[512];
    db_path(junk, sizeof junk, "random-bytes");
    FILE *f = fopen(junk, "wb");
    CHECK(f != NULL);
    if (f) {
        unsigned int x = 12345;
        for (int i = 0; i < 8192; i++) {
            x = x * 1103515245u + 12345u;
            fputc((int)(x >> 16) & 0xff, f);
        }
        fclose(f);
    }
    CHECK(litecommit_open(junk, NULL, &db) == LITECOMMIT_SQLITE_ERROR && db == NULL);
    OK(litecommit_last_error(&e));
    CHECK(e.status == LITECOMMIT_SQLITE_ERROR && e.sqlite_code == 26 && e.extended_code == 26);
    CHECK(strcmp(e.code_name, "SQLITE_NOTADB") == 0 && e.statement_index == -1);
    CHECK(strstr(e.message, "random-bytes") != NULL);
    CHECK(strcmp(litecommit_status_name(LITECOMMIT_CLOSED), "LITECOMMIT_CLOSED") == 0);
    CHECK(strcmp(litecommit_status_name(LITECOMMIT_FORKED), "LITECOMMIT_FORKED") == 0);
    CHECK(strcmp(litecommit_status_name(999), "LITECOMMIT_UNKNOWN_STATUS") == 0);
    /* The header's version macros agree with each other and with the library. */
    CHECK(strcmp(litecommit_version(), LITECOMMIT_VERSION) == 0);
    char numbers[64];
    int n = snprintf(numbers, sizeof numbers, "%d.%d.%d", LITECOMMIT_VERSION_MAJOR,
                     LITECOMMIT_VERSION_MINOR, LITECOMMIT_VERSION_PATCH);
    /* LITECOMMIT_VERSION is "MAJOR.MINOR.PATCH", maybe followed by "-pre" or "+build". */
    CHECK(n > 0 && strncmp(LITECOMMIT_VERSION, numbers, (size_t)n) == 0 &&
          strchr("-+", LITECOMMIT_VERSION[n]) != NULL);
}

static void test_values_and_results(void) {
    litecommit_committer *db = open_db("values");
    exec_sql(db, "CREATE TABLE t (id INTEGER PRIMARY KEY, i INTEGER, r REAL, s TEXT, b BLOB, n)");

    const unsigned char blob[] = {0, 1, 2, 255};
    litecommit_value params[] = {
        int_value(-9007199254740993LL),
        {.type = LITECOMMIT_TYPE_REAL, .d = 2.5},
        text_value("h\xc3\xa9llo"),
        {.type = LITECOMMIT_TYPE_BLOB, .ptr = blob, .len = sizeof blob},
        {.type = LITECOMMIT_TYPE_NULL},
    };
    litecommit_statement s = {
        .sql = "INSERT INTO t (i, r, s, b, n) VALUES (?, ?, ?, ?, ?) RETURNING id, i, r, s, b, n",
        .params = params,
        .n_params = 5};
    litecommit_result *r = NULL;
    OK(litecommit_execute(db, &s, 1, &r));
    CHECK(litecommit_result_status(r) == LITECOMMIT_OK);
    size_t n = 0;
    OK(litecommit_result_statement_count(r, &n));
    CHECK(n == 1);
    litecommit_statement_result sr;
    OK(litecommit_result_statement(r, 0, &sr));
    CHECK(sr.changes == 1 && sr.last_insert_rowid == 1);
    size_t cols = 0, nrows = 0;
    OK(litecommit_rows_size(sr.rows, &cols, &nrows));
    CHECK(cols == 6 && nrows == 1);
    const char *name = NULL;
    OK(litecommit_rows_column_name(sr.rows, 3, &name));
    CHECK(name && strcmp(name, "s") == 0);
    litecommit_value row[6];
    OK(litecommit_rows_row(sr.rows, 0, row, 6));
    CHECK(row[0].type == LITECOMMIT_TYPE_INTEGER && row[0].i == 1);
    CHECK(row[1].type == LITECOMMIT_TYPE_INTEGER && row[1].i == -9007199254740993LL);
    CHECK(row[2].type == LITECOMMIT_TYPE_REAL && row[2].d == 2.5);
    CHECK(row[3].type == LITECOMMIT_TYPE_TEXT && row[3].len == 6 &&
          strcmp((const char *)row[3].ptr, "h\xc3\xa9llo") == 0);
    CHECK(row[4].type == LITECOMMIT_TYPE_BLOB && row[4].len == 4 &&
          memcmp(row[4].ptr, blob, 4) == 0);
    CHECK(row[5].type == LITECOMMIT_TYPE_NULL);
    /* Out of range and wrong sizes are errors, not crashes. */
    CHECK(litecommit_rows_row(sr.rows, 0, row, 5) == LITECOMMIT_INVALID_ARGUMENT);
    CHECK(litecommit_rows_value(sr.rows, 1, 0, row) == LITECOMMIT_INVALID_ARGUMENT);
    CHECK(litecommit_rows_column_name(sr.rows, 6, &name) == LITECOMMIT_INVALID_ARGUMENT);
    CHECK(litecommit_result_statement(r, 1, &sr) == LITECOMMIT_INVALID_ARGUMENT);
    CHECK(litecommit_result_statement(r, 0, NULL) == LITECOMMIT_INVALID_ARGUMENT);
    litecommit_result_free(&r);
    CHECK(r == NULL);
    litecommit_result_free(&r); /* second free through the same variable: no-op */
    litecommit_result_free(NULL);

    /* Named parameters, with and without their prefix. */
    litecommit_value named[] = {int_value(7), text_value("seven")};
    const char *names[] = {":i", "s"};
    litecommit_statement ns = {.sql = "INSERT INTO t (i, s) VALUES (:i, :s)",
                               .params = named, .n_params = 2, .param_names = names};
    OK(litecommit_execute(db, &ns, 1, &r));
    litecommit_result_free(&r);
    CHECK(count_rows(db, "SELECT count(*) FROM t WHERE i = 7 AND s = 'seven'") == 1);

    /* Query with parameters. */
    litecommit_value q = int_value(7);
    litecommit_statement qs = {.sql = "SELECT s FROM t WHERE i = ?", .params = &q, .n_params = 1};
    litecommit_rows *rows = NULL;
    OK(litecommit_query(db, &qs, &rows));
    litecommit_value v;
    OK(litecommit_rows_value(rows, 0, 0, &v));
    CHECK(v.type == LITECOMMIT_TYPE_TEXT && strcmp((const char *)v.ptr, "seven") == 0);
    litecommit_rows_free(&rows);
    litecommit_rows_free(&rows);

    litecommit_committer_free(&db);
}

static void test_errors(void) {
    litecommit_committer *db = open_db("errors");
    exec_sql(db, "CREATE TABLE u (id INTEGER PRIMARY KEY, k TEXT UNIQUE)");
    litecommit_value a = text_value("a");
    litecommit_statement ok1 = {.sql = "INSERT INTO u (k) VALUES (?)", .params = &a, .n_params = 1};
    litecommit_result *r = NULL;
    OK(litecommit_execute(db, &ok1, 1, &r));
    litecommit_result_free(&r);

    /* A constraint violation in statement 1 rolls back the whole transaction. */
    litecommit_value b = text_value("b");
    litecommit_statement tx[] = {
        {.sql = "INSERT INTO u (k) VALUES (?)", .params = &b, .n_params = 1},
        {.sql = "INSERT INTO u (k) VALUES (?)", .params = &a, .n_params = 1},
    };
    CHECK(litecommit_execute(db, tx, 2, &r) == LITECOMMIT_SQLITE_ERROR);
    CHECK(r == NULL);
    litecommit_error_info e;
    OK(litecommit_last_error(&e));
    CHECK(e.status == LITECOMMIT_SQLITE_ERROR);
    CHECK(e.sqlite_code == 19 && e.extended_code == 2067 && e.statement_index == 1);
    CHECK(strcmp(e.code_name, "SQLITE_CONSTRAINT_UNIQUE") == 0);
    CHECK(strstr(e.message, "UNIQUE") != NULL);
    CHECK(count_rows(db, "SELECT count(*) FROM u") == 1);

    /* Refused statements, parameter errors, bad input. */
    litecommit_statement begin = {.sql = "BEGIN"};
    CHECK(litecommit_execute(db, &begin, 1, &r) == LITECOMMIT_REFUSED);
    litecommit_statement missing = {.sql = "INSERT INTO u (k) VALUES (?)"};
    CHECK(litecommit_execute(db, &missing, 1, &r) == LITECOMMIT_PARAMETER);
    litecommit_statement syntax = {.sql = "INSERT INTO nowhere VALUES (1)"};
    CHECK(litecommit_execute(db, &syntax, 1, &r) == LITECOMMIT_SQLITE_ERROR);

    litecommit_value bad_utf8 = {.type = LITECOMMIT_TYPE_TEXT, .ptr = "\xc3\x28", .len = 2};
    litecommit_statement tx2[] = {
        ok1,
        {.sql = "INSERT INTO u (k) VALUES (?)", .params = &bad_utf8, .n_params = 1},
    };
    CHECK(litecommit_execute(db, tx2, 2, &r) == LITECOMMIT_INVALID_ARGUMENT);
    litecommit_last_error(&e);
    CHECK(e.statement_index == 1 && strstr(e.message, "UTF-8") != NULL);
    litecommit_statement bad_sql = {.sql = "SELECT '\xff'"};
    CHECK(litecommit_execute(db, &bad_sql, 1, &r) == LITECOMMIT_INVALID_ARGUMENT);
    litecommit_value bad_type = {.type = 99};
    litecommit_statement bt = {.sql = "INSERT INTO u (k) VALUES (?)", .params = &bad_type, .n_params = 1};
    CHECK(litecommit_execute(db, &bt, 1, &r) == LITECOMMIT_INVALID_ARGUMENT);
    litecommit_statement null_params = {.sql = "INSERT INTO u (k) VALUES (?)", .n_params = 1};
    CHECK(litecommit_execute(db, &null_params, 1, &r) == LITECOMMIT_INVALID_ARGUMENT);
    litecommit_statement null_sql = {.sql = NULL};
    CHECK(litecommit_execute(db, &null_sql, 1, &r) == LITECOMMIT_INVALID_ARGUMENT);
    const char *bad_names[] = {NULL};
    litecommit_statement nn = {.sql = "INSERT INTO u (k) VALUES (:k)", .params = &a, .n_params = 1,
                               .param_names = bad_names};
    CHECK(litecommit_execute(db, &nn, 1, &r) == LITECOMMIT_INVALID_ARGUMENT);
    CHECK(litecommit_execute(db, NULL, 1, &r) == LITECOMMIT_INVALID_ARGUMENT);
    CHECK(litecommit_execute(db, &ok1, 0, &r) == LITECOMMIT_INVALID_ARGUMENT);
    CHECK(litecommit_execute(NULL, &ok1, 1, &r) == LITECOMMIT_INVALID_ARGUMENT);
    CHECK(litecommit_execute(db, &ok1, 1, NULL) == LITECOMMIT_INVALID_ARGUMENT);
    CHECK(litecommit_query(db, NULL, NULL) == LITECOMMIT_INVALID_ARGUMENT);
    CHECK(litecommit_checkpoint(db, 17, NULL) == LITECOMMIT_INVALID_ARGUMENT);
    CHECK(litecommit_result_status(NULL) == LITECOMMIT_INVALID_ARGUMENT);
    CHECK(litecommit_rows_size(NULL, NULL, NULL) == LITECOMMIT_INVALID_ARGUMENT);
    CHECK(litecommit_last_error(NULL) == LITECOMMIT_INVALID_ARGUMENT);
    CHECK(count_rows(db, "SELECT count(*) FROM u") == 1);
    litecommit_committer_free(&db);
}

/* ---- 16 threads submitting concurrently ---- */

#define THREADS 16
#define PER_THREAD 40

static void *submitter(void *arg) {
    litecommit_committer *db = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        litecommit_value v = int_value(i);
        litecommit_statement s = {.sql = "INSERT INTO c (v) VALUES (?)", .params = &v, .n_params = 1};
        litecommit_pending *p = NULL;
        litecommit_result *r = NULL;
        if (litecommit_submit(db, &s, 1, &p) != LITECOMMIT_OK ||
            litecommit_pending_wait(p, -1, &r) != LITECOMMIT_OK)
            return (void *)1;
        /* A completed handle cannot be waited on twice. */
        litecommit_result *again = NULL;
        if (litecommit_pending_wait(p, -1, &again) != LITECOMMIT_INVALID_ARGUMENT || again)
            return (void *)1;
        litecommit_statement_result sr;
        int bad = litecommit_result_statement(r, 0, &sr) != LITECOMMIT_OK || sr.changes != 1;
        litecommit_result_free(&r);
        litecommit_pending_free(&p);
        if (bad) return (void *)1;
    }
    return NULL;
}

static void test_threads(void) {
    litecommit_committer *db = open_db("threads");
    exec_sql(db, "CREATE TABLE c (id INTEGER PRIMARY KEY, v INTEGER)");
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) CHECK(pthread_create(&t[i], NULL, submitter, db) == 0);
    for (int i = 0; i < THREADS; i++) {
        void *ret = NULL;
        pthread_join(t[i], &ret);
        CHECK(ret == NULL);
    }
    CHECK(count_rows(db, "SELECT count(*) FROM c") == THREADS * PER_THREAD);
    litecommit_stats st;
    OK(litecommit_get_stats(db, &st, sizeof st));
    CHECK(st.transactions_committed == THREADS * PER_THREAD + 1);
    CHECK(st.batches >= 1 && st.batches <= st.transactions_committed);
    litecommit_committer_free(&db);
}

/* ---- callbacks ---- */

#define CALLBACKS 100

struct counter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int ok, failed;
    pthread_t submitter;
    pthread_t first; /* the thread of the first callback */
    int on_submitter, on_other_threads, wrong_name;
    char name[16];
};

static void on_done(void *user_data, litecommit_result *result) {
    struct counter *c = user_data;
    char name[16] = "";
    pthread_getname_np(pthread_self(), name, sizeof name);
    pthread_mutex_lock(&c->mu);
    if (c->ok + c->failed == 0) {
        c->first = pthread_self();
        memcpy(c->name, name, sizeof name);
    } else if (!pthread_equal(c->first, pthread_self())) {
        c->on_other_threads++;
    }
    if (pthread_equal(c->submitter, pthread_self())) c->on_submitter++;
    /* Linux keeps 15 bytes of a thread name: "litecommit-writer" reads "litecommit-writ". */
    if (strncmp(name, "litecommit-writer", sizeof name - 1) != 0) c->wrong_name++;
    if (litecommit_result_status(result) == LITECOMMIT_OK)
        c->ok++;
    else
        c->failed++;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    litecommit_result_free(&result);
}

static void test_callbacks(void) {
    litecommit_committer *db = open_db("callbacks");
    exec_sql(db, "CREATE TABLE cb (k INTEGER PRIMARY KEY)");
    struct counter c = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER,
                        .submitter = pthread_self()};
    for (int i = 0; i < CALLBACKS; i++) {
        /* Every tenth one collides with the previous key and fails. */
        litecommit_value v = int_value(i % 10 == 9 ? i - 1 : i);
        litecommit_statement s = {.sql = "INSERT INTO cb VALUES (?)", .params = &v, .n_params = 1};
        OK(litecommit_submit_callback(db, &s, 1, on_done, &c));
        /* A flush now and then spreads the callbacks over several batches. */
        if (i % 25 == 24) OK(litecommit_flush(db));
    }
    litecommit_statement s = {.sql = "INSERT INTO cb VALUES (1)"};
    CHECK(litecommit_submit_callback(db, &s, 1, NULL, &c) == LITECOMMIT_INVALID_ARGUMENT);
    pthread_mutex_lock(&c.mu);
    struct timespec until = deadline_in_ms(PATIENCE_S * 1000L);
    while (c.ok + c.failed < CALLBACKS)
        if (pthread_cond_timedwait(&c.cv, &c.mu, &until) == ETIMEDOUT) break;
    pthread_mutex_unlock(&c.mu);
    CHECK(c.ok == 90 && c.failed == 10);
    /* Every callback ran on one thread, the committer's writer, never on the submitter. */
    CHECK(c.on_submitter == 0);
    CHECK(c.on_other_threads == 0);
    CHECK(c.wrong_name == 0);
    CHECK(strcmp(c.name, "litecommit-writ") == 0);
    litecommit_stats st;
    OK(litecommit_get_stats(db, &st, sizeof st));
    CHECK(st.batches >= 4); /* the flushes above: callbacks of several batches */
    litecommit_committer_free(&db);
}

/* ---- order per thread: each thread's transactions commit in submission order ---- */

#define ORDER_THREADS 6
#define ORDER_PER_THREAD 60

struct order_arg {
    litecommit_committer *db;
    int thread;
    int bad;
};

static void *ordered_submitter(void *p) {
    struct order_arg *a = p;
    litecommit_pending *pending[ORDER_PER_THREAD] = {0};
    /* Everything in flight at once: submit does not wait for the commit. */
    for (int seq = 0; seq < ORDER_PER_THREAD; seq++) {
        litecommit_value v[] = {int_value(a->thread), int_value(seq)};
        litecommit_statement s = {.sql = "INSERT INTO o (thread, seq) VALUES (?, ?)", .params = v,
                                  .n_params = 2};
        if (litecommit_submit(a->db, &s, 1, &pending[seq]) != LITECOMMIT_OK) a->bad++;
    }
    int64_t last_rowid = 0;
    for (int seq = 0; seq < ORDER_PER_THREAD; seq++) {
        litecommit_result *r = NULL;
        litecommit_statement_result sr;
        if (pending[seq] && litecommit_pending_wait(pending[seq], -1, &r) == LITECOMMIT_OK &&
            litecommit_result_statement(r, 0, &sr) == LITECOMMIT_OK) {
            /* Rowids grow with commit order. */
            if (sr.last_insert_rowid <= last_rowid) a->bad++;
            last_rowid = sr.last_insert_rowid;
        } else {
            a->bad++;
        }
        litecommit_result_free(&r);
        litecommit_pending_free(&pending[seq]);
    }
    return NULL;
}

static void test_order_per_thread(void) {
    litecommit_committer *db = open_db("order");
    exec_sql(db, "CREATE TABLE o (id INTEGER PRIMARY KEY, thread INTEGER, seq INTEGER)");
    pthread_t t[ORDER_THREADS];
    struct order_arg args[ORDER_THREADS];
    for (int i = 0; i < ORDER_THREADS; i++) {
        args[i] = (struct order_arg){.db = db, .thread = i};
        CHECK(pthread_create(&t[i], NULL, ordered_submitter, &args[i]) == 0);
    }
    for (int i = 0; i < ORDER_THREADS; i++) {
        pthread_join(t[i], NULL);
        CHECK(args[i].bad == 0);
    }
    /* In commit order (rowid), each thread's numbers are 0, 1, 2, ... with none missing. */
    litecommit_statement q = {.sql = "SELECT thread, seq FROM o ORDER BY id"};
    litecommit_rows *rows = NULL;
    OK(litecommit_query(db, &q, &rows));
    size_t cols = 0, n = 0;
    OK(litecommit_rows_size(rows, &cols, &n));
    CHECK(n == ORDER_THREADS * ORDER_PER_THREAD);
    int64_t next[ORDER_THREADS] = {0};
    int out_of_order = 0;
    for (size_t i = 0; i < n; i++) {
        litecommit_value v[2];
        if (litecommit_rows_row(rows, i, v, 2) != LITECOMMIT_OK || v[0].i < 0 ||
            v[0].i >= ORDER_THREADS || v[1].i != next[v[0].i]) {
            out_of_order++;
            continue;
        }
        next[v[0].i]++;
    }
    CHECK(out_of_order == 0);
    for (int i = 0; i < ORDER_THREADS; i++) CHECK(next[i] == ORDER_PER_THREAD);
    litecommit_rows_free(&rows);
    litecommit_committer_free(&db);
}

/* ---- backpressure: a bounded queue ---- */

/* Holds the writer: a callback (on the writer thread) that waits until released. */
struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int held, released;
};

static void hold_writer(void *user_data, litecommit_result *result) {
    struct gate *g = user_data;
    pthread_mutex_lock(&g->mu);
    g->held = 1;
    pthread_cond_broadcast(&g->cv);
    wait_flag(&g->mu, &g->cv, &g->released, PATIENCE_S * 1000L);
    pthread_mutex_unlock(&g->mu);
    litecommit_result_free(&result);
}

struct blocked_submit {
    litecommit_committer *db;
    struct gate *gate;
    litecommit_status try_status, submit_status, wait_status;
    int started, returned, released_when_returned;
};

static void *blocking_submitter(void *p) {
    struct blocked_submit *b = p;
    litecommit_value v = int_value(3);
    litecommit_statement s = {.sql = "INSERT INTO bp VALUES (?)", .params = &v, .n_params = 1};
    litecommit_pending *pending = NULL;
    /* The writer is held, so the queue is still full when the blocking submit starts. */
    b->try_status = litecommit_try_submit(b->db, &s, 1, &pending);
    pthread_mutex_lock(&b->gate->mu);
    b->started = 1;
    pthread_cond_broadcast(&b->gate->cv);
    pthread_mutex_unlock(&b->gate->mu);

    litecommit_status st = litecommit_submit(b->db, &s, 1, &pending);

    pthread_mutex_lock(&b->gate->mu);
    b->submit_status = st;
    b->returned = 1;
    b->released_when_returned = b->gate->released;
    pthread_cond_broadcast(&b->gate->cv);
    pthread_mutex_unlock(&b->gate->mu);
    litecommit_result *r = NULL;
    b->wait_status = st == LITECOMMIT_OK ? litecommit_pending_wait(pending, -1, &r) : st;
    litecommit_result_free(&r);
    litecommit_pending_free(&pending);
    return NULL;
}

/* Polls the stats until one call waits to hand work to a queue holding `full` messages;
 * returns 0 if that does not happen within PATIENCE_S. */
static int wait_submit_blocked(litecommit_committer *db, uint64_t full) {
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += PATIENCE_S;
    const struct timespec tick = {.tv_sec = 0, .tv_nsec = 1000000L};
    for (;;) {
        litecommit_stats st;
        if (litecommit_get_stats(db, &st, sizeof st) != LITECOMMIT_OK) return 0;
        if (st.submitting == 1 && st.queue_length == full) return 1;
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec > until.tv_sec ||
            (now.tv_sec == until.tv_sec && now.tv_nsec >= until.tv_nsec))
            return 0;
        nanosleep(&tick, NULL);
    }
}

static void test_backpressure(void) {
    char path[512];
    db_path(path, sizeof path, "backpressure");
    litecommit_options opts;
    litecommit_options_default(&opts, sizeof opts);
    opts.queue_capacity = 2;
    litecommit_committer *db = NULL;
    OK(litecommit_open(path, &opts, &db));
    exec_sql(db, "CREATE TABLE bp (v INTEGER)");

    struct gate g = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    litecommit_statement hold = {.sql = "INSERT INTO bp VALUES (0)"};
    OK(litecommit_submit_callback(db, &hold, 1, hold_writer, &g));
    pthread_mutex_lock(&g.mu);
    CHECK(wait_flag(&g.mu, &g.cv, &g.held, PATIENCE_S * 1000L));
    pthread_mutex_unlock(&g.mu);

    /* The writer is held: two transactions fill the queue, a third is turned away. */
    litecommit_pending *queued[2] = {NULL, NULL};
    for (int i = 0; i < 2; i++) {
        litecommit_value v = int_value(i + 1);
        litecommit_statement s = {.sql = "INSERT INTO bp VALUES (?)", .params = &v, .n_params = 1};
        OK(litecommit_try_submit(db, &s, 1, &queued[i]));
    }
    litecommit_statement refused = {.sql = "INSERT INTO bp VALUES (-1)"};
    litecommit_pending *p = NULL;
    CHECK(litecommit_try_submit(db, &refused, 1, &p) == LITECOMMIT_QUEUE_FULL && p == NULL);
    litecommit_error_info e;
    OK(litecommit_last_error(&e));
    CHECK(strcmp(e.code_name, "LITECOMMIT_QUEUE_FULL") == 0);
    litecommit_completion_queue *cq = NULL;
    OK(litecommit_completion_queue_new(&cq));
    CHECK(litecommit_submit_queue(db, &refused, 1, cq, 7, 0) == LITECOMMIT_QUEUE_FULL);

    /* A blocking submit waits for room while the writer is held, then succeeds. */
    struct blocked_submit b = {.db = db, .gate = &g};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, blocking_submitter, &b) == 0);
    pthread_mutex_lock(&g.mu);
    CHECK(wait_flag(&g.mu, &g.cv, &b.started, PATIENCE_S * 1000L));
    pthread_mutex_unlock(&g.mu);
    /* The submit is inside the library, waiting for room in the full queue. */
    CHECK(wait_submit_blocked(db, opts.queue_capacity));
    pthread_mutex_lock(&g.mu);
    CHECK(!b.returned);
    g.released = 1;
    pthread_cond_broadcast(&g.cv);
    pthread_mutex_unlock(&g.mu);
    pthread_join(t, NULL);
    CHECK(b.try_status == LITECOMMIT_QUEUE_FULL);
    CHECK(b.submit_status == LITECOMMIT_OK && b.wait_status == LITECOMMIT_OK);
    CHECK(b.released_when_returned == 1);
    for (int i = 0; i < 2; i++) {
        litecommit_result *r = NULL;
        OK(litecommit_pending_wait(queued[i], -1, &r));
        litecommit_result_free(&r);
        litecommit_pending_free(&queued[i]);
    }
    OK(litecommit_flush(db));
    /* What was turned away left no trace, and nothing reached the completion queue. */
    CHECK(count_rows(db, "SELECT count(*) FROM bp") == 4);
    CHECK(count_rows(db, "SELECT count(*) FROM bp WHERE v < 0") == 0);
    size_t n = 99;
    litecommit_completion buf[4];
    OK(litecommit_completion_queue_poll(cq, buf, 4, 0, &n));
    CHECK(n == 0);
    litecommit_completion_queue_free(&cq);
    litecommit_committer_free(&db);
}

/* ---- completion queue ---- */

#define QUEUED 300

static void test_queue(void) {
    litecommit_committer *db = open_db("queue");
    exec_sql(db, "CREATE TABLE q (k INTEGER PRIMARY KEY)");
    litecommit_completion_queue *q = NULL;
    OK(litecommit_completion_queue_new(&q));
    static int seen[QUEUED];
    for (uint64_t i = 0; i < QUEUED; i++) {
        litecommit_value v = int_value(i == QUEUED - 1 ? 0 : (int64_t)i); /* the last one fails */
        litecommit_statement s = {.sql = "INSERT INTO q VALUES (?) RETURNING k", .params = &v,
                                  .n_params = 1};
        OK(litecommit_submit_queue(db, &s, 1, q, i, 1));
    }
    int got = 0, errors = 0, polls = 0;
    litecommit_completion buf[64];
    while (got < QUEUED) {
        size_t n = 0;
        OK(litecommit_completion_queue_poll(q, buf, 64, 10000, &n));
        polls++;
        for (size_t i = 0; i < n; i++) {
            litecommit_completion *c = &buf[i];
            CHECK(c->token < QUEUED && seen[c->token] == 0);
            if (c->token < QUEUED) seen[c->token]++;
            if (c->status == LITECOMMIT_OK) {
                CHECK(c->statement_count == 1 && c->changes == 1 && c->has_rows == 1);
                CHECK(c->last_insert_rowid == (int64_t)c->token);
                litecommit_statement_result sr;
                litecommit_value k;
                OK(litecommit_result_statement(c->result, 0, &sr));
                OK(litecommit_rows_value(sr.rows, 0, 0, &k));
                CHECK(k.i == (int64_t)c->token);
            } else {
                errors++;
                litecommit_error_info e;
                OK(litecommit_result_error(c->result, &e));
                CHECK(c->token == QUEUED - 1 && e.extended_code == 1555); /* PRIMARYKEY */
                CHECK(c->status == LITECOMMIT_SQLITE_ERROR && e.statement_index == 0);
            }
        }
        got += (int)n;
        litecommit_completions_free(buf, n);
        CHECK(n == 0 || buf[0].result == NULL);
    }
    CHECK(got == QUEUED && errors == 1);
    CHECK(polls <= QUEUED);

    /* Nothing left: a zero timeout returns at once with nothing. */
    size_t n = 99;
    OK(litecommit_completion_queue_poll(q, buf, 64, 0, &n));
    CHECK(n == 0);
    CHECK(litecommit_completion_queue_poll(q, buf, 0, 0, &n) == LITECOMMIT_INVALID_ARGUMENT);

    /* Unpolled completions are freed with the queue. */
    litecommit_statement s = {.sql = "INSERT INTO q VALUES (100000)"};
    OK(litecommit_submit_queue(db, &s, 1, q, 1, 0));
    OK(litecommit_flush(db));

    OK(litecommit_completion_queue_close(q));
    OK(litecommit_completion_queue_close(q));
    OK(litecommit_completion_queue_poll(q, buf, 64, -1, &n)); /* what is left comes first */
    CHECK(n == 1);
    litecommit_completions_free(buf, n);
    CHECK(litecommit_completion_queue_poll(q, buf, 64, -1, &n) == LITECOMMIT_CLOSED);
    CHECK(litecommit_submit_queue(db, &s, 1, q, 2, 0) == LITECOMMIT_CLOSED);
    litecommit_completion_queue_free(&q);
    litecommit_completion_queue_free(&q);
    CHECK(q == NULL);

    /* A queue freed with completions in it, and one freed while work is in flight. */
    OK(litecommit_completion_queue_new(&q));
    litecommit_statement s2 = {.sql = "INSERT INTO q VALUES (100001)"};
    OK(litecommit_submit_queue(db, &s2, 1, q, 1, 1));
    OK(litecommit_flush(db));
    litecommit_statement s3 = {.sql = "INSERT INTO q VALUES (100002)"};
    OK(litecommit_submit_queue(db, &s3, 1, q, 2, 1));
    litecommit_completion_queue_free(&q);
    OK(litecommit_flush(db));
    CHECK(count_rows(db, "SELECT count(*) FROM q") == QUEUED - 1 + 3);
    litecommit_committer_free(&db);
}

/* Everything a submit reads is copied: the caller may free it as soon as the call returns.
 * The ticker policy keeps the transaction queued until the flush, after the frees. */
static void test_inputs_are_copied(void) {
    char path[512];
    db_path(path, sizeof path, "copied");
    litecommit_options opts;
    litecommit_options_default(&opts, sizeof opts);
    opts.flush_policy = LITECOMMIT_FLUSH_TICKER;
    opts.max_wait_ms = 600000;
    litecommit_committer *db = NULL;
    OK(litecommit_open(path, &opts, &db));
    litecommit_statement create = {.sql = "CREATE TABLE cp (k TEXT, v BLOB)"};
    litecommit_pending *p = NULL;
    OK(litecommit_submit(db, &create, 1, &p));
    OK(litecommit_flush(db));
    litecommit_pending_free(&p);

    char *sql = strdup("INSERT INTO cp (k, v) VALUES (:k, :v)");
    char *text = strdup("key");
    char *blob = strdup("blob");
    const char **names = malloc(2 * sizeof *names);
    char *name_k = strdup(":k"), *name_v = strdup("v");
    names[0] = name_k;
    names[1] = name_v;
    litecommit_value *values = malloc(2 * sizeof *values);
    values[0] = text_value(text);
    values[1] = (litecommit_value){.type = LITECOMMIT_TYPE_BLOB, .ptr = blob, .len = 4};
    litecommit_statement *stmt = malloc(sizeof *stmt);
    *stmt = (litecommit_statement){.sql = sql, .params = values, .n_params = 2, .param_names = names};
    OK(litecommit_submit(db, stmt, 1, &p));
    memset(sql, 'x', strlen(sql));
    memset(text, 'x', strlen(text));
    memset(name_k, 'x', strlen(name_k));
    free(sql);
    free(text);
    free(blob);
    free(name_k);
    free(name_v);
    free(names);
    free(values);
    free(stmt);
    OK(litecommit_flush(db));
    litecommit_result *r = NULL;
    OK(litecommit_pending_wait(p, -1, &r));
    litecommit_result_free(&r);
    litecommit_pending_free(&p);
    CHECK(count_rows(db, "SELECT count(*) FROM cp WHERE k = 'key' AND v = CAST('blob' AS BLOB)") == 1);
    litecommit_committer_free(&db);
}

static void test_misc_and_close(void) {
    litecommit_committer *db = open_db("close");
    exec_sql(db, "CREATE TABLE m (k INTEGER PRIMARY KEY)");
    for (int i = 0; i < 5; i++) exec_sql(db, "INSERT INTO m VALUES (NULL)");

    OK(litecommit_flush(db));
    litecommit_checkpoint_result cr = {.log_frames = -5};
    OK(litecommit_checkpoint(db, LITECOMMIT_CHECKPOINT_TRUNCATE, &cr));
    CHECK(cr.busy == 0 && cr.log_frames >= 0);
    OK(litecommit_checkpoint(db, LITECOMMIT_CHECKPOINT_PASSIVE, NULL));
    char *text = NULL;
    OK(litecommit_metrics_text(db, &text));
    /* The db label is the file's name; every label value is there, at 0 until counted. */
    CHECK(text && strstr(text, "\nlitecommit_transactions_total{db=\"close.db\",outcome=\"committed\"} 6\n"));
    CHECK(text && strstr(text, "\nlitecommit_commit_latency_seconds_count{db=\"close.db\"} 6\n"));
    CHECK(text && strstr(text, "\nlitecommit_checkpoints_total{db=\"close.db\",mode=\"truncate\"} 1\n"));
    CHECK(text && strstr(text, "\nlitecommit_checkpoints_total{db=\"close.db\",mode=\"restart\"} 0\n"));
    litecommit_string_free(&text);
    CHECK(text == NULL);
    litecommit_string_free(&text);
    litecommit_string_free(NULL);

    /* A stats struct from an older caller: only its bytes are written. */
    unsigned char small[16];
    memset(small, 0xAB, sizeof small);
    OK(litecommit_get_stats(db, (litecommit_stats *)small, 8));
    CHECK(small[8] == 0xAB && small[15] == 0xAB);
    uint64_t committed = 0;
    memcpy(&committed, small, sizeof committed);
    CHECK(committed == 6);

    /* try_submit, a pending handle never waited on, and a timed wait. */
    litecommit_statement ins = {.sql = "INSERT INTO m VALUES (NULL)"};
    litecommit_pending *p = NULL;
    OK(litecommit_try_submit(db, &ins, 1, &p));
    litecommit_pending_free(&p);
    OK(litecommit_submit(db, &ins, 1, &p));
    litecommit_result *r = NULL;
    litecommit_status st = litecommit_pending_wait(p, 60000, &r);
    CHECK(st == LITECOMMIT_OK && r != NULL);
    litecommit_result_free(&r);
    litecommit_pending_free(&p);
    litecommit_pending_free(&p);
    CHECK(litecommit_pending_wait(NULL, 0, &r) == LITECOMMIT_INVALID_ARGUMENT);

    /* A transaction submitted right before close still commits. */
    OK(litecommit_submit(db, &ins, 1, &p));
    OK(litecommit_close(db));
    OK(litecommit_pending_wait(p, -1, &r));
    litecommit_result_free(&r);
    litecommit_pending_free(&p);

    /* Close is idempotent; everything else after close is LITECOMMIT_CLOSED. */
    OK(litecommit_close(db));
    CHECK(litecommit_execute(db, &ins, 1, &r) == LITECOMMIT_CLOSED);
    litecommit_error_info e;
    litecommit_last_error(&e);
    CHECK(strcmp(e.code_name, "LITECOMMIT_CLOSED") == 0);
    CHECK(litecommit_submit(db, &ins, 1, &p) == LITECOMMIT_CLOSED && p == NULL);
    CHECK(litecommit_submit_callback(db, &ins, 1, on_done, NULL) == LITECOMMIT_CLOSED);
    litecommit_statement q = {.sql = "SELECT 1"};
    litecommit_rows *rows = NULL;
    CHECK(litecommit_query(db, &q, &rows) == LITECOMMIT_CLOSED && rows == NULL);
    CHECK(litecommit_flush(db) == LITECOMMIT_CLOSED);
    CHECK(litecommit_checkpoint(db, LITECOMMIT_CHECKPOINT_PASSIVE, NULL) == LITECOMMIT_CLOSED);
    CHECK(litecommit_metrics_text(db, &text) == LITECOMMIT_CLOSED);
    litecommit_stats stats;
    CHECK(litecommit_get_stats(db, &stats, sizeof stats) == LITECOMMIT_CLOSED);
    litecommit_completion_queue *cq = NULL;
    OK(litecommit_completion_queue_new(&cq));
    CHECK(litecommit_submit_queue(db, &ins, 1, cq, 0, 1) == LITECOMMIT_CLOSED);
    litecommit_completion_queue_free(&cq);
    litecommit_committer_free(&db);
    CHECK(db == NULL);
    litecommit_committer_free(&db); /* double free through the variable: no-op */
    litecommit_committer_free(NULL);
    CHECK(litecommit_close(NULL) == LITECOMMIT_INVALID_ARGUMENT);

    /* Reopen: everything committed before close is there. */
    db = open_db("close");
    CHECK(count_rows(db, "SELECT count(*) FROM m") == 8);
    litecommit_committer_free(&db); /* free without close: closes */
}

/* The count of t inside a snapshot, or -1. */
static int64_t snapshot_count(const litecommit_snapshot *snap) {
    litecommit_statement s = {.sql = "SELECT count(*) FROM t"};
    litecommit_rows *rows = NULL;
    int64_t n = -1;
    if (litecommit_snapshot_query(snap, &s, &rows) == LITECOMMIT_OK) {
        litecommit_value v;
        if (litecommit_rows_value(rows, 0, 0, &v) == LITECOMMIT_OK && v.type == LITECOMMIT_TYPE_INTEGER)
            n = v.i;
    }
    litecommit_rows_free(&rows);
    return n;
}

static void test_snapshots(void) {
    litecommit_committer *db = open_db("snapshots");
    exec_sql(db, "CREATE TABLE t (v INTEGER)");
    exec_sql(db, "INSERT INTO t VALUES (1)");

    /* A write that commits after the begin is not seen inside the snapshot, even by its
     * first query; it is seen outside. */
    litecommit_snapshot *snap = NULL;
    OK(litecommit_snapshot_begin(db, &snap));
    CHECK(snap != NULL);
    exec_sql(db, "INSERT INTO t VALUES (2)");
    CHECK(snapshot_count(snap) == 1);
    CHECK(count_rows(db, "SELECT count(*) FROM t") == 2);

    /* Parameters, and declared types on a snapshot's rows. */
    litecommit_value p = int_value(1);
    litecommit_statement qs = {.sql = "SELECT v, v * 2 FROM t WHERE v >= ?", .params = &p, .n_params = 1};
    litecommit_rows *rows = NULL;
    OK(litecommit_snapshot_query(snap, &qs, &rows));
    size_t cols = 0, nrows = 0;
    OK(litecommit_rows_size(rows, &cols, &nrows));
    CHECK(cols == 2 && nrows == 1);
    const char *decl = NULL;
    OK(litecommit_rows_column_decltype(rows, 0, &decl));
    CHECK(decl && strcmp(decl, "INTEGER") == 0);
    litecommit_rows_free(&rows);

    /* Errors: the snapshot goes on after them. */
    litecommit_statement commit = {.sql = "COMMIT"};
    CHECK(litecommit_snapshot_query(snap, &commit, &rows) == LITECOMMIT_REFUSED && rows == NULL);
    litecommit_statement bad = {.sql = "SELECT nope FROM t"};
    CHECK(litecommit_snapshot_query(snap, &bad, &rows) == LITECOMMIT_SQLITE_ERROR && rows == NULL);
    litecommit_error_info e;
    litecommit_last_error(&e);
    CHECK(strstr(e.message, "nope") != NULL);
    CHECK(snapshot_count(snap) == 1);

    /* NULL pointers. */
    litecommit_statement one = {.sql = "SELECT 1"};
    litecommit_snapshot *none = NULL;
    CHECK(litecommit_snapshot_begin(NULL, &none) == LITECOMMIT_INVALID_ARGUMENT && none == NULL);
    litecommit_last_error(&e);
    CHECK(strstr(e.message, "db is NULL") != NULL);
    CHECK(litecommit_snapshot_begin(db, NULL) == LITECOMMIT_INVALID_ARGUMENT);
    CHECK(litecommit_snapshot_query(NULL, &one, &rows) == LITECOMMIT_INVALID_ARGUMENT && rows == NULL);
    litecommit_last_error(&e);
    CHECK(strstr(e.message, "snapshot is NULL") != NULL);
    CHECK(litecommit_snapshot_query(snap, NULL, &rows) == LITECOMMIT_INVALID_ARGUMENT && rows == NULL);
    CHECK(litecommit_snapshot_query(snap, &one, NULL) == LITECOMMIT_INVALID_ARGUMENT);
    litecommit_snapshot_free(NULL);
    litecommit_snapshot_free(&none);

    /* Freed: it sets the variable to NULL; a second free through it is a no-op. A new
     * snapshot sees everything committed before it. */
    litecommit_snapshot_free(&snap);
    CHECK(snap == NULL);
    litecommit_snapshot_free(&snap);
    OK(litecommit_snapshot_begin(db, &snap));
    CHECK(snapshot_count(snap) == 2);

    /* Close does not wait for an open snapshot; its queries then fail with CLOSED, a new
     * snapshot cannot begin, and it is still freed. */
    OK(litecommit_close(db));
    CHECK(litecommit_snapshot_query(snap, &one, &rows) == LITECOMMIT_CLOSED && rows == NULL);
    litecommit_last_error(&e);
    CHECK(strcmp(e.code_name, "LITECOMMIT_CLOSED") == 0);
    CHECK(litecommit_snapshot_begin(db, &none) == LITECOMMIT_CLOSED && none == NULL);
    litecommit_snapshot_free(&snap);
    CHECK(snap == NULL);
    /* The WAL is gone: the snapshot's connection closed before the writer's. */
    char wal[600];
    db_path(wal, sizeof wal - 4, "snapshots");
    strcat(wal, "-wal");
    CHECK(access(wal, F_OK) != 0);

    /* A snapshot freed after its committer was closed and freed. */
    litecommit_committer_free(&db);
    db = open_db("snapshots");
    OK(litecommit_snapshot_begin(db, &snap));
    litecommit_committer_free(&db);
    CHECK(litecommit_snapshot_query(snap, &one, &rows) == LITECOMMIT_CLOSED);
    litecommit_snapshot_free(&snap);
}

static void test_decltypes(void) {
    litecommit_committer *db = open_db("decltypes");
    exec_sql(db, "CREATE TABLE t (id INTEGER PRIMARY KEY, at DATETIME, d date, n)");
    exec_sql(db, "INSERT INTO t (at, d, n) VALUES ('2024-01-02 03:04:05', '2024-01-02', 1)");
    litecommit_statement q = {.sql = "SELECT id, at, d, n, id + 1, count(*) FROM t"};
    litecommit_rows *rows = NULL;
    OK(litecommit_query(db, &q, &rows));
    const char *want[] = {"INTEGER", "DATETIME", "date", NULL, NULL, NULL};
    for (size_t i = 0; i < 6; i++) {
        const char *decl = "unset";
        OK(litecommit_rows_column_decltype(rows, i, &decl));
        CHECK(want[i] ? decl && strcmp(decl, want[i]) == 0 : decl == NULL);
    }
    const char *decl = "unset";
    CHECK(litecommit_rows_column_decltype(rows, 6, &decl) == LITECOMMIT_INVALID_ARGUMENT);
    CHECK(strcmp(decl, "unset") == 0);
    CHECK(litecommit_rows_column_decltype(rows, 0, NULL) == LITECOMMIT_INVALID_ARGUMENT);
    CHECK(litecommit_rows_column_decltype(NULL, 0, &decl) == LITECOMMIT_INVALID_ARGUMENT);
    litecommit_error_info e;
    litecommit_last_error(&e);
    CHECK(strstr(e.message, "rows is NULL") != NULL);
    litecommit_rows_free(&rows);

    /* The rows of a RETURNING clause, owned by the result. */
    litecommit_statement ins = {.sql = "INSERT INTO t (at) VALUES ('now') RETURNING at, 'x'"};
    litecommit_result *r = NULL;
    OK(litecommit_execute(db, &ins, 1, &r));
    litecommit_statement_result sr;
    OK(litecommit_result_statement(r, 0, &sr));
    OK(litecommit_rows_column_decltype(sr.rows, 0, &decl));
    CHECK(decl && strcmp(decl, "DATETIME") == 0);
    OK(litecommit_rows_column_decltype(sr.rows, 1, &decl));
    CHECK(decl == NULL);
    litecommit_result_free(&r);
    /* No result columns: every column index is out of range. */
    litecommit_statement upd = {.sql = "UPDATE t SET n = 2"};
    OK(litecommit_execute(db, &upd, 1, &r));
    OK(litecommit_result_statement(r, 0, &sr));
    CHECK(litecommit_rows_column_decltype(sr.rows, 0, &decl) == LITECOMMIT_INVALID_ARGUMENT);
    litecommit_result_free(&r);
    litecommit_committer_free(&db);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/litecommit-c-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 2;
    }
    test_options();
    test_values_and_results();
    test_errors();
    test_threads();
    test_callbacks();
    test_order_per_thread();
    test_backpressure();
    test_queue();
    test_inputs_are_copied();
    test_snapshots();
    test_decltypes();
    test_misc_and_close();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    printf("c: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
