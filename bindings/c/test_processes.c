/* Process-level tests of the litecommit ABI: a forked child, a database locked by another
 * process, and writers killed with SIGKILL. `make test-ffi` runs this program natively
 * (not under valgrind, which would follow the forks and the killed children).
 *
 * Environment: LITECOMMIT_KILL_ROUNDS (default 10) and LITECOMMIT_KILL_SEED (default: from
 * the clock, printed so that a failure can be replayed). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "litecommit.h"

static int passed, failed;

#include "check.h"

/* Generous bound for waits on events that must happen; only a stuck process reaches it. */
#define PATIENCE_MS 60000

static char dir[256];

static void db_path(char *out, size_t n, const char *name) {
    snprintf(out, n, "%s/%s.db", dir, name);
}

static litecommit_value int_value(int64_t i) {
    litecommit_value v = {.type = LITECOMMIT_TYPE_INTEGER, .i = i};
    return v;
}

static int64_t query_int(litecommit_committer *db, const char *sql) {
    litecommit_statement s = {.sql = sql};
    litecommit_rows *rows = NULL;
    int64_t n = -1;
    litecommit_value v;
    if (litecommit_query(db, &s, &rows) == LITECOMMIT_OK &&
        litecommit_rows_value(rows, 0, 0, &v) == LITECOMMIT_OK && v.type == LITECOMMIT_TYPE_INTEGER)
        n = v.i;
    litecommit_rows_free(&rows);
    return n;
}

static int integrity_ok(litecommit_committer *db) {
    litecommit_statement s = {.sql = "PRAGMA integrity_check"};
    litecommit_rows *rows = NULL;
    litecommit_value v;
    int ok = litecommit_query(db, &s, &rows) == LITECOMMIT_OK &&
             litecommit_rows_value(rows, 0, 0, &v) == LITECOMMIT_OK &&
             v.type == LITECOMMIT_TYPE_TEXT && strcmp((const char *)v.ptr, "ok") == 0;
    litecommit_rows_free(&rows);
    return ok;
}

/* Waits for `pid` to exit and returns its wait status; a child still running after
 * PATIENCE_MS is stuck: it is killed and -1 returned. The wait is an event (pidfd). */
static int wait_child(pid_t pid) {
    int status = 0;
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pidfd >= 0) {
        struct pollfd pfd = {.fd = pidfd, .events = POLLIN};
        int ready;
        while ((ready = poll(&pfd, 1, PATIENCE_MS)) < 0 && errno == EINTR) {
        }
        close(pidfd);
        if (ready == 0) {
            fprintf(stderr, "child %d is stuck: killing it\n", (int)pid);
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
    }
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return -1;
    return status;
}

/* ---- a forked child: every call fails at once, the parent is unaffected ---- */

static int child_failures;

#define CHILD_FORKED(call)                                                       \
    do {                                                                         \
        litecommit_status st_ = (call);                                          \
        litecommit_error_info e_;                                                \
        litecommit_last_error(&e_);                                              \
        if (st_ != LITECOMMIT_FORKED || strcmp(e_.code_name, "LITECOMMIT_FORKED") != 0 || \
            strstr(e_.message, parent_pid) == NULL) {                            \
            child_failures++;                                                    \
            fprintf(stderr, "forked child: %s returned %s (%s)\n", #call,        \
                    litecommit_status_name(st_), e_.message);                    \
        }                                                                        \
    } while (0)

static void never_called(void *user_data, litecommit_result *result) {
    (void)user_data;
    litecommit_result_free(&result);
}

