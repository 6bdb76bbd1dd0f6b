/* The device files every POSIX program may use: /dev/null, /dev/zero, /dev/full,
 * /dev/urandom, /dev/random and /dev/stdin|stdout|stderr. Run by tests/posix_files.rs
 * natively and as WASIX with stdin from /dev/null and stdout a pipe; both must print the
 * same. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "errname.h"

static int all_zero(const unsigned char *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (b[i]) return 0;
    return 1;
}

static void kind(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0)
        printf("stat %s: %s\n", path, errname(errno));
    else
        printf("stat %s: %s\n", path,
               S_ISCHR(st.st_mode) ? "character device" : S_ISDIR(st.st_mode) ? "directory" : "other");
}

int main(void) {
    unsigned char buf[16], buf2[16];
    ssize_t n;

    int fd = open("/dev/null", O_RDWR);
    printf("open /dev/null O_RDWR: %s\n", fd >= 0 ? "ok" : errname(errno));
    n = write(fd, "discarded", 9);
    printf("write /dev/null: %zd\n", n);
    n = read(fd, buf, sizeof buf);
    printf("read /dev/null: %zd\n", n);
    printf("isatty /dev/null: %d\n", isatty(fd));
    close(fd);
    FILE *f = fopen("/dev/null", "w");
    printf("fopen /dev/null w: %s\n", f ? "ok" : errname(errno));
    if (f) {
        fprintf(f, "into nothing\n");
        printf("fclose /dev/null: %s\n", res(fclose(f)));
    }
    fd = open("/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    printf("open /dev/null O_CREAT|O_TRUNC (a shell's > /dev/null): %s\n",
           fd >= 0 ? "ok" : errname(errno));
    close(fd);

    fd = open("/dev/zero", O_RDONLY);
    memset(buf, 0xaa, sizeof buf);
    n = read(fd, buf, sizeof buf);
    printf("read /dev/zero: %zd, all zero %s\n", n, all_zero(buf, sizeof buf) ? "yes" : "no");
    close(fd);
    fd = open("/dev/zero", O_WRONLY);
    printf("write /dev/zero: %zd\n", write(fd, "abcde", 5));
    close(fd);

    fd = open("/dev/full", O_RDWR);
    n = write(fd, "x", 1);
    printf("write /dev/full: %zd%s%s\n", n, n < 0 ? " " : "", n < 0 ? errname(errno) : "");
    memset(buf, 0xaa, sizeof buf);
    n = read(fd, buf, sizeof buf);
    printf("read /dev/full: %zd, all zero %s\n", n, all_zero(buf, sizeof buf) ? "yes" : "no");
    close(fd);
    f = fopen("/dev/full", "w");
    if (f) {
        fputs("no room\n", f);
        int r = fflush(f);
        printf("fflush to /dev/full: %d%s%s\n", r, r ? " " : "", r ? errname(errno) : "");
        fclose(f);
    }

    fd = open("/dev/urandom", O_RDONLY);
    n = read(fd, buf, sizeof buf);
    ssize_t n2 = read(fd, buf2, sizeof buf2);
    printf("read /dev/urandom: %zd and %zd, the two differ %s\n", n, n2,
           memcmp(buf, buf2, sizeof buf) ? "yes" : "no");
    close(fd);
    fd = open("/dev/random", O_RDONLY);
    n = read(fd, buf, sizeof buf);
    printf("read /dev/random: %zd\n", n);
    close(fd);

    kind("/dev/null");
    kind("/dev/zero");
    kind("/dev/full");
    kind("/dev/urandom");
    kind("/dev/random");
    kind("/dev");

    fd = open("/dev/stdin", O_RDONLY);
    n = fd < 0 ? -1 : read(fd, buf, sizeof buf);
    printf("read /dev/stdin (stdin is /dev/null): %zd\n", n);
    if (fd >= 0) close(fd);

    /* a line through /dev/stdout lands between stdout's own lines */
    printf("before /dev/stdout\n");
    fflush(stdout);
    f = fopen("/dev/stdout", "a"); /* "a": harmless if stdout is a file */
    if (!f) {
        printf("fopen /dev/stdout: %s\n", errname(errno));
    } else {
        fprintf(f, "through /dev/stdout\n");
        fclose(f);
    }
    printf("after /dev/stdout\n");
    fflush(stdout);
    fd = open("/dev/stdout", O_WRONLY | O_APPEND);
    n = fd < 0 ? -1 : write(fd, "write(2) to /dev/stdout\n", 24);
    if (fd >= 0) close(fd);
    printf("write /dev/stdout: %zd\n", n);
    printf("stdout still open after closing /dev/stdout: %s\n", fcntl(1, F_GETFD) >= 0 ? "yes" : "no");
    fd = open("/dev/stderr", O_WRONLY);
    n = fd < 0 ? -1 : write(fd, "to /dev/stderr\n", 15);
    if (fd >= 0) close(fd);
    printf("write /dev/stderr: %zd\n", n);

    printf("open /dev/nonexistent: %s\n", open("/dev/nonexistent", O_RDONLY) >= 0 ? "opened" : errname(errno));
    return 0;
}
