/* A small program to trace (`wasix-rt run --profile-trace`): a socket pair between two
 * threads; the main thread blocks reading until the other, after a 20 ms sleep, writes. */
#include <pthread.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

static int sv[2];

static void *writer(void *arg) {
    (void)arg;
    usleep(20000);
    if (write(sv[1], "x", 1) != 1)
        perror("write");
    return NULL;
}

int main(void) {
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
        perror("socketpair");
        return 1;
    }
    pthread_t t;
    if (pthread_create(&t, NULL, writer, NULL) != 0) {
        perror("pthread_create");
        return 1;
    }
    char c = 0;
    ssize_t n = read(sv[0], &c, 1);
    pthread_join(t, NULL);
    printf("read %zd byte: %c\n", n, c);
    return 0;
}
