/* An HTTP/1.1 server with argv[1] worker threads (default 4) that all block in accept() on one
 * shared listening socket, each serving its connection with blocking I/O: keep-alive, the same
 * response as poll_http.c, pipelined requests answered in order. A connection is closed after
 * 100 requests (the 100th answer says "Connection: close"; then it lingers, see linger()) so that a client holding more
 * connections than there are workers is served on all of them in turn. Prints "port N" once
 * listening on 127.0.0.1 (port 0). A request for /quit, served by any worker, is answered and
 * wakes the main thread, which prints how many requests were answered under /c/ (the paths of
 * the deterministic clients) and how many workers served at least one request, then ends the
 * program with exit(0) while the other workers still wait in accept() or read(). Exits with 2
 * when no /quit came within 120 s. Run by tests/c_guests.rs natively and as WASIX. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MAXWORKERS 64
#define IN 8192
#define PER_CONNECTION 100

static const char RESPONSE[] = "HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nHello, World!";
static const char LAST[] =
    "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nConnection: close\r\n\r\nHello, World!";

static int lfd;
static long served[MAXWORKERS];
static long counted;
static int quit;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t quit_cond = PTHREAD_COND_INITIALIZER;

static int send_all(int fd, const char *p, size_t len) {
    while (len) {
        ssize_t n = send(fd, p, len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= n;
    }
    return 0;
}

/* After the last answer on a connection the client may still be sending (pipelined requests):
 * closing with unread bytes would reset the connection and could lose that answer. So the
 * server half-closes, then reads and drops what comes until the client closes (at most 2 s and
 * 1000 reads). */
static void linger(int fd) {
    struct timeval tv = {.tv_sec = 2};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    shutdown(fd, SHUT_WR);
    char drop[4096];
    for (int i = 0; i < 1000 && recv(fd, drop, sizeof drop, 0) > 0; i++) {
    }
}

/* Serves one connection until the client closes it, a request cannot be parsed, or it has had
 * PER_CONNECTION answers; returns 1 in the last case. */
static int serve(int fd, int me) {
    char in[IN];
    size_t len = 0;
    int answers = 0;
    while (answers < PER_CONNECTION) {
        char *end = NULL;
        for (char *p = in; p + 3 < in + len; p++)
            if (memcmp(p, "\r\n\r\n", 4) == 0) {
                end = p + 4;
                break;
            }
        if (!end) {
            if (len == IN)
                return 0;
            ssize_t n = recv(fd, in + len, IN - len, 0);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                return 0;
            len += n;
            continue;
        }
        char *path = memchr(in, ' ', end - in);
        char *path_end = path ? memchr(path + 1, ' ', end - path - 1) : NULL;
        if (!path_end)
            return 0;
        path++;
        size_t plen = path_end - path;
        int is_quit = plen == 5 && memcmp(path, "/quit", 5) == 0;
        answers++;
        const char *r = answers == PER_CONNECTION ? LAST : RESPONSE;
        if (send_all(fd, r, strlen(r)))
            return 0;
        pthread_mutex_lock(&lock);
        served[me]++;
        if (plen >= 3 && memcmp(path, "/c/", 3) == 0)
            counted++;
        if (is_quit) {
            quit = 1;
            pthread_cond_signal(&quit_cond);
        }
        pthread_mutex_unlock(&lock);
        if (is_quit)
            return 0;
        memmove(in, end, in + len - end);
        len -= end - in;
    }
    return 1;
}

static void *worker(void *arg) {
    int me = (int)(long)arg;
    for (;;) {
        int c = accept(lfd, NULL, NULL);
        if (c < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            perror("accept");
            return NULL;
        }
        if (serve(c, me))
            linger(c);
        close(c);
    }
}

int main(int argc, char **argv) {
    int workers = argc > 1 ? atoi(argv[1]) : 4;
    if (workers < 1 || workers > MAXWORKERS) {
        fprintf(stderr, "workers: 1 to %d\n", MAXWORKERS);
        return 1;
    }
    lfd = socket(AF_INET, SOCK_STREAM, 0);
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

    for (int i = 0; i < workers; i++) {
        pthread_t t;
        int err = pthread_create(&t, NULL, worker, (void *)(long)i);
        if (err) {
            fprintf(stderr, "pthread_create: %s\n", strerror(err));
            return 1;
        }
        pthread_detach(t);
    }

    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 120;
    pthread_mutex_lock(&lock);
    while (!quit)
        if (pthread_cond_timedwait(&quit_cond, &lock, &deadline) == ETIMEDOUT)
            break;
    if (!quit) {
        printf("no /quit within 120 s\n");
        exit(2);
    }
    int busy = 0;
    for (int i = 0; i < workers; i++)
        busy += served[i] > 0;
    printf("answered %ld requests under /c/, then /quit; %d of %d workers served requests\n",
           counted, busy, workers);
    fflush(stdout);
    exit(0);
}
