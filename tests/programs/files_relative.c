/* Files by relative path under the working directory: stdio create/read/append, mkdir,
 * rename, stat, a sorted directory listing, unlink, rmdir and the errors POSIX gives.
 * Run by tests/posix_files.rs natively and as WASIX from a scratch directory that holds
 * `given.txt` ("given\n"); both runs must print the same and leave the same files:
 *   given.txt, top.txt ("top\nappended\n"), sub/kept.txt ("kept\n"),
 *   sub/nested/deep.txt ("deep\n"), replaced.txt ("new\n"). */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "errname.h"

/* Prints FILE's whole content (up to 255 bytes) on one line, newlines as \n. */
static void show(const char *label, const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) {
        printf("%s: %s\n", label, errname(errno));
        return;
    }
    char buf[256];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    printf("%s: \"", label);
    for (size_t i = 0; i < n; i++) {
        if (buf[i] == '\n')
            printf("\\n");
        else
            putchar(buf[i]);
    }
    printf("\"\n");
}

static int put(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fputs(text, f);
    return fclose(f);
}

static int cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Prints the names in DIR (without . and ..), sorted, with a / after directories. */
static void list(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) {
        printf("opendir %s: %s\n", dir, errname(errno));
        return;
    }
    char *names[64];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 64) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char path[512];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        int isdir = stat(path, &st) == 0 && S_ISDIR(st.st_mode);
        char *name = malloc(strlen(e->d_name) + 2);
        sprintf(name, "%s%s", e->d_name, isdir ? "/" : "");
        names[n++] = name;
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp);
    printf("ls %s:", dir);
    for (int i = 0; i < n; i++) {
        printf(" %s", names[i]);
        free(names[i]);
    }
    printf("\n");
}

int main(void) {
    struct stat st;
    int r;

    show("read given.txt (made by the host)", "given.txt");

    FILE *f = fopen("hello.txt", "w");
    printf("fopen hello.txt w: %s\n", f ? "ok" : errname(errno));
    if (!f) return 1;
    printf("fprintf: %d\n", fprintf(f, "hello, %s\n", "world"));
    printf("fclose: %s\n", res(fclose(f)));
    show("read hello.txt", "hello.txt");

    printf("mkdir sub: %s\n", res(mkdir("sub", 0755)));
    printf("mkdir sub again: %s\n", res(mkdir("sub", 0755)));
    printf("mkdir sub/nested: %s\n", res(mkdir("sub/nested", 0755)));
    printf("mkdir missing/x: %s\n", res(mkdir("missing/x", 0755)));
    printf("rename hello.txt sub/moved.txt: %s\n", res(rename("hello.txt", "sub/moved.txt")));
    printf("stat hello.txt: %s\n", res(stat("hello.txt", &st)));
    r = stat("sub/moved.txt", &st);
    printf("stat sub/moved.txt: %s, regular %d, size %lld\n", res(r), S_ISREG(st.st_mode),
           (long long)st.st_size);
    r = stat("sub", &st);
    printf("stat sub: %s, directory %d\n", res(r), S_ISDIR(st.st_mode));
    show("read sub/moved.txt", "sub/moved.txt");
    show("read ./sub/../sub/./moved.txt", "./sub/../sub/./moved.txt");

    printf("write sub/kept.txt: %s\n", res(put("sub/kept.txt", "kept\n")));
    printf("write sub/nested/deep.txt: %s\n", res(put("sub/nested/deep.txt", "deep\n")));
    printf("write top.txt: %s\n", res(put("top.txt", "top\n")));
    f = fopen("top.txt", "a");
    printf("fopen top.txt a: %s\n", f ? "ok" : errname(errno));
    if (f) {
        fputs("appended\n", f);
        fclose(f);
    }
    show("read top.txt", "top.txt");

    /* rename over an existing file replaces it */
    put("replaced.txt", "old\n");
    put("newer.txt", "new\n");
    printf("rename newer.txt over replaced.txt: %s\n", res(rename("newer.txt", "replaced.txt")));
    show("read replaced.txt", "replaced.txt");

    /* the low-level calls and their errors */
    int fd = open("top.txt", O_WRONLY | O_CREAT | O_EXCL, 0644);
    printf("open top.txt O_CREAT|O_EXCL: %s\n", fd >= 0 ? "opened" : errname(errno));
    fd = open("absent.txt", O_RDONLY);
    printf("open absent.txt: %s\n", fd >= 0 ? "opened" : errname(errno));
    fd = open("sub/kept.txt/x", O_RDONLY);
    printf("open sub/kept.txt/x: %s\n", fd >= 0 ? "opened" : errname(errno));
    fd = open("sub", O_WRONLY);
    printf("open sub O_WRONLY: %s\n", fd >= 0 ? "opened" : errname(errno));
    fd = open("top.txt", O_RDONLY);
    if (fd >= 0) {
        char buf[8];
        printf("lseek top.txt 4: %lld\n", (long long)lseek(fd, 4, SEEK_SET));
        ssize_t n = read(fd, buf, sizeof buf);
        printf("read 8 at 4: %zd \"%.*s\"\n", n, (int)(n > 0 ? n : 0), buf);
        r = fstat(fd, &st);
        printf("fstat: %s, size %lld\n", res(r), (long long)st.st_size);
        close(fd);
    }
    printf("access sub/kept.txt F_OK: %s\n", res(access("sub/kept.txt", F_OK)));
    printf("access absent.txt F_OK: %s\n", res(access("absent.txt", F_OK)));

    list(".");
    list("sub");

    printf("rmdir sub (not empty): %s\n", res(rmdir("sub")));
    printf("unlink sub (a directory): %s\n", res(unlink("sub")));
    printf("rmdir top.txt (a file): %s\n", res(rmdir("top.txt")));
    printf("unlink sub/moved.txt: %s\n", res(unlink("sub/moved.txt")));
    printf("unlink sub/moved.txt again: %s\n", res(unlink("sub/moved.txt")));
    printf("stat sub/moved.txt: %s\n", res(stat("sub/moved.txt", &st)));
    printf("mkdir empty: %s\n", res(mkdir("empty", 0755)));
    printf("rmdir empty: %s\n", res(rmdir("empty")));
    printf("rmdir empty again: %s\n", res(rmdir("empty")));

    list(".");
    list("sub");
    return 0;
}
