/* http_poll.c: a single-threaded HTTP/1.1 keep-alive server on poll(), the baseline for
 * event-loop servers under wasix-rt (keepalive.h: the listener and the request loop). Listens on
 * 127.0.0.1:PORT (argv[1], else $PORT, else 8080) and runs until killed.
 * Build: c-baseline/build.sh. Run: ./target/c-baseline/http_poll [PORT], or as WASIX:
 * wasix-rt run --net target/c-baseline/http_poll.wasm -- PORT */
#include <poll.h>

#include "keepalive.h"

#define MAX_CLIENTS 4096

static struct client *clients[MAX_CLIENTS];
static struct pollfd fds[MAX_CLIENTS + 1];

int main(int argc, char **argv) {
    int lfd = open_listener(argc, argv);
    int count = 0;
    for (;;) {
        fds[0].fd = lfd;
        fds[0].events = count < MAX_CLIENTS ? POLLIN : 0;
        for (int i = 0; i < count; i++) {
            fds[i + 1].fd = clients[i]->fd;
            fds[i + 1].events = clients[i]->out_sent < clients[i]->out_len ? POLLOUT : POLLIN;
        }
        if (poll(fds, (nfds_t)count + 1, -1) < 0) {
            if (errno == EINTR)
                continue;
            perror("poll");
            return 1;
        }
        /* From the last client down: a closed one's slot takes the last client, already seen. */
        for (int i = count - 1; i >= 0; i--) {
            if (fds[i + 1].revents && drive(clients[i])) {
                close(clients[i]->fd);
                free(clients[i]);
                clients[i] = clients[--count];
            }
        }
        while ((fds[0].revents & POLLIN) && count < MAX_CLIENTS) {
            int fd = accept(lfd, NULL, NULL);
            if (fd < 0)
                break;
            struct client *c = new_client(fd);
            if (c)
                clients[count++] = c;
        }
    }
}
