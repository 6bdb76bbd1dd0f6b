/* qsort: libc qsort() with a comparison callback (indirect calls, branchy compares, moving
 * 4-byte elements) on 200,000 pseudo-random ints, SCALE times (default 15) with fresh data each
 * time. Note the algorithm is the libc's own (glibc: merge sort; wasi-libc/musl: smoothsort).
 * Prints "qsort <hash of every sorted array>". */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Keeps the hot function out of line so profiles name it (a no-op for other compilers). */
#if defined(__GNUC__)
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE
#endif

#define COUNT 200000

static int compare_ints(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    long scale = argc > 1 ? strtol(argv[1], NULL, 10) : 15;
    if (scale < 1) scale = 1;
    int *v = malloc(sizeof(int) * COUNT);
    if (!v) return 1;
    uint32_t x = 2463534242u;
    uint64_t hash = 1469598103934665603ull;
    for (long r = 0; r < scale; r++) {
        for (int i = 0; i < COUNT; i++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            v[i] = (int)(x >> 1) - (1 << 30);
        }
        qsort(v, COUNT, sizeof(int), compare_ints);
        for (int i = 0; i < COUNT; i++) {
            if (i > 0 && v[i - 1] > v[i]) {
                fprintf(stderr, "qsort: not sorted at %d\n", i);
                return 1;
            }
            hash = (hash ^ (uint32_t)v[i]) * 1099511628211ull;
        }
    }
    printf("qsort %016llx\n", (unsigned long long)hash);
    free(v);
    return 0;
}
