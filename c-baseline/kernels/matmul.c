/* matmul: f64 dense matrix multiply, C = A * B with 200x200 matrices (i-k-j loop order, so the
 * inner loop streams rows), SCALE times (default 150). After each product A is nudged by a small
 * multiple of C, so every product depends on the previous one. Prints "matmul <sum of C>". */
#include <stdio.h>
#include <stdlib.h>

/* Keeps the hot function out of line so profiles name it (a no-op for other compilers). */
#if defined(__GNUC__)
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE
#endif

#define N 200

NOINLINE void matmul(const double *a, const double *b, double *c) {
    for (int i = 0; i < N * N; i++) c[i] = 0.0;
    for (int i = 0; i < N; i++) {
        for (int k = 0; k < N; k++) {
            double aik = a[i * N + k];
            const double *brow = b + k * N;
            double *crow = c + i * N;
            for (int j = 0; j < N; j++) crow[j] += aik * brow[j];
        }
    }
}

int main(int argc, char **argv) {
    long scale = argc > 1 ? strtol(argv[1], NULL, 10) : 150;
    if (scale < 1) scale = 1;
    double *a = malloc(sizeof(double) * N * N);
    double *b = malloc(sizeof(double) * N * N);
    double *c = malloc(sizeof(double) * N * N);
    if (!a || !b || !c) return 1;
    unsigned x = 1;
    for (int i = 0; i < N * N; i++) {
        x = x * 1103515245u + 12345u;
        a[i] = (double)((x >> 16) & 0x3ff) / 1024.0 - 0.5;
        x = x * 1103515245u + 12345u;
        b[i] = (double)((x >> 16) & 0x3ff) / 1024.0 - 0.5;
    }
    double sum = 0.0;
    for (long r = 0; r < scale; r++) {
        matmul(a, b, c);
        for (int i = 0; i < N * N; i++) a[i] += c[i] * (1.0 / 4096.0);
        sum = 0.0;
        for (int i = 0; i < N * N; i++) sum += c[i];
    }
    printf("matmul %.17g\n", sum);
    free(a);
    free(b);
    free(c);
    return 0;
}
