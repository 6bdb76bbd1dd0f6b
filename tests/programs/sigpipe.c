/* Writing where nobody reads: a pipe whose read end is closed, then a socketpair whose peer
 * is closed. argv[1] picks SIGPIPE's disposition:
 *   default        the first write (to the pipe) kills the program: exit status 141 (128 + 13)
 *   default-socket the same for a socket write (the pipe step is skipped)
 *   ignore         SIG_IGN: both writes fail with EPIPE, exit 0
 *   handler        a handler runs for each write, which then fails with EPIPE, exit 0
 *   nosignal       default disposition, send(MSG_NOSIGNAL) on the socket: EPIPE, no signal;
 *                  then a plain write on another such socket kills it (141)
 * Run by tests/posix_files.rs natively and as WASIX; both must print the same and exit with
 * the same status. stdout is flushed before every write that may kill. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "errname.h"

static volatile sig_atomic_t handled;
static void on_pipe(int sig) { handled += sig == SIGPIPE; }

static void pipe_step(void) {
    int p[2];
    if (pipe(p)) {
        printf("pipe: %s\n", errname(errno));
        return;
    }
    close(p[0]);
    printf("pipe write with the read end closed...\n");
    fflush(stdout);
    ssize_t n = write(p[1], "x", 1);
    printf("pipe write: %zd %s\n", n, n < 0 ? errname(errno) : "");
    close(p[1]);
}

static void socket_step(int flags) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) {
        printf("socketpair: %s\n", errname(errno));
        return;
    }
    close(sv[1]);
    printf("socket %s with the peer closed...\n", flags ? "send(MSG_NOSIGNAL)" : "write");
    fflush(stdout);
    ssize_t n = flags ? send(sv[0], "x", 1, flags) : write(sv[0], "x", 1);
    printf("socket %s: %zd %s\n", flags ? "send" : "write", n, n < 0 ? errname(errno) : "");
    close(sv[0]);
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "default";
    if (!strcmp(mode, "ignore")) {
        signal(SIGPIPE, SIG_IGN);
    } else if (!strcmp(mode, "handler")) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_pipe;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGPIPE, &sa, 0);
    } else if (strcmp(mode, "default") && strcmp(mode, "default-socket") && strcmp(mode, "nosignal")) {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 2;
    }
    printf("mode %s\n", mode);

    if (!strcmp(mode, "nosignal")) {
        socket_step(MSG_NOSIGNAL);
        printf("still running after send(MSG_NOSIGNAL)\n");
        socket_step(0);
        printf("not reached\n");
        return 0;
    }
    if (strcmp(mode, "default-socket")) {
        pipe_step();
        if (!strcmp(mode, "handler")) printf("handler ran: %d time(s)\n", (int)handled);
    }
    socket_step(0);
    if (!strcmp(mode, "handler")) printf("handler ran: %d time(s)\n", (int)handled);
    printf("done\n");
    return 0;
}
