/* SIGINT from outside: the program installs a handler, says it is ready and sleeps in a loop
 * until the handler has run; then it exits 0. Without "handle" it installs nothing and SIGINT
 * ends it (exit 130 in a shell). Run by tests/c_guests.rs natively and as WASIX. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t got;

static void on_int(int sig) { got = sig; }

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "handle") == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_int;
        if (sigaction(SIGINT, &sa, 0) != 0) {
            perror("sigaction");
            return 1;
        }
    }
    printf("ready\n");
    fflush(stdout);
    for (int i = 0; i < 1000 && !got; i++) usleep(10000);
    printf("handled signal %d\n", (int)got);
    return got == SIGINT ? 0 : 1;
}
