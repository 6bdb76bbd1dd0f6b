/* probe.c: what a container's program sees. Prints its arguments, $GREETING, its working
 * directory, and whether /tmp and /dev/null work; `probe exit N` exits with N, `probe trap`
 * traps (a native build gets SIGILL), `probe count` prints 1..3 with pauses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc > 2 && strcmp(argv[1], "exit") == 0) {
        printf("exiting with %s\n", argv[2]);
        fflush(stdout);
        exit(atoi(argv[2]));
    }
    if (argc > 1 && strcmp(argv[1], "trap") == 0) {
        fflush(stdout);
        __builtin_trap();
    }
    printf("hello from a container\n");
    for (int i = 0; i < argc; i++) {
        printf("argv[%d]=%s\n", i, argv[i]);
    }
    const char *greeting = getenv("GREETING");
    printf("GREETING=%s\n", greeting ? greeting : "(unset)");
    printf("WASIXRT_TIMEOUT=%s\n", getenv("WASIXRT_TIMEOUT") ? "(visible)" : "(removed)");
    char cwd[256];
    printf("cwd=%s\n", getcwd(cwd, sizeof cwd) ? cwd : "(none)");
    FILE *tmp = fopen("/tmp/probe.txt", "w+");
    int tmp_ok = tmp && fputs("tmp works", tmp) >= 0 && fseek(tmp, 0, SEEK_SET) == 0;
    char line[32] = {0};
    tmp_ok = tmp_ok && fgets(line, sizeof line, tmp) && strcmp(line, "tmp works") == 0;
    printf("/tmp: %s\n", tmp_ok ? "ok" : "failed");
    FILE *null = fopen("/dev/null", "w");
    printf("/dev/null: %s\n", null && fputs("x", null) >= 0 ? "ok" : "failed");
    return 0;
}