static void forked_child(litecommit_committer *db, litecommit_pending *pending,
                         litecommit_completion_queue *q) {
    char parent_pid[32];
    snprintf(parent_pid, sizeof parent_pid, "%d", (int)getppid());
    litecommit_statement ins = {.sql = "INSERT INTO f VALUES (-1)"};
    litecommit_statement sel = {.sql = "SELECT count(*) FROM f"};
    litecommit_result *r = NULL;
    litecommit_pending *p = NULL;
    litecommit_rows *rows = NULL;
    char *text = NULL;
    litecommit_stats stats;
    litecommit_completion buf[4];
    size_t n = 0;
    CHILD_FORKED(litecommit_execute(db, &ins, 1, &r));
    CHILD_FORKED(litecommit_submit(db, &ins, 1, &p));
    CHILD_FORKED(litecommit_try_submit(db, &ins, 1, &p));
    CHILD_FORKED(litecommit_submit_callback(db, &ins, 1, never_called, NULL));
    CHILD_FORKED(litecommit_submit_queue(db, &ins, 1, q, 1, 1));
    CHILD_FORKED(litecommit_query(db, &sel, &rows));
    CHILD_FORKED(litecommit_flush(db));
    CHILD_FORKED(litecommit_checkpoint(db, LITECOMMIT_CHECKPOINT_PASSIVE, NULL));
    CHILD_FORKED(litecommit_metrics_text(db, &text));
    CHILD_FORKED(litecommit_get_stats(db, &stats, sizeof stats));
    CHILD_FORKED(litecommit_pending_wait(pending, -1, &r));
    CHILD_FORKED(litecommit_completion_queue_poll(q, buf, 4, -1, &n));
    CHILD_FORKED(litecommit_close(db));
    if (r || p || rows || text || n) child_failures++;
    /* Freeing in the child releases nothing of the parent's and returns at once. */
    litecommit_pending_free(&pending);
    litecommit_completion_queue_free(&q);
    litecommit_committer_free(&db);
    if (db || pending || q) child_failures++;
}

static void test_forked_child(void) {
    char path[512];
    db_path(path, sizeof path, "forked");
    litecommit_committer *db = NULL;
    OK(litecommit_open(path, NULL, &db));
    exec_sql(db, "CREATE TABLE f (x INTEGER)");
    exec_sql(db, "INSERT INTO f VALUES (1)");
    litecommit_completion_queue *q = NULL;
    OK(litecommit_completion_queue_new(&q));
    litecommit_statement ins = {.sql = "INSERT INTO f VALUES (2)"};
    litecommit_pending *pending = NULL;
    OK(litecommit_submit(db, &ins, 1, &pending));

    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        forked_child(db, pending, q);
        _exit(child_failures == 0 ? 0 : 1);
    }
    int status = wait_child(pid);
    CHECK(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0);

    /* The parent is unaffected: its pending transaction, new work, close. */
    litecommit_result *r = NULL;
    OK(litecommit_pending_wait(pending, -1, &r));
    litecommit_result_free(&r);
    litecommit_pending_free(&pending);
    litecommit_statement ins3 = {.sql = "INSERT INTO f VALUES (3)"};
    OK(litecommit_submit_queue(db, &ins3, 1, q, 3, 1));
    litecommit_completion c;
    size_t n = 0;
    OK(litecommit_completion_queue_poll(q, &c, 1, PATIENCE_MS, &n));
    CHECK(n == 1 && c.token == 3 && c.status == LITECOMMIT_OK);
    litecommit_completions_free(&c, n);
    CHECK(query_int(db, "SELECT count(*) FROM f WHERE x > 0") == 3);
    CHECK(query_int(db, "SELECT count(*) FROM f WHERE x < 0") == 0);
    OK(litecommit_close(db));
    litecommit_completion_queue_free(&q);
    litecommit_committer_free(&db);
}

/* ---- a database locked by another process: SQLITE_BUSY ---- */

/* SQLite's lock bytes start at 2^30 (PENDING_BYTE); a write lock over them and the shared
 * range after them is what an exclusive (writing) SQLite connection holds. */
#define SQLITE_LOCK_START 0x40000000L
#define SQLITE_LOCK_LEN 512

