/* What starting a process costs: `spawn_loop SELF N` starts N children of this same program
 * (SELF: its path, as the program sees it) one after another, each exiting at once, waits for
 * each (posix_spawn + exit + waitpid), and prints the mean time per child in microseconds.
 * Built natively and as WASIX by c-baseline/build.sh; docs/benchmarks.md has the figures. */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

int main(int argc, char **argv) {
    if (argc == 2) return 0; /* the child */
    if (argc != 3) {
        fprintf(stderr, "usage: spawn_loop SELF N\n");
        return 2;
    }
    int n = atoi(argv[2]);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < n; i++) {
        pid_t pid;
        int e = posix_spawn(&pid, argv[1], NULL, NULL, (char *[]){argv[1], "child", NULL}, environ);
        int status;
        if (e || waitpid(pid, &status, 0) != pid || status != 0) {
            fprintf(stderr, "child %d failed (posix_spawn: %d)\n", i, e);
            return 1;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    double us = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / 1e3 / n;
    printf("%d children, %.1f us per posix_spawn + exit + waitpid\n", n, us);
    return 0;
}
