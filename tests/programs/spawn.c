/* Processes: posix_spawn with file actions and a pipe each way (byte-exact), waitpid of
 * several children with distinct exit codes, WNOHANG, children ended by SIGKILL, SIGTERM and
 * abort(), getppid in the child, FD_CLOEXEC closed in the child, ECHILD without children and
 * ENOENT for a missing program. Run by tests/c_guests.rs natively and as WASIX with the path of
 * its own binary (the native build, or the .wasm as the guest sees it) as argv[1]; both must
 * print the same. The same binary is the child, chosen by argv[2]. */
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

static const char *self;

static int child(int argc, char **argv) {
    const char *role = argv[2];
    if (!strcmp(role, "upper")) {
        /* stdin to stdout, upper-cased, then the count on stderr's pipe. */
        char buf[4096];
        long total = 0;
        ssize_t n;
        while ((n = read(0, buf, sizeof buf)) > 0) {
            for (ssize_t i = 0; i < n; i++)
                if (buf[i] >= 'a' && buf[i] <= 'z') buf[i] -= 32;
            if (write(1, buf, n) != n) return 9;
            total += n;
        }
        dprintf(2, "%ld", total);
        return 0;
    }
    if (!strcmp(role, "exit")) return atoi(argv[3]);
    if (!strcmp(role, "ppid")) return getppid() == atoi(argv[3]) ? 0 : 1;
    if (!strcmp(role, "cloexec")) {
        /* argv[3]: an fd the parent opened with O_CLOEXEC, argv[4]: one without. */
        int gone = fcntl(atoi(argv[3]), F_GETFD) == -1 && errno == EBADF;
        int kept = fcntl(atoi(argv[4]), F_GETFD) != -1;
        return gone && kept ? 0 : 1;
    }
    if (!strcmp(role, "block")) {
        char c;
        /* Blocks until killed: nobody writes to its stdin. */
        while (read(0, &c, 1) != 0) {}
        return 0;
    }
    if (!strcmp(role, "abort")) abort();
    if (!strcmp(role, "execer")) {
        /* argv[3], argv[4]: fds with and without O_CLOEXEC, passed on to "samepid". */
        execv("/no/such/program", argv);
        printf("execv of a missing program: %s\n", errname(errno));
        fflush(stdout);
        char pid[16];
        snprintf(pid, sizeof pid, "%d", (int)getpid());
        execv(self, (char *[]){(char *)self, (char *)self, "samepid", pid, argv[3], argv[4], NULL});
        return 50;
    }
    if (!strcmp(role, "samepid")) {
        int same = getpid() == atoi(argv[3]);
        int gone = fcntl(atoi(argv[4]), F_GETFD) == -1 && errno == EBADF;
        int kept = fcntl(atoi(argv[5]), F_GETFD) != -1;
        printf("after execv: same pid %s, O_CLOEXEC fd closed %s, the other kept %s\n",
               same ? "yes" : "no", gone ? "yes" : "no", kept ? "yes" : "no");
        return 33;
    }
    if (!strcmp(role, "say")) {
        for (int i = 3; i < argc; i++) printf("%s%s", argv[i], i + 1 < argc ? " " : "\n");
        return 0;
    }
    (void)argc;
    return 100;
}

static pid_t spawn(char *const argv[], posix_spawn_file_actions_t *fa) {
    pid_t pid;
    int e = posix_spawn(&pid, self, fa, NULL, argv, environ);
    if (e) {
        printf("posix_spawn %s: %s\n", argv[2], errname(e));
        exit(1);
    }
    return pid;
}