static void test_locked_database(void) {
    char path[512];
    db_path(path, sizeof path, "locked");
    int ready[2], release[2];
    CHECK(pipe(ready) == 0 && pipe(release) == 0);
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        close(ready[0]);
        close(release[1]);
        int fd = open(path, O_RDWR | O_CREAT, 0644);
        struct flock lk = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = SQLITE_LOCK_START,
                           .l_len = SQLITE_LOCK_LEN};
        char ok = fd >= 0 && fcntl(fd, F_SETLK, &lk) == 0 ? 'y' : 'n';
        if (write(ready[1], &ok, 1) != 1) _exit(2);
        char c;
        while (read(release[0], &c, 1) > 0) {
        }
        _exit(0);
    }
    close(ready[1]);
    close(release[0]);
    char ok = 0;
    CHECK(read(ready[0], &ok, 1) == 1 && ok == 'y');

    litecommit_options opts;
    litecommit_options_default(&opts, sizeof opts);
    opts.busy_timeout_ms = 100;
    litecommit_committer *db = NULL;
    CHECK(litecommit_open(path, &opts, &db) == LITECOMMIT_SQLITE_ERROR && db == NULL);
    litecommit_error_info e;
    OK(litecommit_last_error(&e));
    CHECK(e.status == LITECOMMIT_SQLITE_ERROR && e.sqlite_code == 5);
    CHECK(strncmp(e.code_name, "SQLITE_BUSY", 11) == 0);
    litecommit_committer_free(&db);

    /* Once the other process lets go, the same open succeeds. */
    close(release[1]);
    close(ready[0]);
    int status = wait_child(pid);
    CHECK(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    OK(litecommit_open(path, &opts, &db));
    litecommit_committer_free(&db);
}

/* ---- SIGKILL while writing: every acknowledged transaction survives ---- */

#define WRITER_THREADS 8

struct writer_arg {
    litecommit_committer *db;
    int fd;
    int64_t first_id;
};

/* Commits transactions of two rows (a and b get the same id) forever; after each commit
 * writes the id to the pipe: an acknowledgement the parent holds the database to. */
static void *writer_thread(void *p) {
    struct writer_arg *a = p;
    for (int64_t id = a->first_id;; id++) {
        litecommit_value v = int_value(id);
        litecommit_statement tx[] = {
            {.sql = "INSERT INTO a (id) VALUES (?)", .params = &v, .n_params = 1},
            {.sql = "INSERT INTO b (id, pad) VALUES (?, randomblob(300))", .params = &v,
             .n_params = 1},
        };
        litecommit_result *r = NULL;
        if (litecommit_execute(a->db, tx, 2, &r) != LITECOMMIT_OK) _exit(3);
        litecommit_result_free(&r);
        if (write(a->fd, &id, sizeof id) != (ssize_t)sizeof id) _exit(4);
    }
    return NULL;
}

/* The child (this program re-executed): writes until it is killed. */
static int writer_main(const char *path, int fd, int64_t round) {
    litecommit_options opts;
    litecommit_options_default(&opts, sizeof opts);
    opts.durability = LITECOMMIT_DURABILITY_FULL;
    litecommit_committer *db = NULL;
    if (litecommit_open(path, &opts, &db) != LITECOMMIT_OK) return 5;
    pthread_t t[WRITER_THREADS];
    struct writer_arg args[WRITER_THREADS];
    for (int i = 0; i < WRITER_THREADS; i++) {
        args[i] = (struct writer_arg){.db = db, .fd = fd,
                                      .first_id = round * 1000000000LL + i * 10000000LL};
        if (pthread_create(&t[i], NULL, writer_thread, &args[i]) != 0) return 6;
    }
    for (int i = 0; i < WRITER_THREADS; i++) pthread_join(t[i], NULL);
    return 7;
}

static int cmp_i64(const void *x, const void *y) {
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return (a > b) - (a < b);
}

/* Reads acknowledgements until `want` arrived (then kills the child) and until EOF. */
static int64_t *collect_acks(int fd, pid_t pid, size_t want, size_t *n_out, int *killed) {
    size_t n = 0, cap = 1024, partial = 0;
    int64_t *acks = malloc(cap * sizeof *acks);
    unsigned char buf[4096];
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int ready = poll(&pfd, 1, PATIENCE_MS);
        if (ready == 0) {
            fprintf(stderr, "the writer sent nothing for %d ms: killing it\n", PATIENCE_MS);
            kill(pid, SIGKILL);
            break;
        }
        if (ready < 0) {
            if (errno == EINTR) continue;
            break;
        }
        ssize_t got = read(fd, buf + partial, sizeof buf - partial);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break;
        size_t have = partial + (size_t)got;
        size_t whole = have / sizeof(int64_t);
        for (size_t i = 0; i < whole; i++) {
            if (n == cap) acks = realloc(acks, (cap *= 2) * sizeof *acks);
            memcpy(&acks[n++], buf + i * sizeof(int64_t), sizeof(int64_t));
        }
        partial = have - whole * sizeof(int64_t);
        memmove(buf, buf + whole * sizeof(int64_t), partial);
        if (!*killed && n >= want) {
            kill(pid, SIGKILL);
            *killed = 1;
        }
    }
    *n_out = n;
    return acks;
}

