/* fork: parent and child change a variable and a 16 MiB buffer independently; the child's
 * exit code and an fd without FD_CLOEXEC kept across fork (a pipe to the parent); fork then
 * execv then waitpid of several children with distinct exit codes and one killed by SIGTERM,
 * an O_CLOEXEC fd kept across fork and closed across exec; vfork then execv.
 * Run by tests/processes.rs natively and as WASIX made resumable with `wasm-opt --asyncify`,
 * with the path of its own binary as argv[1]; both must print the same. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int counter = 10;

static void describe(const char *what, int status) {
    if (WIFEXITED(status))
        printf("%s: exited %d\n", what, WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        printf("%s: killed by signal %d\n", what, WTERMSIG(status));
}

static int intact(const unsigned char *big, size_t n, unsigned char first) {
    if (big[0] != first) return 0;
    for (size_t i = 1; i < n; i++)
        if (big[i] != (unsigned char)(i * 7)) return 0;
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    const char *self = argv[1];
    if (argc > 3 && !strcmp(argv[2], "exit")) {
        /* argv[4]: an fd opened with O_CLOEXEC before the exec, which must be closed now. */
        if (argc > 4 && fcntl(atoi(argv[4]), F_GETFD) >= 0) return 100;
        return atoi(argv[3]);
    }
    if (argc > 2 && !strcmp(argv[2], "term")) {
        raise(SIGTERM);
        return 1;
    }

    size_t n = 16 << 20;
    unsigned char *big = malloc(n);
    for (size_t i = 0; i < n; i++) big[i] = (unsigned char)(i * 7);
    int p[2];
    if (pipe(p)) return 3;
    pid_t parent = getpid();
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        printf("fork: %s\n", errno == ENOTSUP ? "ENOTSUP" : strerror(errno));
        return 4;
    }
    if (pid == 0) {
        counter += 5;
        big[0] = 'c';
        char msg[128];
        int len = snprintf(msg, sizeof msg, "child: counter %d, buffer copied and changed: %s, getppid is the parent: %s\n",
                           counter, intact(big, n, 'c') ? "yes" : "no", getppid() == parent ? "yes" : "no");
        if (write(p[1], msg, len) != len) _exit(9);
        _exit(3);
    }
    close(p[1]);
    counter -= 5;
    big[0] = 'p';
    int status;
    if (waitpid(pid, &status, 0) != pid) return 5;
    char msg[128] = {0};
    if (read(p[0], msg, sizeof msg - 1) <= 0) return 6;
    printf("%s", msg);
    describe("the forked child", status);
    printf("parent: counter %d, buffer still its own: %s\n", counter, intact(big, n, 'p') ? "yes" : "no");

    /* fork + execv + waitpid: three children with distinct codes, one that SIGTERM kills; an
     * O_CLOEXEC fd is still open in each child after fork and closed after its exec. */
    int cloexec = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (cloexec < 0) return 7;
    char fdarg[16];
    snprintf(fdarg, sizeof fdarg, "%d", cloexec);
    const char *codes[] = {"0", "5", "77", "term"};
    pid_t kids[4];
    for (int i = 0; i < 4; i++) {
        fflush(stdout);
        kids[i] = fork();
        if (kids[i] == 0) {
            if (fcntl(cloexec, F_GETFD) < 0) _exit(126);
            if (i == 3)
                execl(self, self, self, "term", (char *)NULL);
            else
                execl(self, self, self, "exit", codes[i], fdarg, (char *)NULL);
            _exit(127);
        }
    }
    for (int i = 0; i < 4; i++) {
        waitpid(kids[i], &status, 0);
        char what[32];
        snprintf(what, sizeof what, "fork + exec %s", codes[i]);
        describe(what, status);
    }
    fflush(stdout);
    pid = vfork();
    if (pid == 0) {
        execl(self, self, self, "exit", "12", (char *)NULL);
        _exit(127);
    }
    waitpid(pid, &status, 0);
    describe("vfork + exec", status);
    return 0;
}
