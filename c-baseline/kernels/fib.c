/* fib: function-call overhead; doubly recursive Fibonacci fib(SCALE) (default 40; each step up
 * costs about 1.6x more). Prints "fib <fib(SCALE)>". */
#include <stdio.h>
#include <stdlib.h>

/* Keeps the hot function out of line so profiles name it (a no-op for other compilers). */
#if defined(__GNUC__)
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE
#endif

NOINLINE unsigned long long fib(int n) {
    if (n < 2) return (unsigned long long)n;
    return fib(n - 1) + fib(n - 2);
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 40;
    if (n < 0) n = 0;
    if (n > 90) n = 90;
    printf("fib %llu\n", fib(n));
    return 0;
}
