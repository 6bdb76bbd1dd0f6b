/* Symbolic links inside the working directory: relative and absolute targets (argv[1] is the
 * absolute path of the working directory as the program sees it: the scratch directory's host
 * path natively, its guest mount path under wasix-rt), chains, links to directories,
 * dangling links, loops, lstat/readlink, O_NOFOLLOW, unlinking a link. Run by
 * tests/posix_files.rs natively and as WASIX; both must print the same and leave the same
 * files (absolute link targets differ in text and are compared as "absolute" only). */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "errname.h"

static void try_read(const char *label, const char *path, int flags) {
    char buf[128];
    int fd = open(path, O_RDONLY | flags);
    if (fd < 0) {
        printf("read %s: %s\n", label, errname(errno));
        return;
    }
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n < 0) {
        printf("read %s: read %s\n", label, errname(errno));
        return;
    }
    buf[n] = 0;
    buf[strcspn(buf, "\n")] = 0;
    printf("read %s: \"%s\"\n", label, buf);
}

static void show_link(const char *path) {
    char buf[4096];
    ssize_t n = readlink(path, buf, sizeof buf - 1);
    if (n < 0) {
        printf("readlink %s: %s\n", path, errname(errno));
        return;
    }
    buf[n] = 0;
    printf("readlink %s: \"%s\" (%zd bytes)\n", path, buf, n);
}

static void show_kind(const char *path) {
    struct stat l, s;
    int rl = lstat(path, &l), rs = stat(path, &s);
    printf("%s: lstat %s%s, stat %s%s", path, rl ? errname(errno) : "ok",
           rl ? "" : S_ISLNK(l.st_mode) ? " link" : S_ISDIR(l.st_mode) ? " dir" : " file",
           rs ? errname(errno) : "ok",
           rs ? "" : S_ISLNK(s.st_mode) ? " link" : S_ISDIR(s.st_mode) ? " dir" : " file");
    if (rs == 0 && S_ISREG(s.st_mode)) printf(" size %lld", (long long)s.st_size);
    printf("\n");
}

static int put(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fputs(text, f);
    return fclose(f);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: symlinks ABSOLUTE-PATH-OF-CWD\n");
        return 2;
    }
    char target[4096];
    snprintf(target, sizeof target, "%s/data/file.txt", argv[1]);

    printf("mkdir data: %s\n", res(mkdir("data", 0755)));
    printf("write data/file.txt: %s\n", res(put("data/file.txt", "through a link\n")));

    printf("symlink rel -> data/file.txt: %s\n", res(symlink("data/file.txt", "rel")));
    printf("symlink abs -> ARGV1/data/file.txt: %s\n", res(symlink(target, "abs")));
    try_read("rel", "rel", 0);
    try_read("abs", "abs", 0);
    show_link("rel");
    char buf[4096];
    ssize_t n = readlink("abs", buf, sizeof buf - 1);
    printf("readlink abs gives the text given: %s\n",
           n < 0 ? errname(errno)
                 : (size_t)n == strlen(target) && memcmp(buf, target, n) == 0 ? "yes" : "no");
    show_kind("rel");
    show_kind("abs");

    /* a chain, a link to a directory, a link in a subdirectory climbing with .. */
    printf("symlink chain -> rel: %s\n", res(symlink("rel", "chain")));
    try_read("chain", "chain", 0);
    printf("symlink dlink -> data: %s\n", res(symlink("data", "dlink")));
    try_read("dlink/file.txt", "dlink/file.txt", 0);
    show_kind("dlink");
    printf("symlink data/up -> ../data/./file.txt: %s\n", res(symlink("../data/./file.txt", "data/up")));
    try_read("data/up", "data/up", 0);
    printf("symlink data/self -> ../data: %s\n", res(symlink("../data", "data/self")));
    try_read("data/self/self/self/file.txt", "data/self/self/self/file.txt", 0);
    printf("symlink adir -> ARGV1/data: %s\n", res(symlink(strcat(strcpy(buf, argv[1]), "/data"), "adir")));
    try_read("adir/up", "adir/up", 0);

    /* chdir through a link to a directory, then .. is the link's target's parent */
    printf("chdir dlink: %s\n", res(chdir("dlink")));
    try_read("file.txt after chdir dlink", "file.txt", 0);
    printf("chdir ..: %s\n", res(chdir("..")));
    try_read("rel after chdir ..", "rel", 0);
    /* wasix-libc keeps the working directory as the string ".../dlink/..", not normalised:
     * later relative paths would go through dlink, which is removed below. */
    printf("chdir ARGV1: %s\n", res(chdir(argv[1])));

    /* dangling links and loops */
    printf("symlink dangling -> nothere: %s\n", res(symlink("nothere", "dangling")));
    try_read("dangling", "dangling", 0);
    show_kind("dangling");
    show_link("dangling");
    printf("symlink loop1 -> loop2: %s\n", res(symlink("loop2", "loop1")));
    printf("symlink loop2 -> loop1: %s\n", res(symlink("loop1", "loop2")));
    try_read("loop1", "loop1", 0);
    show_kind("loop1");

    /* creating through a dangling link creates its target */
    int fd = open("dangling", O_WRONLY | O_CREAT, 0644);
    printf("create through dangling: %s\n", fd >= 0 ? "created" : errname(errno));
    if (fd >= 0) {
        write(fd, "made through a link\n", 20);
        close(fd);
    }
    try_read("nothere", "nothere", 0);

    /* errors */
    printf("symlink rel again: %s\n", res(symlink("elsewhere", "rel")));
    try_read("rel with O_NOFOLLOW", "rel", O_NOFOLLOW);
    show_link("data/file.txt");
    show_link("missing");
    fd = open("rel", O_WRONLY | O_CREAT | O_EXCL, 0644);
    printf("O_CREAT|O_EXCL on a link: %s\n", fd >= 0 ? "created" : errname(errno));

    /* unlink removes the link, not its target */
    printf("unlink chain: %s\n", res(unlink("chain")));
    show_kind("chain");
    show_kind("rel");
    printf("unlink dlink: %s\n", res(unlink("dlink")));
    show_kind("data");
    printf("unlink loop1: %s\n", res(unlink("loop1")));

    /* rename a link: the link moves, its text stays */
    printf("rename rel data/rel2: %s\n", res(rename("rel", "data/rel2")));
    show_link("data/rel2");
    try_read("data/rel2 (now dangling: data/data/file.txt)", "data/rel2", 0);
    return 0;
}