static void describe(const char *what, int status) {
    if (WIFEXITED(status))
        printf("%s: exited %d\n", what, WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        printf("%s: killed by signal %d\n", what, WTERMSIG(status));
    else
        printf("%s: status %#x\n", what, status);
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    self = argv[1];
    if (argc > 2) return child(argc, argv);

    /* A pipe each way, and one for the child's stderr: the child sees them as 0, 1, 2. */
    int in[2], out[2], err[2];
    if (pipe(in) || pipe(out) || pipe(err)) return 3;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    int fds[] = {in[0], in[1], out[0], out[1], err[0], err[1]};
    for (int i = 0; i < 6; i++) posix_spawn_file_actions_addclose(&fa, fds[i]);
    pid_t pid = spawn((char *[]){"spawn", (char *)self, "upper", NULL}, &fa);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    close(err[1]);
    /* 100 KiB each way, more than a pipe holds: written in pieces, read in between. */
    static char sent[100 * 1024], got[100 * 1024 + 1];
    for (size_t i = 0; i < sizeof sent; i++) sent[i] = "abcdefghijklmnopqrstuvwxyz0123456789\n"[i % 37];
    size_t w = 0, r = 0;
    while (w < sizeof sent) {
        ssize_t n = write(in[1], sent + w, sizeof sent - w > 8192 ? 8192 : sizeof sent - w);
        if (n <= 0) return 4;
        w += n;
        while (r < w - 4096 && r < sizeof got - 1) {
            ssize_t m = read(out[0], got + r, w - r);
            if (m <= 0) return 5;
            r += m;
        }
    }
    close(in[1]);
    ssize_t m;
    while ((m = read(out[0], got + r, sizeof got - 1 - r)) > 0) r += m;
    char count[32] = {0};
    if (read(err[0], count, sizeof count - 1) < 0) return 6;
    int same = r == sizeof sent;
    for (size_t i = 0; same && i < r; i++) {
        char c = sent[i];
        if (c >= 'a' && c <= 'z') c -= 32;
        same = got[i] == c;
    }
    printf("piped %zu bytes through the child, got %zu back, upper-cased exactly: %s, it counted %s\n",
           w, r, same ? "yes" : "no", count);
    int status;
    if (waitpid(pid, &status, 0) != pid) return 7;
    describe("upper", status);

    /* Three children with distinct exit codes, reaped by pid in reverse order. */
    pid_t kids[3];
    const char *codes[] = {"0", "7", "42"};
    for (int i = 0; i < 3; i++)
        kids[i] = spawn((char *[]){"spawn", (char *)self, "exit", (char *)codes[i], NULL}, NULL);
    for (int i = 2; i >= 0; i--) {
        if (waitpid(kids[i], &status, 0) != kids[i]) return 8;
        char what[32];
        snprintf(what, sizeof what, "exit %s", codes[i]);
        describe(what, status);
    }
    /* Any child: two children, both reaped by waitpid(-1). */
    int sum = 0;
    for (int i = 0; i < 2; i++) spawn((char *[]){"spawn", (char *)self, "exit", (char *)codes[i + 1], NULL}, NULL);
    for (int i = 0; i < 2; i++) {
        if (waitpid(-1, &status, 0) <= 0) return 9;
        sum += WEXITSTATUS(status);
    }
    printf("waitpid(-1) twice: exit codes sum to %d\n", sum);

    /* getppid in the child is the parent's getpid. */
    char me[16];
    snprintf(me, sizeof me, "%d", (int)getpid());
    pid = spawn((char *[]){"spawn", (char *)self, "ppid", me, NULL}, NULL);
    waitpid(pid, &status, 0);
    describe("child's getppid is our getpid", status);

    /* O_CLOEXEC: closed in the child; an fd without it is inherited. */
    int closing = open(self, O_RDONLY | O_CLOEXEC), kept = open(self, O_RDONLY);
    char a[16], b[16];
    snprintf(a, sizeof a, "%d", closing);
    snprintf(b, sizeof b, "%d", kept);
    pid = spawn((char *[]){"spawn", (char *)self, "cloexec", a, b, NULL}, NULL);
    waitpid(pid, &status, 0);
    describe("O_CLOEXEC closed, the other kept", status);
    fflush(stdout);
    pid = spawn((char *[]){"spawn", (char *)self, "execer", a, b, NULL}, NULL);
    waitpid(pid, &status, 0);
    describe("the program it execs", status);
    close(closing);
    close(kept);

    /* WNOHANG while the child runs, then SIGKILL and SIGTERM. */
    int hold[2];
    if (pipe(hold)) return 10;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, hold[0], 0);
    posix_spawn_file_actions_addclose(&fa, hold[1]);
    pid_t killed = spawn((char *[]){"spawn", (char *)self, "block", NULL}, &fa);
    pid_t termed = spawn((char *[]){"spawn", (char *)self, "block", NULL}, &fa);
    posix_spawn_file_actions_destroy(&fa);
    printf("WNOHANG while it runs: %d\n", (int)waitpid(killed, &status, WNOHANG));
    kill(killed, SIGKILL);
    kill(termed, SIGTERM);
    waitpid(killed, &status, 0);
    describe("SIGKILL", status);
    waitpid(termed, &status, 0);
    describe("SIGTERM", status);
    close(hold[0]);
    close(hold[1]);

    pid = spawn((char *[]){"spawn", (char *)self, "abort", NULL}, NULL);
    waitpid(pid, &status, 0);
    describe("abort()", status);

    /* popen and system start /bin/sh -c COMMAND (under wasix-rt: --map-command sh=...). */
    char cmd[600];
    snprintf(cmd, sizeof cmd, "%s %s say read through popen", self, self);
    FILE *p = popen(cmd, "r");
    char said[100] = {0};
    if (!p || !fgets(said, sizeof said, p)) return 11;
    printf("popen(\"r\") read: %s", said);
    describe("pclose", pclose(p));
    fflush(stdout);
    snprintf(cmd, sizeof cmd, "%s %s upper", self, self);
    p = popen(cmd, "w");
    if (!p) return 12;
    fputs("written through popen\n", p);
    describe("pclose of the writer", pclose(p));
    snprintf(cmd, sizeof cmd, "%s %s exit 3", self, self);
    describe("system", system(cmd));

    pid_t got_none = waitpid(-1, &status, 0);
    printf("waitpid without children: %d, %s\n", (int)got_none, errname(errno));
    pid_t none;
    int e = posix_spawn(&none, "/no/such/program", NULL, NULL, (char *[]){"x", NULL}, environ);
    printf("posix_spawn of a missing program: %s\n", errname(e));
    return 0;
}
