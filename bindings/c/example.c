/* The README's C example: open, create a table, insert with RETURNING, query, close.
 * Build: cc example.c $(pkg-config --cflags --libs litecommit) after `make install`, or in the
 * source tree: cc -I include example.c target/release/liblitecommit.a -lpthread -ldl -lm -lrt */
#include <stdio.h>
#include <string.h>

#include "litecommit.h"

static int fail(const char *what) {
    litecommit_error_info e;
    litecommit_last_error(&e);
    fprintf(stderr, "%s: %s (%s, extended code %d, statement %lld)\n", what, e.message,
            e.code_name, e.extended_code, (long long)e.statement_index);
    return 1;
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "example.db";
    litecommit_options opts;
    litecommit_options_default(&opts, sizeof opts);
    opts.durability = LITECOMMIT_DURABILITY_FULL; /* the default: fsync per batch */

    litecommit_committer *db = NULL;
    if (litecommit_open(path, &opts, &db) != LITECOMMIT_OK) return fail("open");

    litecommit_statement create = {
        .sql = "CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v INTEGER)"};
    litecommit_result *res = NULL;
    if (litecommit_execute(db, &create, 1, &res) != LITECOMMIT_OK) return fail("create");
    litecommit_result_free(&res);

    /* One transaction of two statements, with typed parameters; durable on return. */
    litecommit_value a[] = {
        {.type = LITECOMMIT_TYPE_TEXT, .ptr = "a", .len = 1},
        {.type = LITECOMMIT_TYPE_INTEGER, .i = 1},
    };
    litecommit_value b[] = {
        {.type = LITECOMMIT_TYPE_TEXT, .ptr = "b", .len = 1},
        {.type = LITECOMMIT_TYPE_INTEGER, .i = 2},
    };
    litecommit_statement tx[] = {
        {.sql = "INSERT OR REPLACE INTO kv VALUES (?, ?)", .params = a, .n_params = 2},
        {.sql = "INSERT OR REPLACE INTO kv VALUES (?, ?) RETURNING k, v", .params = b, .n_params = 2},
    };
    if (litecommit_execute(db, tx, 2, &res) != LITECOMMIT_OK) return fail("insert");
    litecommit_statement_result second;
    litecommit_result_statement(res, 1, &second);
    litecommit_value v;
    litecommit_rows_value(second.rows, 0, 1, &v);
    printf("inserted rowid %lld, RETURNING v = %lld\n", (long long)second.last_insert_rowid,
           (long long)v.i);
    litecommit_result_free(&res);

    litecommit_statement count = {.sql = "SELECT count(*) AS n FROM kv"};
    litecommit_rows *rows = NULL;
    if (litecommit_query(db, &count, &rows) != LITECOMMIT_OK) return fail("query");
    const char *name;
    litecommit_rows_column_name(rows, 0, &name);
    litecommit_rows_value(rows, 0, 0, &v);
    printf("%s = %lld\n", name, (long long)v.i);
    litecommit_rows_free(&rows);

    if (litecommit_close(db) != LITECOMMIT_OK) return fail("close");
    litecommit_committer_free(&db);
    return 0;
}
