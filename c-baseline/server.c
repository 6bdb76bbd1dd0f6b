/* server.c: the native baseline for wat-samples/server.wat. The same loop in plain
 * single-threaded C with POSIX sockets: SO_REUSEADDR, bind 0.0.0.0:PORT (default 8080, or argv[1]),
 * listen with a backlog of 100, then forever accept -> send the same 32 bytes ->
 * shutdown(SHUT_RDWR) -> close.
 * Build: c-baseline/build.sh (gcc -O2). Run: ./target/c-baseline/server [PORT] */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char RESPONSE[] = "HTTP/1.1 200 OK\r\n\r\nHello, World!";

int main(int argc, char **argv) {
  int port = argc > 1 ? atoi(argv[1]) : 8080;
  signal(SIGPIPE, SIG_IGN);
  int listener = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  if (listener < 0) { perror("socket"); return 1; }
  int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((unsigned short)port);
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  if (bind(listener, (struct sockaddr *)&addr, sizeof addr) < 0) { perror("bind"); return 1; }
  if (listen(listener, 100) < 0) { perror("listen"); return 1; }
  for (;;) {
    int conn = accept(listener, NULL, NULL);
    if (conn < 0) continue;
    /* sizeof - 1: exactly the 32 bytes, not the terminating NUL. */
    (void)send(conn, RESPONSE, sizeof RESPONSE - 1, 0);
    shutdown(conn, SHUT_RDWR);
    close(conn);
  }
}
