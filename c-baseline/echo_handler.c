/* echo_handler.c: an HTTP/1.1 handler for `wasix-rt serve`, which runs it on a fresh instance
 * per connection with the connection as stdin and stdout. It reads the request head up to its
 * blank line (at most 8 KiB: a longer one gets 431), answers 200 with the request line as the
 * body, and returns; serve then closes the connection. Built as wasm32-wasi by build.sh, for
 * scripts/hostile-load.py. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void) {
    char req[8192];
    size_t n = 0;
    while (!memmem(req, n, "\r\n\r\n", 4)) {
        if (n == sizeof req) {
            fputs("HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\n"
                  "Connection: close\r\n\r\n",
                  stdout);
            return 0;
        }
        ssize_t r = read(0, req + n, sizeof req - n);
        if (r <= 0)
            return 0;
        n += (size_t)r;
    }
    size_t line = (size_t)((char *)memchr(req, '\r', n) - req);
    printf("HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%.*s\n", line + 1,
           (int)line, req);
    return 0;
}
