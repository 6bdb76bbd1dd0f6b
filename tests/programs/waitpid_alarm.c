/* waitpid/wait in a program with no children (-1, ECHILD), and alarm() linking and answering
 * 0 when no alarm is pending. Run by tests/posix_files.rs natively and as WASIX; both must
 * print the same.
 *
 * Only that much of alarm() is compared: wasix-libc (34178a6) implements alarm(n) as
 * setitimer(ITIMER_REAL, {.it_value = n}), and its setitimer passes only it_interval (0 here)
 * to proc_raise_interval and never fills in the old value, so alarm() neither arms a timer
 * nor returns the seconds left of a previous one, whatever the runtime does; its sigsuspend()
 * returns EINVAL without a call. */
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>
#include "errname.h"

int main(void) {
    int st = 0;
    pid_t r = waitpid(-1, &st, WNOHANG);
    printf("waitpid(-1, WNOHANG): %d %s\n", (int)r, r < 0 ? errname(errno) : "");
    r = waitpid(-1, &st, 0);
    printf("waitpid(-1, 0): %d %s\n", (int)r, r < 0 ? errname(errno) : "");
    r = wait(&st);
    printf("wait: %d %s\n", (int)r, r < 0 ? errname(errno) : "");
    r = waitpid(getpid() + 1000, &st, 0);
    printf("waitpid(not a child): %d %s\n", (int)r, r < 0 ? errname(errno) : "");

    printf("alarm(0) with none pending: %u\n", alarm(0));
    printf("alarm(100) with none pending: %u\n", alarm(100));
    alarm(0); /* cancels it natively; what it returns differs (see above) */
    printf("still running\n");
    return 0;
}
