/* An edge-triggered epoll echo server: one thread, non-blocking sockets, a 64 KiB buffer per
 * connection. Prints "port N" once listening on 127.0.0.1 (port 0: the kernel picks), echoes
 * every byte back until the client closes, and exits after argv[1] connections have closed,
 * printing what it echoed. Run by tests/c_guests.rs natively and as WASIX, both driven by the
 * same clients; both must echo byte-exact and print the same totals. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF 65536
#define MAXFD 4096

struct conn {
    char buf[BUF];
    size_t len, off;
    int eof;
};

static struct conn *conns[MAXFD];
static long long echoed;

static void nonblocking(int fd) {
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* Moves bytes until the socket would block both ways; returns 1 when the connection is done. */
static int pump(int fd, struct conn *c) {
    for (;;) {
        if (c->off < c->len) {
            ssize_t n = write(fd, c->buf + c->off, c->len - c->off);
            if (n < 0)
                return errno == EAGAIN ? 0 : 1;
            c->off += n;
            echoed += n;
            continue;
        }
        c->off = c->len = 0;
        if (c->eof)
            return 1;
        ssize_t n = read(fd, c->buf, BUF);
        if (n == 0) {
            c->eof = 1;
            continue;
        }
        if (n < 0)
            return errno == EAGAIN ? 0 : 1;
        c->len = n;
    }
}

int main(int argc, char **argv) {
    int want = argc > 1 ? atoi(argv[1]) : 1;
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr *)&a, sizeof a) || listen(lfd, 1024)) {
        perror("listen");
        return 1;
    }
    socklen_t alen = sizeof a;
    getsockname(lfd, (struct sockaddr *)&a, &alen);
    printf("port %d\n", ntohs(a.sin_port));
    fflush(stdout);
    nonblocking(lfd);

    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    int closed = 0, accepted = 0;
    struct epoll_event events[64];
    while (closed < want) {
        int n = epoll_wait(ep, events, 64, -1);
        if (n < 0) {
            perror("epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            if (fd == lfd) {
                int c;
                while ((c = accept(lfd, NULL, NULL)) >= 0) {
                    if (c >= MAXFD) {
                        close(c);
                        continue;
                    }
                    nonblocking(c);
                    conns[c] = calloc(1, sizeof(struct conn));
                    struct epoll_event cev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                                              .data.fd = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
                    accepted++;
                }
                continue;
            }
            if (conns[fd] && pump(fd, conns[fd])) {
                epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
                close(fd);
                free(conns[fd]);
                conns[fd] = NULL;
                closed++;
            }
        }
    }
    printf("accepted %d connections, echoed %lld bytes\n", accepted, echoed);
    return 0;
}
