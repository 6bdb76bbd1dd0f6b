/* mandelbrot: a tight f64 loop with a data-dependent exit; escape-time iteration (at most 500
 * steps) for every point of a SCALE x SCALE grid (default 1000) over [-2, 0.5] x [-1.25, 1.25].
 * Prints "mandelbrot <sum of the iteration counts>". */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Keeps the hot function out of line so profiles name it (a no-op for other compilers). */
#if defined(__GNUC__)
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE
#endif

#define MAX_ITER 500

NOINLINE int escape_time(double cr, double ci) {
    double zr = 0.0, zi = 0.0;
    int n = 0;
    while (n < MAX_ITER) {
        double zr2 = zr * zr, zi2 = zi * zi;
        if (zr2 + zi2 > 4.0) break;
        zi = 2.0 * zr * zi + ci;
        zr = zr2 - zi2 + cr;
        n++;
    }
    return n;
}

int main(int argc, char **argv) {
    long side = argc > 1 ? strtol(argv[1], NULL, 10) : 1000;
    if (side < 1) side = 1;
    uint64_t total = 0;
    for (long y = 0; y < side; y++) {
        double ci = -1.25 + 2.5 * (double)y / (double)side;
        for (long x = 0; x < side; x++) {
            double cr = -2.0 + 2.5 * (double)x / (double)side;
            total += (uint64_t)escape_time(cr, ci);
        }
    }
    printf("mandelbrot %llu\n", (unsigned long long)total);
    return 0;
}
