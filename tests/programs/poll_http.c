/* A single-threaded HTTP/1.1 keep-alive server on poll(): non-blocking sockets, many clients at
 * once, pipelined requests answered in order. Every request gets the same response: the body of
 * wat-samples/server.wat ("Hello, World!") with a Content-Length, so the connection stays open.
 * Prints "port N" once listening on 127.0.0.1 (port 0: the kernel picks). A request for /quit
 * is answered, then the server stops accepting, sends what it still owes (for at most 2 s),
 * closes every connection and prints how many requests it answered under /c/ (the paths the
 * deterministic clients of tests/c_guests.rs use; a load generator's count is not printed).
 * Stops with status 2 when no /quit came within 120 s. Run by tests/c_guests.rs natively and
 * as WASIX, driven by the same clients; both must answer byte-exact and print the same. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXCONN 1024
#define IN 8192
#define OUT 16384

static const char RESPONSE[] = "HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nHello, World!";
#define RESPONSE_LEN (sizeof RESPONSE - 1)

struct conn {
    int fd;
    char in[IN];
    size_t in_len;
    char out[OUT];
    size_t out_len, out_off;
    size_t body_left; /* bytes of a request body still to skip */
};

static struct conn *conns[MAXCONN];
static int nconns;
static long counted;
static int quit;

static void nonblocking(int fd) {
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static time_t now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec;
}

/* The value of header `name` (case-insensitive) in the head [p, end), or -1. */
static long header_value(const char *p, const char *end, const char *name) {
    size_t n = strlen(name);
    for (const char *line = p; line < end;) {
        const char *eol = memchr(line, '\n', end - line);
        if (!eol)
            break;
        if ((size_t)(eol - line) > n && strncasecmp(line, name, n) == 0 && line[n] == ':')
            return strtol(line + n + 1, NULL, 10);
        line = eol + 1;
    }
    return -1;
}

/* Answers every complete request in c->in while the answer fits in c->out; returns -1 on a
 * request that cannot be parsed (the connection is then closed). */
static int answer(struct conn *c) {
    size_t off = 0;
    while (off < c->in_len) {
        if (c->body_left) {
            size_t skip = c->in_len - off < c->body_left ? c->in_len - off : c->body_left;
            off += skip;
            c->body_left -= skip;
            continue;
        }
        if (c->out_len + RESPONSE_LEN > OUT)
            break;
        char *start = c->in + off, *end = NULL;
        for (char *p = start; p + 3 < c->in + c->in_len; p++)
            if (memcmp(p, "\r\n\r\n", 4) == 0) {
                end = p + 4;
                break;
            }
        if (!end)
            break;
        char *sp = memchr(start, ' ', end - start);
        if (!sp)
            return -1;
        char *path = sp + 1;
        char *sp2 = memchr(path, ' ', end - path);
        if (!sp2)
            return -1;
        size_t plen = sp2 - path;
        if (plen >= 3 && memcmp(path, "/c/", 3) == 0)
            counted++;
        if (plen == 5 && memcmp(path, "/quit", 5) == 0)
            quit = 1;
        long body = header_value(start, end, "Content-Length");
        if (body > 0)
            c->body_left = body;
        memcpy(c->out + c->out_len, RESPONSE, RESPONSE_LEN);
        c->out_len += RESPONSE_LEN;
        off = end - c->in;
    }
    memmove(c->in, c->in + off, c->in_len - off);
    c->in_len -= off;
    if (c->in_len == IN)
        return -1; /* a request head larger than the buffer */
    return 0;
}

/* Reads, answers and writes until the socket would block; returns 1 when the connection is
 * done (closed by the client or broken). */
static int serve(struct conn *c) {
    for (int round = 0; round < 1000; round++) {
        while (c->out_off < c->out_len) {
            ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, 0);
            if (n < 0)
                return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : 1;
            c->out_off += n;
        }
        c->out_off = c->out_len = 0;
        if (answer(c) < 0)
            return 1;
        if (c->out_len)
            continue; /* send what the buffered requests got before reading more */
        if (quit)
            return 0;
        ssize_t n = recv(c->fd, c->in + c->in_len, IN - c->in_len, 0);
        if (n == 0)
            return 1;
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : 1;
        c->in_len += n;
    }
    return 0; /* a busy client: the next poll() comes back to it */
}

static void drop(int i) {
    close(conns[i]->fd);
    free(conns[i]);
    conns[i] = conns[--nconns];
}

int main(void) {
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

    static struct pollfd pfds[MAXCONN + 1];
    time_t deadline = now() + 120, quit_deadline = 0;
    for (;;) {
        if (now() > deadline) {
            printf("no /quit within 120 s\n");
            return 2;
        }
        if (quit) {
            int owed = 0;
            for (int i = 0; i < nconns; i++)
                owed |= conns[i]->out_off < conns[i]->out_len;
            if (!quit_deadline)
                quit_deadline = now() + 2;
            if (!owed || now() > quit_deadline)
                break;
        }
        int n = 0;
        pfds[n++] = (struct pollfd){.fd = lfd, .events = quit ? 0 : POLLIN};
        for (int i = 0; i < nconns; i++) {
            struct conn *c = conns[i];
            short ev = c->out_off < c->out_len ? POLLOUT : POLLIN;
            pfds[n++] = (struct pollfd){.fd = c->fd, .events = ev};
        }
        int ready = poll(pfds, n, 1000);
        if (ready < 0) {
            if (errno == EINTR)
                continue;
            perror("poll");
            return 1;
        }
        /* Connections first, from the end: drop() moves the last one into the freed slot. */
        for (int i = n - 1; i >= 1; i--) {
            if (!pfds[i].revents)
                continue;
            if (serve(conns[i - 1]))
                drop(i - 1);
        }
        if (pfds[0].revents & POLLIN) {
            for (int k = 0; k < 256 && nconns < MAXCONN; k++) {
                int c = accept(lfd, NULL, NULL);
                if (c < 0)
                    break;
                nonblocking(c);
                struct conn *cn = calloc(1, sizeof *cn);
                if (!cn) {
                    close(c);
                    break;
                }
                cn->fd = c;
                conns[nconns++] = cn;
            }
        }
    }
    while (nconns)
        drop(nconns - 1);
    close(lfd);
    printf("answered %ld requests under /c/, then /quit; closed every connection\n", counted);
    return 0;
}
