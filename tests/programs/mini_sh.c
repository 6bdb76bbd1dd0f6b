/* A shell just big enough for popen(3) and system(3) in tests: `sh -c "PROGRAM ARGS..."` splits
 * the command at spaces, starts PROGRAM (looked up in PATH without a `/`) with the shell's own
 * fds and environment, waits for it and exits with its status (128 + N when signal N ended
 * it, as sh does). Given to wasix-rt with `--map-command sh=mini_sh.wasm`. */
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

extern char **environ;

int main(int argc, char **argv) {
    if (argc != 3 || strcmp(argv[1], "-c") != 0) {
        fprintf(stderr, "usage: sh -c COMMAND\n");
        return 2;
    }
    char *words[64];
    int n = 0;
    for (char *w = strtok(argv[2], " "); w && n < 63; w = strtok(NULL, " ")) words[n++] = w;
    words[n] = NULL;
    if (n == 0) return 0;
    pid_t pid;
    int e = posix_spawnp(&pid, words[0], NULL, NULL, words, environ);
    if (e) {
        fprintf(stderr, "sh: %s: cannot run (errno %d)\n", words[0], e);
        return 127;
    }
    int status;
    if (waitpid(pid, &status, 0) != pid) return 126;
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}
