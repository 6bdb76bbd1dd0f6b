/* What a program gets for processes that cannot be: posix_spawn of a missing path, a
 * directory, a file that is no module, a truncated module and a wasix-rt artifact (native
 * code, refused on purpose); past --max-processes; waitpid of
 * a pid that is not its child. Run by tests/processes.rs under wasix-rt only (the native
 * answers differ: Linux runs ELF files), with argv[1] a directory holding `notwasm.txt`,
 * `truncated.wasm`, `hello.cwasm` and `hello.wasm`, and argv[2] the number of rounds. Between rounds it
 * prints "round N" and waits for a line on stdin, so that the test can count the runtime's
 * fds and threads. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "errname.h"

extern char **environ;

/* Spawns DIR/FILE with its stdout on /dev/null (an open file action). */
static int try_spawn(const char *dir, const char *file, pid_t *pid) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    int e = posix_spawn(pid, path, &fa, NULL, (char *[]){(char *)file, NULL}, environ);
    posix_spawn_file_actions_destroy(&fa);
    return e;
}

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    const char *dir = argv[1];
    int rounds = atoi(argv[2]);
    char line[16];
    for (int round = 0; round <= rounds; round++) {
        printf("round %d\n", round);
        fflush(stdout);
        if (!fgets(line, sizeof line, stdin)) return 3;
        if (round == rounds) break;
        pid_t pid;
        const char *files[] = {"missing.wasm", "", "notwasm.txt", "truncated.wasm", "hello.cwasm"};
        for (int i = 0; i < 5; i++) {
            int e = try_spawn(dir, files[i], &pid);
            if (round == 0) printf("spawn %s: %s\n", *files[i] ? files[i] : "a directory", errname(e));
        }
        /* hello.wasm runs and exits 7; with --max-processes 3 the third at once is EAGAIN. */
        pid_t a, b, c;
        int ea = try_spawn(dir, "hello.wasm", &a), eb = try_spawn(dir, "hello.wasm", &b);
        int ec = try_spawn(dir, "hello.wasm", &c);
        if (round == 0) printf("three at once: %s %s %s\n", errname(ea), errname(eb), errname(ec));
        int status;
        if (!ea) waitpid(a, &status, 0);
        if (!eb) waitpid(b, &status, 0);
        if (!ec) waitpid(c, &status, 0);
        if (round == 0) printf("hello exited %d\n", WEXITSTATUS(status));
        errno = 0;
        pid_t r = waitpid(getpid() + 1000, &status, 0);
        if (round == 0) printf("waitpid of no child: %d %s\n", (int)r, errname(errno));
        r = waitpid(-1, &status, WNOHANG);
        if (round == 0) printf("waitpid(-1, WNOHANG) with none left: %d %s\n", (int)r, errname(errno));
    }
    return 0;
}
