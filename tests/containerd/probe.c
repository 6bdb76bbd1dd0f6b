/* probe.c: what a container's program sees. Prints its arguments, $GREETING, its working
 * directory, and whether /tmp and /dev/null work; `probe exit N` exits with N, `probe trap`
 * traps (a native build gets SIGILL), `probe spawn` starts itself (the module at argv[0])
 * with posix_spawn as `exit 5`, waits for it and prints the child's status. */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

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
    if (argc > 1 && strcmp(argv[1], "spawn") == 0) {
        char *child_argv[] = {argv[0], "exit", "5", NULL};
        pid_t pid;
        int err = posix_spawn(&pid, argv[0], NULL, NULL, child_argv, environ);
        if (err != 0) {
            printf("posix_spawn: %s\n", strerror(err));
            return 1;
        }
        int status;
        if (waitpid(pid, &status, 0) != pid) {
            perror("waitpid");
            return 1;
        }
        printf("child %s with %d\n", WIFEXITED(status) ? "exited" : "ended",
               WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        return 0;
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
