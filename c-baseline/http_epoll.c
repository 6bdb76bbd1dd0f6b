/* http_epoll.c: a single-threaded HTTP/1.1 keep-alive server on edge-triggered epoll, the
 * baseline for event-loop servers under wasix-rt (keepalive.h: the listener and the request
 * loop). Listens on 127.0.0.1:PORT (argv[1], else $PORT, else 8080) and runs until killed.
 * Build: c-baseline/build.sh. Run: ./target/c-baseline/http_epoll [PORT], or as WASIX:
 * wasix-rt run --net target/c-baseline/http_epoll.wasm -- PORT */
#include <sys/epoll.h>

#include "keepalive.h"

#define EVENTS 256

int main(int argc, char **argv) {
    int lfd = open_listener(argc, argv);
    int ep = epoll_create1(0);
    if (ep < 0) {
        perror("epoll_create1");
        return 1;
    }
    /* The listener's data is &listener, not NULL: wasix-libc's epoll_wait hands back the fd
     * in place of a NULL data.ptr. */
    static struct client listener;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.ptr = &listener};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0) {
        perror("epoll_ctl");
        return 1;
    }
    static struct epoll_event ready[EVENTS];
    for (;;) {
        int n = epoll_wait(ep, ready, EVENTS, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            struct client *c = ready[i].data.ptr;
            if (c != &listener) {
                /* Edge-triggered: drive() returns only once the socket would block. */
                if (drive(c)) {
                    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                    close(c->fd);
                    free(c);
                }
                continue;
            }
            for (;;) {
                int fd = accept(lfd, NULL, NULL);
                if (fd < 0)
                    break;
                c = new_client(fd);
                if (!c)
                    continue;
                struct epoll_event cev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = c};
                if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev) < 0) {
                    close(fd);
                    free(c);
                }
            }
        }
    }
}
