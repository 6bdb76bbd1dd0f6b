/* Name resolution and TCP on loopback as a POSIX program uses them: getaddrinfo("localhost"),
 * a connection to a listener the program opened itself on 127.0.0.1 port 0 (getsockname
 * tells the port), one line each way, and a non-blocking connect to a closed port whose
 * ECONNREFUSED arrives through poll() and getsockopt(SO_ERROR) (or, where the libc does not
 * report SO_ERROR, the socket's next recv). Run by tests/c_guests.rs
 * natively and as WASIX (with --net); both must print the same, so no port or address that
 * differs between runs is printed. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* A TCP socket bound to 127.0.0.1 on a port the host picks; its port in *port (host order). */
static int bound_loopback(unsigned short *port) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0) { perror("socket"); return -1; }
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(s, (struct sockaddr *)&a, sizeof a) != 0) { perror("bind"); return -1; }
    socklen_t len = sizeof a;
    if (getsockname(s, (struct sockaddr *)&a, &len) != 0) { perror("getsockname"); return -1; }
    *port = ntohs(a.sin_port);
    return s;
}

/* Reads until a newline (included) or the end; returns the bytes read. */
static ssize_t read_line(int fd, char *buf, size_t size) {
    size_t n = 0;
    while (n + 1 < size) {
        ssize_t r = read(fd, buf + n, 1);
        if (r <= 0) break;
        n += (size_t)r;
        if (buf[n - 1] == '\n') break;
    }
    buf[n] = 0;
    return (ssize_t)n;
}

static int exchange(void) {
    unsigned short port;
    int listener = bound_loopback(&port);
    if (listener < 0 || listen(listener, 4) != 0) { perror("listen"); return 1; }
    printf("listening on 127.0.0.1, port known: %s\n", port != 0 ? "yes" : "no");

    char service[16];
    snprintf(service, sizeof service, "%u", port);
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    int gai = getaddrinfo("localhost", service, &hints, &res);
    if (gai != 0) { printf("getaddrinfo: %s\n", gai_strerror(gai)); return 1; }
    struct sockaddr_in *to = (struct sockaddr_in *)res->ai_addr;
    printf("getaddrinfo localhost: family %s, loopback %s, port kept %s\n",
           res->ai_family == AF_INET ? "AF_INET" : "other",
           ntohl(to->sin_addr.s_addr) == INADDR_LOOPBACK ? "yes" : "no",
           ntohs(to->sin_port) == port ? "yes" : "no");

    int c = socket(res->ai_family, res->ai_socktype, res->ai_protocol);
    if (c < 0 || connect(c, res->ai_addr, res->ai_addrlen) != 0) { perror("connect"); return 1; }
    freeaddrinfo(res);
    int s = accept(listener, NULL, NULL);
    if (s < 0) { perror("accept"); return 1; }
    const char *hello = "hello over loopback\n";
    if (write(c, hello, strlen(hello)) != (ssize_t)strlen(hello)) { perror("write"); return 1; }
    char line[64];
    read_line(s, line, sizeof line);
    printf("server got: %s", line);
    char reply[80];
    snprintf(reply, sizeof reply, "echo: %s", line);
    if (write(s, reply, strlen(reply)) != (ssize_t)strlen(reply)) { perror("write"); return 1; }
    read_line(c, line, sizeof line);
    printf("client got: %s", line);
    close(s);
    close(c);
    close(listener);
    return 0;
}

static int refused(void) {
    unsigned short port;
    int probe = bound_loopback(&port);
    if (probe < 0) return 1;
    close(probe); /* nobody listens there now */
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (c < 0) { perror("socket"); return 1; }
    if (fcntl(c, F_SETFL, fcntl(c, F_GETFL) | O_NONBLOCK) != 0) { perror("fcntl"); return 1; }
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int err = 0;
    if (connect(c, (struct sockaddr *)&a, sizeof a) == 0) {
        printf("connect to a closed port succeeded\n");
        return 1;
    }
    if (errno == EINPROGRESS) {
        struct pollfd p = {.fd = c, .events = POLLOUT};
        int r = poll(&p, 1, 5000);
        printf("poll: %d, ready: %s\n", r, (p.revents & (POLLOUT | POLLERR | POLLHUP)) ? "yes" : "no");
        socklen_t len = sizeof err;
        if (getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &len) != 0) { perror("getsockopt"); return 1; }
        if (err == 0) {
            /* wasix-libc's getsockopt answers SO_ERROR with 0 without asking the host; the
             * socket's next call reports the pending error instead. */
            char b;
            if (recv(c, &b, 1, 0) < 0) err = errno;
        }
    } else {
        /* Loopback may refuse at once; the outcome is the same. */
        printf("poll: 1, ready: yes\n");
        err = errno;
    }
    printf("SO_ERROR: %s\n", err == ECONNREFUSED ? "ECONNREFUSED" : strerror(err));
    close(c);
    return 0;
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (exchange() != 0) return 1;
    return refused();
}
