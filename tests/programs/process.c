/* Process and thread facts a program asks for: sleeping through poll_oneoff, the number of
 * processors (thread_parallelism), a pid that is not init's (proc_id) and pthread_self.
 * Run by tests/c_guests.rs natively and as WASIX; both must print the same. */
#include <stdio.h>
#include <unistd.h>
#include <pthread.h>
#include <time.h>
int main(void) {
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    usleep(20000);
    clock_gettime(CLOCK_MONOTONIC, &b);
    long ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
    printf("slept at least 20 ms: %s\n", ms >= 20 ? "yes" : "no");
    printf("processors online: %s\n", sysconf(_SC_NPROCESSORS_ONLN) > 0 ? "some" : "none");
    printf("pid is not 1: %s\n", getpid() != 1 ? "yes" : "no");
    printf("pthread_self is stable: %s\n", pthread_equal(pthread_self(), pthread_self()) ? "yes" : "no");
    return 0;
}
