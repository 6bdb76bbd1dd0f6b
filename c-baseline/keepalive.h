/* keepalive.h: what the two keep-alive baselines (http_poll.c, http_epoll.c) share: the
 * listener, the per-connection buffers and the request loop. Every request gets the response of
 * wat-samples/server.wat made keep-alive (a Content-Length, the connection stays open); several
 * requests in one read (pipelining) are answered in order. Built natively with gcc and as WASIX
 * with clang and the wasix-libc sysroot from the same source by c-baseline/build.sh. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static const char REPLY[] = "HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nHello, World!";
#define REPLY_LEN (sizeof REPLY - 1)
#define IN_CAP 8192
#define OUT_CAP 16384

struct client {
    int fd;
    size_t in_len, skip; /* skip: bytes of a request body not read yet */
    size_t out_len, out_sent;
    char in[IN_CAP];
    char out[OUT_CAP];
};

static void set_nonblocking(int fd) {
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* SIGTERM and SIGINT end the server with status 0 (wasix-libc's default action for them
 * aborts). */
static void stop(int sig) {
    (void)sig;
    _exit(0);
}

/* A non-blocking listener on 127.0.0.1:PORT, PORT from argv[1], else $PORT, else 8080. */
static int open_listener(int argc, char **argv) {
    const char *p = argc > 1 ? argv[1] : getenv("PORT");
    int port = p && *p ? atoi(p) : 8080;
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, stop);
    signal(SIGINT, stop);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        perror("socket");
        exit(1);
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 1024) < 0) {
        perror("bind/listen");
        exit(1);
    }
    set_nonblocking(fd);
    fprintf(stderr, "listening on 127.0.0.1:%d\n", port);
    return fd;
}

/* The Content-Length of the request head [head, end), 0 when there is none. */
static size_t body_length(const char *head, const char *end) {
    static const char key[] = "content-length:";
    for (const char *l = head; l + sizeof key - 1 < end; l++) {
        if (l[-1] == '\n' && strncasecmp(l, key, sizeof key - 1) == 0) {
            long v = strtol(l + sizeof key - 1, NULL, 10);
            return v > 0 ? (size_t)v : 0;
        }
    }
    return 0;
}

/* Queues a reply for every complete request buffered in c->in (as many as c->out holds).
 * Returns -1 when the buffer is full without a complete request head. */
static int parse_requests(struct client *c) {
    size_t pos = 0;
    while (pos < c->in_len) {
        if (c->skip) {
            size_t n = c->in_len - pos < c->skip ? c->in_len - pos : c->skip;
            pos += n;
            c->skip -= n;
            continue;
        }
        if (c->out_len + REPLY_LEN > OUT_CAP)
            break;
        const char *head = c->in + pos, *end = NULL;
        for (const char *q = head; q + 4 <= c->in + c->in_len; q++) {
            if (q[0] == '\r' && q[1] == '\n' && q[2] == '\r' && q[3] == '\n') {
                end = q + 4;
                break;
            }
        }
        if (!end)
            break;
        c->skip = body_length(head + 1, end);
        memcpy(c->out + c->out_len, REPLY, REPLY_LEN);
        c->out_len += REPLY_LEN;
        pos = end - c->in;
    }
    c->in_len -= pos;
    memmove(c->in, c->in + pos, c->in_len);
    return c->in_len == IN_CAP ? -1 : 0;
}

/* Sends what is owed, answers what is buffered and reads more, until the socket would block.
 * Returns 1 when the connection is over (the peer closed it, an error, a bad request). */
static int drive(struct client *c) {
    for (;;) {
        while (c->out_sent < c->out_len) {
            ssize_t n = send(c->fd, c->out + c->out_sent, c->out_len - c->out_sent, 0);
            if (n < 0)
                return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : 1;
            c->out_sent += (size_t)n;
        }
        c->out_len = c->out_sent = 0;
        if (parse_requests(c) < 0)
            return 1;
        if (c->out_len)
            continue;
        ssize_t n = recv(c->fd, c->in + c->in_len, IN_CAP - c->in_len, 0);
        if (n == 0)
            return 1;
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : 1;
        c->in_len += (size_t)n;
    }
}

static struct client *new_client(int fd) {
    set_nonblocking(fd);
    struct client *c = malloc(sizeof *c);
    if (!c) {
        close(fd);
        return NULL;
    }
    c->fd = fd;
    c->in_len = c->skip = c->out_len = c->out_sent = 0;
    return c;
}
