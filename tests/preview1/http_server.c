// A plain wasm32-wasi (preview1) HTTP server for `wasix-rt run --tcplisten`: the runtime hands
// it a listening socket as fd 3 (no socket creation in preview1), it accepts argv[1]
// connections (default 1) one after the other, reads each request up to its blank line,
// answers with a fixed response and closes the connection, then exits 0. A failed call exits
// with its errno, so the test can tell which one.
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char RESPONSE[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello";

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 1;
    for (int i = 0; i < n; i++) {
        struct sockaddr_storage peer;
        socklen_t len = sizeof peer;
        int conn = accept(3, (struct sockaddr *)&peer, &len);
        if (conn < 0)
            return errno;
        char req[4096];
        size_t got = 0;
        // Read until the end of the request head; a client that closes early is served anyway.
        while (got < sizeof req - 1) {
            ssize_t r = recv(conn, req + got, sizeof req - 1 - got, 0);
            if (r < 0)
                return errno;
            if (r == 0)
                break;
            got += (size_t)r;
            req[got] = 0;
            if (strstr(req, "\r\n\r\n"))
                break;
        }
        // Half through send (sock_send), half through write (fd_write): both must work.
        size_t half = (sizeof RESPONSE - 1) / 2;
        if (send(conn, RESPONSE, half, 0) != (ssize_t)half)
            return errno;
        if (write(conn, RESPONSE + half, sizeof RESPONSE - 1 - half) != (ssize_t)(sizeof RESPONSE - 1 - half))
            return errno;
        if (shutdown(conn, SHUT_WR) < 0)
            return errno;
        if (close(conn) < 0)
            return errno;
    }
    return 0;
}
