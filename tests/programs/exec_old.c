/* The execve of older wasix-libc builds, `proc_exec` and `proc_exec2` (today's execve calls
 * proc_exec3): `exec_old 2 PROGRAM` replaces itself with PROGRAM (argv "hello", "a", "b c")
 * and the environment GREETING=old through proc_exec2; `exec_old 1 PROGRAM` the same through
 * proc_exec, the environment kept. Neither returns: a program that cannot start ends this one
 * (wasix-rt: 127 for a missing one). WASIX only; run by tests/processes.rs. */
#include <stdio.h>
#include <string.h>
#include <wasi/api_wasix.h>

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: exec_old 1|2 PROGRAM\n");
        return 2;
    }
    printf("before exec\n");
    fflush(stdout);
    if (strcmp(argv[1], "2") == 0) {
        __wasi_proc_exec2(argv[2], "hello\na\nb c\n", "GREETING=old\n");
    }
    __wasi_proc_exec(argv[2], "hello\na\nb c\n");
}