static void test_kill_during_writes(const char *self) {
    const char *env_rounds = getenv("LITECOMMIT_KILL_ROUNDS");
    const char *env_seed = getenv("LITECOMMIT_KILL_SEED");
    int rounds = env_rounds ? atoi(env_rounds) : 10;
    unsigned seed = env_seed ? (unsigned)strtoul(env_seed, NULL, 10) : (unsigned)time(NULL);
    srand(seed);
    char path[512];
    db_path(path, sizeof path, "killed");
    litecommit_committer *db = NULL;
    OK(litecommit_open(path, NULL, &db));
    exec_sql(db, "CREATE TABLE a (id INTEGER PRIMARY KEY)");
    exec_sql(db, "CREATE TABLE b (id INTEGER PRIMARY KEY, pad BLOB)");
    litecommit_committer_free(&db);

    size_t checked = 0, lost = 0;
    for (int round = 1; round <= rounds; round++) {
        int fds[2];
        CHECK(pipe(fds) == 0);
        /* Kill after a random number of acknowledgements: a random point in the stream of
         * commits (mid-batch, mid-fsync, mid-checkpoint alike). */
        size_t want = 1 + (size_t)(rand() % 1500);
        fflush(NULL);
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            char fd_arg[16], round_arg[16];
            snprintf(fd_arg, sizeof fd_arg, "%d", fds[1]);
            snprintf(round_arg, sizeof round_arg, "%d", round);
            execl(self, self, "--writer", path, fd_arg, round_arg, (char *)NULL);
            _exit(127);
        }
        close(fds[1]);
        size_t n = 0;
        int killed = 0;
        int64_t *acks = collect_acks(fds[0], pid, want, &n, &killed);
        close(fds[0]);
        int status = wait_child(pid);
        CHECK(killed && n >= want);
        CHECK(status >= 0 && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

        /* Reopen: every acknowledged id is there, in both tables; nothing half-applied. */
        OK(litecommit_open(path, NULL, &db));
        litecommit_statement q = {.sql = "SELECT a.id FROM a JOIN b USING (id) ORDER BY a.id"};
        litecommit_rows *rows = NULL;
        OK(litecommit_query(db, &q, &rows));
        size_t cols = 0, have = 0;
        OK(litecommit_rows_size(rows, &cols, &have));
        int64_t *ids = malloc((have + 1) * sizeof *ids);
        for (size_t i = 0; i < have; i++) {
            litecommit_value v;
            ids[i] = litecommit_rows_value(rows, i, 0, &v) == LITECOMMIT_OK ? v.i : -1;
        }
        litecommit_rows_free(&rows);
        size_t missing = 0;
        for (size_t i = 0; i < n; i++)
            if (!bsearch(&acks[i], ids, have, sizeof *ids, cmp_i64)) missing++;
        CHECK(missing == 0);
        CHECK(query_int(db, "SELECT count(*) FROM a") == (int64_t)have);
        CHECK(query_int(db, "SELECT count(*) FROM b") == (int64_t)have);
        CHECK(integrity_ok(db));
        litecommit_committer_free(&db);
        checked += n;
        lost += missing;
        free(ids);
        free(acks);
    }
    printf("c kill -9: seed %u, %d rounds, %zu acknowledged transactions checked, %zu lost\n", seed,
           rounds, checked, lost);
}

int main(int argc, char **argv) {
    if (argc == 5 && strcmp(argv[1], "--writer") == 0)
        return writer_main(argv[2], atoi(argv[3]), strtoll(argv[4], NULL, 10));
    snprintf(dir, sizeof dir, "/tmp/litecommit-c-processes-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 2;
    }
    char self[4096];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0) {
        perror("readlink /proc/self/exe");
        return 2;
    }
    self[len] = 0;
    test_locked_database();
    test_forked_child();
    test_kill_during_writes(self);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    printf("c processes: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
