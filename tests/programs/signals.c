/* Signals raised by the program itself: a sigaction handler runs, SIGCHLD is ignored by
 * default, abort() ends the program as SIGABRT does (exit 134 in a shell) and an unhandled
 * SIGTERM as SIGTERM does (143); kill() of its own pid; pthread_kill() of a thread blocked in
 * read() runs the handler and the read fails with EINTR. Run by tests/c_guests.rs natively
 * and as WASIX. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

static volatile sig_atomic_t got;

static void on_usr1(int sig) { got = sig; }

static volatile sig_atomic_t alarms;

static void on_alarm(int sig) {
    (void)sig;
    alarms++;
}

static int pipefd[2];
static volatile int reading;

static pthread_mutex_t cm = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int released;

/* Waits on a condition variable until main releases it. */
static void *cond_waiter(void *arg) {
    (void)arg;
    pthread_mutex_lock(&cm);
    reading = 1;
    while (!released)
        pthread_cond_wait(&cv, &cm);
    pthread_mutex_unlock(&cm);
    return NULL;
}

/* Blocks in read() until a signal interrupts it. */
static void *blocked_reader(void *arg) {
    char c;
    (void)arg;
    reading = 1;
    ssize_t n = read(pipefd[0], &c, 1);
    return (void *)(long)(n < 0 && errno == EINTR);
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "handler";
    if (strcmp(mode, "abort") == 0) {
        printf("aborting\n");
        fflush(stdout);
        abort();
    }
    if (strcmp(mode, "term") == 0) {
        printf("raising SIGTERM\n");
        fflush(stdout);
        raise(SIGTERM);
        printf("survived SIGTERM\n");
        return 1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    if (sigaction(SIGUSR1, &sa, 0) != 0) {
        perror("sigaction");
        return 1;
    }
    if (strcmp(mode, "timer") == 0) {
        /* A repeating interval timer (value = interval: wasix-libc's setitimer passes only
         * it_interval to the host), disarmed after three SIGALRMs. */
        struct sigaction al;
        memset(&al, 0, sizeof al);
        al.sa_handler = on_alarm;
        sigaction(SIGALRM, &al, 0);
        struct itimerval it = {{0, 20000}, {0, 20000}};
        setitimer(ITIMER_REAL, &it, 0);
        for (int i = 0; i < 400 && alarms < 3; i++)
            usleep(5000);
        struct itimerval off = {{0, 0}, {0, 0}};
        setitimer(ITIMER_REAL, &off, 0);
        int seen = alarms;
        usleep(100000);
        printf("SIGALRM arrived %d times, then none after disarming: %s\n", seen >= 3 ? 3 : seen,
               alarms == seen ? "yes" : "no");
        return 0;
    }
    if (strcmp(mode, "kill") == 0) {
        kill(getpid(), SIGUSR1);
        printf("kill(getpid()) reached the handler: %s\n", got == SIGUSR1 ? "yes" : "no");
        return 0;
    }
    if (strcmp(mode, "condwait") == 0) {
        /* pthread_kill reaches a thread asleep in pthread_cond_wait (a futex wait): its
         * handler runs while it waits, before main releases it. */
        pthread_t t;
        if (pthread_create(&t, NULL, cond_waiter, NULL) != 0)
            return 3;
        while (!reading)
            usleep(1000);
        usleep(50000);
        pthread_kill(t, SIGUSR1);
        for (int i = 0; i < 200 && !got; i++)
            usleep(5000);
        int ran = got == SIGUSR1;
        pthread_mutex_lock(&cm);
        released = 1;
        pthread_cond_signal(&cv);
        pthread_mutex_unlock(&cm);
        pthread_join(t, NULL);
        printf("the handler ran while the thread waited on a condition variable: %s\n",
               ran ? "yes" : "no");
        return 0;
    }
    if (strcmp(mode, "thread") == 0) {
        pthread_t t;
        void *interrupted;
        if (pipe(pipefd) != 0 || pthread_create(&t, NULL, blocked_reader, NULL) != 0)
            return 3;
        while (!reading)
            usleep(1000);
        usleep(50000); /* let it block in read() */
        pthread_kill(t, SIGUSR1);
        /* Should the signal have come before read() blocked, this ends the read (and the test
         * fails) instead of hanging. */
        usleep(100000);
        if (write(pipefd[1], "x", 1) != 1)
            return 4;
        pthread_join(t, &interrupted);
        printf("the blocked thread's handler ran: %s; its read failed with EINTR: %s\n",
               got == SIGUSR1 ? "yes" : "no", interrupted ? "yes" : "no");
        return 0;
    }
    raise(SIGUSR1);
    printf("the handler saw signal %d\n", (int)got);
    raise(SIGCHLD);
    printf("SIGCHLD is ignored by default\n");
    return got == SIGUSR1 ? 0 : 2;
}
