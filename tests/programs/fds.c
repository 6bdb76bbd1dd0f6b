/* File descriptors as a POSIX program uses them: pipe, fcntl(O_NONBLOCK) and EAGAIN,
 * select(), dup2() to an unopened number (a copy: the original stays open), isatty on a
 * pipe, getcwd, and writes that follow an fd number to what it names now: stdout moved onto
 * a pipe by dup2 and back, a closed fd's number reused by the next pipe. Run by
 * tests/c_guests.rs natively and as WASIX; both must print the same. */
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
    fflush(stdout);
    int q[2];
    if (pipe(q) != 0) { perror("pipe"); return 1; }
    int saved = dup(1);
    write(1, "straight to stdout\n", 19);
    dup2(q[1], 1);
    write(1, "through fd 1", 12);
    dup2(saved, 1);
    write(1, "stdout again\n", 13);
    n = read(q[0], buf, sizeof buf);
    printf("the pipe got: '%.*s'\n", (int)(n > 0 ? n : 0), buf);
    fflush(stdout);
    int r1[2], r2[2];
    if (pipe(r1) != 0) { perror("pipe"); return 1; }
    write(r1[1], "old", 3);
    int num = r1[1];
    close(r1[1]);
    if (pipe(r2) != 0) { perror("pipe"); return 1; }
    printf("the next pipe reuses the number: %s\n", r2[0] == num || r2[1] == num ? "yes" : "no");
    /* Non-blocking: a write that went elsewhere leaves nothing to wait for. */
    fcntl(r2[0], F_SETFL, O_NONBLOCK);
    write(r2[1], "new", 3);
    n = read(r2[0], buf, sizeof buf);
    printf("the new pipe got: '%.*s'\n", (int)(n > 0 ? n : 0), buf);
    return 0;
}
