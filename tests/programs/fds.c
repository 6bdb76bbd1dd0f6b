/* File descriptors as a POSIX program uses them: pipe, fcntl(O_NONBLOCK) and EAGAIN,
 * select(), dup2() to an unopened number (a copy: the original stays open), isatty on a
 * pipe, getcwd. Run by tests/c_guests.rs natively and as WASIX; both must print the same. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <errno.h>
#include <sys/select.h>
int main(void) {
    int p[2];
    if (pipe(p) != 0) { perror("pipe"); return 1; }
    int flags = fcntl(p[0], F_GETFL);
    if (fcntl(p[0], F_SETFL, flags | O_NONBLOCK) != 0) { perror("fcntl"); return 1; }
    char buf[16];
    ssize_t n = read(p[0], buf, sizeof buf);
    printf("empty non-blocking read: %zd %s\n", n, n < 0 && errno == EAGAIN ? "EAGAIN" : "?");
    if (write(p[1], "hi", 2) != 2) { perror("write"); return 1; }
    fd_set rd; FD_ZERO(&rd); FD_SET(p[0], &rd);
    struct timeval tv = {1, 0};
    int r = select(p[0] + 1, &rd, 0, 0, &tv);
    printf("select: %d readable=%d\n", r, FD_ISSET(p[0], &rd) ? 1 : 0);
    int d = dup2(p[0], 10);
    printf("dup2 to 10: %d\n", d);
    n = read(10, buf, sizeof buf);
    printf("read through the copy: %zd '%.*s'\n", n, (int)(n > 0 ? n : 0), buf);
    close(10);
    n = read(p[0], buf, sizeof buf);
    printf("original still open after closing the copy: %s\n", n < 0 && errno == EAGAIN ? "yes" : "no");
    printf("isatty(pipe) = %d\n", isatty(p[0]));
    char cwd[256];
    printf("getcwd: %s\n", getcwd(cwd, sizeof cwd) ? "ok" : strerror(errno));
    return 0;
}
