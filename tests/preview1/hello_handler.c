/* A WASI program that answers one HTTP request on stdin/stdout. `wasix-rt serve` runs it on a
 * fresh instance for every connection, with the connection as stdin and stdout:
 *
 *   clang --target=wasm32-wasi -O2 tests/preview1/hello_handler.c -o hello.wasm
 *   wasix-rt serve --listen 127.0.0.1:8080 hello.wasm
 *
 * Run by tests/serve.rs. */
#include <stdio.h>
#include <unistd.h>

int main(void) {
    char request[1024];
    /* The request's first KiB; a real handler would parse it. */
    if (read(0, request, sizeof request) < 0)
        return 1;
    fputs("HTTP/1.1 200 OK\r\nContent-Length: 14\r\nConnection: close\r\n\r\nHello from C!\n",
          stdout);
    return 0;
}
