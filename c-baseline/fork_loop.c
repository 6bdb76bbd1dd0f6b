/* fork of a program with 16 MiB of touched heap: forks argv[1] children one after another,
 * each exiting at once, waits for each, and prints the mean us per fork + exit + waitpid.
 * Built natively and as WASIX made resumable with wasm-opt --asyncify (docs/benchmarks.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 100;
    size_t size = 16u << 20;
    char *heap = malloc(size);
    if (!heap) return 1;
    memset(heap, 7, size);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return 1;
        }
        if (pid == 0) _exit(heap[i] == 7 ? 0 : 1);
        int status;
        if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "child %d failed\n", i);
            return 1;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    double us = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / 1e3 / n;
    printf("%.1f us per fork + exit + waitpid (16 MiB heap)\n", us);
    return 0;
}
