/* A `wasix-rt serve` handler that is a WASIX program with threads: reads one line from stdin,
 * uppercases it on a second thread (pthread_create/pthread_join), writes "thread: LINE" and
 * the working directory's existence of /tmp to stdout. Used by tests/serve.rs. */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static char line[256];

static void *upper(void *arg) {
    for (char *p = arg; *p; p++) *p = (char)toupper((unsigned char)*p);
    return arg;
}

int main(void) {
    if (!fgets(line, sizeof line, stdin)) return 1;
    line[strcspn(line, "\r\n")] = 0;
    pthread_t t;
    void *out = 0;
    if (pthread_create(&t, 0, upper, line) || pthread_join(t, &out)) {
        printf("pthread failed\n");
        return 2;
    }
    struct stat st;
    printf("thread: %s, /tmp %s\n", (char *)out, stat("/tmp", &st) == 0 ? "there" : "missing");
    return 0;
}
