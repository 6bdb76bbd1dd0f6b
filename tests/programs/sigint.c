/* SIGINT from outside: the program installs a handler, says it is ready and sleeps in a loop
 * until the handler has run; then it exits 0. Without "handle" it installs nothing and SIGINT
 * ends it (exit 130 in a shell). With "thread", a second thread spins reading the clock (a
 * system call each time) while the main thread blocks in read(): as on Linux, the signal sent
 * to the process interrupts the main thread's read (EINTR), whose handler runs. The thread
 * says it is ready 200 ms after it starts, when the main thread is blocked, and writes to the
 * pipe after 5 s, so a signal taken by the wrong thread shows as "read: data".
 * Run by tests/c_guests.rs natively and as WASIX. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t got;

static void on_int(int sig) { got = sig; }

static int pipefd[2];
static volatile sig_atomic_t done;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void *sleeper(void *arg) {
    (void)arg;
    double start = now();
    int said = 0;
    while (!done && now() - start < 5) {
        if (!said && now() - start > 0.2) {
            printf("ready\n");
            fflush(stdout);
            said = 1;
        }
    }
    if (!done && write(pipefd[1], "x", 1) != 1) perror("write");
    return NULL;
}

int main(int argc, char **argv) {
    int thread = argc > 1 && strcmp(argv[1], "thread") == 0;
    if (argc > 1 && (thread || strcmp(argv[1], "handle") == 0)) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_int;
        if (sigaction(SIGINT, &sa, 0) != 0) {
            perror("sigaction");
            return 1;
        }
    }
    if (thread) {
        pthread_t t;
        if (pipe(pipefd) != 0 || pthread_create(&t, NULL, sleeper, NULL) != 0) {
            perror("pipe/pthread_create");
            return 1;
        }
        char c;
        ssize_t n = read(pipefd[0], &c, 1);
        printf("read: %s\n", n == 1 ? "data" : n < 0 && errno == EINTR ? "EINTR" : "other");
        done = 1;
        pthread_join(t, NULL);
    } else {
        printf("ready\n");
        fflush(stdout);
        for (int i = 0; i < 1000 && !got; i++) usleep(10000);
    }
    printf("handled signal %d\n", (int)got);
    return got == SIGINT ? 0 : 1;
}
