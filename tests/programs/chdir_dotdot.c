/* The working directory: chdir into a subdirectory and back up with "..", getcwd after each
 * step (only compared by its ending: the absolute prefix differs between the native run and
 * the guest's mount), relative opens from each place, and the absolute path getcwd gives
 * opening the same file. Run by tests/posix_files.rs natively and as WASIX from a scratch
 * directory; both must print the same and leave a/b/file ("made in a/b\n") and a/top
 * ("made in a\n"). */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "errname.h"

static char start[4096];

/* Whether the working directory is START followed by SUFFIX ("" for START itself). */
static const char *cwd_is(const char *suffix) {
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd)) return errname(errno);
    size_t n = strlen(start);
    if (strncmp(cwd, start, n) == 0 && strcmp(cwd + n, suffix) == 0) return "yes";
    return "no";
}

/* Reads PATH and prints its first line. */
static void show(const char *label, const char *path) {
    char buf[128];
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        printf("%s: %s\n", label, errname(errno));
        return;
    }
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n < 0) {
        printf("%s: read %s\n", label, errname(errno));
        return;
    }
    buf[n] = 0;
    buf[strcspn(buf, "\n")] = 0;
    printf("%s: \"%s\"\n", label, buf);
}

static int put(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fputs(text, f);
    return fclose(f);
}

int main(void) {
    struct stat st;
    if (!getcwd(start, sizeof start)) {
        printf("getcwd: %s\n", errname(errno));
        return 1;
    }
    printf("getcwd is absolute: %s\n", start[0] == '/' ? "yes" : "no");
    printf("mkdir a: %s\n", res(mkdir("a", 0755)));
    printf("mkdir a/b: %s\n", res(mkdir("a/b", 0755)));

    printf("chdir a/b: %s\n", res(chdir("a/b")));
    printf("getcwd ends with /a/b: %s\n", cwd_is("/a/b"));
    printf("create file: %s\n", res(put("file", "made in a/b\n")));
    show("read file", "file");
    show("read ./file", "./file");
    show("read ../b/file", "../b/file");
    printf("stat ..: %s\n", stat("..", &st) == 0 && S_ISDIR(st.st_mode) ? "directory" : errname(errno));

    /* getcwd's absolute path names the same place */
    char cwd[4096], abs[4200];
    if (getcwd(cwd, sizeof cwd)) {
        snprintf(abs, sizeof abs, "%s/file", cwd);
        show("read getcwd()/file", abs);
    }

    printf("chdir ..: %s\n", res(chdir("..")));
    printf("getcwd ends with /a: %s\n", cwd_is("/a"));
    show("read b/file", "b/file");
    printf("create top: %s\n", res(put("top", "made in a\n")));

    printf("chdir b/../b/.: %s\n", res(chdir("b/../b/.")));
    printf("getcwd ends with /a/b: %s\n", cwd_is("/a/b"));

    printf("chdir ../..: %s\n", res(chdir("../..")));
    printf("back at the start: %s\n", cwd_is(""));
    show("read a/b/file", "a/b/file");
    show("read a/../a/b/../top", "a/../a/b/../top");

    printf("chdir missing: %s\n", res(chdir("missing")));
    printf("chdir a/b/file: %s\n", res(chdir("a/b/file")));
    printf("still at the start: %s\n", cwd_is(""));

    /* an absolute chdir to where we started, from elsewhere */
    chdir("a/b");
    printf("chdir to the start's absolute path: %s\n", res(chdir(start)));
    printf("back at the start: %s\n", cwd_is(""));

    /* a relative path in a directory that was removed under us */
    printf("mkdir gone: %s\n", res(mkdir("gone", 0755)));
    printf("chdir gone: %s\n", res(chdir("gone")));
    printf("rmdir ../gone: %s\n", res(rmdir("../gone")));
    int fd = open("x", O_WRONLY | O_CREAT, 0644);
    printf("create in the removed cwd: %s\n", fd >= 0 ? "created" : errname(errno));
    /* Not chdir(".."): natively the kernel still knows the removed directory's parent, but
     * wasix-libc keeps the working directory as a string and resolves "START/gone/.." */
    printf("chdir to the start's absolute path: %s\n", res(chdir(start)));
    printf("back at the start: %s\n", cwd_is(""));
    return 0;
}
