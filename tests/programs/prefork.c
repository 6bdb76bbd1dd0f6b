/* A pre-forking HTTP server: the parent listens on 127.0.0.1 (port argv[1], 0 for any; it
 * prints "port N"), forks argv[2] workers that accept on the shared listener and answer every
 * request of a keep-alive connection with "hello from a worker\n", and waits. SIGTERM to the
 * parent: it sends SIGTERM to the workers, reaps them, prints how each ended and exits 0.
 * Run by tests/processes.rs natively and as WASIX made resumable with wasm-opt --asyncify,
 * and by the pre-fork benchmark (docs/benchmarks.md). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_WORKERS 16

static volatile sig_atomic_t stopping;

static void on_term(int sig) {
    (void)sig;
    stopping = 1;
}

/* Answers each request (ending with an empty line) of connection `c` until the client closes. */
static void serve(int c) {
    static const char response[] = "HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\nhello from a worker\n";
    char buf[4096];
    size_t have = 0;
    for (;;) {
        ssize_t n = read(c, buf + have, sizeof buf - have);
        if (n <= 0) return;
        have += (size_t)n;
        char *end;
        while ((end = memmem(buf, have, "\r\n\r\n", 4)) != NULL) {
            if (write(c, response, sizeof response - 1) != (ssize_t)(sizeof response - 1)) return;
            size_t used = (size_t)(end + 4 - buf);
            memmove(buf, buf + used, have - used);
            have -= used;
        }
        if (have == sizeof buf) return;
    }
}

int main(int argc, char **argv) {
    int port = argc > 1 ? atoi(argv[1]) : 0;
    int workers = argc > 2 ? atoi(argv[2]) : 2;
    if (workers < 1 || workers > MAX_WORKERS) workers = 2;
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(lfd, 128) < 0 ||
        getsockname(lfd, (struct sockaddr *)&addr, &len) < 0) {
        perror("listen");
        return 1;
    }
    printf("port %d\n", ntohs(addr.sin_port));
    fflush(stdout);
    pid_t pids[MAX_WORKERS];
    for (int i = 0; i < workers; i++) {
        pids[i] = fork();
        if (pids[i] < 0) {
            perror("fork");
            return 1;
        }
        if (pids[i] == 0) {
            for (;;) {
                int c = accept(lfd, NULL, NULL);
                if (c < 0) {
                    if (errno == EINTR) continue;
                    perror("accept");
                    return 1;
                }
                serve(c);
                close(c);
            }
        }
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    while (!stopping) usleep(20000);
    for (int i = 0; i < workers; i++) kill(pids[i], SIGTERM);
    for (int i = 0; i < workers; i++) {
        int status;
        if (waitpid(pids[i], &status, 0) != pids[i]) {
            perror("waitpid");
            return 1;
        }
        printf("worker %d: %s %d\n", i, WIFSIGNALED(status) ? "killed by signal" : "exited",
               WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    }
    return 0;
}
