/* server.c: an HTTP server with a pthread worker and epoll, as containers run them. The main
 * thread accepts on 0.0.0.0:PORT (argv[1], else 8080) and hands each connection to the
 * worker, which answers "hello from thread\n" on epoll readiness and closes. SIGTERM ends it:
 * the handler's flag makes main print "stopping" and exit with status 23. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static volatile sig_atomic_t stopping;
static int ep;

static void on_term(int sig) {
    (void)sig;
    stopping = 1;
}

static void *worker(void *arg) {
    (void)arg;
    struct epoll_event ready[16];
    for (;;) {
        int n = epoll_wait(ep, ready, 16, 200);
        for (int i = 0; i < n; i++) {
            int fd = ready[i].data.fd;
            char buf[2048];
            ssize_t got = read(fd, buf, sizeof buf);
            if (got > 0) {
                const char *body = "hello from thread\n";
                char out[256];
                int len = snprintf(out, sizeof out,
                                   "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n"
                                   "Connection: close\r\n\r\n%s",
                                   strlen(body), body);
                if (write(fd, out, len) != len) {
                    perror("write");
                }
            }
            epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
            close(fd);
        }
    }
    return NULL;
}

int main(int argc, char **argv) {
    int port = argc > 1 ? atoi(argv[1]) : 8080;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(lfd, 64) < 0) {
        perror("listen");
        return 1;
    }
    ep = epoll_create1(0);
    pthread_t t;
    if (ep < 0 || pthread_create(&t, NULL, worker, NULL) != 0) {
        perror("epoll_create1/pthread_create");
        return 1;
    }
    printf("listening on %d\n", port);
    fflush(stdout);
    while (!stopping) {
        int c = accept(lfd, NULL, NULL);
        if (c < 0) {
            if (errno == EINTR) {
                continue;
            }
            perror("accept");
            return 1;
        }
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = c};
        epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
    }
    printf("stopping\n");
    fflush(stdout);
    return 23;
}
