/* The fd limit: run natively under `ulimit -n 32` and under `wasix-rt run --max-fds 32`, it
 * fills its fd table with sockets, meets EMFILE in socket and in accept (the connection waiting in the
 * listener's queue stays there), closes one fd and accepts the connection after all. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "errname.h"

int main(void) {
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    if (l < 0 || bind(l, (struct sockaddr *)&addr, sizeof addr) || listen(l, 4) ||
        getsockname(l, (struct sockaddr *)&addr, &len)) {
        printf("listener: %s\n", errname(errno));
        return 1;
    }
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (c < 0 || connect(c, (struct sockaddr *)&addr, sizeof addr)) {
        printf("connect: %s\n", errname(errno));
        return 1;
    }
    /* Sockets, which hold a host fd each under wasix-rt too (its /dev/null does not). */
    int last = -1, fd;
    while ((fd = socket(AF_INET, SOCK_STREAM, 0)) >= 0)
        last = fd;
    printf("socket: %s, the last fd %d\n", errname(errno), last);
    int a = accept(l, NULL, NULL);
    printf("accept with no fd free: %d %s\n", a, a < 0 ? errname(errno) : "");
    close(last);
    a = accept(l, NULL, NULL);
    printf("accept after a close: fd %d\n", a);
    char buf[8] = {0};
    if (write(c, "hi", 2) != 2 || read(a, buf, 2) != 2) {
        printf("write/read: %s\n", errname(errno));
        return 1;
    }
    printf("the queued connection says %s\n", buf);
    return 0;
}
