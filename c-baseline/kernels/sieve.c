/* sieve: byte-array memory traffic with strided stores; sieve of Eratosthenes over the numbers
 * below 8,000,000 - r for r = 0 .. SCALE-1 (default 20 passes). Prints "sieve <checksum>",
 * a mix of each pass's prime count and the sum of its primes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Keeps the hot function out of line so profiles name it (a no-op for other compilers). */
#if defined(__GNUC__)
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE
#endif

#define LIMIT 8000000

/* Marks composites in flags[0..limit) (1 = prime) and returns the number of primes. */
NOINLINE long sieve(unsigned char *flags, long limit, uint64_t *sum) {
    memset(flags, 1, (size_t)limit);
    flags[0] = 0;
    if (limit > 1) flags[1] = 0;
    for (long i = 2; i * i < limit; i++) {
        if (!flags[i]) continue;
        for (long j = i * i; j < limit; j += i) flags[j] = 0;
    }
    long count = 0;
    uint64_t s = 0;
    for (long i = 2; i < limit; i++) {
        if (flags[i]) {
            count++;
            s += (uint64_t)i;
        }
    }
    *sum = s;
    return count;
}

int main(int argc, char **argv) {
    long scale = argc > 1 ? strtol(argv[1], NULL, 10) : 20;
    if (scale < 1) scale = 1;
    unsigned char *flags = malloc(LIMIT);
    if (!flags) return 1;
    uint64_t check = 0;
    for (long r = 0; r < scale; r++) {
        uint64_t sum;
        long count = sieve(flags, LIMIT - r, &sum);
        check = check * 1000003u + (uint64_t)count;
        check ^= sum;
    }
    printf("sieve %llu\n", (unsigned long long)check);
    free(flags);
    return 0;
}
