/* /tmp as programs use it: a named file (argv[1] names it: /tmp/wasix-rt-tmp-test-ARGV1.txt,
 * written and left there), mkstemp, tmpfile, a directory. Under wasix-rt /tmp is private to
 * the run and removed at its end, so tests/posix_files.rs checks the named file is NOT in the
 * host's /tmp afterwards; natively it is, and the test removes it. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "errname.h"

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: tmp UNIQUE-SUFFIX\n");
        return 2;
    }
    struct stat st;
    int r = stat("/tmp", &st);
    printf("stat /tmp: %s\n", r ? errname(errno) : S_ISDIR(st.st_mode) ? "directory" : "not a directory");

    char path[512];
    snprintf(path, sizeof path, "/tmp/wasix-rt-tmp-test-%s.txt", argv[1]);
    FILE *f = fopen(path, "w");
    printf("fopen /tmp/wasix-rt-tmp-test-SUFFIX.txt w: %s\n", f ? "ok" : errname(errno));
    if (!f) return 1;
    fprintf(f, "private %s\n", argv[1]);
    printf("fclose: %s\n", res(fclose(f)));
    char buf[512], want[512];
    snprintf(want, sizeof want, "private %s\n", argv[1]);
    f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f) fclose(f);
    buf[n] = 0;
    printf("read back: %s\n", strcmp(buf, want) == 0 ? "ok" : "differs");

    char tmpl[] = "/tmp/wasix-rt-mkstemp-XXXXXX";
    int fd = mkstemp(tmpl);
    printf("mkstemp: %s\n", fd >= 0 ? "ok" : errname(errno));
    if (fd >= 0) {
        printf("mkstemp name kept the prefix: %s\n",
               strncmp(tmpl, "/tmp/wasix-rt-mkstemp-", 22) == 0 && strlen(tmpl) == 28 ? "yes" : "no");
        printf("write: %zd\n", write(fd, "temp", 4));
        close(fd);
        printf("unlink the mkstemp file: %s\n", res(unlink(tmpl)));
    }

    /* wasix-libc's header marks tmpfile deprecated ("not defined on WASI"), but libc.a has it */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    f = tmpfile();
#pragma GCC diagnostic pop
    printf("tmpfile: %s\n", f ? "ok" : errname(errno));
    if (f) {
        fputs("scratch\n", f);
        rewind(f);
        char line[32] = "";
        fgets(line, sizeof line, f);
        printf("tmpfile read back: %s", line);
        fclose(f);
    }

    char dir[512], inner[600];
    snprintf(dir, sizeof dir, "/tmp/wasix-rt-tmp-dir-%s", argv[1]);
    snprintf(inner, sizeof inner, "%s/inner", dir);
    printf("mkdir in /tmp: %s\n", res(mkdir(dir, 0700)));
    printf("chdir there: %s\n", res(chdir(dir)));
    fd = open("inner", O_WRONLY | O_CREAT, 0600);
    printf("create by relative path: %s\n", fd >= 0 ? "ok" : errname(errno));
    if (fd >= 0) close(fd);
    printf("stat by absolute path: %s\n", res(stat(inner, &st)));
    printf("unlink inner: %s\n", res(unlink("inner")));
    printf("chdir /: %s\n", res(chdir("/")));
    printf("rmdir: %s\n", res(rmdir(dir)));
    return 0;
}
