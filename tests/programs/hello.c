/* Arguments, environment, stdout and the exit code: the start-up of every wasix-libc program
 * (env.memory, the signal start-up calls, args and environ). Run by tests/c_guests.rs natively
 * and as WASIX; both must print the same and exit 7. */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    printf("%d arguments\n", argc - 1);
    for (int i = 1; i < argc; i++) printf("argument %d: %s\n", i, argv[i]);
    const char *greeting = getenv("GREETING");
    printf("GREETING=%s\n", greeting ? greeting : "(unset)");
    return 7;
}
