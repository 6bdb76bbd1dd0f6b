/* socketpair(AF_UNIX): a stream pair carrying bytes both ways, select(), poll() and epoll
 * reporting it readable after a write and not before, EOF after shutdown and close; a
 * datagram pair keeping message boundaries and truncating a long message to the buffer.
 * Run by tests/posix_files.rs natively and as WASIX; both must print the same. */
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>
#include "errname.h"

static void rd(const char *label, int fd) {
    char buf[64];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0)
        printf("%s: %s\n", label, errname(errno));
    else
        printf("%s: %zd \"%.*s\"\n", label, n, (int)n, buf);
}

static int readable_select(int fd, int ms) {
    fd_set set;
    FD_ZERO(&set);
    FD_SET(fd, &set);
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    int r = select(fd + 1, &set, 0, 0, &tv);
    return r < 0 ? -1 : r > 0 && FD_ISSET(fd, &set);
}

static int readable_poll(int fd, int ms) {
    struct pollfd p = {fd, POLLIN, 0};
    int r = poll(&p, 1, ms);
    return r < 0 ? -1 : r > 0 && (p.revents & POLLIN);
}

int main(void) {
    int sv[2];
    int r = socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    printf("socketpair SOCK_STREAM: %s\n", res(r));
    if (r) return 1;

    int type = -1;
    socklen_t len = sizeof type;
    r = getsockopt(sv[0], SOL_SOCKET, SO_TYPE, &type, &len);
    printf("SO_TYPE is SOCK_STREAM: %s\n", r ? errname(errno) : type == SOCK_STREAM ? "yes" : "no");

    printf("select before a write: readable %d\n", readable_select(sv[1], 0));
    printf("poll before a write: readable %d\n", readable_poll(sv[1], 0));
    printf("write ping: %zd\n", write(sv[0], "ping", 4));
    printf("select after a write: readable %d\n", readable_select(sv[1], 1000));
    printf("poll after a write: readable %d\n", readable_poll(sv[1], 1000));
    rd("read ping", sv[1]);
    printf("write pong the other way: %zd\n", write(sv[1], "pong", 4));
    rd("read pong", sv[0]);
    printf("send/recv: %zd", send(sv[0], "sent", 4, 0));
    char buf[64];
    ssize_t n = recv(sv[1], buf, sizeof buf, 0);
    printf(" %zd \"%.*s\"\n", n, (int)(n > 0 ? n : 0), buf);

    /* a stream has no boundaries: two writes, one read gets both */
    write(sv[0], "ab", 2);
    write(sv[0], "cd", 2);
    readable_poll(sv[1], 1000);
    rd("two writes, one read", sv[1]);

    /* a bigger transfer, in pieces */
    static char big[100000], got[100000];
    for (size_t i = 0; i < sizeof big; i++) big[i] = (char)(i * 7);
    int fl = fcntl(sv[0], F_GETFL);
    fcntl(sv[0], F_SETFL, fl | O_NONBLOCK);
    size_t sent = 0, recvd = 0;
    while (recvd < sizeof big) {
        if (sent < sizeof big) {
            n = write(sv[0], big + sent, sizeof big - sent);
            if (n > 0) sent += n;
            else if (errno != EAGAIN) break;
        }
        n = read(sv[1], got + recvd, sizeof got - recvd);
        if (n > 0) recvd += n;
    }
    fcntl(sv[0], F_SETFL, fl);
    printf("100000 bytes across: %s\n", recvd == sizeof big && memcmp(big, got, sizeof big) == 0 ? "equal" : "differ");

    /* non-blocking read with nothing there */
    fl = fcntl(sv[1], F_GETFL);
    fcntl(sv[1], F_SETFL, fl | O_NONBLOCK);
    rd("non-blocking read of an empty socket", sv[1]);
    fcntl(sv[1], F_SETFL, fl);

    /* epoll */
    int ep = epoll_create1(0);
    printf("epoll_create1: %s\n", ep >= 0 ? "ok" : errname(errno));
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0x1234};
    printf("epoll_ctl ADD: %s\n", res(epoll_ctl(ep, EPOLL_CTL_ADD, sv[1], &ev)));
    struct epoll_event out[4];
    printf("epoll_wait before a write: %d\n", epoll_wait(ep, out, 4, 0));
    write(sv[0], "epoll", 5);
    r = epoll_wait(ep, out, 4, 1000);
    printf("epoll_wait after a write: %d, EPOLLIN %d, data 0x%llx\n", r,
           r > 0 && (out[0].events & EPOLLIN) ? 1 : 0, r > 0 ? (unsigned long long)out[0].data.u64 : 0ULL);
    rd("read", sv[1]);
    printf("epoll_wait after reading it all: %d\n", epoll_wait(ep, out, 4, 0));

    /* shutdown(SHUT_WR): the peer reads EOF but can still write back */
    printf("shutdown SHUT_WR: %s\n", res(shutdown(sv[0], SHUT_WR)));
    printf("poll at EOF: readable %d\n", readable_poll(sv[1], 1000));
    rd("read after the peer's shutdown", sv[1]);
    printf("write back after shutdown: %zd\n", write(sv[1], "back", 4));
    rd("read back", sv[0]);
    close(sv[0]);
    r = epoll_wait(ep, out, 4, 1000);
    printf("epoll_wait after the peer closed: %d, EPOLLIN %d\n", r, r > 0 && (out[0].events & EPOLLIN) ? 1 : 0);
    rd("read after the peer closed", sv[1]);
    close(sv[1]);
    close(ep);

    /* datagrams */
    r = socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
    printf("socketpair SOCK_DGRAM: %s\n", res(r));
    if (r) return 1;
    len = sizeof type;
    r = getsockopt(sv[0], SOL_SOCKET, SO_TYPE, &type, &len);
    printf("SO_TYPE is SOCK_DGRAM: %s\n", r ? errname(errno) : type == SOCK_DGRAM ? "yes" : "no");
    printf("send one: %zd\n", send(sv[0], "one", 3, 0));
    printf("send three: %zd\n", send(sv[0], "three", 5, 0));
    printf("send empty: %zd\n", send(sv[0], "", 0, 0));
    printf("send truncated: %zd\n", send(sv[0], "truncated", 9, 0));
    printf("send last: %zd\n", send(sv[0], "last", 4, 0));
    printf("select: readable %d\n", readable_select(sv[1], 1000));
    n = recv(sv[1], buf, sizeof buf, 0);
    printf("recv: %zd \"%.*s\"\n", n, (int)(n > 0 ? n : 0), buf);
    n = recv(sv[1], buf, sizeof buf, 0);
    printf("recv: %zd \"%.*s\"\n", n, (int)(n > 0 ? n : 0), buf);
    n = recv(sv[1], buf, sizeof buf, 0);
    printf("recv: %zd (the empty datagram)\n", n);
    n = recv(sv[1], buf, 4, 0);
    printf("recv into 4 bytes: %zd \"%.*s\"\n", n, (int)(n > 0 ? n : 0), buf);
    n = recv(sv[1], buf, sizeof buf, 0);
    printf("recv: %zd \"%.*s\" (the rest was dropped)\n", n, (int)(n > 0 ? n : 0), buf);
    n = recv(sv[1], buf, sizeof buf, MSG_DONTWAIT);
    printf("recv MSG_DONTWAIT when empty: %zd %s\n", n, n < 0 ? errname(errno) : "");
    printf("send the other way: %zd\n", send(sv[1], "reply", 5, 0));
    n = recv(sv[0], buf, sizeof buf, 0);
    printf("recv: %zd \"%.*s\"\n", n, (int)(n > 0 ? n : 0), buf);
    close(sv[0]);
    close(sv[1]);
    return 0;
}
