/* Signal dispositions across posix_spawn (POSIX): a child starts with the signals its parent
 * ignores still ignored, and those named by POSIX_SPAWN_SETSIGDEF at their default. The
 * parent ignores SIGTERM and SIGUSR1 and spawns itself (argv[1] is the program's path) twice,
 * once plainly and once with SETSIGDEF for SIGTERM; each child reports both dispositions,
 * then the parent reports its own SIGTERM handler (installed after the spawns) untouched.
 * Run by tests/processes.rs natively and as WASIX. */
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

extern char **environ;

static const char *disposition(int sig) {
    struct sigaction sa;
    if (sigaction(sig, NULL, &sa) != 0) return "unknown";
    return sa.sa_handler == SIG_IGN ? "ignored" : sa.sa_handler == SIG_DFL ? "default" : "handled";
}

static void report(const char *who) {
    printf("%s: SIGTERM %s, SIGUSR1 %s, SIGUSR2 %s\n", who, disposition(SIGTERM),
           disposition(SIGUSR1), disposition(SIGUSR2));
    fflush(stdout);
}

static int spawn_and_wait(const char *path, const char *label, posix_spawnattr_t *attr) {
    char *argv[] = {(char *)path, (char *)path, (char *)label, NULL};
    pid_t pid;
    int err = posix_spawn(&pid, path, NULL, attr, argv, environ);
    if (err != 0) {
        printf("posix_spawn: %s\n", strerror(err));
        return 1;
    }
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        printf("child %s did not exit 0\n", label);
        return 1;
    }
    return 0;
}

static void on_usr2(int sig) { (void)sig; }

int main(int argc, char **argv) {
    if (argc > 2) {
        report(argv[2]);
        return 0;
    }
    if (argc < 2) {
        fprintf(stderr, "usage: spawn_signals PATH-OF-THIS-PROGRAM\n");
        return 2;
    }
    signal(SIGTERM, SIG_IGN);
    signal(SIGUSR1, SIG_IGN);
    signal(SIGUSR2, on_usr2); /* handled: a child starts with it at its default */
    report("parent");
    if (spawn_and_wait(argv[1], "plain child", NULL) != 0) return 1;
    posix_spawnattr_t attr;
    sigset_t def;
    posix_spawnattr_init(&attr);
    sigemptyset(&def);
    sigaddset(&def, SIGTERM);
    posix_spawnattr_setsigdefault(&attr, &def);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
    if (spawn_and_wait(argv[1], "SETSIGDEF child", &attr) != 0) return 1;
    posix_spawnattr_destroy(&attr);
    report("parent after");
    return 0;
}
