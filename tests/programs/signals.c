/* Signals raised by the program itself: a sigaction handler runs, SIGCHLD is ignored by
 * default, abort() ends the program as SIGABRT does (exit 134 in a shell) and an unhandled
 * SIGTERM as SIGTERM does (143). Run by tests/c_guests.rs natively and as WASIX. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile sig_atomic_t got;

static void on_usr1(int sig) { got = sig; }

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "handler";
    if (strcmp(mode, "abort") == 0) {
        printf("aborting\n");
        fflush(stdout);
        abort();
    }
    if (strcmp(mode, "term") == 0) {
        printf("raising SIGTERM\n");
        fflush(stdout);
        raise(SIGTERM);
        printf("survived SIGTERM\n");
        return 1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    if (sigaction(SIGUSR1, &sa, 0) != 0) {
        perror("sigaction");
        return 1;
    }
    raise(SIGUSR1);
    printf("the handler saw signal %d\n", (int)got);
    raise(SIGCHLD);
    printf("SIGCHLD is ignored by default\n");
    return got == SIGUSR1 ? 0 : 2;
}
