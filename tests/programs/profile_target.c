/* A program whose CPU time is mostly in one named function, for the guest profiler's test:
 * the main thread spends it in hot_loop, a second thread in thread_loop, then the main thread
 * makes many small host calls from write_many. Prints its results, which depend on all three. */
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

__attribute__((noinline)) uint64_t hot_loop(uint64_t n) {
  uint64_t x = 88172645463325252ull;
  for (uint64_t i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
  }
  return x;
}

__attribute__((noinline)) uint64_t thread_loop(uint64_t n) {
  uint64_t x = 1;
  for (uint64_t i = 0; i < n; i++)
    x = x * 6364136223846793005ull + i;
  return x;
}

__attribute__((noinline)) long write_many(int fd, int n) {
  char b[64] = {0};
  long total = 0;
  for (int i = 0; i < n; i++)
    total += write(fd, b, sizeof b);
  return total;
}

static uint64_t thread_result;

static void *worker(void *arg) {
  thread_result = thread_loop(*(uint64_t *)arg);
  return NULL;
}

int main(int argc, char **argv) {
  uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 300000000ull;
  uint64_t m = n / 3;
  pthread_t t;
  if (pthread_create(&t, NULL, worker, &m) != 0)
    return 1;
  uint64_t hot = hot_loop(n);
  int fd = open("/dev/null", O_WRONLY);
  long written = write_many(fd, (int)(n / 300));
  close(fd);
  pthread_join(t, NULL);
  printf("%llu %llu %ld\n", (unsigned long long)hot, (unsigned long long)thread_result, written);
  return 0;
}
