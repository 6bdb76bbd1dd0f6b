/* pthreads as a real program uses them: a mutex-guarded counter on 8 threads, a work queue
 * under a condition variable, results passed through pthread_exit and pthread_join,
 * thread-local storage, a detached thread, and the ends of a program with threads.
 * Run by tests/c_guests.rs natively and as WASIX; both must print the same.
 *
 * Modes (argv[1]):
 *   (none)       everything above, exact totals
 *   exit-thread  a thread calls exit(7) while main waits in pthread_join: exit status 7
 *   main-exit    main calls pthread_exit; a worker prints after it; exit status 0
 *   limit N      tries to start N threads that wait on a condition variable; prints how
 *                many started and the first error (wasix-rt --max-threads)
 *   trap         a thread executes an invalid instruction (wasix-rt: exit 3, not compared)
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define THREADS 8
#define ROUNDS 100000
#define ITEMS 1000
#define WORKERS 4

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long counter;

static void *count(void *arg) {
    for (int i = 0; i < ROUNDS; i++) {
        pthread_mutex_lock(&lock);
        counter++;
        pthread_mutex_unlock(&lock);
    }
    return arg;
}

/* The work queue: main pushes ITEMS numbers then one 0 per worker (stop). */
static pthread_mutex_t qlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t qcond = PTHREAD_COND_INITIALIZER;
static long queue[ITEMS + WORKERS];
static int qhead, qtail;
static long total;

static void *worker(void *arg) {
    long done = 0;
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&qlock);
        while (qhead == qtail)
            pthread_cond_wait(&qcond, &qlock);
        long item = queue[qhead++];
        pthread_mutex_unlock(&qlock);
        if (item == 0)
            break;
        pthread_mutex_lock(&lock);
        total += item;
        pthread_mutex_unlock(&lock);
        done++;
    }
    pthread_exit((void *)done);
}

static __thread int mine;

static void *tls(void *arg) {
    mine = (int)(long)arg;
    usleep(1000);
    return (void *)(long)(mine == (int)(long)arg);
}

static pthread_mutex_t dlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t dcond = PTHREAD_COND_INITIALIZER;
static int detached_ran;

static void *detached(void *arg) {
    (void)arg;
    pthread_mutex_lock(&dlock);
    detached_ran = 1;
    pthread_cond_signal(&dcond);
    pthread_mutex_unlock(&dlock);
    return NULL;
}

static void *exiter(void *arg) {
    (void)arg;
    usleep(10000);
    fflush(stdout);
    exit(7);
}

static void *late(void *arg) {
    (void)arg;
    usleep(20000);
    printf("the worker finished after main\n");
    fflush(stdout);
    return NULL;
}

static pthread_mutex_t hold = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t release = PTHREAD_COND_INITIALIZER;
static int released;

static void *waiter(void *arg) {
    (void)arg;
    pthread_mutex_lock(&hold);
    while (!released)
        pthread_cond_wait(&release, &hold);
    pthread_mutex_unlock(&hold);
    return NULL;
}

static void *trapper(void *arg) {
    (void)arg;
    __builtin_trap();
}

static int limit(int n) {
    pthread_t t[64];
    int started = 0, err = 0;
    if (n > 64)
        n = 64;
    for (int i = 0; i < n; i++) {
        err = pthread_create(&t[i], NULL, waiter, NULL);
        if (err)
            break;
        started++;
    }
    printf("started %d of %d threads; then: %s\n", started, n, err ? strerror(err) : "no error");
    pthread_mutex_lock(&hold);
    released = 1;
    pthread_cond_broadcast(&release);
    pthread_mutex_unlock(&hold);
    for (int i = 0; i < started; i++)
        pthread_join(t[i], NULL);
    printf("joined %d threads\n", started);
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *mode = argc > 1 ? argv[1] : "";
    pthread_t t[THREADS];

    if (strcmp(mode, "exit-thread") == 0) {
        printf("main waits\n");
        pthread_create(&t[0], NULL, exiter, NULL);
        pthread_join(t[0], NULL);
        printf("not reached\n");
        return 0;
    }
    if (strcmp(mode, "main-exit") == 0) {
        printf("main exits its thread\n");
        pthread_create(&t[0], NULL, late, NULL);
        pthread_exit(NULL);
    }
    if (strcmp(mode, "limit") == 0)
        return limit(argc > 2 ? atoi(argv[2]) : 4);
    if (strcmp(mode, "trap") == 0) {
        pthread_create(&t[0], NULL, trapper, NULL);
        pthread_join(t[0], NULL);
        printf("not reached\n");
        return 0;
    }

    long ids = 0;
    for (long i = 0; i < THREADS; i++)
        if (pthread_create(&t[i], NULL, count, (void *)(i + 1)) != 0)
            printf("pthread_create failed\n");
    for (int i = 0; i < THREADS; i++) {
        void *r;
        pthread_join(t[i], &r);
        ids += (long)r;
    }
    printf("counter: %ld (expected %d), joined results: %ld\n", counter, THREADS * ROUNDS, ids);

    for (int i = 0; i < WORKERS; i++)
        pthread_create(&t[i], NULL, worker, NULL);
    for (int i = 1; i <= ITEMS + WORKERS; i++) {
        pthread_mutex_lock(&qlock);
        queue[qtail++] = i <= ITEMS ? i : 0;
        pthread_cond_signal(&qcond);
        pthread_mutex_unlock(&qlock);
    }
    long items = 0;
    for (int i = 0; i < WORKERS; i++) {
        void *r;
        pthread_join(t[i], &r);
        items += (long)r;
    }
    printf("work queue: %ld items, sum %ld (expected %d)\n", items, total, ITEMS * (ITEMS + 1) / 2);

    int ok = 0;
    for (long i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, tls, (void *)(i + 100));
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(t[i], &r);
        ok += (int)(long)r;
    }
    printf("thread-local values kept apart: %d of 4\n", ok);

    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_create(&t[0], &attr, detached, NULL);
    pthread_mutex_lock(&dlock);
    while (!detached_ran)
        pthread_cond_wait(&dcond, &dlock);
    pthread_mutex_unlock(&dlock);
    printf("detached thread ran: yes\n");
    return 0;
}
