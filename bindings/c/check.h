/* The CHECK/OK macros shared by the C test programs: count passes and failures, and print
 * each failure with the library's last error. Each program defines `passed` and `failed`. */
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

#endif
