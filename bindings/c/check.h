/* What the C test programs share: the CHECK/OK macros, which count passes and failures and
 * print each failure with the library's last error (each program defines `passed` and
 * `failed`), and exec_sql. */
#ifndef LITECOMMIT_TEST_CHECK_H
#define LITECOMMIT_TEST_CHECK_H

#include <stdio.h>

#include "litecommit.h"

#define CHECK(cond)                                                              \
    do {                                                                         \
        if (cond) {                                                              \
            passed++;                                                            \
        } else {                                                                 \
            failed++;                                                            \
            litecommit_error_info e_;                                            \
            litecommit_last_error(&e_);                                          \
            fprintf(stderr, "%s:%d: CHECK(%s) failed (last error: %s: %s)\n",    \
                    __FILE__, __LINE__, #cond, e_.code_name, e_.message);        \
        }                                                                        \
    } while (0)

#define OK(call) CHECK((call) == LITECOMMIT_OK)

/* Runs one statement as a transaction, checking that it commits. */
static void exec_sql(litecommit_committer *db, const char *sql) {
    litecommit_statement s = {.sql = sql};
    litecommit_result *r = NULL;
    OK(litecommit_execute(db, &s, 1, &r));
    litecommit_result_free(&r);
}

#endif
