/* Attempts to reach files outside the directory mounted with --dir: "..", "/..", the host's
 * absolute path (argv[1]: the host path of a file next to the mounted directory), symlinks
 * whose targets climb out or name host paths, and creating, renaming and linking files
 * there. WASIX only (tests/posix_files.rs): natively most of these would succeed. The test
 * mounts HOST/mnt at /work and puts HOST/outside.txt next to it; the program must never print
 * that file's content, and nothing may appear in HOST besides outside.txt and mnt. Every
 * write it attempts lands, if containment fails, in HOST or HOST's parent (which the test
 * owns): never run it natively, where it does escape (it refuses to). */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "errname.h"

/* Opens PATH for reading and prints its first line, or the error. */
static void try_read(const char *path) {
    char buf[128];
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        printf("open %s: %s\n", path, errname(errno));
        return;
    }
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    buf[n > 0 ? n : 0] = 0;
    buf[strcspn(buf, "\n")] = 0;
    printf("open %s: read \"%s\"\n", path, buf);
}

static void try_create(const char *path) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        printf("create %s: %s\n", path, errname(errno));
        return;
    }
    write(fd, "escaped\n", 8);
    close(fd);
    printf("create %s: created\n", path);
}

static int cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void list(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) {
        printf("ls %s: %s\n", dir, errname(errno));
        return;
    }
    char *names[64];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 64)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, n, sizeof *names, cmp);
    printf("ls %s:", dir);
    for (int i = 0; i < n; i++) printf(" %s", names[i]);
    printf("\n");
}

static void show_cwd(const char *label) {
    char cwd[4096];
    printf("%s: %s\n", label, getcwd(cwd, sizeof cwd) ? cwd : errname(errno));
}

int main(int argc, char **argv) {
#ifndef __wasi__
    fprintf(stderr, "escape: WASIX only (natively it would write outside its directory)\n");
    return 2;
#endif
    if (argc < 2) {
        fprintf(stderr, "usage: escape HOST-PATH-OF-OUTSIDE.TXT\n");
        return 2;
    }
    const char *host_outside = argv[1];
    struct stat st, root;

    show_cwd("getcwd at start");
    try_read("inside.txt");
    try_read("../outside.txt");
    try_read("../../../outside.txt");
    try_read("../../../../../../../../outside.txt");
    try_read("/../outside.txt");
    try_read("/../../outside.txt");
    try_read("/work/../outside.txt");
    try_read("./../mnt/../outside.txt");
    try_read(host_outside);
    try_read("/etc/passwd");
    try_read("../../../../../../../../etc/passwd");

    int r = stat("/..", &st);
    printf("stat /..: %s\n", r == 0 ? (S_ISDIR(st.st_mode) ? "directory" : "not a directory")
                                     : errname(errno));
    if (r == 0 && stat("/", &root) == 0)
        printf("/.. is /: %s\n", st.st_ino == root.st_ino && st.st_dev == root.st_dev ? "yes" : "no");
    list("..");

    /* climb with chdir */
    for (int i = 0; i < 6; i++) chdir("..");
    show_cwd("getcwd after six chdir ..");
    try_read("outside.txt");
    list(".");
    printf("chdir /work: %s\n", res(chdir("/work")));

    /* symlinks out of the mount */
    printf("symlink up -> ../../../..: %s\n", res(symlink("../../../..", "up")));
    try_read("up/outside.txt");
    try_read("up/etc/passwd");
    printf("symlink hostlink -> host path: %s\n", res(symlink(host_outside, "hostlink")));
    try_read("hostlink");
    printf("symlink etc -> /etc: %s\n", res(symlink("/etc", "etc")));
    try_read("etc/passwd");
    printf("symlink out -> ../../../../../../etc: %s\n",
           res(symlink("../../../../../../etc", "out")));
    try_read("out/passwd");
    printf("symlink parent -> ..: %s\n", res(symlink("..", "parent")));
    try_read("parent/outside.txt");

    /* creating, renaming and linking outside */
    try_create("../created.txt");
    try_create("../../created.txt");
    printf("mkdir ../escaped_dir: %s\n", res(mkdir("../escaped_dir", 0755)));
    printf("symlink wlink -> ../via_link.txt: %s\n", res(symlink("../via_link.txt", "wlink")));
    try_create("wlink");
    printf("symlink wlink2 -> host path of outside.txt: %s\n", res(symlink(host_outside, "wlink2")));
    try_create("wlink2");
    try_create("parent/via_parent.txt");
    printf("symlink up2 -> ../..: %s\n", res(symlink("../..", "up2")));
    try_create("up2/via_up2.txt");
    printf("rename inside.txt ../renamed.txt: %s\n", res(rename("inside.txt", "../renamed.txt")));
    printf("link inside.txt ../linked.txt: %s\n", res(link("inside.txt", "../linked.txt")));
    printf("rename ../outside.txt stolen.txt: %s\n", res(rename("../outside.txt", "stolen.txt")));
    printf("unlink ../outside.txt: %s\n", res(unlink("../outside.txt")));
    try_read("stolen.txt");
    return 0;
}
